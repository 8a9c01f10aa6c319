"""The Go pattern machinery behind ``.dockerignore``, reproduced for :mod:`.ignore`.

Docker reads ``.dockerignore`` with moby/patternmatcher, which leans on three pieces of Go:

- ``filepath.Clean`` normalises every pattern (:func:`go_clean`);
- ``filepath.Match(pattern, ".")`` is asked whether a pattern is well formed
  (:func:`match_syntax_error`): in the parts Match reads, a ``[`` class must close, hold a
  character or range and not end in ``-``, and ``\\`` may not end a chunk;
- the pattern is then rewritten into a Go regular expression (``*`` → ``[^/]*``, ``?`` →
  ``[^/]``, ``**`` → ``(.*/)?`` or ``.*``, ``[``/``]`` and ``\\x`` passed through) and matched
  with Go's regexp, unless it is a plain string, a ``prefix**`` or a ``**suffix``
  (:func:`compile_pattern`). Passing ``[``, ``]`` and escapes through to Go's regexp syntax has
  consequences Docker users see: ``[[:alpha:]]`` is a POSIX class, ``\\d`` a digit, ``a^b`` can
  never match. :func:`translate_go_regexp` turns that Go syntax into Python's, so the same
  paths match; the only Go constructs it refuses that Go accepts are Unicode classes
  (``\\p{Greek}``), which no real ``.dockerignore`` uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from dockwright.errors import DockwrightError

__all__ = [
    "GO_SPACE",
    "CompiledPattern",
    "MatchKind",
    "PatternSyntaxError",
    "compile_pattern",
    "go_clean",
    "go_match",
    "go_trim_space",
    "match_syntax_error",
    "translate_go_regexp",
]

# Go's unicode.IsSpace (the White_Space property), used by strings.TrimSpace.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_MAX_RUNE = 0x10FFFF
# Bytes that are not UTF-8 arrive here as lone surrogates (the surrogateescape handler).
_INVALID_UTF8 = range(0xDC80, 0xDD00)
_ASCII_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class PatternSyntaxError(DockwrightError):
    """A pattern Docker refuses; :mod:`.ignore` names the file and line."""


class MatchKind(Enum):
    """How patternmatcher matches a compiled pattern."""

    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEXP = "regexp"


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    """A cleaned pattern (without ``!``) ready to match slash-separated relative paths.

    ``affix`` is the literal part of a PREFIX (``logs/**``) or SUFFIX (``**/x``) pattern.
    """

    text: str
    kind: MatchKind
    regexp: re.Pattern[str] | None = None
    affix: str = ""

    def match(self, path: str) -> bool:
        """Whether ``path`` (clean, relative, ``/``-separated) matches, as patternmatcher says."""
        if self.kind is MatchKind.EXACT:
            return path == self.text
        if self.kind is MatchKind.PREFIX:
            return path.startswith(self.affix)
        if self.kind is MatchKind.SUFFIX:
            if path.endswith(self.affix):
                return True
            return self.affix.startswith("/") and path == self.affix[1:]
        assert self.regexp is not None
        return self.regexp.search(path) is not None


def _drop_two_bytes(text: str) -> str:
    """``text`` without its first two UTF-8 bytes, as Go slices it (``pattern[2:]``).

    Only a pattern starting with a byte order mark (which Go's scanner skipped) differs from
    ``text[2:]``; the byte left over becomes a surrogate, like any undecodable byte.
    """
    try:
        return text.encode("utf-8", "surrogateescape")[2:].decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text[2:]


def go_trim_space(text: str) -> str:
    """Go's strings.TrimSpace."""
    return text.strip(GO_SPACE)


def go_clean(path: str) -> str:
    """Go's filepath.Clean on a Unix path."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def match_syntax_error(pattern: str) -> str | None:
    """Why Go's ``filepath.Match(pattern, ".")`` fails, or None: patternmatcher's only check.

    Go's Match reports a malformed pattern only in the parts it reads while matching, so
    ``a[`` and ``*[`` are refused but ``x*[`` passes (Match gives up at ``x``). Docker checks
    patterns exactly that way, so this does too; Go's regexp may still refuse the pattern
    later (:func:`compile_pattern`).
    """
    try:
        go_match(pattern, ".")
    except PatternSyntaxError as exc:
        return exc.message
    return None


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match`` on Unix, on code points rather than bytes.

    Raises :class:`PatternSyntaxError` (Go's ErrBadPattern) for a malformed pattern.
    """
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing * matches the rest unless it has a /
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            rest = _match_after_star(chunk, name, pattern)
            if rest is not None:
                name = rest
                continue
        return False
    return not name


def _match_after_star(chunk: str, name: str, pattern: str) -> str | None:
    for skip in range(len(name)):
        if name[skip] == "/":
            break
        rest = _match_chunk(chunk, name[skip + 1 :])
        if rest is not None:
            if not pattern and rest:
                continue  # the last chunk must use up the name
            return rest
    return None


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = pattern.startswith("*")
    pattern = pattern.lstrip("*")
    in_range = False
    pos = 0
    while pos < len(pattern):
        ch = pattern[pos]
        if ch == "\\":
            if pos + 1 < len(pattern):
                pos += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        pos += 1
    return star, pattern[:pos], pattern[pos:]


def _match_chunk(chunk: str, text: str) -> str | None:
    """What remains of ``text`` after ``chunk`` matched its start, or None; checks all of
    ``chunk`` even after a mismatch, as Go does."""
    failed = False
    pos = 0
    end = len(chunk)
    while pos < end:
        failed = failed or not text
        ch = chunk[pos]
        if ch == "[":
            char = -1
            if not failed:
                char, text = ord(text[0]), text[1:]
            pos += 1
            negated = pos < end and chunk[pos] == "^"
            if negated:
                pos += 1
            matched = False
            ranges = 0
            while True:
                if pos < end and chunk[pos] == "]" and ranges:
                    pos += 1
                    break
                low, pos = _class_char(chunk, pos)
                high = low
                if chunk[pos] == "-":
                    high, pos = _class_char(chunk, pos + 1)
                matched = matched or low <= char <= high
                ranges += 1
            failed = failed or matched == negated
            continue
        if ch == "?":
            if not failed:
                failed = text[0] == "/"
                text = text[1:]
            pos += 1
            continue
        if ch == "\\":
            pos += 1
            if pos >= end:
                raise PatternSyntaxError("a trailing '\\' escapes nothing")
        if not failed:
            failed = chunk[pos] != text[0]
            text = text[1:]
        pos += 1
    return None if failed else text


def _class_char(chunk: str, pos: int) -> tuple[int, int]:
    """Go's getEsc: one character of a ``[...]`` class and the position after it."""
    if pos >= len(chunk) or chunk[pos] in "-]":
        raise PatternSyntaxError("malformed character class")
    if chunk[pos] == "\\":
        pos += 1
        if pos >= len(chunk):
            raise PatternSyntaxError("malformed character class")
    char = ord(chunk[pos])
    if char in _INVALID_UTF8:
        raise PatternSyntaxError("invalid UTF-8 in a character class")
    pos += 1
    if pos >= len(chunk):
        raise PatternSyntaxError("unterminated character class")
    return char, pos


def compile_pattern(cleaned: str) -> CompiledPattern:
    """patternmatcher's Pattern.compile for Unix: the kind of match and its regexp.

    Raises :class:`PatternSyntaxError` when Go's regexp would refuse the rewritten pattern.
    """
    regexp = "^"
    kind = MatchKind.EXACT
    pos = 1 if cleaned.startswith("\ufeff") else 0  # Go's text/scanner skips a leading BOM
    end = len(cleaned)
    index = 0
    while pos < end:
        ch = cleaned[pos]
        pos += 1
        if ch == "*":
            if pos < end and cleaned[pos] == "*":
                pos += 1
                if pos < end and cleaned[pos] == "/":
                    pos += 1
                if pos >= end:
                    if kind is MatchKind.EXACT:
                        kind = MatchKind.PREFIX
                    else:
                        regexp += ".*"
                        kind = MatchKind.REGEXP
                else:
                    regexp += "(.*/)?"
                    kind = MatchKind.REGEXP
                if index == 0:
                    kind = MatchKind.SUFFIX
            else:
                regexp += "[^/]*"
                kind = MatchKind.REGEXP
        elif ch == "?":
            regexp += "[^/]"
            kind = MatchKind.REGEXP
        elif ch in ".+()|{}$":
            regexp += "\\" + ch
        elif ch == "\\":
            if pos < end:
                regexp += "\\" + cleaned[pos]
                pos += 1
                kind = MatchKind.REGEXP
            else:
                regexp += "\\"
        elif ch in "[]":
            regexp += ch
            kind = MatchKind.REGEXP
        else:
            regexp += ch
        index += 1
    if kind is MatchKind.PREFIX:
        return CompiledPattern(cleaned, kind, affix=cleaned[:-2])
    if kind is MatchKind.SUFFIX:
        return CompiledPattern(cleaned, kind, affix=_drop_two_bytes(cleaned))
    if kind is MatchKind.EXACT:
        return CompiledPattern(cleaned, kind)
    python = translate_go_regexp(regexp + "$")
    try:
        compiled = re.compile(python, re.ASCII)
    except re.error as exc:  # not expected: translate_go_regexp emits valid syntax
        raise PatternSyntaxError(f"cannot translate the pattern's regexp: {exc}") from None
    return CompiledPattern(cleaned, kind, compiled)


# --- Go regexp (syntax.Perl flags) to Python re -----------------------------------------------

_Ranges = list[tuple[int, int]]

# \d \s \w; the capitals are their complements. ASCII only, as in Go.
_PERL_CLASSES: dict[str, _Ranges] = {
    "d": [(0x30, 0x39)],
    "s": [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)],
    "w": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
}
_POSIX_CLASSES: dict[str, _Ranges] = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)],
    "blank": [(0x09, 0x09), (0x20, 0x20)],
    "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_C_ESCAPES = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def translate_go_regexp(source: str) -> str:
    """Python ``re`` syntax (to compile with ``re.ASCII``) matching what Go's regexp matches.

    Raises :class:`PatternSyntaxError` where Go's regexp.Compile fails, and for Unicode
    classes, which Python's ``re`` cannot express.
    """
    return _GoRegexp(source).parse()


class _GoRegexp:
    """A recursive-descent reader of Go's regexp syntax, writing Python's.

    It covers what patternmatcher can produce. ``{`` and ``}`` always arrive escaped there, so
    ``{n,m}`` repetition is not read (an unescaped ``{`` would be taken literally).
    """

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0

    def fail(self, reason: str) -> PatternSyntaxError:
        return PatternSyntaxError(f"{reason} (in the regexp {self.src!r} it becomes)")

    def parse(self) -> str:
        out = self.alternation()
        if self.pos < len(self.src):
            raise self.fail("unexpected )")
        return out

    def alternation(self) -> str:
        branches = [self.concat()]
        while self.pos < len(self.src) and self.src[self.pos] == "|":
            self.pos += 1
            branches.append(self.concat())
        return "|".join(branches)

    def concat(self) -> str:
        items: list[str] = []
        repeated = False
        while self.pos < len(self.src) and self.src[self.pos] not in "|)":
            quantifier = self.quantifier()
            if quantifier is None:
                items.append(self.atom())
                repeated = False
                continue
            if not items:
                raise self.fail("missing argument to repetition operator")
            if repeated:
                raise self.fail("invalid nested repetition operator")
            items[-1] = f"(?:{items[-1]}){quantifier}"
            repeated = True
        return "".join(items)

    def quantifier(self) -> str | None:
        ch = self.src[self.pos]
        if ch not in "*+?":
            return None
        self.pos += 1
        if self.pos < len(self.src) and self.src[self.pos] == "?":
            self.pos += 1
            return ch + "?"
        return ch

    def atom(self) -> str:
        src = self.src
        ch = src[self.pos]
        if ch == "(":
            if src.startswith("(?", self.pos):
                raise self.fail("group flags are not supported")
            self.pos += 1
            inner = self.alternation()
            if self.pos >= len(src) or src[self.pos] != ")":
                raise self.fail("missing closing )")
            self.pos += 1
            return f"(?:{inner})"
        if ch == "[":
            return self.char_class()
        self.pos += 1
        if ch == ".":
            return "[^\\n]"
        if ch == "^":
            return "\\A"
        if ch == "$":
            return "\\Z"
        if ch == "\\":
            self.pos -= 1
            return self.escape()
        return re.escape(ch)

    def escape(self) -> str:
        src = self.src
        if self.pos + 1 >= len(src):
            raise self.fail("trailing backslash at end of expression")
        letter = src[self.pos + 1]
        simple = {"A": "\\A", "z": "\\Z", "b": "\\b", "B": "\\B"}
        if letter in simple:
            self.pos += 2
            return simple[letter]
        if letter == "Q":
            close = src.find("\\E", self.pos + 2)
            literal = src[self.pos + 2 :] if close < 0 else src[self.pos + 2 : close]
            self.pos = len(src) if close < 0 else close + 2
            return re.escape(literal)
        if letter in "pP":
            raise self.fail("Unicode character classes are not supported")
        if letter.lower() in _PERL_CLASSES:
            self.pos += 2
            return _class_text(letter.isupper(), _PERL_CLASSES[letter.lower()])
        return re.escape(chr(self.escaped_char()))

    def escaped_char(self) -> int:
        """Go's parseEscape: the code point of the escape at ``pos``."""
        src = self.src
        end = len(src)
        letter = src[self.pos + 1]
        self.pos += 2
        if ord(letter) < 0x80 and letter not in _ASCII_ALNUM:
            return ord(letter)
        if letter in "01234567":
            following = src[self.pos] if self.pos < end else ""
            if letter != "0" and not ("0" <= following <= "7"):
                raise self.fail(f"invalid escape sequence \\{letter}")
            value = int(letter)
            for _ in range(2):
                if self.pos < end and "0" <= src[self.pos] <= "7":
                    value = value * 8 + int(src[self.pos])
                    self.pos += 1
            return value
        if letter == "x":
            return self.hex_escape()
        if letter in _C_ESCAPES:
            return ord(_C_ESCAPES[letter])
        raise self.fail(f"invalid escape sequence \\{letter}")

    def hex_escape(self) -> int:
        src = self.src
        if src.startswith("{", self.pos):
            close = src.find("}", self.pos)
            digits = src[self.pos + 1 : close] if close > 0 else ""
            if digits and all(c in "0123456789abcdefABCDEF" for c in digits):
                value = int(digits, 16)
                if value <= _MAX_RUNE:
                    self.pos = close + 1
                    return value
            raise self.fail("invalid escape sequence \\x{...}")
        digits = src[self.pos : self.pos + 2]
        if len(digits) == 2 and all(c in "0123456789abcdefABCDEF" for c in digits):
            self.pos += 2
            return int(digits, 16)
        raise self.fail("invalid escape sequence \\x")

    def char_class(self) -> str:
        src = self.src
        end = len(src)
        self.pos += 1
        negated = self.pos < end and src[self.pos] == "^"
        if negated:
            self.pos += 1
        ranges: _Ranges = []
        first = True
        while self.pos >= end or src[self.pos] != "]" or first:
            first = False
            if src.startswith("[:", self.pos) and end - self.pos > 2:
                close = src.find(":]", self.pos + 2)
                if close >= 0:
                    name = src[self.pos + 2 : close]
                    inverted = name.startswith("^")
                    group = _POSIX_CLASSES.get(name[1:] if inverted else name)
                    if group is None:
                        raise self.fail(f"invalid character class range [:{name}:]")
                    ranges += _complement(group) if inverted else group
                    self.pos = close + 2
                    continue
            if src.startswith(("\\p", "\\P"), self.pos):
                raise self.fail("Unicode character classes are not supported")
            letter = src[self.pos + 1 : self.pos + 2]
            if src.startswith("\\", self.pos) and letter.lower() in _PERL_CLASSES:
                perl = _PERL_CLASSES[letter.lower()]
                ranges += _complement(perl) if letter.isupper() else perl
                self.pos += 2
                continue
            low = self.class_char()
            high = low
            if end - self.pos >= 2 and src[self.pos] == "-" and src[self.pos + 1] != "]":
                self.pos += 1
                high = self.class_char()
                if high < low:
                    raise self.fail("invalid character class range")
            ranges.append((low, high))
        self.pos += 1
        return _class_text(negated, ranges)

    def class_char(self) -> int:
        if self.pos >= len(self.src):
            raise self.fail("missing closing ]")
        if self.src[self.pos] == "\\":
            return self.escaped_char()
        self.pos += 1
        return ord(self.src[self.pos - 1])


def _merge(ranges: _Ranges) -> _Ranges:
    merged: _Ranges = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


def _complement(ranges: _Ranges) -> _Ranges:
    out: _Ranges = []
    next_low = 0
    for low, high in _merge(ranges):
        if low > next_low:
            out.append((next_low, low - 1))
        next_low = high + 1
    if next_low <= _MAX_RUNE:
        out.append((next_low, _MAX_RUNE))
    return out


def _class_text(negated: bool, ranges: _Ranges) -> str:
    members = _complement(ranges) if negated else _merge(ranges)
    if not members:
        return "(?!)"
    parts = [
        f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in members
    ]
    return "[" + "".join(parts) + "]"
