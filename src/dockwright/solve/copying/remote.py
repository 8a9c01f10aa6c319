"""ADD's remote sources: an http(s) URL, or a git repository cloned with the host's git.

A URL becomes one file named after the last element of the URL's path (``__unnamed__``
when there is none), mode 0600, mtime from ``Last-Modified`` (else 0); not unpacked. A git
source (see :func:`is_git`, with an optional ``#ref:subdir``) becomes a directory: the
checkout (or its ``subdir``), without ``.git`` unless --keep-git-dir. The kept ``.git`` is
the host git's own (a fetch into a fresh ``git init``), not a copy of BuildKit's layout.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from dockwright.solve.copying.model import CopyRequest, CopySourceError

__all__ = [
    "GitSource",
    "check_request",
    "clone_git",
    "fetch_url",
    "is_git",
    "is_url",
    "parse_git",
    "remote_head",
]

_GIT_TIMEOUT = 600


def is_url(source: str) -> bool:
    """Whether ``source`` is an http(s) URL (a git one included)."""
    return source.startswith(("http://", "https://"))


_SCP_LIKE = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:")


def is_git(source: str) -> bool:
    """Whether BuildKit reads ``source`` as a git repository (in ADD; COPY refuses it).

    ``git://``, ``ssh://``, scp-like ``user@host:path``, or an http(s) URL whose path ends in
    ``.git``. A bare ``github.com/...`` is a local path (BuildKit calls it indistinguishable).
    """
    if source.startswith(("git://", "ssh://")) or _SCP_LIKE.match(source):
        return True
    if is_url(source):
        path = urllib.parse.urlsplit(source.split("#", 1)[0]).path
        return path.endswith(".git")
    return False


def check_request(request: CopyRequest) -> None:
    """BuildKit's refusals, with its messages: remote sources in COPY, a misused --checksum."""
    for source in request.sources:
        if not request.add and is_git(source):
            raise CopySourceError(f"source can't be a git ref for COPY: {source}")
        if not request.add and is_url(source):
            raise CopySourceError(f"source can't be a URL for COPY: {source}")
    if request.checksum is None:
        return
    if not request.add:
        raise CopySourceError("checksum can't be specified for COPY")
    if len(request.sources) != 1:
        raise CopySourceError("checksum can't be specified for multiple sources")
    if not is_url(request.sources[0]) or is_git(request.sources[0]):
        raise CopySourceError("checksum can't be specified for non-HTTP(S) sources")


@dataclass(frozen=True, slots=True)
class GitSource:
    """A git source split: the remote, the ref ('' = the default branch) and subdir."""

    remote: str
    ref: str
    subdir: str


def parse_git(source: str) -> GitSource:
    """Split ``remote#ref:subdir``."""
    remote, _, fragment = source.partition("#")
    ref, _, subdir = fragment.partition(":")
    return GitSource(remote, ref, subdir.strip("/"))


def _git(args: list[str], cwd: Path | None = None) -> str:
    git = shutil.which("git")
    if git is None:
        raise CopySourceError("ADD of a git repository needs git on the host (apt-get install git)")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    try:
        done = subprocess.run(
            [git, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CopySourceError(f"git {args[0]} timed out") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise CopySourceError(f"git {args[0]} failed: {' / '.join(tail)}")
    return done.stdout


def remote_head(source: GitSource) -> str | None:
    """The commit ``source.ref`` names on the remote, or None when ls-remote cannot tell."""
    if re.fullmatch(r"[0-9a-f]{40}", source.ref):
        return source.ref
    try:
        out = _git(["ls-remote", source.remote, source.ref or "HEAD"])
    except CopySourceError:
        return None
    for line in out.splitlines():
        commit, _, name = line.partition("\t")
        if name in (source.ref, f"refs/heads/{source.ref}", f"refs/tags/{source.ref}", "HEAD"):
            return commit
    return None


def clone_git(source: GitSource, scratch: Path, keep_git_dir: bool) -> Path:
    """Check ``source`` out under ``scratch``; returns the directory to copy."""
    work = scratch / "git"
    work.mkdir()
    _git(["init", "-q", str(work)])
    _git(["remote", "add", "origin", source.remote], cwd=work)
    ref = source.ref or "HEAD"
    try:
        _git(["fetch", "-q", "--depth=1", "origin", ref], cwd=work)
        _git(["checkout", "-q", "FETCH_HEAD"], cwd=work)
    except CopySourceError:
        # Dumb http and servers that refuse a commit by id: fetch everything, then look.
        _git(["fetch", "-q", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*"], cwd=work)
        for candidate in (f"origin/{ref}", ref, remote_head(source) or ref):
            try:
                _git(["checkout", "-q", candidate], cwd=work)
                break
            except CopySourceError:
                continue
        else:
            raise CopySourceError(f"{source.remote}: no branch, tag or commit {ref!r}") from None
    if _has_submodules(work):
        _git(["submodule", "update", "-q", "--init", "--recursive", "--depth=1"], cwd=work)
    if not keep_git_dir:
        shutil.rmtree(work / ".git")
    if not source.subdir:
        return work
    sub = work / source.subdir
    if not sub.is_dir() or not sub.resolve().is_relative_to(work.resolve()):
        raise CopySourceError(f"{source.subdir}: no such directory in {source.remote}")
    return sub


def _has_submodules(work: Path) -> bool:
    return (work / ".gitmodules").is_file()


def url_file_name(url: str) -> str:
    """The name BuildKit gives a downloaded file: the URL path's last element."""
    name = posixpath.basename(urllib.parse.urlsplit(url).path)
    return name if name not in ("", ".", "/") else "__unnamed__"


def fetch_url(url: str, checksum: str | None, scratch: Path) -> tuple[Path, str]:
    """Download ``url`` into a fresh directory under ``scratch``; returns (dir, file name)."""
    import httpx  # noqa: PLC0415 - heavy; only for URL sources

    name = url_file_name(url)
    folder = scratch / f"url-{hashlib.sha256(url.encode()).hexdigest()[:16]}"
    folder.mkdir(exist_ok=True)
    path = folder / name
    digest = hashlib.sha256()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            if response.status_code >= 400:
                raise CopySourceError(f"{url}: invalid response status {response.status_code}")
            modified = response.headers.get("last-modified")
            with open(path, "wb") as out:
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise CopySourceError(f"{url}: {exc}") from exc
    if checksum is not None:
        algorithm, _, expected = checksum.partition(":")
        if algorithm != "sha256" or not expected:
            raise CopySourceError(f"unsupported --checksum {checksum!r}: use sha256:<hex>")
        if digest.hexdigest() != expected.lower():
            raise CopySourceError(
                f"{url}: digest mismatch: got sha256:{digest.hexdigest()}, expected {checksum}"
            )
    os.chmod(path, 0o600)
    when = 0.0  # BuildKit dates a download without Last-Modified at the epoch
    if modified:
        try:
            import email.utils  # noqa: PLC0415 - only ADD of a URL needs it

            when = email.utils.parsedate_to_datetime(modified).timestamp()
        except (TypeError, ValueError):
            when = 0.0
    os.utime(path, (when, when))
    return folder, name
