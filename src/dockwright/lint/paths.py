"""Paths inside an image, as lint rules compare them: resolved, normalised, glob-aware.

Paths are POSIX strings. A path may hold shell globs (``/var/lib/apt/lists/*``); two paths
*overlap* when one lies at or below the other, component by component, a glob component
matching as :func:`fnmatch.fnmatchcase` does.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase

__all__ = ["SYSTEM_DIRS", "covers", "has_glob", "overlaps", "resolve"]

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_GLOB = re.compile(r"[*?\[]")

# Directories every base image has: a COPY or mkdir into one of them does not make the
# files already below it its own, so a later cleanup of those is not blamed on it.
SYSTEM_DIRS = frozenset(
    {
        "/",
        "/bin",
        "/sbin",
        "/etc",
        "/lib",
        "/lib64",
        "/opt",
        "/root",
        "/home",
        "/srv",
        "/tmp",
        "/var",
        "/var/lib",
        "/var/cache",
        "/var/tmp",
        "/usr",
        "/usr/bin",
        "/usr/sbin",
        "/usr/lib",
        "/usr/share",
        "/usr/local",
        "/usr/local/bin",
        "/usr/local/sbin",
        "/usr/local/lib",
        "/usr/local/share",
        "/usr/src",
    }
)


def has_glob(path: str) -> bool:
    """Whether ``path`` holds a shell glob character."""
    return bool(_GLOB.search(path))


def resolve(path: str, cwd: str, env: Mapping[str, str]) -> str | None:
    """``path`` made absolute against ``cwd`` and normalised, ``$VARS`` and ``~`` taken
    from ``env`` (``HOME`` defaults to ``/root``); ``None`` when it cannot be known."""
    if not path or "`" in path or "$(" in path:
        return None
    home = env.get("HOME", "/root")
    if path == "~" or path.startswith("~/"):
        path = home + path[1:]

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name == "HOME":
            return home
        value = env.get(name)
        return "\0" if value is None else value

    path = _VAR.sub(substitute, path)
    if "\0" in path or "$" in path:
        return None
    if not path.startswith("/"):
        if not cwd.startswith("/"):
            return None
        path = posixpath.join(cwd, path)
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/")


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _same(a: str, b: str) -> bool:
    return a == b or fnmatchcase(b, a) or fnmatchcase(a, b)


def covers(outer: str, inner: str) -> bool:
    """Whether ``inner`` is ``outer`` or lies below it (globs in either match)."""
    outer_parts, inner_parts = _parts(outer), _parts(inner)
    if len(inner_parts) < len(outer_parts):
        return False
    return all(_same(a, b) for a, b in zip(outer_parts, inner_parts, strict=False))


def overlaps(a: str, b: str) -> bool:
    """Whether one of ``a`` and ``b`` covers the other."""
    return covers(a, b) or covers(b, a)
