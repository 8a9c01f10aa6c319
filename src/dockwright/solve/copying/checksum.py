"""The build-cache checksum of a COPY/ADD: what it would copy and how, never mtimes."""

from __future__ import annotations

import hashlib
import json
import os
import stat as st

from dockwright.solve.copying.model import CopyRequest, SourceTree, Unit
from dockwright.solve.copying.remote import (
    check_request,
    is_git,
    is_url,
    parse_git,
    remote_head,
)
from dockwright.solve.copying.select import select_units

__all__ = ["cache_checksum", "file_digest"]

# (dev, ino, size, mtime_ns, ctime_ns) -> sha256 hex. The ctime guards against a rewrite that
# keeps size and mtime (moby/buildkit#4817).
_MEMO: dict[tuple[int, int, int, int, int], str] = {}
_MEMO_LIMIT = 1 << 18


def file_digest(path: str, info: os.stat_result) -> str:
    """sha256 hex of a regular file's bytes, hashed once per identity in this process."""
    key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    known = _MEMO.get(key)
    if known is not None:
        return known
    with open(path, "rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    if len(_MEMO) >= _MEMO_LIMIT:
        _MEMO.clear()
    _MEMO[key] = digest
    return digest


def _type_flag(mode: int) -> str:
    for test, flag in (
        (st.S_ISREG, "0"),
        (st.S_ISLNK, "2"),
        (st.S_ISCHR, "3"),
        (st.S_ISBLK, "4"),
        (st.S_ISDIR, "5"),
        (st.S_ISFIFO, "6"),
    ):
        if test(mode):
            return flag
    return "?"


def _hash_unit(hasher: hashlib._Hash, unit: Unit) -> None:
    hasher.update(json.dumps(["unit", unit.source, unit.name, unit.prefix, unit.is_dir]).encode())
    for entry in unit.entries:
        info = entry.stat
        uid, gid = (0, 0) if unit.zero_owner else (info.st_uid, info.st_gid)
        mode = info.st_mode
        link = os.readlink(entry.host) if st.S_ISLNK(mode) else ""
        size = info.st_size if st.S_ISREG(mode) else 0
        dev = (
            (os.major(info.st_rdev), os.minor(info.st_rdev))
            if st.S_ISCHR(mode) or st.S_ISBLK(mode)
            else (0, 0)
        )
        fields = (entry.rel, st.S_IMODE(mode), uid, gid, size, _type_flag(mode), link, *dev)
        hasher.update("\0".join(map(str, fields)).encode("utf-8", "surrogateescape") + b"\n")
        if st.S_ISREG(mode):
            hasher.update(file_digest(entry.host, info).encode())


def cache_checksum(tree: SourceTree, request: CopyRequest) -> str:
    """``sha256:…`` over what ``request`` would copy from ``tree`` and how.

    Per selected path (as laid out in the copy, after globs, --exclude and .dockerignore):
    mode, uid, gid, size, type, link target, device numbers and the bytes (not mtime); plus
    the request's definition. A URL counts as itself and its --checksum; a git source as the
    commit its ref names when ``git ls-remote`` answers, else as the ref.
    Raises :class:`CopySourceError` as :func:`apply_copy` would for a missing source.
    """
    check_request(request)
    hasher = hashlib.sha256()
    definition = {
        "dest": request.dest,
        "workdir": request.workdir,
        "chown": request.chown,
        "chmod": request.chmod,
        "parents": request.parents,
        "exclude": list(request.exclude),
        "link": request.link,
        "add": request.add,
        "unpack": request.unpack,
        "checksum": request.checksum,
        "keep_git_dir": request.keep_git_dir,
        "mtime": request.mtime,
        "heredocs": [[n, hashlib.sha256(data).hexdigest()] for n, data in request.heredocs],
        "tree": tree.kind,
    }
    hasher.update(json.dumps(definition, sort_keys=True).encode("utf-8", "surrogateescape"))
    local: list[str] = []
    for source in request.sources:
        if is_git(source):
            git = parse_git(source)
            resolved = remote_head(git) or git.ref
            hasher.update(json.dumps(["git", git.remote, resolved, git.subdir]).encode())
        elif is_url(source):
            hasher.update(json.dumps(["url", source]).encode())
        else:
            local.append(source)
    if local:
        for unit in select_units(tree, request, tuple(local)):
            _hash_unit(hasher, unit)
    return "sha256:" + hasher.hexdigest()
