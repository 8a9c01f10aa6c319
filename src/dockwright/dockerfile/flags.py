"""Instruction flags (``--name=value``) and the values that are checked at parse time.

Flag rules follow BuildKit's ``BFlags``: a flag must be one the instruction declares; a
string flag needs ``=value``; a boolean flag is ``--link``, ``--link=true`` or
``--link=false`` (any case); only list flags (``--mount``, ``--exclude``) may repeat.

Values that BuildKit expands later (``--chmod=$MODE``, ``--checksum=${SUM}``) are checked only
when they are literal: :func:`is_literal` tells which.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from dockwright.dockerfile.gocompat import (
    GoValueError,
    go_parse_duration,
    go_parse_int,
    go_quote,
)
from dockwright.dockerfile.parser import suggest

__all__ = [
    "FlagError",
    "FlagKind",
    "ParsedFlags",
    "is_literal",
    "parse_flags",
    "validate_checksum",
    "validate_chmod",
    "validate_duration",
    "validate_retries",
    "validate_signal",
]

FlagKind = Literal["bool", "string", "strings"]


class FlagError(ValueError):
    """A flag or flag value the instruction cannot take; ``flag`` is the flag as written."""

    def __init__(self, message: str, *, flag: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.flag = flag
        self.hint = hint


@dataclass(frozen=True, slots=True)
class ParsedFlags:
    """The flags an instruction was given, by name (without the leading ``--``)."""

    bools: Mapping[str, bool] = field(default_factory=dict)
    strings: Mapping[str, str] = field(default_factory=dict)
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    raw: Mapping[str, str] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        """A boolean flag's value (false when absent)."""
        return self.bools.get(name, False)

    def string(self, name: str) -> str | None:
        """A string flag's value, or ``None`` when it was not given."""
        return self.strings.get(name)

    def values(self, name: str) -> tuple[str, ...]:
        """Every value of a repeatable flag, in order."""
        return self.lists.get(name, ())

    def written(self, name: str) -> str:
        """The flag as written in the Dockerfile (first occurrence), for error locations."""
        return self.raw.get(name, f"--{name}")


def parse_flags(
    flags: Sequence[str], declared: Mapping[str, FlagKind], instruction: str
) -> ParsedFlags:
    """Check ``flags`` (``["--from=build", "--link"]``) against the ``declared`` ones.

    Raises :class:`FlagError` naming the offending flag, with a hint listing the valid flags
    or suggesting a close spelling.
    """
    bools: dict[str, bool] = {}
    strings: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    raw: dict[str, str] = {}
    for written in flags:
        if not written.startswith("--"):
            raise FlagError(f"Arg should start with -- : {written}", flag=written)
        if written == "--":
            break
        name, equals, value = written[2:].partition("=")
        kind = declared.get(name)
        if kind is None:
            raise FlagError(
                f"unknown flag: {name}", flag=written, hint=_flag_hint(name, declared, instruction)
            )
        if name in raw and kind != "strings":
            raise FlagError(f"Duplicate flag specified: {name}", flag=written)
        raw.setdefault(name, written)
        if kind == "bool":
            if equals and value == "":
                raise FlagError(f"Missing a value on flag: {name}", flag=written)
            lowered = value.lower()
            if lowered not in ("", "true", "false"):
                raise FlagError(
                    f"Expecting boolean value for flag {name}, not: {value}",
                    flag=written,
                    hint=f"write --{name}, --{name}=true or --{name}=false",
                )
            bools[name] = lowered != "false"
        elif not equals:
            raise FlagError(
                f"Missing a value on flag: {name}", flag=written, hint=f"write --{name}=<value>"
            )
        elif kind == "string":
            strings[name] = value
        else:
            lists.setdefault(name, []).append(value)
    return ParsedFlags(
        bools=bools,
        strings=strings,
        lists={name: tuple(values) for name, values in lists.items()},
        raw=raw,
    )


def _flag_hint(name: str, declared: Mapping[str, FlagKind], instruction: str) -> str:
    if not declared:
        return f"{instruction} takes no flags"
    close = suggest(name, sorted(declared))
    if close:
        return f"did you mean --{close}?"
    return f"valid flags for {instruction}: " + ", ".join(f"--{flag}" for flag in sorted(declared))


def is_literal(value: str) -> bool:
    """Whether ``value`` means itself: no ``$variable``, quote or escape to process later."""
    return not any(ch in value for ch in "$'\"\\`")


_OCTAL_MODE = re.compile(r"[0-7]+")
_SYMBOLIC_CLAUSE = re.compile(r"[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+")


def validate_chmod(value: str) -> None:
    """Check a literal ``--chmod``: octal (``0755``, at most ``7777``) or symbolic like
    ``u=rwx,go=rx`` or ``+x``. Raises :class:`FlagError`."""
    if _OCTAL_MODE.fullmatch(value):
        if int(value, 8) > 0o7777:
            raise FlagError(f"invalid chmod mode {go_quote(value)}: above 7777")
        return
    if value and all(_SYMBOLIC_CLAUSE.fullmatch(clause) for clause in value.split(",")):
        return
    raise FlagError(
        f"invalid chmod mode {go_quote(value)}",
        hint="use an octal mode such as 0755 or a symbolic one such as u=rwx,go=rx",
    )


_CHECKSUM = re.compile(r"sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}")
_GIT_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def validate_checksum(value: str) -> None:
    """Check a literal ``ADD --checksum``: a digest (``sha256:<hex>``) or a git commit hash."""
    if _CHECKSUM.fullmatch(value) or _GIT_COMMIT.fullmatch(value):
        return
    raise FlagError(
        f"invalid checksum {go_quote(value)}",
        hint="write --checksum=sha256:<64 hex digits> (or a git commit hash for a git source)",
    )


_MINIMUM_DURATION_NS = 1_000_000


def validate_duration(flag: str, value: str) -> int:
    """A HEALTHCHECK duration flag's value in nanoseconds; zero is allowed, else ≥ 1ms."""
    try:
        duration = go_parse_duration(value)
    except GoValueError as exc:
        raise FlagError(
            f"time: {exc} for --{flag}", hint="use a Go duration such as 30s, 1m30s or 500ms"
        ) from None
    if duration != 0 and duration < _MINIMUM_DURATION_NS:
        raise FlagError(f'Interval "{flag}" cannot be less than 1ms')
    return duration


def validate_retries(value: str) -> int:
    """HEALTHCHECK ``--retries``: a non-negative 32-bit integer."""
    try:
        retries = go_parse_int(value, 32)
    except GoValueError:
        raise FlagError(
            f"strconv.ParseInt: parsing {go_quote(value)}: invalid syntax for --retries",
            hint="use a whole number such as 3",
        ) from None
    if retries < 0:
        raise FlagError(f"--retries cannot be negative ({retries})")
    return retries


_SIGNALS = frozenset(
    {
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
        "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
        "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
        "RTMIN", "RTMAX",
        *(f"RTMIN+{n}" for n in range(1, 16)),
        *(f"RTMAX-{n}" for n in range(1, 15)),
    }
)  # fmt: skip


def validate_signal(value: str) -> None:
    """Check a literal STOPSIGNAL: a signal name (``SIGTERM``, ``term``) or a number."""
    try:
        number = go_parse_int(value, 64)
    except GoValueError:
        name = value.upper().removeprefix("SIG")
        if name not in _SIGNALS:
            raise FlagError(
                f"Invalid signal: {value}", hint="use a signal name such as SIGTERM or a number"
            ) from None
        return
    if number == 0:
        raise FlagError(f"Invalid signal: {value}")
