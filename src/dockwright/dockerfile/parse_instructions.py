"""Nodes → typed instructions: one parse function per instruction, and the dispatch table.

What BuildKit checks while parsing is checked here (argument counts, flags, stage names,
JSON-only SHELL, HEALTHCHECK durations, mount options), plus literal values it would only
reject at build time (``--chmod``, ``--checksum``, STOPSIGNAL, EXPOSE ports). Values that
still need variable expansion are kept raw and checked by the planner after expansion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypedDict

from dockwright.dockerfile.flags import (
    FlagError,
    FlagKind,
    ParsedFlags,
    is_literal,
    parse_flags,
    validate_checksum,
    validate_chmod,
    validate_duration,
    validate_retries,
    validate_signal,
)
from dockwright.dockerfile.gocompat import go_quote, go_trim_left_space, go_trim_space
from dockwright.dockerfile.heredoc import Heredoc, parse_heredoc_word
from dockwright.dockerfile.instructions import (
    Add,
    Arg,
    ArgDecl,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Network,
    Onbuild,
    Run,
    Security,
    Shell,
    ShellOrExec,
    Stopsignal,
    User,
    Volume,
    Workdir,
)
from dockwright.dockerfile.mounts import MountError, parse_mount
from dockwright.dockerfile.parser import Node
from dockwright.errors import DockerfileError

__all__ = ["PARSERS", "parse_instruction"]


class _Common(TypedDict):
    start_line: int
    end_line: int
    original: str


class _Request:
    """One node being typed, with what its errors need to point at the source."""

    def __init__(self, node: Node, file: str, lines: tuple[str, ...]) -> None:
        self.node = node
        self.file = file
        self.lines = lines
        self.keyword = node.keyword.upper()
        self.args = list(node.values)

    def error(
        self, message: str, *, needle: str | None = None, hint: str | None = None
    ) -> DockerfileError:
        """A located error for this instruction; ``needle`` is the text to put the caret on."""
        node = self.node
        line, column = node.start_line, 0
        if needle:
            for number in range(node.start_line, min(node.end_line, len(self.lines)) + 1):
                at = self.lines[number - 1].find(needle)
                if at >= 0:
                    line, column = number, at + 1
                    break
        if column == 0 and 1 <= line <= len(self.lines):
            text = self.lines[line - 1]
            column = len(text) - len(go_trim_left_space(text)) + 1
        return DockerfileError(message, file=self.file, line=max(line, 1), column=column, hint=hint)

    def flags(self, declared: Mapping[str, FlagKind]) -> ParsedFlags:
        try:
            return parse_flags(self.node.flags, declared, self.keyword)
        except FlagError as exc:
            raise self.error(exc.message, needle=exc.flag, hint=exc.hint) from None

    def common(self) -> _Common:
        node = self.node
        return {
            "start_line": node.start_line,
            "end_line": node.end_line,
            "original": go_trim_space(node.original),
        }

    def exactly_one(self) -> str:
        if len(self.args) != 1:
            raise self.error(f"{self.keyword} requires exactly one argument")
        return self.args[0]

    def at_least_one(self) -> None:
        if not self.args:
            raise self.error(f"{self.keyword} requires at least one argument")

    def command(self) -> ShellOrExec:
        if self.node.json:
            return ShellOrExec(args=tuple(self.args), exec_form=True)
        return ShellOrExec(args=(" ".join(self.args),) if self.args else (), exec_form=False)


_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*")


def parse_from(req: _Request) -> From:
    """``FROM``: one argument, or three with ``AS name``."""
    args = req.args
    name: str | None = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.fullmatch(name):
            raise req.error(
                f"invalid name for build stage: {go_quote(args[2])}, "
                "name can't start with a number or contain symbols",
                needle=args[2],
                hint="stage names are letters, digits, '-', '_' and '.', starting with a letter",
            )
    elif len(args) != 1:
        raise req.error(
            "FROM requires either one or three arguments", hint="write FROM image [AS name]"
        )
    flags = req.flags({"platform": "string"})
    return From(**req.common(), image=args[0], platform=flags.string("platform"), stage_name=name)


_NETWORKS: tuple[Network, ...] = ("default", "none", "host")
_SECURITY: tuple[Security, ...] = ("sandbox", "insecure")


def parse_run(req: _Request) -> Run:
    """``RUN``: mounts, network and security flags, then the command (and heredocs)."""
    flags = req.flags({"mount": "strings", "network": "string", "security": "string"})
    mounts = []
    for spec in flags.values("mount"):
        try:
            mounts.append(parse_mount(spec))
        except MountError as exc:
            raise req.error(exc.message, needle=spec, hint=exc.hint) from None
    network = flags.string("network") or "default"
    if network not in _NETWORKS:
        raise req.error(
            f"unsupported network mode {go_quote(network)}",
            needle=flags.written("network"),
            hint="use --network=default, none or host",
        )
    security = flags.string("security") or "sandbox"
    if security not in _SECURITY:
        raise req.error(
            f"security {go_quote(security)} is not valid",
            needle=flags.written("security"),
            hint="use --security=sandbox or insecure",
        )
    if not req.args:
        raise req.error("RUN requires at least one argument", hint="give the command to run")
    return Run(
        **req.common(),
        command=req.command(),
        mounts=tuple(mounts),
        network=network,
        security=security,
        heredocs=req.node.heredocs,
    )


def _require_destination(req: _Request) -> None:
    if len(req.args) < 2:
        raise req.error(
            f"{req.keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined.",
            hint=f"write {req.keyword} <source>... <destination>",
        )


def _sources_and_dest(req: _Request) -> tuple[tuple[str, ...], tuple[Heredoc, ...], str]:
    *sources, dest = req.args
    if parse_heredoc_word(dest) is not None:
        raise req.error(f"{req.keyword} cannot accept a heredoc as a destination", needle=dest)
    bodies = {heredoc.name: heredoc for heredoc in req.node.heredocs}
    paths: list[str] = []
    contents: list[Heredoc] = []
    for source in sources:
        opened = parse_heredoc_word(source)
        if opened is None:
            paths.append(source)
            continue
        body = bodies.get(opened.name)
        content = body.content if body is not None else ""
        contents.append(
            Heredoc(
                name=opened.name,
                content=content,
                expand=opened.expand,
                chomp=opened.chomp,
                fd=opened.fd,
            )
        )
    return tuple(paths), tuple(contents), dest


def _check_chmod(req: _Request, flags: ParsedFlags) -> str | None:
    chmod = flags.string("chmod")
    if chmod is not None and is_literal(chmod):
        try:
            validate_chmod(chmod)
        except FlagError as exc:
            raise req.error(exc.message, needle=flags.written("chmod"), hint=exc.hint) from None
    return chmod


def parse_copy(req: _Request) -> Copy:
    """``COPY``: ``--from --chown --chmod --link --parents --exclude``."""
    _require_destination(req)
    flags = req.flags(
        {
            "from": "string",
            "chown": "string",
            "chmod": "string",
            "link": "bool",
            "parents": "bool",
            "exclude": "strings",
        }
    )
    chmod = _check_chmod(req, flags)
    sources, contents, dest = _sources_and_dest(req)
    return Copy(
        **req.common(),
        sources=sources,
        dest=dest,
        heredoc_sources=contents,
        from_=flags.string("from"),
        chown=flags.string("chown"),
        chmod=chmod,
        link=flags.flag("link"),
        parents=flags.flag("parents"),
        exclude=flags.values("exclude"),
    )


def parse_add(req: _Request) -> Add:
    """``ADD``: ``--chown --chmod --link --exclude --checksum --keep-git-dir --unpack``."""
    _require_destination(req)
    flags = req.flags(
        {
            "chown": "string",
            "chmod": "string",
            "link": "bool",
            "exclude": "strings",
            "checksum": "string",
            "keep-git-dir": "bool",
            "unpack": "bool",
        }
    )
    chmod = _check_chmod(req, flags)
    checksum = flags.string("checksum")
    if checksum is not None and is_literal(checksum):
        try:
            validate_checksum(checksum)
        except FlagError as exc:
            raise req.error(exc.message, needle=flags.written("checksum"), hint=exc.hint) from None
    sources, contents, dest = _sources_and_dest(req)
    return Add(
        **req.common(),
        sources=sources,
        dest=dest,
        heredoc_sources=contents,
        chown=flags.string("chown"),
        chmod=chmod,
        link=flags.flag("link"),
        exclude=flags.values("exclude"),
        checksum=checksum,
        keep_git_dir=flags.flag("keep-git-dir"),
        unpack=flags.flag("unpack") if "unpack" in flags.bools else None,
    )


def parse_arg(req: _Request) -> Arg:
    """``ARG name[=default] …``."""
    req.at_least_one()
    req.flags({})
    decls = []
    for word in req.args:
        name, equals, default = word.partition("=")
        if equals and not name:
            raise req.error("ARG names can not be blank", needle=word)
        decls.append(ArgDecl(name=name, default=default if equals else None))
    return Arg(**req.common(), args=tuple(decls))


def _pairs(req: _Request) -> tuple[KeyValue, ...]:
    req.flags({})
    req.at_least_one()
    values = req.args
    pairs = []
    for i in range(0, len(values) - 2, 3):
        key, value, separator = values[i : i + 3]
        if not key:
            raise req.error(f"{req.keyword} names can not be blank", needle="=")
        pairs.append(KeyValue(key=key, value=value, legacy=separator == ""))
    return tuple(pairs)


def parse_env(req: _Request) -> Env:
    """``ENV``: key/value pairs."""
    return Env(**req.common(), pairs=_pairs(req))


def parse_label(req: _Request) -> Label:
    """``LABEL``: key/value pairs."""
    return Label(**req.common(), pairs=_pairs(req))


def parse_workdir(req: _Request) -> Workdir:
    """``WORKDIR path``."""
    path = req.exactly_one()
    req.flags({})
    return Workdir(**req.common(), path=path)


def parse_user(req: _Request) -> User:
    """``USER user[:group]``."""
    user = req.exactly_one()
    req.flags({})
    return User(**req.common(), user=user)


def parse_maintainer(req: _Request) -> Maintainer:
    """``MAINTAINER name``."""
    maintainer = req.exactly_one()
    req.flags({})
    return Maintainer(**req.common(), maintainer=maintainer)


_PORT = re.compile(r"([0-9]+)(?:-([0-9]+))?(?:/([A-Za-z]+))?")


def _port(digits: str) -> int:
    return int(digits) if len(digits.lstrip("0")) <= 5 else 1 << 16


def parse_expose(req: _Request) -> Expose:
    """``EXPOSE``: literal ports are checked (``80``, ``8000-8010/udp``)."""
    req.at_least_one()
    req.flags({})
    for port in req.args:
        if not is_literal(port) or ":" in port:
            continue
        match = _PORT.fullmatch(port)
        ok = match is not None
        if match is not None:
            low, high, proto = match.groups()
            ok = _port(low) <= 65535 and (high is None or _port(low) <= _port(high) <= 65535)
            ok = ok and (proto is None or proto.lower() in ("tcp", "udp", "sctp"))
        if not ok:
            raise req.error(
                f"invalid port {go_quote(port)}",
                needle=port,
                hint="write a port (80), a range (8000-8010) and optionally /tcp, /udp or /sctp",
            )
    return Expose(**req.common(), ports=tuple(req.args))


def parse_volume(req: _Request) -> Volume:
    """``VOLUME``: paths, JSON or space separated."""
    req.at_least_one()
    req.flags({})
    paths = []
    for written in req.args:
        path = go_trim_space(written)
        if not path:
            raise req.error("VOLUME specified can not be an empty string")
        paths.append(path)
    return Volume(**req.common(), paths=tuple(paths))


def parse_cmd(req: _Request) -> Cmd:
    """``CMD``."""
    req.flags({})
    return Cmd(**req.common(), command=req.command())


def parse_entrypoint(req: _Request) -> Entrypoint:
    """``ENTRYPOINT``."""
    req.flags({})
    return Entrypoint(**req.common(), command=req.command())


def parse_shell(req: _Request) -> Shell:
    """``SHELL``: JSON form only, at least the executable."""
    req.flags({})
    if not req.args:
        raise req.error(
            "SHELL requires at least one argument", hint='write SHELL ["/bin/sh", "-c"]'
        )
    if not req.node.json:
        raise req.error(
            "SHELL requires the arguments to be in JSON form",
            hint='write SHELL ["executable", "param", ...]',
        )
    return Shell(**req.common(), shell=tuple(req.args))


def parse_stopsignal(req: _Request) -> Stopsignal:
    """``STOPSIGNAL``: a literal signal is checked (``SIGTERM``, ``9``)."""
    signal = req.exactly_one()
    req.flags({})
    if is_literal(signal):
        try:
            validate_signal(signal)
        except FlagError as exc:
            raise req.error(exc.message, needle=signal, hint=exc.hint) from None
    return Stopsignal(**req.common(), signal=signal)


_HEALTH_FLAGS: dict[str, FlagKind] = {
    "interval": "string",
    "timeout": "string",
    "start-period": "string",
    "start-interval": "string",
    "retries": "string",
}


def parse_healthcheck(req: _Request) -> Healthcheck:
    """``HEALTHCHECK NONE`` or ``HEALTHCHECK [--interval …] CMD command``."""
    if not req.args:
        raise req.error(
            "HEALTHCHECK requires at least one argument",
            hint="write HEALTHCHECK CMD <command> or HEALTHCHECK NONE",
        )
    kind = req.args[0].upper()
    rest = req.args[1:]
    if kind == "NONE":
        # BuildKit ignores flags here (they have nothing to configure).
        if rest:
            raise req.error("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(**req.common(), command=None)
    flags = req.flags(_HEALTH_FLAGS)
    if kind != "CMD":
        raise req.error(
            f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)",
            needle=req.args[0],
            hint="write HEALTHCHECK CMD <command>",
        )
    if not rest:
        raise req.error("Missing command after HEALTHCHECK CMD")
    if req.node.json:
        command = ShellOrExec(args=tuple(rest), exec_form=True)
    else:
        command = ShellOrExec(args=(" ".join(rest),), exec_form=False)
    durations: dict[str, int | None] = {}
    for name in ("interval", "timeout", "start-period", "start-interval"):
        value = flags.string(name)
        durations[name] = None
        if value is not None:
            try:
                durations[name] = validate_duration(name, value) if value else None
            except FlagError as exc:
                raise req.error(exc.message, needle=flags.written(name), hint=exc.hint) from None
    retries_text = flags.string("retries")
    retries = None
    if retries_text:
        try:
            retries = validate_retries(retries_text)
        except FlagError as exc:
            raise req.error(exc.message, needle=flags.written("retries"), hint=exc.hint) from None
    return Healthcheck(
        **req.common(),
        command=command,
        interval=durations["interval"],
        timeout=durations["timeout"],
        start_period=durations["start-period"],
        start_interval=durations["start-interval"],
        retries=retries,
    )


_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)


def parse_onbuild(req: _Request) -> Onbuild:
    """``ONBUILD``: the trigger is typed now (BuildKit checks it only when it fires)."""
    child = req.node.child
    if child is None:
        raise req.error("ONBUILD requires at least one argument")
    req.flags({})
    trigger = child.keyword.upper()
    if trigger == "ONBUILD":
        raise req.error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", needle="ONBUILD")
    if trigger in ("MAINTAINER", "FROM"):
        raise req.error(
            f"{trigger} isn't allowed as an ONBUILD trigger",
            hint="ONBUILD takes a build step such as RUN or COPY",
        )
    inner = parse_instruction(child, file=req.file, lines=req.lines)
    expression = _ONBUILD_PREFIX.sub("", req.node.original, count=1)
    for heredoc in req.node.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    return Onbuild(**req.common(), inner=inner, expression=expression)


#: keyword (lowercase) → parse function.
PARSERS: dict[str, Callable[[_Request], Instruction]] = {
    "add": parse_add,
    "arg": parse_arg,
    "cmd": parse_cmd,
    "copy": parse_copy,
    "entrypoint": parse_entrypoint,
    "env": parse_env,
    "expose": parse_expose,
    "from": parse_from,
    "healthcheck": parse_healthcheck,
    "label": parse_label,
    "maintainer": parse_maintainer,
    "onbuild": parse_onbuild,
    "run": parse_run,
    "shell": parse_shell,
    "stopsignal": parse_stopsignal,
    "user": parse_user,
    "volume": parse_volume,
    "workdir": parse_workdir,
}


def parse_instruction(
    node: Node, *, file: str = "Dockerfile", lines: tuple[str, ...] = ()
) -> Instruction:
    """Type one parsed node. ``lines`` (the source) lets errors carry a column.

    Raises :class:`~dockwright.errors.DockerfileError` located at the instruction.
    """
    req = _Request(node, file, lines)
    parser = PARSERS.get(node.keyword)
    if parser is None:
        raise req.error(f"unknown instruction: {node.keyword.upper()}")
    return parser(req)
