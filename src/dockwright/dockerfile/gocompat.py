"""Go standard-library behaviour the Dockerfile front-end must reproduce exactly.

BuildKit is written in Go, and its parser's output depends on Go's notion of white space,
``strconv.Quote``, ``strconv.ParseBool``/``ParseUint``, ``time.ParseDuration``, Docker's
``units.RAMInBytes`` and ``encoding/json``. Python's equivalents differ at the edges
(``str.isspace`` accepts U+001C..U+001F, ``json`` accepts ``NaN``), so these small functions
pin the Go semantics down in one place.

Text decoded from bytes with ``errors="surrogateescape"`` keeps invalid UTF-8 bytes as lone
surrogates U+DC80..U+DCFF; :func:`go_quote` renders them as Go renders invalid bytes (``\\x..``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = [
    "GoValueError",
    "go_isspace",
    "go_parse_bool",
    "go_parse_duration",
    "go_parse_int",
    "go_parse_uint",
    "go_quote",
    "go_ram_in_bytes",
    "go_trim_left_space",
    "go_trim_space",
    "parse_json_string_array",
]

# Go's unicode.IsSpace for Latin-1; above U+00FF both languages use Unicode's White_Space.
_LATIN1_SPACE = frozenset("\t\n\v\f\r \x85\xa0")


class GoValueError(ValueError):
    """A value Go's parser would reject; the message follows Go's wording where useful."""


def go_isspace(ch: str) -> bool:
    """Go's ``unicode.IsSpace`` for one character."""
    if ord(ch) <= 0xFF:
        return ch in _LATIN1_SPACE
    return ch.isspace()


def go_trim_left_space(text: str) -> str:
    """``strings.TrimLeftFunc(text, unicode.IsSpace)``."""
    i = 0
    while i < len(text) and go_isspace(text[i]):
        i += 1
    return text[i:]


def go_trim_space(text: str) -> str:
    """``strings.TrimSpace``: Go white space removed from both ends."""
    text = go_trim_left_space(text)
    end = len(text)
    while end > 0 and go_isspace(text[end - 1]):
        end -= 1
    return text[:end]


_QUOTE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: a double-quoted literal, printable Unicode kept as is."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0xDC80 <= code <= 0xDCFF:
            # A byte that was not valid UTF-8 (surrogateescape): Go prints the byte.
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def go_parse_bool(value: str) -> bool:
    """``strconv.ParseBool``."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise GoValueError(f"invalid boolean {go_quote(value)}")


_DIGITS = {8: re.compile(r"[0-7]+"), 10: re.compile(r"[0-9]+")}


# Python refuses to convert decimal strings longer than this (sys.int_info); Go reports a
# range error for anything over 20 digits anyway.
_MAX_DIGITS = 40


def go_parse_uint(value: str, base: int = 10, bits: int = 32) -> int:
    """``strconv.ParseUint(value, base, bits)`` for base 8 or 10."""
    if not _DIGITS[base].fullmatch(value):
        raise GoValueError(f"invalid syntax {go_quote(value)}")
    if len(value.lstrip("0")) > _MAX_DIGITS:
        raise GoValueError(f"value out of range {go_quote(value)}")
    number = int(value, base)
    if number >= 1 << bits:
        raise GoValueError(f"value out of range {go_quote(value)}")
    return number


def go_parse_int(value: str, bits: int = 32) -> int:
    """``strconv.ParseInt(value, 10, bits)``: an optional sign, then decimal digits."""
    digits = value[1:] if value[:1] in ("+", "-") else value
    if not _DIGITS[10].fullmatch(digits):
        raise GoValueError(f"invalid syntax {go_quote(value)}")
    if len(digits.lstrip("0")) > _MAX_DIGITS:
        raise GoValueError(f"value out of range {go_quote(value)}")
    number = int(value, 10)
    if not -(1 << (bits - 1)) <= number < 1 << (bits - 1):
        raise GoValueError(f"value out of range {go_quote(value)}")
    return number


_NANOSECOND = 1
_UNITS = {
    "ns": _NANOSECOND,
    "us": 1_000,
    "\u00b5s": 1_000,  # MICRO SIGN
    "\u03bcs": 1_000,  # GREEK SMALL LETTER MU
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_INT64 = (1 << 63) - 1


def go_parse_duration(text: str) -> int:
    """``time.ParseDuration``: ``"1h2m3.5s"`` → nanoseconds (may be negative)."""
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise GoValueError(f"invalid duration {go_quote(text)}")
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            raise GoValueError(f"invalid duration {go_quote(text)}")
        i = 0
        while i < len(rest) and "0" <= rest[i] <= "9":
            i += 1
        whole_digits, rest = rest[:i], rest[i:]
        fraction_digits = ""
        if rest[:1] == ".":
            rest = rest[1:]
            i = 0
            while i < len(rest) and "0" <= rest[i] <= "9":
                i += 1
            fraction_digits, rest = rest[:i], rest[i:]
        if not whole_digits and not fraction_digits:
            raise GoValueError(f"invalid duration {go_quote(text)}")
        i = 0
        while i < len(rest) and rest[i] != "." and not "0" <= rest[i] <= "9":
            i += 1
        unit_name, rest = rest[:i], rest[i:]
        if not unit_name:
            raise GoValueError(f"missing unit in duration {go_quote(text)}")
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise GoValueError(f"unknown unit {go_quote(unit_name)} in duration {go_quote(text)}")
        if len(whole_digits.lstrip("0")) > _MAX_DIGITS:
            raise GoValueError(f"invalid duration {go_quote(text)}")
        whole = int(whole_digits) if whole_digits else 0
        if whole > (1 << 63) // unit:
            raise GoValueError(f"invalid duration {go_quote(text)}")
        part = whole * unit
        if fraction_digits:
            # Go scales the fraction in float64 too; only the first 18 digits matter.
            digits = fraction_digits[:18]
            part += int(float(int(digits)) * (unit / 10 ** len(digits)))
        total += part
        if total > 1 << 63:
            raise GoValueError(f"invalid duration {go_quote(text)}")
    if total > _MAX_INT64 and not negative:
        raise GoValueError(f"invalid duration {go_quote(text)}")
    return -total if negative else total


_RAM_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)*) ?([kKmMgGtTpP])?[iI]?[bB]?")
_RAM_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def go_ram_in_bytes(text: str) -> int:
    """Docker's ``units.RAMInBytes``: ``"64m"``, ``"1.5GiB"``, ``"512"`` → bytes (base 1024)."""
    match = _RAM_SIZE.fullmatch(text)
    if not match:
        raise GoValueError(f"invalid size: {go_quote(text)}")
    try:
        size = float(match.group(1))
    except ValueError:
        raise GoValueError(f"invalid size: {go_quote(text)}") from None
    unit = match.group(2)
    if unit:
        size *= _RAM_UNITS[unit.lower()]
    if not math.isfinite(size) or size > _MAX_INT64:
        raise GoValueError(f"invalid size: {go_quote(text)}")
    return int(size)


class _NotJSON(Exception):
    """The text is not JSON Go's encoding/json accepts (BuildKit then reads shell form)."""


class NotStringArrayError(GoValueError):
    """A valid JSON array with an element that is not a string."""


def _reject_constant(name: str) -> Any:
    raise _NotJSON(name)


def _go_number(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        # Go decodes JSON numbers into float64 and fails on overflow.
        raise _NotJSON(text)
    return number


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json_string_array(text: str) -> list[str] | None:
    """Decode ``text`` as Go's ``json.Unmarshal`` into ``[]any`` would, for exec form.

    Returns the strings of a JSON array of strings; ``None`` when the text is not JSON Go
    accepts (BuildKit falls back to shell form); raises :class:`NotStringArrayError` for a
    valid array holding something other than strings (an error in BuildKit).
    """
    try:
        value = json.loads(
            text, parse_constant=_reject_constant, parse_int=_go_number, parse_float=_go_number
        )
    except (_NotJSON, ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise NotStringArrayError(
            "when using JSON array syntax, arrays must be comprised of strings only"
        )
    # Go replaces invalid UTF-8 and unpaired surrogate escapes with U+FFFD.
    return [_SURROGATE.sub("\ufffd", item) for item in value]
