"""ARG and ENV scope inside a stage: what each instruction sees, the way BuildKit sets it.

BuildKit keeps one environment per stage (``dockerfile2llb``'s ``dispatchArg`` and
``dispatchEnv``), and expands an instruction's words with it before running it:

- A stage starts with its base's environment: a base *stage*'s final ENV and ARG values
  (ARGs are inherited by a stage built FROM that stage), ``PATH`` alone for ``scratch``, an
  unknown set for an image (its config's ENV: :attr:`StageScope.base_env_known` is false).
- The ONBUILD triggers of a base stage fire first.
- ``ARG name`` binds ``name``: to the ``--build-arg`` value if one is given (over any
  default), else to the expanded default, else, with no default, to the global value (a
  global ARG or an automatic platform ARG, which is how ``ARG TARGETARCH`` works), else it
  stays unset. Global ARGs are invisible in a stage until re-declared.
- ``ENV k=v …`` expands every pair with the environment before the instruction, then sets
  them. A later ARG or ENV of the same name replaces the earlier value.

Which words are expanded is BuildKit's list: ENV and LABEL keys and values, ADD/COPY sources,
destination, ``--chown``, ``--chmod``, ``--exclude``, ``--checksum`` and heredoc bodies that
expand, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, ARG defaults. RUN is run by a shell with
the environment; its command text (and expanding heredocs and ``--mount`` values) is scanned
the same way, so ``used``/``unset`` are what its shell would read, shell-local variables
(``for f in …``) included. CMD, ENTRYPOINT and HEALTHCHECK run in the final container, which
sees ENV but no ARG: nothing of theirs is expanded at build time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dockwright.dockerfile import (
    Add,
    Arg,
    Copy,
    Dockerfile,
    Env,
    Expose,
    Instruction,
    Label,
    Onbuild,
    Run,
    Stopsignal,
    User,
    Volume,
    Workdir,
)
from dockwright.dockerfile.shell import ExpandResult, ExpansionError, Lexer
from dockwright.plan.graph import BuildGraph
from dockwright.plan.refs import SCRATCH

__all__ = ["DEFAULT_PATH", "ScopedInstruction", "StageScope", "stage_scope", "stage_scopes"]

#: The PATH BuildKit gives a stage whose base image sets none (``scratch``), on Linux.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# BuildKit's nonEnvArgs: declared like ARGs, never put in the environment.
_NON_ENV_ARGS = frozenset({"BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$(?:\{[#!]?([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True, slots=True)
class ScopedInstruction:
    """One instruction with the variables visible when it runs.

    ``env`` holds the values set before it (ENV values and ARGs that have one; the base
    image's own ENV is not known here). ``args`` are the names bound by an ARG at that point,
    with a value or not. ``used`` are the variables the instruction reads that are set,
    ``unset`` those it reads that are not. ``trigger`` marks an ONBUILD trigger of the base
    stage firing in this stage (its lines are the base stage's).
    """

    instruction: Instruction
    env: Mapping[str, str]
    args: frozenset[str]
    used: frozenset[str]
    unset: frozenset[str]
    trigger: bool = False

    @property
    def used_args(self) -> frozenset[str]:
        """The ARG-bound names the instruction reads (set or not)."""
        return (self.used | self.unset) & self.args


@dataclass(frozen=True, slots=True)
class StageScope:
    """The variable scope through one stage.

    ``initial`` is what the stage starts with, before the base stage's ONBUILD ``triggers``;
    ``steps`` has one entry per instruction of the stage, in order; ``final``/``final_args``
    are what a stage built FROM this one inherits. ``from_args`` are the global ARGs its FROM
    line used; ``declared_args`` the names its own ARG instructions declare.
    """

    stage: int
    escape: str
    base_env_known: bool
    initial: Mapping[str, str]
    triggers: tuple[ScopedInstruction, ...]
    steps: tuple[ScopedInstruction, ...]
    final: Mapping[str, str]
    final_args: frozenset[str]
    from_args: tuple[str, ...]
    declared_args: tuple[str, ...]

    @property
    def args_used(self) -> tuple[str, ...]:
        """Every ARG the stage uses, in order of first use: the FROM line's global ARGs,
        then the ARG-bound names its instructions (and the triggers) read."""
        seen = dict.fromkeys(self.from_args)
        for step in (*self.triggers, *self.steps):
            seen.update(dict.fromkeys(sorted(step.used_args)))
        return tuple(seen)

    def at(self, instruction: Instruction) -> ScopedInstruction:
        """The step of ``instruction`` (one of the stage's, or a trigger's inner one)."""
        for step in (*self.steps, *self.triggers):
            if step.instruction is instruction:
                return step
        for step in (*self.steps, *self.triggers):
            if step.instruction == instruction:
                return step
        raise KeyError(f"instruction at line {instruction.start_line} is not in this stage")

    def expand(self, instruction: Instruction, text: str) -> ExpandResult:
        """Expand ``text`` as BuildKit would at ``instruction`` (quotes removed, variables
        replaced). Raises :class:`~dockwright.dockerfile.shell.ExpansionError`."""
        return Lexer(self.escape).process(text, self.at(instruction).env)


class _State:
    """The running environment of a stage while its instructions are walked."""

    def __init__(
        self,
        graph: BuildGraph,
        lexer: Lexer,
        env: Mapping[str, str],
        args: Iterable[str],
    ) -> None:
        self.graph = graph
        self.lexer = lexer
        self.env = dict(env)
        self.args = set(args)
        self.declared: list[str] = []

    def reads(self, texts: Iterable[str]) -> tuple[set[str], set[str]]:
        """The variables ``texts`` read here: (set ones, unset ones)."""
        used: set[str] = set()
        unset: set[str] = set()
        for text in texts:
            if "$" not in text:
                continue
            try:
                result = self.lexer.process(text, self.env)
                found: Iterable[str] = result.used | result.unset_used
            except ExpansionError:
                found = {a or b for a, b in _REFERENCE.findall(text)}
            for name in found:
                if _NAME.fullmatch(name):
                    (used if name in self.env else unset).add(name)
        return used, unset

    def value(self, text: str) -> str:
        try:
            return self.lexer.process(text, self.env).value
        except ExpansionError:
            return text

    def step(self, instruction: Instruction, trigger: bool = False) -> ScopedInstruction:
        env = MappingProxyType(dict(self.env))
        args = frozenset(self.args)
        if isinstance(instruction, Arg):
            used, unset = self._arg(instruction)
        else:
            used, unset = self.reads(_expanded_texts(instruction))
            if isinstance(instruction, Env):
                values = [(self.value(p.key), self.value(p.value)) for p in instruction.pairs]
                for key, value in values:
                    self.env[key] = value
                    self.args.discard(key)
        return ScopedInstruction(
            instruction, env, args, frozenset(used), frozenset(unset), trigger=trigger
        )

    def _arg(self, arg: Arg) -> tuple[set[str], set[str]]:
        used: set[str] = set()
        unset: set[str] = set()
        build_args = self.graph.build_args
        for decl in arg.args:
            value: str | None = None
            if decl.name in build_args:
                value = build_args[decl.name]
            elif decl.default is not None:
                more_used, more_unset = self.reads([decl.default])
                used |= more_used
                unset |= more_unset - used
                value = self.value(decl.default)
            elif decl.name in self.graph.args:
                value = self.graph.args[decl.name]
            if value is not None and decl.name not in _NON_ENV_ARGS:
                self.env[decl.name] = value
            self.args.add(decl.name)
            self.declared.append(decl.name)
        return used, unset


def _heredoc_bodies(instruction: Run | Copy | Add) -> Iterator[str]:
    docs = instruction.heredocs if isinstance(instruction, Run) else instruction.heredoc_sources
    for doc in docs:
        if doc.expand:
            yield doc.content


def _expanded_texts(instruction: Instruction) -> list[str]:
    """The words of ``instruction`` that BuildKit expands (or, for RUN, its shell reads)."""
    texts: list[str | None]
    if isinstance(instruction, Run):
        texts = [*instruction.command.args, *(m.spec for m in instruction.mounts)]
        texts += _heredoc_bodies(instruction)
    elif isinstance(instruction, Copy | Add):
        texts = [*instruction.sources, instruction.dest, instruction.chown, instruction.chmod]
        texts += [*instruction.exclude, *_heredoc_bodies(instruction)]
        if isinstance(instruction, Add):
            texts.append(instruction.checksum)
    elif isinstance(instruction, Env | Label):
        texts = [t for p in instruction.pairs for t in (p.key, p.value)]
    elif isinstance(instruction, Workdir):
        texts = [instruction.path]
    elif isinstance(instruction, User):
        texts = [instruction.user]
    elif isinstance(instruction, Expose):
        texts = list(instruction.ports)
    elif isinstance(instruction, Volume):
        texts = list(instruction.paths)
    elif isinstance(instruction, Stopsignal):
        texts = [instruction.signal]
    else:
        texts = []
    return [t for t in texts if t]


def _start(
    graph: BuildGraph, index: int, scopes: Mapping[int, StageScope]
) -> tuple[dict[str, str], frozenset[str], bool]:
    node = graph.stages[index]
    if node.base_stage is not None:
        base = scopes[node.base_stage]
        return dict(base.final), base.final_args, base.base_env_known
    if node.base == SCRATCH:
        windows = graph.target_platform.startswith("windows")
        return ({} if windows else {"PATH": DEFAULT_PATH}), frozenset(), True
    return {}, frozenset(), False


def _one(
    graph: BuildGraph, dockerfile: Dockerfile, index: int, scopes: Mapping[int, StageScope]
) -> StageScope:
    node = graph.stages[index]
    env, args, known = _start(graph, index, scopes)
    state = _State(graph, Lexer(dockerfile.escape), env, args)
    triggers: list[ScopedInstruction] = []
    if node.base_stage is not None:
        for instruction in dockerfile.stages[node.base_stage].instructions:
            if isinstance(instruction, Onbuild):
                triggers.append(state.step(instruction.inner, trigger=True))
    state.declared.clear()
    steps = tuple(state.step(i) for i in dockerfile.stages[index].instructions)
    return StageScope(
        stage=index,
        escape=dockerfile.escape,
        base_env_known=known,
        initial=MappingProxyType(env),
        triggers=tuple(triggers),
        steps=steps,
        final=MappingProxyType(dict(state.env)),
        final_args=frozenset(state.args),
        from_args=node.from_args,
        declared_args=tuple(dict.fromkeys(state.declared)),
    )


def _scope(
    graph: BuildGraph, dockerfile: Dockerfile, index: int, scopes: dict[int, StageScope]
) -> StageScope:
    # Base stages first, without recursion: a chain of FROM-stage can be long.
    chain: list[int] = []
    current: int | None = index
    while current is not None and current not in scopes:
        chain.append(current)
        current = graph.stages[current].base_stage
    for stage in reversed(chain):
        scopes[stage] = _one(graph, dockerfile, stage, scopes)
    return scopes[index]


def stage_scope(graph: BuildGraph, dockerfile: Dockerfile, stage: int) -> StageScope:
    """The ARG/ENV scope through stage ``stage`` of ``dockerfile`` (planned as ``graph``).

    Values never raise: a default or ENV value that cannot be expanded is kept as written
    (a build of that stage would fail on it; the planner reports FROM-line errors only).
    """
    return _scope(graph, dockerfile, stage, {})


def stage_scopes(graph: BuildGraph, dockerfile: Dockerfile) -> tuple[StageScope, ...]:
    """:func:`stage_scope` of every stage, in index order (base stages computed once)."""
    scopes: dict[int, StageScope] = {}
    for index in range(len(graph.stages)):
        if index not in scopes:
            _scope(graph, dockerfile, index, scopes)
    return tuple(scopes[i] for i in range(len(graph.stages)))
