"""OCI source, revision and version labels read from the git checkout a module lives in."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from dockwright.image import mediatypes as mt

_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$")
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", re.IGNORECASE)


def _git(folder: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def public_source_url(remote: str) -> str:
    """A remote URL fit for a public label: credentials removed, scp-style and ``ssh://``
    GitHub-like remotes turned into ``https://host/path`` without ``.git``."""
    url = remote.strip()
    url = _USERINFO.sub(r"\1", url)
    match = _SCP_LIKE.match(url)
    if match and "://" not in url:
        url = f"https://{match.group(1)}/{match.group(2)}"
    if url.startswith(("ssh://", "git://")):
        # The ssh port says nothing about where a browser finds the project.
        url = re.sub(r"^[a-z]+://([^/:]+)(:\d+)?/", r"https://\1/", url)
    return url.removesuffix(".git")


def vcs_labels(folder: Path) -> dict[str, str]:
    """``org.opencontainers.image.{source,revision,version}`` for the checkout holding
    ``folder``; empty when it is not in a git work tree (or git is missing).

    The revision gets no ``-dirty`` mark: labels must not depend on the state of files that
    the build does not read. ``go build`` records the dirty bit in the binary itself.
    """
    revision = _git(folder, "rev-parse", "HEAD")
    if not revision:
        return {}
    labels = {mt.ANNOTATION_REVISION: revision}
    remote = _git(folder, "config", "--get", "remote.origin.url")
    if remote:
        labels[mt.ANNOTATION_SOURCE] = public_source_url(remote)
    tag = _git(folder, "describe", "--tags", "--exact-match", "HEAD")
    if tag:
        labels[mt.ANNOTATION_VERSION] = tag
    return labels
