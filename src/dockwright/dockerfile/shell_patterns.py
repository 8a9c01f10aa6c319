"""Patterns of ``${v#p}``, ``${v%p}`` and ``${v/p/r}``, matched as BuildKit matches them.

BuildKit turns such a pattern into a Go regular expression: ``*`` becomes ``.*`` (``.*?`` for
the shortest forms), ``?`` becomes ``.``, everything else is literal; there are no ``[...]``
classes. ``\\*``, ``\\?`` and ``\\\\`` escape, ``\\}`` and ``\\/`` stand for ``}`` and
``/``, any other escape is refused. Go's regexp matches leftmost-first and ``.`` never matches
a newline; the small Pike VM here does the same in linear time (Python's ``re`` backtracks,
and a crafted Dockerfile should not be able to stall a build).
"""

from __future__ import annotations

from dockwright.errors import DockwrightError

__all__ = ["PatternError", "replace", "trim_prefix", "trim_suffix"]

_BOM = "\ufeff"


class PatternError(DockwrightError):
    """A pattern BuildKit refuses; the lexer reports it as a ShellSyntaxError."""


# One instruction is (opcode, character, first, second): _CHAR matches ``character``, _ANY any
# character but a newline, _SPLIT continues at ``first`` then (lower priority) ``second``.
_Instr = tuple[int, str, int, int]
_CHAR, _ANY, _SPLIT, _MATCH = range(4)


def _compile(pattern: str, *, greedy: bool) -> list[_Instr]:
    program: list[_Instr] = []
    pos = 1 if pattern.startswith(_BOM) else 0
    end = len(pattern)
    while pos < end:
        ch = pattern[pos]
        pos += 1
        if ch == "*":
            loop = len(program)
            body, after = loop + 1, loop + 3
            first, second = (body, after) if greedy else (after, body)
            program.append((_SPLIT, "", first, second))
            program.append((_ANY, "", 0, 0))
            program.append((_SPLIT, "", loop, loop))
            continue
        if ch == "?":
            program.append((_ANY, "", 0, 0))
            continue
        if ch == "\\":
            if pos < end and pattern[pos] in "}/":
                continue  # the escape only kept ${...}'s delimiter from ending the pattern
            if pos >= end:
                raise PatternError("invalid escape '\\' at end of pattern")
            ch = pattern[pos]
            pos += 1
            if ch not in "*?\\":
                raise PatternError(f"invalid escape '\\{ch}'")
        program.append((_CHAR, ch, 0, 0))
    program.append((_MATCH, "", 0, 0))
    return program


def _add_thread(
    program: list[_Instr], threads: list[tuple[int, int]], seen: set[int], pc: int, start: int
) -> None:
    stack = [pc]
    while stack:
        pc = stack.pop()
        if pc in seen:
            continue
        seen.add(pc)
        op, _, first, second = program[pc]
        if op == _SPLIT:
            stack.append(second)
            stack.append(first)
        else:
            threads.append((pc, start))


def _run(program: list[_Instr], text: str, begin: int, *, anchored: bool) -> tuple[int, int] | None:
    """The leftmost-first match of ``program`` in ``text`` at or after ``begin``."""
    threads: list[tuple[int, int]] = []
    seen: set[int] = set()
    found: tuple[int, int] | None = None
    end = len(text)
    pos = begin
    while True:
        if found is None and (pos == begin or not anchored):
            _add_thread(program, threads, seen, 0, pos)
        if not threads:
            break
        char = text[pos] if pos < end else None
        following: list[tuple[int, int]] = []
        next_seen: set[int] = set()
        for pc, start in threads:
            op, want, _, _ = program[pc]
            if op == _MATCH:
                found = (start, pos)
                break  # lower-priority threads lose to this match
            if char is not None and (char == want if op == _CHAR else char != "\n"):
                _add_thread(program, following, next_seen, pc + 1, start)
        if pos >= end:
            break
        threads, seen = following, next_seen
        pos += 1
    return found


def trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    found = _run(_compile(pattern, greedy=greedy), value, 0, anchored=True)
    return value if found is None else value[found[1] :]


def _reverse_pattern(pattern: str) -> str:
    """``pattern`` reversed, keeping each escape before the character it escapes."""
    out = [""] * len(pattern)
    last = len(pattern) - 1
    pos = 0
    while pos <= last:
        ch = pattern[pos]
        if ch == "\\" and pos != last:
            out[last - pos - 1] = ch
            out[last - pos] = pattern[pos + 1]
            pos += 2
        else:
            out[last - pos] = ch
            pos += 1
    return "".join(out)


def trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # As BuildKit does: a shortest-rightmost search is a leftmost one on reversed strings.
    return trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _replace_all_program(program: list[_Instr], value: str, template: str) -> str:
    """Go's Regexp.ReplaceAllString: empty matches right after a match are not replaced."""
    out: list[str] = []
    last_end = 0
    search = 0
    end = len(value)
    while search <= end:
        found = _run(program, value, search, anchored=False)
        if found is None:
            break
        start, stop = found
        out.append(value[last_end:start])
        if stop > last_end or start == 0:
            out.append(_go_expand(template, value[start:stop]))
        last_end = stop
        search = search + 1 if search + 1 > stop else stop
    out.append(value[last_end:])
    return "".join(out)


def _go_expand(template: str, match: str) -> str:
    """Go's Regexp.Expand for a regexp without groups: ``$0`` is the match, ``$$`` is ``$``."""
    out: list[str] = []
    pos = 0
    end = len(template)
    while pos < end:
        dollar = template.find("$", pos)
        if dollar < 0:
            break
        out.append(template[pos:dollar])
        pos = dollar + 1
        if pos < end and template[pos] == "$":
            out.append("$")
            pos += 1
            continue
        name, rest = _expand_name(template, pos)
        if name is None:
            out.append("$")
            continue
        pos = rest
        if name == "0":
            out.append(match)
    out.append(template[pos:])
    return "".join(out)


def _expand_name(template: str, pos: int) -> tuple[str | None, int]:
    brace = pos < len(template) and template[pos] == "{"
    start = pos + 1 if brace else pos
    stop = start
    while stop < len(template) and (
        template[stop].isalpha() or template[stop].isdecimal() or template[stop] == "_"
    ):
        stop += 1
    if stop == start:
        return None, pos
    if brace:
        if stop >= len(template) or template[stop] != "}":
            return None, pos
        return template[start:stop], stop + 1
    return template[start:stop], stop


def replace(pattern: str, value: str, replacement: str, *, every: bool) -> str:
    """``${v/p/r}`` (``every=False``) or ``${v//p/r}`` (``every=True``) on ``value``."""
    program = _compile(pattern, greedy=True)
    if every:
        return _replace_all_program(program, value, replacement)
    found = _run(program, value, 0, anchored=False)
    if found is None:
        return value
    return value[: found[0]] + replacement + value[found[1] :]
