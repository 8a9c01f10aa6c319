"""ADD: local archives, URLs and git repositories. Local-archive and URL facts are what
dockerd 20.10's BuildKit produced for the same inputs (noted per test)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwright.solve.copying import CopyRequest, CopySourceError, SourceTree, cache_checksum
from support import require_tool

from .helpers import context, copy, listing, make_rootfs, mtime, write


def _tar(path: Path, mode: str) -> Path:
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        info = tarfile.TarInfo("f1")
        info.size, info.mode, info.uid, info.gid, info.mtime = 3, 0o604, 123, 456, 12345
        tar.addfile(info, io.BytesIO(b"F1\n"))
        folder = tarfile.TarInfo("d")
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o711, 2222
        tar.addfile(folder)
        link = tarfile.TarInfo("d/up")
        link.type, link.linkname = tarfile.SYMTYPE, "/"
        tar.addfile(link)
        escape = tarfile.TarInfo("d/up/../../../escaped")
        escape.size = 1
        tar.addfile(escape, io.BytesIO(b"!"))
    return path


@pytest.fixture
def archives(tmp_path: Path) -> SourceTree:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for name, mode in [("t.tar.gz", "w:gz"), ("t.tar.xz", "w:xz"), ("t.tar.bz2", "w:bz2")]:
        _tar(ctx / name, mode)
    _tar(ctx / "t.tar", "w")
    (ctx / "notar.gz").write_bytes(gzip.compress(b"plain\n"))
    with tarfile.open(ctx / "empty.tar", "w"):
        pass
    return context(ctx)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_rootfs(tmp_path)


EXTRACTED = {
    "/e": ("dir", 0o755, 0, 0, ""),
    "/e/f1": ("file", 0o604, 123, 456, "F1\n"),
    "/e/d": ("dir", 0o711, 0, 0, ""),
    "/e/d/up": ("link", 0o777, 0, 0, "/"),
    "/e/escaped": ("file", 0o644, 0, 0, "!"),
}


@pytest.mark.parametrize("name", ["t.tar.gz", "t.tar.xz", "t.tar.bz2", "t.tar"])
def test_add_extracts_local_tars(archives: SourceTree, root: Path, name: str) -> None:
    """``ADD t.tar.gz /e9/`` (and xz, bz2, plain): entries keep the tar's owners (123:456),
    modes and mtimes; the destination is made 0755. Links in the archive resolve inside the
    destination, so ``d/up/../../../escaped`` lands in it."""
    copy(archives, root, name, dest="/e/", add=True)
    assert listing(root, "/e") == EXTRACTED
    assert mtime(root / "e/f1") == 12345
    assert mtime(root / "e/d") == 2222


def test_add_tar_mtimes_are_clamped(archives: SourceTree, root: Path) -> None:
    copy(archives, root, "t.tar", dest="/e/", add=True, mtime=3000)
    assert mtime(root / "e/f1") == 3000
    assert mtime(root / "e/d") == 2222


def test_add_tar_to_a_name_without_slash_extracts_into_it(archives: SourceTree, root: Path) -> None:
    """``ADD t.tar.gz /e14/renamed``: /e14/renamed is a directory holding f1 and d."""
    copy(archives, root, "t.tar.gz", dest="/e14/renamed", add=True)
    assert sorted(os.listdir(root / "e14/renamed")) == ["d", "escaped", "f1"]


def test_add_copies_non_archives_and_copy_never_extracts(archives: SourceTree, root: Path) -> None:
    """``ADD notar.gz /e13/``: a gzip'd text is copied as is; an empty tar too."""
    copy(archives, root, "notar.gz", "empty.tar", dest="/e13/", add=True)
    copy(archives, root, "t.tar.gz", dest="/c/")
    copy(archives, root, "t.tar", dest="/n/", add=True, unpack=False)
    assert sorted(os.listdir(root / "e13")) == ["empty.tar", "notar.gz"]
    assert os.listdir(root / "c") == ["t.tar.gz"]
    assert os.listdir(root / "n") == ["t.tar"]


class _Server:
    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def served(tmp_path: Path) -> Iterator[_Server]:
    folder = tmp_path / "srv"
    write(folder / "hello.txt", "hello\n", 0o644, 1_200_000_000)
    _tar(folder / "t.tar.gz", "w:gz")
    server = _Server(folder)
    yield server
    server.close()


def test_add_url(served: _Server, root: Path, tmp_path: Path) -> None:
    """``ADD http://…/hello.txt /e15/``: /e15/hello.txt, 0600, 0:0, mtime from
    Last-Modified; to ``/e17`` it is the file /e17; a tar by URL is not extracted."""
    tree = SourceTree(tmp_path, "context")
    copy(tree, root, f"{served.url}/hello.txt", dest="/e15/", add=True)
    copy(tree, root, f"{served.url}/hello.txt", dest="/e17", add=True)
    copy(tree, root, f"{served.url}/t.tar.gz", dest="/e16/", add=True)
    assert listing(root, "/e15/hello.txt")["/e15/hello.txt"] == ("file", 0o600, 0, 0, "hello\n")
    assert listing(root, "/e17")["/e17"] == ("file", 0o600, 0, 0, "hello\n")
    assert mtime(root / "e15/hello.txt") == 1_200_000_000
    assert os.listdir(root / "e16") == ["t.tar.gz"]
    copy(tree, root, f"{served.url}/t.tar.gz", dest="/e18/", add=True, unpack=True)
    assert sorted(os.listdir(root / "e18")) == ["d", "escaped", "f1"]


def test_add_url_naming_owner_and_missing_last_modified(
    served: _Server, root: Path, tmp_path: Path
) -> None:
    """``ADD http://…/ /o5/`` gives /o5/__unnamed__ dated 0 (no Last-Modified);
    ``…/hello.txt?x=1`` is named hello.txt; ``ADD --chown=u2`` chowns to 2000:3000, and with
    a tar the made destination is chowned but the entries keep the tar's owners."""
    tree = SourceTree(tmp_path, "context")
    copy(tree, root, f"{served.url}/", dest="/o5/", add=True)
    copy(tree, root, f"{served.url}/hello.txt?x=1", dest="/o6/", add=True)
    copy(tree, root, f"{served.url}/hello.txt", dest="/o3/", add=True, chown="u2")
    assert os.listdir(root / "o5") == ["__unnamed__"]
    assert mtime(root / "o5/__unnamed__") == 0
    assert os.listdir(root / "o6") == ["hello.txt"]
    assert listing(root, "/o3") == {
        "/o3": ("dir", 0o755, 2000, 3000, ""),
        "/o3/hello.txt": ("file", 0o600, 2000, 3000, "hello\n"),
    }


def test_add_tar_with_chown(archives: SourceTree, root: Path) -> None:
    """``ADD --chown=u2 t.tar.gz /o2/``: /o2 is 2000:3000, f1 stays 123:456."""
    copy(archives, root, "t.tar.gz", dest="/o2/", add=True, chown="u2")
    found = listing(root, "/o2")
    assert found["/o2"][2:4] == (2000, 3000)
    assert found["/o2/f1"][2:4] == (123, 456)


def test_add_url_checksum(served: _Server, root: Path, tmp_path: Path) -> None:
    tree = SourceTree(tmp_path, "context")
    good = "sha256:" + hashlib.sha256(b"hello\n").hexdigest()
    copy(tree, root, f"{served.url}/hello.txt", dest="/ok", add=True, checksum=good)
    assert (root / "ok").read_text() == "hello\n"
    bad = "sha256:" + "0" * 64
    with pytest.raises(CopySourceError, match="digest mismatch"):
        copy(tree, root, f"{served.url}/hello.txt", dest="/bad", add=True, checksum=bad)
    assert not (root / "bad").exists()
    with pytest.raises(CopySourceError, match="404"):
        copy(tree, root, f"{served.url}/missing", dest="/m", add=True)


def _git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    git = require_tool("git", "apt-get install -y git")
    return subprocess.run(
        [git, *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[tuple[_Server, str]]:
    """A repository served over dumb http as ``/repo.git``; yields (server, v1's commit)."""
    work = tmp_path / "work"
    write(work / "README", "top\n")
    write(work / "sub" / "tool.sh", "#!/bin/sh\n", 0o755)
    _git("init", "-q", "-b", "main", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-q", "-m", "one", cwd=work)
    _git("tag", "v1", cwd=work)
    commit = _git("rev-parse", "HEAD", cwd=work).strip()
    write(work / "sub" / "later.txt", "later\n")
    _git("add", ".", cwd=work)
    _git("commit", "-q", "-m", "two", cwd=work)
    served = tmp_path / "served"
    _git("clone", "-q", "--bare", str(work), str(served / "repo.git"), cwd=tmp_path)
    _git("update-server-info", cwd=served / "repo.git")
    server = _Server(served)
    yield server, commit
    server.close()


def test_add_git(git_server: tuple[_Server, str], root: Path, tmp_path: Path) -> None:
    server, commit = git_server
    tree = SourceTree(tmp_path, "context")
    repo = f"{server.url}/repo.git"
    copy(tree, root, f"{repo}#v1:sub", dest="/v1/", add=True)
    copy(tree, root, repo, dest="/head", add=True)
    copy(tree, root, f"{repo}#main", dest="/kept/", add=True, keep_git_dir=True)
    assert listing(root, "/v1") == {
        "/v1": ("dir", 0o755, 0, 0, ""),
        "/v1/tool.sh": ("file", 0o755, 0, 0, "#!/bin/sh\n"),
    }
    assert sorted(os.listdir(root / "head")) == ["README", "sub"]
    assert sorted(os.listdir(root / "head/sub")) == ["later.txt", "tool.sh"]
    assert (root / "kept/.git").is_dir()
    # BuildKit 0.17: --chown and --chmod reach every checked-out entry, not the made dest.
    copy(tree, root, f"{repo}#v1", dest="/g4/", add=True, chown="1234:5", chmod="700")
    assert listing(root, "/g4") == {
        "/g4": ("dir", 0o755, 1234, 5, ""),
        "/g4/README": ("file", 0o700, 1234, 5, "top\n"),
        "/g4/sub": ("dir", 0o700, 1234, 5, ""),
        "/g4/sub/tool.sh": ("file", 0o700, 1234, 5, "#!/bin/sh\n"),
    }
    copy(tree, root, f"{repo}#{commit}", dest="/bysha/", add=True)
    assert sorted(os.listdir(root / "bysha/sub")) == ["tool.sh"]
    with pytest.raises(CopySourceError, match="no-such-ref"):
        copy(tree, root, f"{repo}#no-such-ref", dest="/none/", add=True)
    request = CopyRequest((f"{repo}#v1:sub",), "/v1/", "/", add=True)
    assert cache_checksum(tree, request) == cache_checksum(tree, request)
    moved = CopyRequest((f"{repo}#{commit}:sub",), "/v1/", "/", add=True)
    assert cache_checksum(tree, moved) == cache_checksum(tree, request)  # the same commit


def test_add_git_missing_subdir(
    git_server: tuple[_Server, str], root: Path, tmp_path: Path
) -> None:
    server, _ = git_server
    with pytest.raises(CopySourceError, match="nope"):
        copy(
            SourceTree(tmp_path, "context"),
            root,
            f"{server.url}/repo.git#main:nope",
            dest="/x/",
            add=True,
        )
    assert shutil.which("git") is not None


@pytest.mark.parametrize(
    ("sources", "kw", "message"),
    [
        (("http://h/x",), {}, "source can't be a URL for COPY"),
        (("git@example.invalid:a/b.git",), {}, "source can't be a git ref for COPY"),
        (("https://h/r.git#main",), {}, "source can't be a git ref for COPY"),
        (("a",), {"checksum": "sha256:" + "0" * 64}, "checksum can't be specified for COPY"),
        (
            ("http://h/a", "http://h/b"),
            {"add": True, "checksum": "sha256:" + "0" * 64},
            "multiple sources",
        ),
        (("a",), {"add": True, "checksum": "sha256:" + "0" * 64}, "non-HTTP"),
    ],
)
def test_refusals_use_buildkit_messages(
    tmp_path: Path, sources: tuple[str, ...], kw: dict[str, object], message: str
) -> None:
    """dockerfile2llb's messages (BuildKit 0.17); cache_checksum refuses the same."""
    tree = SourceTree(tmp_path, "context")
    request = CopyRequest(sources, "/d/", "/", **kw)  # type: ignore[arg-type]
    with pytest.raises(CopySourceError, match=message):
        cache_checksum(tree, request)
    with pytest.raises(CopySourceError, match=message):
        copy(tree, tmp_path, *sources, dest="/d/", **kw)


def test_github_prefix_is_a_local_path(tmp_path: Path) -> None:
    """BuildKit reads ``github.com/x/y`` as a local path (IndistinguishableFromLocal)."""
    write(tmp_path / "ctx" / "github.com" / "x" / "y", "local\n")
    root = make_rootfs(tmp_path)
    copy(context(tmp_path / "ctx"), root, "github.com/x/y", dest="/y", add=True)
    assert (root / "y").read_text() == "local\n"
