"""Dockerfile USER values → numeric ids, read from the rootfs' /etc/passwd and /etc/group."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dockwright.errors import BuildError

_MAX_SYMLINKS = 40


@dataclass(frozen=True, slots=True)
class ResolvedUser:
    """A process identity: uid, primary gid, supplementary gids and home directory."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"


def in_root(rootfs: Path, path: str, *, max_hops: int = _MAX_SYMLINKS) -> Path:
    """The host path of ``path`` inside ``rootfs``, following symlinks as if rootfs were ``/``.

    Absolute symlink targets and ``..`` never leave the rootfs, as in a chroot; components
    that do not exist are appended as they are. More than ``max_hops`` links: BuildError.
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = rootfs.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > max_hops:
                raise BuildError(f"too many levels of symbolic links in {path!r} in the rootfs")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return rootfs.joinpath(*resolved)


def _read_db(rootfs: Path, path: str) -> list[list[str]]:
    file = in_root(rootfs, path)
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _numeric(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def resolve_user(rootfs: Path, user: str) -> ResolvedUser:
    """Resolve a USER value (``""``, ``name``, ``uid``, ``uid:gid``, ``name:group`` ...).

    Numeric ids pass through even when the rootfs has no entry for them; a name missing from
    the rootfs raises ``BuildError``. Without a group part, the primary gid comes from
    /etc/passwd and supplementary gids from /etc/group memberships, as Docker does.
    """
    name, _, group = user.partition(":")
    if name == "":
        name = "0"
    passwd = [e for e in _read_db(rootfs, "/etc/passwd") if len(e) >= 7]
    uid = _numeric(name)
    entry = next(
        (e for e in passwd if (e[2] == str(uid) if uid is not None else e[0] == name)), None
    )
    if entry is None and uid is None:
        raise BuildError(
            f"unable to find user {name}: no matching entries in the rootfs' /etc/passwd",
            hint="create the user first (e.g. RUN adduser ...) or use a numeric uid",
        )
    if uid is None:
        assert entry is not None
        uid = _numeric(entry[2])
        if uid is None:
            raise BuildError(f"invalid uid {entry[2]!r} for user {name} in /etc/passwd")
    home = entry[5] if entry is not None and entry[5] else "/"
    groups = [e for e in _read_db(rootfs, "/etc/group") if len(e) >= 3]
    if group:
        gid = _numeric(group)
        if gid is None:
            match = next((e for e in groups if e[0] == group), None)
            if match is None or _numeric(match[2]) is None:
                raise BuildError(
                    f"unable to find group {group}: no matching entries in the rootfs' /etc/group",
                    hint="create the group first (e.g. RUN addgroup ...) or use a numeric gid",
                )
            gid = int(match[2])
        return ResolvedUser(uid=uid, gid=gid, home=home)
    gid = _numeric(entry[3]) if entry is not None else 0
    gid = 0 if gid is None else gid
    extra: list[int] = []
    if entry is not None:
        for group_entry in groups:
            members = group_entry[3].split(",") if len(group_entry) >= 4 else []
            number = _numeric(group_entry[2])
            if entry[0] in members and number is not None and number != gid:
                extra.append(number)
    return ResolvedUser(uid=uid, gid=gid, additional_gids=tuple(sorted(set(extra))), home=home)
