"""One logical Dockerfile line → keyword, flags and arguments (BuildKit's line parsers).

``splitCommand`` and ``extractBuilderFlags`` split the keyword and the leading ``--flags``
off; a per-keyword function shapes the rest as BuildKit's AST does (see
:class:`~dockwright.dockerfile.parser.Node`). Continuations and heredocs are the caller's
business: this module sees one joined line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dockwright.dockerfile.gocompat import (
    GoValueError,
    go_isspace,
    go_quote,
    go_trim_left_space,
    go_trim_space,
    parse_json_string_array,
)

__all__ = ["INSTRUCTIONS", "LineError", "ParsedLine", "parse_line", "parse_words", "suggest"]

#: Every instruction keyword BuildKit knows, lowercased.
INSTRUCTIONS: tuple[str, ...] = (
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
)
_BLANKS = re.compile(r"[\t\v\f\r ]+")


class LineError(Exception):
    """A line BuildKit rejects; ``needle`` is the text the error points at, if any."""

    def __init__(self, message: str, hint: str | None = None, needle: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.needle = needle


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One line's keyword (lowercased), flags, arguments, exec-form attribute and, for
    ONBUILD, the nested line."""

    keyword: str
    values: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    json: bool = False
    child: ParsedLine | None = None
    text: str = ""


def parse_line(line: str, escape: str) -> ParsedLine:
    """Split ``line`` into keyword, flags and arguments; raises :class:`LineError`."""
    trimmed = go_trim_space(line)
    pieces = _BLANKS.split(trimmed, maxsplit=1)
    word = pieces[0]
    # Go lowercases U+0130 to a plain "i"; Python would add a combining dot.
    keyword = word.replace("\u0130", "i").lower()
    flags: list[str] = []
    rest = ""
    if len(pieces) == 2:
        rest, flags = _extract_flags(pieces[1])
    rest = go_trim_space(rest)
    parser = _LINE_PARSERS.get(keyword)
    if parser is None:
        raise _unknown_instruction(word)
    values, is_json, child = parser(rest, escape)
    return ParsedLine(keyword, tuple(values), tuple(flags), is_json, child, line)


def _unknown_instruction(word: str) -> LineError:
    close = suggest(word.lower(), INSTRUCTIONS)
    if close:
        hint = f"did you mean {close.upper()}?"
    else:
        hint = "valid instructions: " + ", ".join(name.upper() for name in INSTRUCTIONS)
    return LineError(f"unknown instruction: {word}", hint=hint, needle=word)


def suggest(word: str, options: Sequence[str]) -> str | None:
    """The option closest to ``word`` if it is within BuildKit's typo distance (1, or 2 for
    words longer than 4 characters), else ``None``."""
    best: str | None = None
    best_distance = 1 << 30
    for option in options:
        if option == word:
            return option
        distance = _levenshtein(word, option)
        if distance < best_distance:
            best, best_distance = option, distance
    allowed = 2 if len(word) > 4 else 1
    return best if best_distance <= allowed else None


def _levenshtein(a: str, b: str) -> int:
    if len(a) > 64 or len(b) > 64:
        return max(len(a), len(b))
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading ``--flag[=value]`` words (quotes and backslashes removed) and the rest."""
    flags: list[str] = []
    word: list[str] = []
    blank_ok = False
    in_word = False
    quote = ""
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if not in_word and not quote:
            if go_isspace(ch):
                i += 1
                continue
            if not line.startswith("--", i):
                return line[i:], flags
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and i + 1 < n:
                i += 1
                word.append(line[i])
            elif ch != "\\":
                word.append(ch)
            i += 1
            continue
        if go_isspace(ch):
            text = "".join(word)
            if text == "--":
                return line[i:], flags
            if blank_ok or text:
                flags.append(text)
            word.clear()
            blank_ok = in_word = False
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            blank_ok = True
        elif ch == "\\":
            if i + 1 < n:
                i += 1
                word.append(line[i])
        else:
            word.append(ch)
        i += 1
    text = "".join(word)
    if (in_word or quote) and text != "--" and (blank_ok or text):
        flags.append(text)
    return "", flags


_LineParser = Callable[[str, str], tuple[list[str], bool, ParsedLine | None]]


def _parse_string(rest: str, escape: str) -> tuple[list[str], bool, ParsedLine | None]:
    return ([rest] if rest else []), False, None


def _parse_whitespace_words(rest: str, escape: str) -> tuple[list[str], bool, ParsedLine | None]:
    return (_BLANKS.split(rest) if rest else []), False, None


def _parse_json(rest: str) -> list[str] | None:
    rest = go_trim_left_space(rest)
    if not rest.startswith("["):
        return None
    try:
        return parse_json_string_array(rest)
    except GoValueError as exc:
        hint = 'write exec form as ["executable", "arg", ...]'
        raise LineError(str(exc), hint=hint, needle="[") from None


def _parse_maybe_json(rest: str, escape: str) -> tuple[list[str], bool, ParsedLine | None]:
    if rest == "":
        return [], False, None
    items = _parse_json(rest)
    if items is not None:
        return items, True, None
    return [rest], False, None


def _parse_maybe_json_to_list(rest: str, escape: str) -> tuple[list[str], bool, ParsedLine | None]:
    items = _parse_json(rest)
    if items is not None:
        return items, True, None
    return _parse_whitespace_words(rest, escape)


def _parse_healthcheck(rest: str, escape: str) -> tuple[list[str], bool, ParsedLine | None]:
    sep = 0
    while sep < len(rest) and not go_isspace(rest[sep]):
        sep += 1
    if sep == 0:
        return [], False, None
    command_start = sep
    while command_start < len(rest) and go_isspace(rest[command_start]):
        command_start += 1
    values, is_json, _ = _parse_maybe_json(rest[command_start:], escape)
    return [rest[:sep], *values], is_json, None


def parse_words(rest: str, escape: str) -> list[str]:
    """BuildKit's parseWords: split on blanks outside quotes, keeping quotes and escapes."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    quote = ""
    blank_ok = False
    i = 0
    n = len(rest)
    while i < n:
        ch = rest[i]
        if not in_word:
            if go_isspace(ch):
                i += 1
                continue
            in_word = True
        if not quote:
            if go_isspace(ch):
                if blank_ok or word:
                    words.append("".join(word))
                word.clear()
                in_word = blank_ok = False
                i += 1
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
            elif ch == escape:
                if i + 1 == n:
                    i += 1
                    continue
                word.append(ch)
                i += 1
                ch = rest[i]
            word.append(ch)
            i += 1
            continue
        if ch == quote:
            quote = ""
        elif ch == escape and quote != "'":
            if i + 1 == n:
                quote = ""
                i += 1
                continue
            word.append(ch)
            i += 1
            ch = rest[i]
        word.append(ch)
        i += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def _parse_name_value(keyword: str) -> _LineParser:
    def parse_pairs(rest: str, escape: str) -> tuple[list[str], bool, ParsedLine | None]:
        words = parse_words(rest, escape)
        if not words:
            return [], False, None
        if "=" not in words[0]:
            parts = _BLANKS.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise LineError(
                    f"{keyword} must have two arguments",
                    hint=f"write {keyword} name=value",
                    needle=parts[0] if parts[0] else None,
                )
            return [parts[0], parts[1], ""], False, None
        values: list[str] = []
        for word in words:
            if "=" not in word:
                raise LineError(
                    f"Syntax error - can't find = in {go_quote(word)}. "
                    "Must be of the form: name=value",
                    needle=word,
                )
            key, value = word.split("=", 1)
            values += [key, value, "="]
        return values, False, None

    return parse_pairs


def _parse_name_or_name_value(rest: str, escape: str) -> tuple[list[str], bool, ParsedLine | None]:
    return parse_words(rest, escape), False, None


def _parse_subcommand(rest: str, escape: str) -> tuple[list[str], bool, ParsedLine | None]:
    if rest == "":
        return [], False, None
    return [], False, parse_line(rest, escape)


_LINE_PARSERS: dict[str, _LineParser] = {
    "add": _parse_maybe_json_to_list,
    "arg": _parse_name_or_name_value,
    "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_to_list,
    "entrypoint": _parse_maybe_json,
    "env": _parse_name_value("ENV"),
    "expose": _parse_whitespace_words,
    "from": _parse_whitespace_words,
    "healthcheck": _parse_healthcheck,
    "label": _parse_name_value("LABEL"),
    "maintainer": _parse_string,
    "onbuild": _parse_subcommand,
    "run": _parse_maybe_json,
    "shell": _parse_maybe_json,
    "stopsignal": _parse_string,
    "user": _parse_string,
    "volume": _parse_maybe_json_to_list,
    "workdir": _parse_string,
}
