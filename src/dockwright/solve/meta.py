"""Metadata instructions: each changes the image config (and the stage's variables), never
the filesystem (WORKDIR's directory is made by the builder). One function per instruction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from dockwright.dockerfile import (
    Arg,
    Cmd,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Shell,
    ShellOrExec,
    Stopsignal,
    User,
    Volume,
    Workdir,
)
from dockwright.dockerfile.gocompat import go_quote
from dockwright.dockerfile.shell import Lexer
from dockwright.solve.state import StageState

Expand = Callable[[str], str]


def _go_list(items: Any) -> str:
    """Go's %v of a []string: ``[a b c]``."""
    return "[" + " ".join(items) + "]"


def go_quote_rune(value: int) -> str:
    """Go's ``%q`` of an integer: a character literal (``'\\x04'`` for 4)."""
    char = chr(value)
    if char in ('"', "'"):
        return "'\\''" if char == "'" else "'\"'"
    return "'" + go_quote(char)[1:-1] + "'"


def go_quoted_list(items: Any) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("\u00b5s", 1_000), ("ns", 1)):
            if ns >= size:
                whole, frac = divmod(ns, size)
                digits = len(str(size)) - 1
                tail = f"{frac:0{digits}d}".rstrip("0") if digits else ""
                return f"{sign}{whole}{'.' + tail if tail else ''}{unit}"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds, frac = divmod(rest, 1_000_000_000)
    tail = f"{frac:09d}".rstrip("0")
    text = f"{seconds}{'.' + tail if tail else ''}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def command_args(state: StageState, command: ShellOrExec) -> tuple[str, ...]:
    """A CMD/ENTRYPOINT/RUN command as argv: exec form as is, shell form through SHELL."""
    if command.exec_form:
        return tuple(command.args)
    return (*state.shell, " ".join(command.args))


def apply_arg(
    state: StageState,
    instr: Arg,
    expand: Expand,
    build_args: Mapping[str, str],
    global_args: Mapping[str, str],
) -> str:
    """ARG: bind each name (``--build-arg`` > default > global value); the history text."""
    parts: list[str] = []
    for decl in instr.args:
        value: str | None
        if decl.name in build_args:
            value = build_args[decl.name]
        elif decl.default is not None:
            value = expand(decl.default)
        else:
            value = global_args.get(decl.name)
        state.args[decl.name] = value
        # BuildKit's history shows the declaration (with its default), not the value used.
        parts.append(decl.name if decl.default is None else f"{decl.name}={expand(decl.default)}")
    return "ARG " + " ".join(parts)


def apply_env(state: StageState, instr: Env, expand: Expand) -> str:
    """ENV: every pair is expanded with the environment before the instruction."""
    pairs = [(expand(p.key), expand(p.value)) for p in instr.pairs]
    for key, value in pairs:
        state.set_env(key, value)
    return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)


def apply_label(state: StageState, instr: Label, expand: Expand) -> str:
    """LABEL: add or replace labels."""
    pairs = [(expand(p.key), expand(p.value)) for p in instr.pairs]
    labels = dict(state.run.labels)
    labels.update(pairs)
    state.set_run(replace(state.run, labels=labels))
    return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)


def workdir_path(state: StageState, instr: Workdir, expand: Expand) -> str:
    """WORKDIR's absolute path (a relative one is taken from the current WORKDIR)."""
    path = expand(instr.path)
    if not path.startswith("/"):
        path = state.workdir.rstrip("/") + "/" + path
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def apply_workdir(state: StageState, path: str) -> str:
    """Set WORKDIR (the caller makes the directory)."""
    state.set_run(replace(state.run, working_dir=path))
    return f"WORKDIR {path}"


def apply_user(state: StageState, instr: User, expand: Expand) -> str:
    """USER."""
    user = expand(instr.user)
    state.set_run(replace(state.run, user=user))
    return f"USER {user}"


def _port(text: str) -> str:
    return text if "/" in text else f"{text}/tcp"


def apply_expose(state: StageState, instr: Expose, lexer: Lexer, env: Mapping[str, str]) -> str:
    """EXPOSE: ports (``80`` is ``80/tcp``), ranges expanded as Docker does."""
    ports: list[str] = []
    for word in instr.ports:
        for text in lexer.expand_words(word, env):
            number, _, proto = text.partition("/")
            proto = proto.lower() or "tcp"
            low, dash, high = number.partition("-")
            if dash and low.isdigit() and high.isdigit():
                ports += [f"{p}/{proto}" for p in range(int(low), int(high) + 1)]
            else:
                ports.append(f"{number}/{proto}")
    exposed = sorted(set(state.run.exposed_ports) | set(ports))
    state.set_run(replace(state.run, exposed_ports=tuple(exposed)))
    shown = " ".join(f"{p}:{{}}" for p in sorted(set(ports)))
    return f"EXPOSE map[{shown}]"


def apply_volume(state: StageState, instr: Volume, lexer: Lexer, env: Mapping[str, str]) -> str:
    """VOLUME."""
    paths: list[str] = []
    for word in instr.paths:
        paths += lexer.expand_words(word, env) if not word.startswith("[") else [word]
    volumes = sorted(set(state.run.volumes) | set(paths))
    state.set_run(replace(state.run, volumes=tuple(volumes)))
    return f"VOLUME {_go_list(paths)}"


def apply_cmd(state: StageState, instr: Cmd, cmd_set: bool) -> str:
    """CMD."""
    args = command_args(state, instr.command)
    # BuildKit marks the arguments escaped for every CMD and a shell-form ENTRYPOINT (no
    # effect on Linux; seen on the differential suite).
    state.set_run(replace(state.run, cmd=args, args_escaped=True))
    return f"CMD {go_quoted_list(args)}"


def apply_entrypoint(state: StageState, instr: Entrypoint, cmd_set: bool) -> str:
    """ENTRYPOINT (clears a CMD the stage did not set itself, as Docker does)."""
    args = command_args(state, instr.command)
    run = replace(state.run, entrypoint=args)
    if not instr.command.exec_form:
        run = replace(run, args_escaped=True)
    if not cmd_set:
        run = replace(run, cmd=None)
    state.set_run(run)
    return f"ENTRYPOINT {go_quoted_list(args)}"


def apply_shell(state: StageState, instr: Shell) -> str:
    """SHELL."""
    state.set_run(replace(state.run, shell=tuple(instr.shell)))
    return f"SHELL {_go_list(instr.shell)}"


def apply_stopsignal(state: StageState, instr: Stopsignal, expand: Expand) -> str:
    """STOPSIGNAL."""
    signal = expand(instr.signal)
    state.set_run(replace(state.run, stop_signal=signal))
    return f"STOPSIGNAL {signal}"


def apply_healthcheck(state: StageState, instr: Healthcheck) -> str:
    """HEALTHCHECK (NONE disables the base's)."""
    check: dict[str, Any] = {"Test": list(instr.test)}
    for key, value in (
        ("Interval", instr.interval),
        ("Timeout", instr.timeout),
        ("StartPeriod", instr.start_period),
        ("StartInterval", instr.start_interval),
        ("Retries", instr.retries),
    ):
        if value:
            check[key] = value
    state.set_run(replace(state.run, healthcheck=check))
    durations = " ".join(
        go_quote(go_duration(v or 0))
        for v in (instr.interval, instr.timeout, instr.start_period, instr.start_interval)
    )
    retries = go_quote_rune(instr.retries or 0)
    return f"HEALTHCHECK &{{{go_quoted_list(instr.test)} {durations} {retries}}}"


def apply_maintainer(state: StageState, instr: Maintainer) -> str:
    """MAINTAINER (the config's author)."""
    state.config = replace(state.config, author=instr.maintainer)
    return f"MAINTAINER {instr.maintainer}"


def apply_onbuild(state: StageState, instr: Onbuild) -> str:
    """ONBUILD: record the trigger for images built FROM this one."""
    state.onbuild.append(instr.expression)
    state.set_run(replace(state.run, on_build=tuple(state.onbuild)))
    return f"ONBUILD {instr.expression}"


METADATA: tuple[type[Instruction], ...] = (
    Arg,
    Env,
    Label,
    User,
    Expose,
    Volume,
    Cmd,
    Entrypoint,
    Shell,
    Stopsignal,
    Healthcheck,
    Maintainer,
    Onbuild,
)
