"""A cache of the small functions :mod:`dataclasses` compiles while the builder loads.

Python makes each dataclass's ``__init__``, ``__eq__``, ``__repr__``… by compiling generated
source text with ``exec``; for the ~90 dataclasses a build loads that compiling is about 40 ms,
half of everything the build imports. The text is the same on every run, so the compiled code
objects are kept (``marshal``, per interpreter version) and ``exec`` gets those instead of the
text: the same code runs, only the compiling is skipped.

It works by giving the ``dataclasses`` module its own ``exec``; nothing else changes. A missing
or unreadable cache file just means compiling, as without it. The file lives with the user's
caches, not in the store (it belongs to the installed program, as ``__pycache__`` does).
"""

from __future__ import annotations

import builtins
import marshal
import os
import sys
from pathlib import Path
from types import CodeType
from typing import Any

_MAX_ENTRIES = 20_000


class CodeCache:
    """Compiled code for ``exec``'d source text, loaded from and saved to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.codes: dict[str, CodeType] = {}
        self.added = 0
        try:
            with path.open("rb") as handle:
                st = os.fstat(handle.fileno())
                # Trusted as __pycache__ is: only a file of ours that nobody else can write.
                if st.st_uid != os.geteuid() or st.st_mode & 0o022:
                    return
                loaded = marshal.load(handle)  # noqa: S302 - our own file, checked above
            if isinstance(loaded, dict):
                self.codes = loaded
        except (OSError, EOFError, ValueError, TypeError):
            pass

    def exec(self, source: Any, globals_: Any = None, locals_: Any = None, /) -> None:
        """``exec`` with the compiled form of ``source`` (a string) cached."""
        if isinstance(source, str):
            code = self.codes.get(source)
            if code is None:
                code = compile(source, "<string>", "exec")
                self.codes[source] = code
                self.added += 1
            source = code
        builtins.exec(source, globals_, locals_)  # noqa: S102 - dataclasses' own generated code

    def save(self) -> None:
        """Write the cache if this run compiled anything new (atomically; errors ignored)."""
        if not self.added or len(self.codes) > _MAX_ENTRIES:
            return
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                marshal.dump(self.codes, handle)
            os.replace(staging, self.path)
            self.added = 0
        except OSError:
            staging.unlink(missing_ok=True)


def default_folder() -> Path:
    """Where the cache lives: the user's cache folder (like ``__pycache__``, it belongs to the
    installed program, not to a store): ``$XDG_CACHE_HOME/dockwright`` or ``~/.cache/…``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dockwright"


def install(folder: Path) -> CodeCache | None:
    """Serve the ``dataclasses`` module's ``exec`` from a cache file in ``folder``."""
    import dataclasses  # noqa: PLC0415

    if "exec" in vars(dataclasses):
        return None  # someone else's already
    cache = CodeCache(folder / f"dataclass-code-{sys.implementation.cache_tag}.marshal")
    dataclasses.exec = cache.exec  # type: ignore[attr-defined]
    return cache


def uninstall() -> None:
    """Give ``dataclasses`` the builtin ``exec`` back."""
    import dataclasses  # noqa: PLC0415

    vars(dataclasses).pop("exec", None)
