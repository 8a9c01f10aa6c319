"""Dockerfile text → nodes, the way BuildKit's ``frontend/dockerfile/parser`` reads it.

One :class:`Node` per instruction, with BuildKit's argument shape (what ``dump`` prints):
parser directives at the top, the escape character and line continuations, comments and
blank lines inside continuations, flags (``--name=value``, quotes removed), exec (JSON) form
with BuildKit's fallback to shell form for malformed JSON, ENV/LABEL key-value triples, and
heredoc bodies. Nothing is expanded: ``$VARS`` stay as written.

Lines are split on ``\\n`` only; ``\\r`` before it is dropped. Line numbers are 1-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from dockwright.dockerfile.gocompat import go_trim_left_space, go_trim_space
from dockwright.dockerfile.heredoc import Heredoc, heredocs_in_line
from dockwright.dockerfile.lines import INSTRUCTIONS, LineError, ParsedLine, parse_line, suggest
from dockwright.errors import DockerfileError

__all__ = [
    "INSTRUCTIONS",
    "Directive",
    "Node",
    "ParseResult",
    "ParseWarning",
    "parse",
    "suggest",
]

_HEREDOC_INSTRUCTIONS = frozenset({"add", "copy", "run"})
_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*")


@dataclass(frozen=True, slots=True)
class Directive:
    """A parser directive (``# syntax=…``, ``# escape=…``, ``# check=…``); name lowercased."""

    name: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class ParseWarning:
    """Something BuildKit warns about while parsing (empty continuation lines)."""

    message: str
    line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """One instruction as parsed, before it is typed.

    ``values`` are the arguments in BuildKit's AST shape: JSON-array items for exec form,
    the whole rest of the line for shell form, whitespace-separated words for FROM/EXPOSE
    (and ADD/COPY/VOLUME outside JSON), quoted-preserving words for ARG, ``key, value,
    separator`` triples for ENV/LABEL (separator ``""`` for the legacy ``ENV k v`` form),
    and ``type, command`` for HEALTHCHECK. ONBUILD has no values but a ``child``.
    """

    keyword: str
    values: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    original: str = ""
    start_line: int = 0
    end_line: int = 0
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    child: Node | None = None
    comments: tuple[str, ...] = ()

    @property
    def has_flags(self) -> bool:
        """Whether the instruction (not its ONBUILD child) carries ``--flags``."""
        return bool(self.flags)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A parsed Dockerfile: its directives, escape character, nodes and source lines."""

    file: str
    nodes: tuple[Node, ...]
    directives: tuple[Directive, ...] = ()
    escape: str = "\\"
    warnings: tuple[ParseWarning, ...] = ()
    lines: tuple[str, ...] = field(default=(), repr=False)

    def directive(self, name: str) -> str | None:
        """The value of the directive ``name`` (``syntax``, ``escape``, ``check``), if set."""
        for directive in self.directives:
            if directive.name == name.lower():
                return directive.value
        return None

    def line_text(self, line: int) -> str:
        """The source text of the 1-based ``line`` (empty when out of range)."""
        return self.lines[line - 1] if 1 <= line <= len(self.lines) else ""


def _scan_lines(text: str) -> list[str]:
    """Lines as Go's scanner yields them: split after each ``\\n``, endings kept."""
    raw = text.split("\n")
    lines = [part + "\n" for part in raw[:-1]]
    if raw[-1]:
        lines.append(raw[-1])
    return lines


class _Directives:
    """Directive state: they are read only until the first line that is not one."""

    def __init__(self) -> None:
        self.escape = "\\"
        self.done = False
        self.found: list[Directive] = []
        self._continuation = _continuation_pattern("\\")

    def feed(self, line: str, number: int) -> None:
        if self.done:
            return
        if not line.startswith("#"):
            self.done = True
            return
        match = _DIRECTIVE.fullmatch(go_trim_left_space(line[1:]))
        name = match.group(1).lower() if match else ""
        if not match or name not in _DIRECTIVES:
            self.done = True
            return
        if any(found.name == name for found in self.found):
            raise LineError(f"only one {name} parser directive can be used")
        value = match.group(2)
        if name == "escape":
            if value not in ("\\", "`"):
                raise LineError(
                    f"invalid escape token '{value}' does not match ` or \\",
                    hint="use '# escape=\\' or '# escape=`'",
                )
            self.escape = value
            self._continuation = _continuation_pattern(value)
        self.found.append(Directive(name, value, number))

    def continues(self, line: str) -> tuple[str, bool]:
        """``line`` without its continuation character, and whether the next line joins it."""
        match = self._continuation.search(line)
        if match is None:
            return line, False
        return line[: match.start()] + (match.group(1) or ""), True


def _continuation_pattern(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


def _is_comment(line: str) -> bool:
    return go_trim_left_space(line).startswith("#")


def parse(text: str | bytes, file: str = "Dockerfile") -> ParseResult:
    """Parse Dockerfile ``text`` into nodes; ``file`` names it in errors.

    Bytes are decoded as UTF-8, invalid bytes kept (as BuildKit keeps them). Raises
    :class:`~dockwright.errors.DockerfileError` (with file, line and column) for what BuildKit
    rejects and for unknown instructions.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="surrogateescape")
    raw_lines = _scan_lines(text.removeprefix("\ufeff"))
    lines = [line.rstrip("\r\n") for line in raw_lines]
    source = tuple(lines)
    state = _Directives()
    nodes: list[Node] = []
    warnings: list[ParseWarning] = []
    comments: list[str] = []
    index = 0

    def fail(exc: LineError, line: int, last: int | None = None) -> DockerfileError:
        column = _column(source, line, last or line, exc.needle)
        return DockerfileError(exc.message, file=file, line=line, column=column, hint=exc.hint)

    while index < len(lines):
        index += 1
        start = index
        first = go_trim_left_space(lines[start - 1])
        try:
            state.feed(first, start)
        except LineError as exc:
            raise fail(exc, start) from None
        if first.startswith("#"):
            comment = go_trim_space(first[1:])
            comments = [*comments, comment] if comment else []
            continue
        logical, more = state.continues(first)
        if not more and logical == "":
            continue
        parts = [logical]
        empty_continuation = False
        while more and index < len(lines):
            index += 1
            line = lines[index - 1]
            if _is_comment(line):
                continue
            if go_trim_left_space(line) == "":
                empty_continuation = True
                continue
            piece, more = state.continues(line)
            parts.append(piece)
        logical = "".join(parts)
        if empty_continuation:
            message = f"Empty continuation line found in: {logical}"
            warnings.append(ParseWarning(message, index))
        try:
            parsed = parse_line(logical, state.escape)
        except LineError as exc:
            raise fail(exc, start, index) from None
        heredocs: list[Heredoc] = []
        if _can_contain_heredoc(parsed) and "<<" in logical:
            for opened in heredocs_in_line(logical):
                body: list[str] = []
                while True:
                    if index >= len(lines):
                        unterminated = LineError(
                            f"unterminated heredoc {opened.name}",
                            hint=f"end the here-document with a line holding only {opened.name}",
                            needle="<<",
                        )
                        raise fail(unterminated, start, index)
                    index += 1
                    candidate = lines[index - 1]
                    if opened.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == opened.name:
                        break
                    body.append(raw_lines[index - 1])
                heredocs.append(replace(opened, content="".join(body)))
        nodes.append(_to_node(parsed, start, index, tuple(heredocs), tuple(comments)))
        comments = []
    if not nodes:
        raise DockerfileError(
            "file with no instructions",
            file=file,
            line=max(1, len(lines)),
            hint="a Dockerfile needs at least a FROM instruction",
        )
    return ParseResult(
        file=file,
        nodes=tuple(nodes),
        directives=tuple(state.found),
        escape=state.escape,
        warnings=tuple(warnings),
        lines=source,
    )


def _can_contain_heredoc(node: ParsedLine) -> bool:
    target = node.child if node.keyword == "onbuild" and node.child is not None else node
    return target.keyword in _HEREDOC_INSTRUCTIONS and not target.json


def _column(lines: tuple[str, ...], first: int, last: int, needle: str | None) -> int:
    """1-based column of ``needle`` in lines ``first..last`` (else of the first word)."""
    if needle:
        for number in range(first, min(last, len(lines)) + 1):
            at = lines[number - 1].find(needle)
            if at >= 0:
                return at + 1
    if 1 <= first <= len(lines):
        text = lines[first - 1]
        return len(text) - len(go_trim_left_space(text)) + 1
    return 0


def _to_node(
    parsed: ParsedLine,
    start: int,
    end: int,
    heredocs: tuple[Heredoc, ...],
    comments: tuple[str, ...] = (),
) -> Node:
    # An ONBUILD trigger shares its parent's lines and heredocs.
    child = None if parsed.child is None else _to_node(parsed.child, start, end, heredocs)
    return Node(
        keyword=parsed.keyword,
        values=parsed.values,
        flags=parsed.flags,
        original=parsed.text,
        start_line=start,
        end_line=end,
        json=parsed.json,
        heredocs=heredocs,
        child=child,
        comments=comments,
    )


def error_context(source: str | bytes | ParseResult, error: DockerfileError) -> str:
    """The error's source line with a caret under its column, ready for a terminal::

        3 | RUN --mount=type=cahce,target=/x make
          |     ^

    ``source`` is the Dockerfile text (or its :class:`ParseResult`). Empty when the line is
    not in the source. Tabs before the column are kept so the caret lines up.
    """
    if isinstance(source, ParseResult):
        lines: list[str] | tuple[str, ...] = source.lines
    else:
        if isinstance(source, bytes):
            source = source.decode("utf-8", errors="replace")
        lines = [line.rstrip("\r\n") for line in _scan_lines(source.removeprefix("\ufeff"))]
    if not 1 <= error.line <= len(lines):
        return ""
    text = lines[error.line - 1]
    number = str(error.line)
    out = f"{number} | {text}"
    if error.column >= 1:
        pad = "".join("\t" if ch == "\t" else " " for ch in text[: error.column - 1])
        out += f"\n{' ' * len(number)} | {pad}^"
    return out
