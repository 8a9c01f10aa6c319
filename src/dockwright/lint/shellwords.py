"""A RUN command line read as a POSIX shell would split it, well enough for lint rules.

The rules ask questions such as "which commands does this RUN run, with which words, and is
one piped into the next?". Answering them needs quote removal, operators (``&&`` ``||``
``;`` ``|`` ``&``, newlines), redirections, leading ``NAME=value`` assignments and the
wrappers people put in front of a command (``sudo``, ``env``, ``exec``, ``sh -c '…'``).
It does not need a full shell grammar: ``if``/``for``/``while`` keywords are skipped, command
substitutions and ``${…}`` stay in their words as written, and variables are never expanded.
Malformed text (an unclosed quote) is read to its end; this never raises.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

__all__ = ["SimpleCommand", "parse_script", "program"]

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_KEYWORDS = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"}
)
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"})
# sudo options that take a value as the next word.
_SUDO_VALUE_OPTS = frozenset({"-u", "-g", "-h", "-p", "-C", "-U", "-r", "-t", "-D"})
_MAX_NESTING = 4


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One simple command of a script.

    ``words`` are the words as the shell passes them (quotes removed, ``$VARS`` kept);
    ``argv`` is the command proper, after leading assignments and wrappers (``sudo``,
    ``env``, ``exec``, ``nohup``, ``command``, shell keywords); ``assignments`` holds the
    leading ``NAME=value`` words and those given to ``env``. ``pipe_in``/``pipe_out`` say
    whether the previous command's output is piped into this one and this one's into the
    next. ``cwd`` is the directory the command runs in as far as ``cd`` with a literal
    path tells (``None`` once it is unknown), relative to the RUN's WORKDIR when relative.
    """

    words: tuple[str, ...]
    argv: tuple[str, ...]
    assignments: tuple[tuple[str, str], ...] = ()
    redirects: tuple[tuple[str, str], ...] = ()
    pipe_in: bool = False
    pipe_out: bool = False
    sudo: bool = False
    cwd: str | None = ""
    text: str = ""

    @property
    def name(self) -> str:
        """The program's base name (``/usr/bin/apt-get`` → ``apt-get``), or ``""``."""
        return program(self.argv[0]) if self.argv else ""

    def args(self) -> tuple[str, ...]:
        """The arguments after the program name."""
        return self.argv[1:]


def program(word: str) -> str:
    """The base name of a command word."""
    return posixpath.basename(word)


@dataclass
class _Token:
    kind: str  # "word", "op", "redirect"
    value: str
    raw: str = ""
    start: int = 0
    end: int = 0


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        text = self.text
        word: list[str] = []
        raw_start = -1
        in_word = False

        def flush() -> None:
            nonlocal in_word, raw_start
            if in_word:
                self.tokens.append(
                    _Token("word", "".join(word), self.text[raw_start : self.i], raw_start, self.i)
                )
            word.clear()
            in_word = False
            raw_start = -1

        def begin() -> None:
            nonlocal in_word, raw_start
            if not in_word:
                in_word = True
                raw_start = self.i

        while self.i < len(text):
            ch = text[self.i]
            if ch == "\\":
                if text.startswith("\n", self.i + 1):
                    self.i += 2
                    continue
                begin()
                if self.i + 1 < len(text):
                    word.append(text[self.i + 1])
                self.i += 2
                continue
            if ch in " \t\r":
                flush()
                self.i += 1
                continue
            if ch == "#" and not in_word:
                end = text.find("\n", self.i)
                self.i = len(text) if end < 0 else end
                continue
            if ch == "'":
                begin()
                end = text.find("'", self.i + 1)
                end = len(text) if end < 0 else end
                word.append(text[self.i + 1 : end])
                self.i = end + 1
                continue
            if ch == '"':
                begin()
                word.append(self._double_quoted())
                continue
            if ch == "$" and text.startswith(("$(", "${"), self.i):
                begin()
                word.append(self._balanced())
                continue
            if ch == "`":
                begin()
                end = text.find("`", self.i + 1)
                end = len(text) if end < 0 else end
                word.append(text[self.i : end + 1])
                self.i = end + 1
                continue
            if ch in "<>" or (ch == "&" and text.startswith("&>", self.i)):
                fd = "".join(word) if in_word and "".join(word).isdigit() else ""
                if fd:
                    word.clear()
                    in_word = False
                flush()
                op = self._redirect_op()
                self.tokens.append(_Token("redirect", fd + op, start=self.i, end=self.i))
                continue
            if ch in ";&|()\n":
                flush()
                op = ch
                for two in ("&&", "||", ";;", "|&"):
                    if text.startswith(two, self.i):
                        op = two
                        break
                self.tokens.append(_Token("op", op, start=self.i, end=self.i + len(op)))
                self.i += len(op)
                continue
            begin()
            word.append(ch)
            self.i += 1
        flush()
        return self.tokens

    def _double_quoted(self) -> str:
        text = self.text
        out: list[str] = []
        self.i += 1
        while self.i < len(text):
            ch = text[self.i]
            if ch == '"':
                self.i += 1
                return "".join(out)
            if ch == "\\" and self.i + 1 < len(text):
                nxt = text[self.i + 1]
                if nxt in '"\\$`':
                    out.append(nxt)
                elif nxt != "\n":
                    out.append(ch + nxt)
                self.i += 2
                continue
            if ch == "$" and text.startswith(("$(", "${"), self.i):
                out.append(self._balanced())
                continue
            out.append(ch)
            self.i += 1
        return "".join(out)

    def _balanced(self) -> str:
        """``$(…)`` or ``${…}`` kept as written, nesting and quotes respected."""
        text = self.text
        start = self.i
        opener = text[self.i + 1]
        closer = ")" if opener == "(" else "}"
        depth = 0
        self.i += 1
        quote = ""
        while self.i < len(text):
            ch = text[self.i]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == "\\" and quote == '"':
                    self.i += 1
            elif ch in "'\"":
                quote = ch
            elif ch == "\\":
                self.i += 1
            elif ch == opener:
                depth += 1
            elif ch == closer:
                depth -= 1
                if depth == 0:
                    self.i += 1
                    return text[start : self.i]
            self.i += 1
        return text[start:]

    def _redirect_op(self) -> str:
        text = self.text
        for op in ("&>>", "&>", "<<<", "<<-", "<<", ">>", ">&", "<&", ">|", "<>", ">", "<"):
            if text.startswith(op, self.i):
                self.i += len(op)
                return op
        self.i += 1  # pragma: no cover - the caller saw < or >
        return text[self.i - 1]


def parse_script(text: str, *, _depth: int = 0) -> tuple[SimpleCommand, ...]:
    """The simple commands of a shell script, in order, ``sh -c '…'`` bodies inlined."""
    tokens = _Lexer(text).run()
    commands: list[SimpleCommand] = []
    words: list[_Token] = []
    redirects: list[tuple[str, str]] = []
    pipe_in = False
    cwd: str | None = ""
    pending_redirect: str | None = None

    def finish(pipe_out: bool) -> None:
        nonlocal cwd
        if words:
            start, end = words[0].start, words[-1].end
            made = _command([w.value for w in words], redirects, pipe_in, pipe_out, cwd)
            made = _with_text(made, text[start:end])
            if _depth < _MAX_NESTING and _is_shell_c(made.argv):
                inner = parse_script(made.argv[2], _depth=_depth + 1)
                commands.extend(_rebase(c, cwd) for c in inner)
            else:
                commands.append(made)
            if made.name == "cd" and not pipe_in and not pipe_out:
                cwd = _cd(cwd, made.args())
        words.clear()
        redirects.clear()

    for token in tokens:
        if token.kind == "redirect":
            pending_redirect = token.value
            continue
        if token.kind == "word":
            if pending_redirect is not None:
                redirects.append((pending_redirect, token.value))
                pending_redirect = None
                continue
            words.append(token)
            continue
        pending_redirect = None
        if token.value in ("|", "|&"):
            finish(pipe_out=True)
            pipe_in = True
        else:
            finish(pipe_out=False)
            pipe_in = False
    finish(pipe_out=False)
    return tuple(commands)


def _with_text(command: SimpleCommand, text: str) -> SimpleCommand:
    return SimpleCommand(
        words=command.words,
        argv=command.argv,
        assignments=command.assignments,
        redirects=command.redirects,
        pipe_in=command.pipe_in,
        pipe_out=command.pipe_out,
        sudo=command.sudo,
        cwd=command.cwd,
        text=" ".join(text.split()),
    )


def _rebase(command: SimpleCommand, cwd: str | None) -> SimpleCommand:
    if command.cwd is None or cwd is None:
        new_cwd = None
    elif not command.cwd:
        new_cwd = cwd
    else:
        new_cwd = posixpath.normpath(posixpath.join(cwd, command.cwd)) if cwd else command.cwd
    return SimpleCommand(
        words=command.words,
        argv=command.argv,
        assignments=command.assignments,
        redirects=command.redirects,
        pipe_in=command.pipe_in,
        pipe_out=command.pipe_out,
        sudo=command.sudo,
        cwd=new_cwd,
        text=command.text,
    )


def _cd(cwd: str | None, args: tuple[str, ...]) -> str | None:
    target = next((a for a in args if not a.startswith("-")), None)
    if target is None or "$" in target or "`" in target or target.startswith("~"):
        return None
    if target.startswith("/"):
        return posixpath.normpath(target)
    if cwd is None:
        return None
    return posixpath.normpath(posixpath.join(cwd, target)) if cwd else posixpath.normpath(target)


def _is_shell_c(argv: tuple[str, ...]) -> bool:
    return (
        len(argv) >= 3
        and program(argv[0]) in _SHELLS
        and argv[1].startswith("-")
        and argv[1].endswith("c")
        and not argv[1].startswith("--")
    )


def _command(
    words: list[str],
    redirects: list[tuple[str, str]],
    pipe_in: bool,
    pipe_out: bool,
    cwd: str | None,
) -> SimpleCommand:
    argv = list(words)
    assignments: list[tuple[str, str]] = []
    sudo = False
    changed = True
    while argv and changed:
        changed = False
        head = argv[0]
        if head in _KEYWORDS:
            argv.pop(0)
            changed = True
        elif _ASSIGNMENT.match(head):
            name, _, value = head.partition("=")
            assignments.append((name, value))
            argv.pop(0)
            changed = True
        elif program(head) == "sudo":
            sudo = True
            argv.pop(0)
            while argv and argv[0].startswith("-"):
                opt = argv.pop(0)
                if opt in _SUDO_VALUE_OPTS and argv:
                    argv.pop(0)
            changed = True
        elif program(head) == "env":
            argv.pop(0)
            while argv and (argv[0].startswith("-") or _ASSIGNMENT.match(argv[0])):
                opt = argv.pop(0)
                if _ASSIGNMENT.match(opt):
                    name, _, value = opt.partition("=")
                    assignments.append((name, value))
                elif opt in ("-u", "-C") and argv:
                    argv.pop(0)
            changed = True
        elif program(head) in ("exec", "nohup", "command") and len(argv) > 1:
            argv.pop(0)
            while argv and argv[0].startswith("-"):
                argv.pop(0)
            changed = True
    return SimpleCommand(
        words=tuple(words),
        argv=tuple(argv),
        assignments=tuple(assignments),
        redirects=tuple(redirects),
        pipe_in=pipe_in,
        pipe_out=pipe_out,
        sudo=sudo,
        cwd=cwd,
    )
