"""Heredocs: finding ``<<EOF`` words on an instruction line and reading their names.

BuildKit finds heredocs by splitting the whole instruction line into shell words (quotes and
escapes kept raw, variables left alone, ``<<`` glued to a following word even across blanks)
and matching each word against ``^(\\d*)<<(-?)\\s*([^<]*)$``. The terminator word is then
lexed twice, with and without its quotes: if the quote counts differ, part of it was quoted
and the body is not expanded (``<<'EOF'``, ``<<"EOF"``, ``<<E"O"F``). The escape character is
always the backslash here, whatever ``# escape=`` says.

This is a small lexer of its own, not :mod:`dockwright.dockerfile.shell`: parsing never
expands variables, and it only needs word boundaries and quote removal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockwright.dockerfile.gocompat import go_isspace

__all__ = ["Heredoc", "chomp", "heredocs_in_line", "parse_heredoc_word"]

_HEREDOC_WORD = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Heredoc:
    """One here-document attached to an instruction.

    ``content`` is the body exactly as written (each line with its line ending, leading tabs
    kept even for ``<<-``); :attr:`text` applies the chomp. ``expand`` is false when the
    terminator word was quoted, so ``$VARS`` in the body stay literal.
    """

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    fd: int = 0

    @property
    def text(self) -> str:
        """The body as the build uses it: leading tabs removed from every line for ``<<-``."""
        return chomp(self.content) if self.chomp else self.content


def chomp(content: str) -> str:
    """Remove leading tabs from every line (``<<-``)."""
    return _LEADING_TABS.sub("", content)


class _LexError(Exception):
    """Unbalanced quotes or ``${``: BuildKit's lexer fails and the line has no heredocs."""


def _split_words(line: str, *, raw_quotes: bool, raw_escapes: bool) -> list[str]:
    """Shell-word splitting as BuildKit's ``ProcessWords`` does it with no variables set.

    ``raw_quotes`` keeps quote characters in the words, ``raw_escapes`` keeps backslashes.
    Raises :class:`_LexError` where BuildKit's lexer reports an error.
    """
    words: list[str] = []
    current: list[str] = []
    in_word = False
    i = 0
    n = len(line)

    def end_word() -> None:
        nonlocal in_word
        if in_word:
            words.append("".join(current))
            current.clear()
            in_word = False

    while i < n:
        ch = line[i]
        if ch == "'":
            close = line.find("'", i + 1)
            if close < 0:
                raise _LexError("unterminated single quote")
            body = line[i + 1 : close]
            current.append(f"'{body}'" if raw_quotes else body)
            in_word = True
            i = close + 1
        elif ch == '"':
            i = _double_quoted(line, i + 1, current, raw_quotes=raw_quotes, raw_escapes=raw_escapes)
            in_word = True
        elif ch == "$" and line.startswith("${", i):
            close = line.find("}", i + 2)
            if close < 0:
                raise _LexError("missing '}'")
            current.append(line[i : close + 1])
            in_word = True
            i = close + 1
        elif ch == "<" and line.startswith("<<", i):
            # `<<  EOF` is one word: the blanks after << belong to the heredoc marker.
            j = i + 2
            while j < n and go_isspace(line[j]):
                j += 1
            current.append(line[i:j])
            in_word = True
            i = j
        elif ch == "\\":
            if raw_escapes:
                current.append(ch)
            if i + 1 >= n:
                break
            current.append(line[i + 1])
            in_word = True
            i += 2
        elif go_isspace(ch):
            end_word()
            i += 1
        else:
            current.append(ch)
            in_word = True
            i += 1
    end_word()
    return words


def _double_quoted(
    line: str, i: int, out: list[str], *, raw_quotes: bool, raw_escapes: bool
) -> int:
    """Read a double-quoted string starting after its opening quote; returns the index after."""
    n = len(line)
    if raw_quotes:
        out.append('"')
    while i < n:
        ch = line[i]
        if ch == '"':
            if raw_quotes:
                out.append('"')
            return i + 1
        if ch == "\\" and i + 1 < n and line[i + 1] in '"$\\':
            if raw_escapes:
                out.append(ch)
            out.append(line[i + 1])
            i += 2
            continue
        if ch == "$" and line.startswith("${", i):
            close = line.find("}", i + 2)
            if close < 0:
                raise _LexError("missing '}'")
            out.append(line[i : close + 1])
            i = close + 1
            continue
        out.append(ch)
        i += 1
    raise _LexError("unterminated double quote")


def parse_heredoc_word(word: str) -> Heredoc | None:
    """The heredoc a single word such as ``<<EOF``, ``<<-'EOF'`` or ``3<<EOF`` introduces.

    ``None`` when the word is no heredoc (``<<``, ``<<EOF sh``, ``<EOF``, ``"<<EOF"``). The
    returned value has no content yet.
    """
    match = _HEREDOC_WORD.fullmatch(word)
    if not match:
        return None
    fd_text, dash, rest = match.groups()
    if not rest:
        return None
    try:
        words = _split_words(rest, raw_quotes=False, raw_escapes=False)
        raw = _split_words(rest, raw_quotes=True, raw_escapes=False)
    except _LexError:
        return None
    if len(words) != 1 or len(raw) != 1:
        return None
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quote_count = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=name,
        expand=quotes == raw_quote_count,
        chomp=dash == "-",
        fd=_file_descriptor(fd_text),
    )


def _file_descriptor(digits: str) -> int:
    # Go's ParseUint gives its maximum on overflow (and BuildKit ignores the error).
    most = (1 << 64) - 1
    if len(digits.lstrip("0")) > 20:
        return most
    return min(int(digits), most) if digits else 0


def heredocs_in_line(line: str) -> list[Heredoc]:
    """The heredocs an instruction line opens, in order (bodies not read yet)."""
    try:
        words = _split_words(line, raw_quotes=True, raw_escapes=True)
    except _LexError:
        return []
    found = []
    for word in words:
        heredoc = parse_heredoc_word(word)
        if heredoc is not None:
            found.append(heredoc)
    return found
