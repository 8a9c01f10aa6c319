"""--chmod (octal, or chmod(1)'s symbolic clauses) and --chown (names from the destination)."""

from __future__ import annotations

import stat as st
from dataclasses import dataclass
from pathlib import Path

from dockwright.sandbox.users import in_root
from dockwright.solve.copying.model import CopySourceError

__all__ = ["Mode", "Owner", "parse_chmod", "resolve_chown"]

_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007}
_PERM_BITS = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}


@dataclass(frozen=True, slots=True)
class Owner:
    """Numeric owner given to copied entries."""

    uid: int
    gid: int


@dataclass(frozen=True, slots=True)
class Mode:
    """A parsed --chmod: an octal mode, or symbolic clauses applied to each entry's mode."""

    text: str
    octal: int | None
    clauses: tuple[tuple[str, str, str], ...] = ()

    def apply(self, mode: int) -> int:
        """The permission bits (07777) an entry whose current mode is ``mode`` gets.

        Symbolic clauses follow BuildKit (fsutil's BSD-style mode sets): no who means all
        (umask 0); ``X`` looks at the mode before any clause (or a directory), and is
        dropped under ``=``; ``=`` replaces only the who's rwx bits.
        """
        if self.octal is not None:
            return self.octal
        original = st.S_IMODE(mode)
        perms = original
        searchable = st.S_ISDIR(mode) or bool(original & 0o111)
        for who, op, what in self.clauses:
            mask = 0
            for letter in who or "a":
                mask |= 0o7777 if letter == "a" else _WHO[letter]
            if what in ("u", "g", "o"):
                bits = _copy_bits(what, perms)
            else:
                bits = _bits(what.replace("X", "") if op == "=" else what, searchable)
            bits &= mask
            if op == "+":
                perms |= bits
            elif op == "-":
                perms &= ~bits
            else:
                perms = (perms & ~(mask & 0o777)) | bits
        return perms


def _bits(what: str, searchable: bool) -> int:
    bits = 0
    for letter in what:
        if letter == "X":
            if searchable:
                bits |= 0o111
        elif letter in _PERM_BITS:
            bits |= _PERM_BITS[letter]
    return bits


def _copy_bits(who: str, perms: int) -> int:
    shift = {"u": 6, "g": 3, "o": 0}[who]
    triple = (perms >> shift) & 0o7
    return triple << 6 | triple << 3 | triple


def parse_chmod(text: str | None) -> Mode | None:
    """Parse a --chmod value. Raises :class:`CopySourceError` when it is neither form."""
    if text is None:
        return None
    if text and all(c in "01234567" for c in text):
        value = int(text, 8)
        if value > 0o7777:
            raise CopySourceError(f"invalid chmod parameter {text!r}: out of range")
        return Mode(text, value)
    clauses: list[tuple[str, str, str]] = []
    for clause in text.split(","):
        index = 0
        while index < len(clause) and clause[index] in "ugoa":
            index += 1
        who = clause[:index]
        rest = clause[index:]
        if not rest:
            raise CopySourceError(f"invalid chmod parameter {text!r}")
        while rest:
            op = rest[0]
            if op not in "+-=":
                raise CopySourceError(f"invalid chmod parameter {text!r}")
            end = 1
            while end < len(rest) and rest[end] not in "+-=":
                end += 1
            what = rest[1:end]
            if not (what in ("u", "g", "o") or all(c in "rwxXst" for c in what)):
                raise CopySourceError(f"invalid chmod parameter {text!r}")
            clauses.append((who, op, what))
            rest = rest[end:]
    return Mode(text, None, tuple(clauses))


def _entries(rootfs: Path, path: str) -> list[list[str]]:
    try:
        text = in_root(rootfs, path).read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_chown(dest_root: Path, text: str | None) -> Owner | None:
    """--chown ``user[:group]``: numbers as they are, names from ``dest_root``'s /etc files.

    Without a group, a user name takes its primary gid from /etc/passwd and a numeric uid
    is used as the gid too (BuildKit). An unknown name raises :class:`CopySourceError`.
    """
    if text is None or text == "":
        return None
    user, _, group = text.partition(":")
    if user.isdigit():
        uid, primary = int(user), int(user)
    else:
        entry = _find(dest_root, "/etc/passwd", user, "user")
        uid = _field_id(entry, 2, user)
        primary = _field_id(entry, 3, user) if len(entry) > 3 and entry[3].isdigit() else uid
    if not group:
        return Owner(uid, primary)
    if group.isdigit():
        return Owner(uid, int(group))
    return Owner(uid, _field_id(_find(dest_root, "/etc/group", group, "group"), 2, group))


def _find(dest_root: Path, db: str, name: str, what: str) -> list[str]:
    for entry in _entries(dest_root, db):
        if len(entry) >= 3 and entry[0] == name:
            return entry
    raise CopySourceError(
        f"unable to convert --chown {what} {name!r} to an id: no such {what} in {db}"
    )


def _field_id(entry: list[str], index: int, name: str) -> int:
    if not entry[index].isdigit():
        raise CopySourceError(f"--chown {name!r}: invalid id {entry[index]!r} in the rootfs")
    return int(entry[index])
