"""Destination paths inside a rootfs view: resolved chroot-style, parents made as BuildKit does."""

from __future__ import annotations

import os
import posixpath
import stat as st
from pathlib import Path

from dockwright.errors import BuildError
from dockwright.sandbox.users import in_root
from dockwright.solve.copying.model import CopyRequest, CopySourceError
from dockwright.solve.copying.modes import Owner

__all__ = ["destination", "make_dirs", "resolve_dest"]

_MAX_LINKS = 255


def destination(request: CopyRequest) -> tuple[str, bool]:
    """The absolute destination and whether it names a directory (trailing ``/``, ``.``)."""
    dest = request.dest
    as_dir = dest in ("", ".") or dest.endswith("/") or dest.endswith("/.")
    joined = posixpath.join(request.workdir or "/", dest)
    return posixpath.normpath("/" + joined).replace("//", "/"), as_dir


def resolve_dest(root: Path, path: str) -> Path:
    """The host path of ``path`` in ``root``: every existing symlink followed inside ``root``
    (chroot-style, :func:`dockwright.sandbox.users.in_root`); components that do not exist yet
    are appended as they are."""
    try:
        return in_root(root, path, max_hops=_MAX_LINKS)
    except BuildError as exc:
        raise CopySourceError(f"{path}: too many levels of symbolic links") from exc


def make_dirs(root: Path, path: str, owner: Owner | None, made: list[Path]) -> Path:
    """``mkdir -p`` of ``path`` inside ``root``, chroot-style; returns its host path.

    Directories made here get mode 0755 and the --chown owner (else 0:0), as BuildKit's
    MkdirAll; existing ones are left as they are. New ones are appended to ``made``.
    """
    todo = [p for p in path.split("/") if p not in ("", ".")]
    current = "/"
    for part in todo:
        current = posixpath.join(current, part)
        host = resolve_dest(root, current)
        # A symlink may have led to a path whose own parents are missing: make them all.
        walk = root
        for piece in host.relative_to(root).parts:
            walk = walk / piece
            try:
                info = os.lstat(walk)
            except FileNotFoundError:
                _make_one(walk, owner)
                made.append(walk)
                continue
            if not st.S_ISDIR(info.st_mode):
                raise CopySourceError(f"cannot copy to non-directory: {current}")
    return resolve_dest(root, path)


def _make_one(host: Path, owner: Owner | None) -> None:
    os.mkdir(host, 0o755)
    os.chmod(host, 0o755)  # noqa: S103 - BuildKit's mode for made parents
    uid, gid = (owner.uid, owner.gid) if owner is not None else (0, 0)
    os.lchown(host, uid, gid)
