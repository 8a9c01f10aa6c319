"""Variable expansion and word splitting, the way BuildKit's shell lexer does them.

BuildKit expands ``$name``, ``${name}`` and ``${name<op>word}`` in the arguments of most
Dockerfile instructions with its own small lexer (``frontend/dockerfile/shell/lex.go``, as of
BuildKit v0.34), not with a shell. :class:`Lexer` reproduces it, quirks included, because the
result decides what a build copies, runs and caches:

- ``'...'`` keeps everything literally; ``"..."`` expands ``$`` and lets the escape character
  escape only ``"``, ``$`` and itself (``"a\\tb"`` stays ``a\\tb``); outside quotes the escape
  character escapes any character, and a trailing one is dropped.
- ``$`` not followed by a name, a digit, a special parameter (``@*#?-$!0``) or ``{`` is kept.
  Positional and special parameters are looked up like any name, so they are unset (empty).
- ``${v:-w}`` ``${v-w}`` ``${v:+w}`` ``${v+w}`` ``${v:?msg}`` ``${v?msg}`` (the ``:`` forms
  treat an empty value as unset), ``${v#p}`` ``${v##p}`` ``${v%p}`` ``${v%%p}`` (shortest or
  longest prefix/suffix removal) and ``${v/p/r}`` ``${v//p/r}`` (first or every match).
  Anything else (``${v:=w}``, ``${v:#p}``, ``${v.}``, ``${}``) is an error.
- Patterns use ``*`` and ``?`` only: BuildKit has no ``[...]`` classes, so ``[`` is literal.
  ``\\*``, ``\\?`` and ``\\\\`` escape; ``\\}`` and ``\\/`` only protect the delimiter; any
  other escape in a pattern is an error. Matching is leftmost-first like Go's regexp (``*``
  and ``?`` never match a newline), done by a small linear-time matcher.
- In ``${v//p/r}`` the replacement goes through Go's ``Regexp.Expand``: ``$$`` is ``$`` and
  ``$0``/``${0}`` the matched text; any other ``$name`` is empty. ``${v/p/r}`` inserts ``r``
  as it is. That is BuildKit's behaviour, surprising as it is.
- Word splitting (:meth:`Lexer.expand_words`) splits only the results of ``$`` expansions and
  unquoted, unescaped text on whitespace; quoted text, even empty, never splits, but a word
  that stays empty is dropped. ``<<`` keeps the blanks after it in its word (a heredoc
  marker). BuildKit's quirk is kept too: text before a ``${name<op>word}`` in the same word is
  dropped from the words (``ab${x:-c}d`` gives the word ``cd``), not from the value.
- On Windows (``windows=True``) variable names compare case-insensitively.

Errors are :class:`ExpansionError`: :class:`ShellSyntaxError` for malformed text (unterminated
quotes or braces, bad modifiers, bad patterns) and :class:`RequiredVariableError` when a
``${v?}``/``${v:?}`` check fails. They carry the text and, where known, the offset at which
the problem was found, but no file or line: the caller knows where the text came from and
re-raises a located :class:`~dockwright.errors.DockerfileError` ``from`` it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dockwright.dockerfile.shell_patterns import PatternError, replace, trim_prefix, trim_suffix
from dockwright.errors import DockwrightError

__all__ = [
    "ExpandResult",
    "ExpansionError",
    "Lexer",
    "RequiredVariableError",
    "ShellSyntaxError",
]

# Go's unicode.IsSpace: the Unicode White_Space property. str.isspace() differs (it also
# takes U+001C..U+001F), so the set is spelled out.
_GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_BOM = "\ufeff"
# Deeper nesting of ${...} than this is refused rather than risking Python's recursion limit;
# BuildKit has no such limit, but no real Dockerfile comes near it.
MAX_NESTING = 100


class ExpansionError(DockwrightError):
    """Text that cannot be expanded; ``reason`` says why, ``offset`` where (if known)."""

    exit_code = 2

    def __init__(self, reason: str, *, text: str, offset: int | None = None) -> None:
        super().__init__(f"failed to process {_go_quote(text)}: {reason}")
        self.reason = reason
        self.text = text
        self.offset = offset


class ShellSyntaxError(ExpansionError):
    """Malformed text: an unterminated quote or brace, a bad modifier or pattern."""


class RequiredVariableError(ExpansionError):
    """A ``${name?message}`` or ``${name:?message}`` check failed for ``name``."""

    def __init__(self, reason: str, *, text: str, name: str, offset: int | None = None) -> None:
        super().__init__(reason, text=text, offset=offset)
        self.name = name


@dataclass(frozen=True, slots=True)
class ExpandResult:
    """The outcome of expanding one text.

    ``value`` is the text with quotes removed and variables expanded (BuildKit's
    ``ProcessWord``); ``words`` the same text split into words (``ProcessWords``). ``used``
    holds the names looked up that were set, ``unset_used`` those that were not (including
    positional and special parameters such as ``1`` or ``@``): together, every variable the
    text references on the path its operators took.
    """

    value: str
    words: tuple[str, ...]
    used: frozenset[str]
    unset_used: frozenset[str]


class Lexer:
    """BuildKit's shell lexer for one escape character (``\\``, or `````` after ``# escape=```).

    The flags mirror BuildKit's ``Lex`` options used by some instructions: ``raw_quotes``
    keeps quote characters in the result, ``raw_escapes`` keeps escape characters,
    ``skip_process_quotes`` treats quotes as ordinary characters, and ``skip_unset_env`` leaves
    references to unset variables in the text as written (after expanding their words).
    """

    def __init__(
        self,
        escape: str = "\\",
        *,
        windows: bool = False,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_process_quotes: bool = False,
        skip_unset_env: bool = False,
    ) -> None:
        if escape not in ("\\", "`"):
            raise ValueError(f"escape character must be '\\' or '`', not {escape!r}")
        self.escape = escape
        self.windows = windows
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def process(self, text: str, env: Mapping[str, str]) -> ExpandResult:
        """Expand ``text`` with ``env``: the value, the words and the variables used.

        Raises :class:`ExpansionError` (never anything else) when ``text`` cannot be expanded.
        """
        if self.windows:
            env = {_windows_key(key): value for key, value in env.items()}
        scan = _Scan(self, text, env)
        value, words = scan.stop_on(None, self.raw_escapes, False)
        return ExpandResult(
            value=value,
            words=tuple(words),
            used=frozenset(scan.matched),
            unset_used=frozenset(scan.unmatched),
        )

    def expand(self, text: str, env: Mapping[str, str]) -> str:
        """``text`` as one word: quotes removed, escapes applied, variables expanded."""
        return self.process(text, env).value

    def expand_words(self, text: str, env: Mapping[str, str]) -> list[str]:
        """``text`` expanded and split into words on unquoted whitespace."""
        return list(self.process(text, env).words)


class _Buffer:
    """The current word's text; one per pass, shared by every nesting level (see _Words)."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = ""


class _Words:
    """Word splitting as BuildKit's wordsStruct does it.

    BuildKit keeps the word being built in one buffer per pass and clears it whenever a nested
    ``${name<op>word}`` starts and ends, so text before such an expansion in the same word is
    lost from the words (``ab${x:-c}d`` splits to ``cd``; the single-word value is right).
    Sharing one :class:`_Buffer` reproduces that.
    """

    __slots__ = ("buffer", "in_word", "words")

    def __init__(self, buffer: _Buffer) -> None:
        buffer.text = ""
        self.buffer = buffer
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch in _GO_SPACE:
            if self.in_word and self.buffer.text:
                self.words.append(self.buffer.text)
                self.buffer.text = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.buffer.text += text
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def finish(self) -> list[str]:
        if self.buffer.text:
            self.words.append(self.buffer.text)
            self.buffer.text = ""
            self.in_word = False
        return self.words


class _Scan:
    """One pass over one text; the methods mirror lex.go's shellWord methods."""

    def __init__(self, lexer: Lexer, text: str, env: Mapping[str, str]) -> None:
        self.lexer = lexer
        self.escape = lexer.escape
        self.text = text
        self.env = env
        # Go's text/scanner skips a byte order mark at the very start.
        self.pos = 1 if text.startswith(_BOM) else 0
        self.depth = 0
        self.buffer = _Buffer()
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def syntax(self, reason: str, offset: int | None = None) -> ShellSyntaxError:
        """A syntax error at ``offset`` (default: the current position)."""
        where = self.pos if offset is None else offset
        return ShellSyntaxError(reason, text=self.text, offset=where)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def stop_on(
        self, stop: str | None, raw: bool, keep_pattern_escapes: bool
    ) -> tuple[str, list[str]]:
        """Process up to ``stop`` (consumed), or to the end when ``stop`` is None.

        ``raw`` keeps escape characters (pattern and replacement operands);
        ``keep_pattern_escapes`` doubles escape characters inside quotes of a pattern operand
        so that the pattern reads them as literal.
        """
        text = self.text
        end = len(text)
        quotes = not self.lexer.skip_process_quotes
        result: list[str] = []
        words = _Words(self.buffer)
        while self.pos < end:
            ch = text[self.pos]
            if ch == stop:
                self.pos += 1
                return "".join(result), words.finish()
            if ch == "$":
                expanded = self.dollar()
                result.append(expanded)
                words.add_string(expanded)
                continue
            if ch == "<":
                marker = self.heredoc_marker()
                result.append(marker)
                words.add_raw(marker)
                continue
            if quotes and ch in "'\"":
                if ch == "'":
                    quoted = self.single_quote(keep_pattern_escapes)
                else:
                    quoted = self.double_quote(raw, keep_pattern_escapes)
                result.append(quoted)
                words.add_raw(quoted)
                continue
            self.pos += 1
            if ch == self.escape:
                if raw:
                    words.add_raw(ch)
                    result.append(ch)
                if self.pos >= end:
                    break
                ch = text[self.pos]
                self.pos += 1
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop is not None:
            raise self.syntax(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def heredoc_marker(self) -> str:
        """``<``, or ``<<`` with the blanks after it: BuildKit keeps those in one word."""
        text = self.text
        self.pos += 1
        if self.pos >= len(text) or text[self.pos] != "<":
            return "<"
        start = self.pos - 1
        self.pos += 1
        while self.pos < len(text) and text[self.pos] in " \t\r":
            self.pos += 1
        return text[start : self.pos]

    def single_quote(self, keep_pattern_escapes: bool) -> str:
        start = self.pos
        close = self.text.find("'", start + 1)
        if close < 0:
            self.pos = len(self.text)
            raise self.syntax(
                "unexpected end of statement while looking for matching single-quote", start
            )
        self.pos = close + 1
        body = self.text[start + 1 : close]
        if keep_pattern_escapes:
            body = body.replace(self.escape, self.escape * 2)
        if self.lexer.raw_quotes:
            return "'" + body + "'"
        return body

    def double_quote(self, raw: bool, keep_pattern_escapes: bool) -> str:
        text = self.text
        end = len(text)
        start = self.pos
        self.pos += 1
        raw_quotes = self.lexer.raw_quotes
        keep_lone_escape = raw and (not raw_quotes or keep_pattern_escapes)
        out: list[str] = ['"'] if raw_quotes else []
        while True:
            if self.pos >= end:
                raise self.syntax(
                    "unexpected end of statement while looking for matching double-quote", start
                )
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                if raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            if ch == self.escape:
                if self.pos >= end:
                    continue
                following = text[self.pos]
                if following in ('"', "$", self.escape):
                    if raw:
                        out.append(ch)
                    ch = following
                    self.pos += 1
                elif keep_lone_escape:
                    out.append(ch)
            out.append(ch)

    def name(self) -> str:
        """A name, a run of digits or one special parameter character (maybe empty)."""
        text = self.text
        end = len(text)
        start = self.pos
        if start >= end:
            return ""
        first = text[start]
        if first.isdecimal():
            stop = start + 1
            while stop < end and text[stop].isdecimal():
                stop += 1
            self.pos = stop
            return text[start:stop]
        if first in _SPECIAL_PARAMS:
            self.pos += 1
            return first
        stop = start
        while stop < end and (text[stop].isalpha() or text[stop].isdecimal() or text[stop] == "_"):
            stop += 1
        self.pos = stop
        return text[start:stop]

    def lookup(self, name: str) -> tuple[str, bool]:
        key = _windows_key(name) if self.lexer.windows else name
        value = self.env.get(key)
        if value is None:
            self.unmatched.add(name)
            return "", False
        self.matched.add(name)
        return value, True

    def dollar(self) -> str:
        start = self.pos
        self.pos += 1
        text = self.text
        if self.at_end() or text[self.pos] != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.lexer.skip_unset_env:
                return "$" + name
            return value
        self.pos += 1
        if self.at_end():
            raise self.syntax("syntax error: missing '}'", start)
        if text[self.pos] in "{}:":
            raise self.syntax("syntax error: bad substitution", start)
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.syntax(f"syntax error: more than {MAX_NESTING} nested ${{...}}", start)
        try:
            return self.braced(start, self.name())
        finally:
            self.depth -= 1

    def braced(self, start: int, name: str) -> str:
        if self.at_end():
            raise self.syntax("syntax error: missing '}'", start)
        op = self.text[self.pos]
        self.pos += 1
        if op == "}":
            value, found = self.lookup(name)
            if not found and self.lexer.skip_unset_env:
                return "${" + name + "}"
            return value
        if op == "/":
            return self.substitute(start, name)
        modifier = op
        null_is_unset = op == ":"
        if null_is_unset:
            op = "" if self.at_end() else self.text[self.pos]
            self.pos += 1 if op else 0
            modifier += op
        if op not in ("+", "-", "?", "#", "%"):
            if not null_is_unset:
                raise self.syntax(f"unsupported modifier ({modifier}) in substitution", start)
        elif null_is_unset and op in ("#", "%"):
            raise self.syntax(f"unsupported modifier ({modifier}) in substitution", start)
        is_pattern = op in ("#", "%")
        word = self.delimited("}", is_pattern, is_pattern, "syntax error: missing '}'", start)
        value, is_set = self.lookup(name)
        if self.lexer.skip_unset_env and not is_set:
            return "${" + name + modifier + word + "}"
        empty_is_unset = null_is_unset and value == ""
        if op == "-":
            return word if not is_set or empty_is_unset else value
        if op == "+":
            return "" if not is_set or empty_is_unset else word
        if op == "?":
            if not is_set or empty_is_unset:
                message = word or (
                    "is not allowed to be unset" if not is_set else "is not allowed to be empty"
                )
                raise RequiredVariableError(
                    f"{name}: {message}", text=self.text, name=name, offset=start
                )
            return value
        if op in ("#", "%"):
            greedy = word.startswith(op)
            pattern = word[1:] if greedy else word
            try:
                if op == "%":
                    return trim_suffix(pattern, value, greedy)
                return trim_prefix(pattern, value, greedy)
            except PatternError as exc:
                raise self.syntax(
                    f"invalid pattern ({pattern}) in substitution: {exc}", start
                ) from None
        raise self.syntax(f"unsupported modifier ({modifier}) in substitution", start)

    def delimited(self, stop: str, raw: bool, pattern: bool, missing: str, start: int) -> str:
        try:
            word, _ = self.stop_on(stop, raw, pattern)
        except ExpansionError:
            if self.at_end():
                raise self.syntax(missing, start) from None
            raise
        return word

    def substitute(self, start: int, name: str) -> str:
        replace_all = not self.at_end() and self.text[self.pos] == "/"
        if replace_all:
            self.pos += 1
        pattern = self.delimited("/", True, True, "syntax error: missing '/' in ${}", start)
        replacement = self.delimited("}", True, False, "syntax error: missing '}'", start)
        value, is_set = self.lookup(name)
        if self.lexer.skip_unset_env and not is_set:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        try:
            return replace(pattern, value, replacement, every=replace_all)
        except PatternError as exc:
            raise self.syntax(
                f"invalid pattern ({pattern}) in substitution: {exc}", start
            ) from None


def _windows_key(name: str) -> str:
    # Go's strings.ToUpper maps rune by rune; str.upper() may lengthen (ß -> SS).
    return "".join(ch if len(ch.upper()) != 1 else ch.upper() for ch in name)


def _go_quote(text: str) -> str:
    """A double-quoted rendering of ``text`` close to Go's %q, for messages."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in escaped) + '"'
