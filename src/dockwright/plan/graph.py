"""The stage graph of a build: which stage is the target, which stages it needs, in what order.

This follows BuildKit's Dockerfile front-end (``dockerfile2llb/convert.go``) step by step:

1. The global scope: the automatic platform ARGs (:mod:`~dockwright.plan.platforms`), a
   ``--build-arg`` replacing any of them, then the ARGs before the first FROM in order (a
   ``--build-arg`` wins over a default, a default is expanded with what is set so far).
2. Every FROM is expanded with the global scope, for every stage (used or not): its image
   (``base name (…) should not be blank``), its ``--platform`` (which must parse), and
   ``FROM <name>`` becomes a stage when an earlier stage has that name.
3. ``--target`` must name a stage (without case); the default is the last stage.
4. Every COPY ``--from`` and RUN ``--mount from`` of every stage is resolved
   (:mod:`~dockwright.plan.refs`), and a cycle between stages is an error.
5. The stages the target needs, transitively, through its base stage, what it copies and
   mounts, and the ONBUILD triggers of a base stage (which fire in the child): those run, the
   others are pruned. A stage that runs may not copy from itself or a later stage.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NoReturn, TypeVar

from dockwright.dockerfile import Dockerfile, From, Instruction, go_quote
from dockwright.dockerfile.shell import ExpandResult, ExpansionError, Lexer
from dockwright.errors import DockerfileError, PlatformError
from dockwright.image.platform import Platform, host_platform
from dockwright.plan.locate import located
from dockwright.plan.platforms import AUTOMATIC_ARGS, format_platform, platform_args
from dockwright.plan.refs import Read, Resolver, check_image_name, stage_display_name

__all__ = ["BuildGraph", "StageNode", "build_graph", "global_scope"]

_NO_ARGS: Mapping[str, str] = MappingProxyType({})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class StageNode:
    """One stage as the build sees it, after expanding its FROM line.

    ``copies_from``, ``mounts_from`` and ``external_from`` list what the stage's own
    instructions read, in order of appearance; ``onbuild_from`` the stages that the ONBUILD
    triggers of its base stage read when they fire here. ``depends_on`` is what the build
    follows: the base stage and those reads, except a mount of a *later* stage, which BuildKit
    serves from that stage's base without running it. ``from_args`` are the global ARGs the
    FROM line used (set), ``from_unset`` those it referenced while unset.
    """

    index: int
    name: str | None
    base: str
    base_stage: int | None
    platform: str | None
    copies_from: tuple[int, ...]
    mounts_from: tuple[int, ...]
    external_from: tuple[str, ...]
    start_line: int
    end_line: int
    onbuild_from: tuple[int, ...] = ()
    depends_on: tuple[int, ...] = ()
    from_args: tuple[str, ...] = ()
    from_unset: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        """The name, or BuildKit's ``stage-N`` for an unnamed stage."""
        return self.name or f"stage-{self.index}"


@dataclass(frozen=True, slots=True)
class BuildGraph:
    """The stages of one build of ``target`` for one target platform.

    ``reachable`` are the stages the build runs, ``order`` one order to run them in
    (dependencies first, file order among independent stages), ``final_chain`` the target
    and its base stages (their filesystems are the final image; stages only copied or
    mounted from are not). ``args`` is the global scope (automatic platform ARGs, global
    ARGs, ``--build-arg`` values); ``build_args`` the ``--build-arg`` values as given.
    """

    stages: tuple[StageNode, ...]
    target: int
    reachable: frozenset[int]
    order: tuple[int, ...]
    final_chain: tuple[int, ...]
    args: Mapping[str, str]
    build_args: Mapping[str, str] = field(default_factory=lambda: _NO_ARGS)
    target_platform: str = ""
    build_platform: str = ""

    @property
    def target_stage(self) -> StageNode:
        """The target's node."""
        return self.stages[self.target]

    def runs(self, index: int) -> bool:
        """True when a build of the target runs stage ``index``."""
        return index in self.reachable

    def stage(self, ref: str | int) -> StageNode | None:
        """The stage with this index, or this name (without case; the last of that name)."""
        if isinstance(ref, int):
            return self.stages[ref] if 0 <= ref < len(self.stages) else None
        lowered = ref.lower()
        for node in reversed(self.stages):
            if node.name == lowered:
                return node
        return None


def _expand(
    dockerfile: Dockerfile,
    lexer: Lexer,
    instruction: Instruction,
    text: str,
    env: Mapping[str, str],
) -> ExpandResult:
    try:
        return lexer.process(text, env)
    except ExpansionError as exc:
        raise located(dockerfile, instruction, exc.message, needle=text) from exc


def _names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(n for n in names if _NAME.fullmatch(n)))


def global_scope(
    dockerfile: Dockerfile, automatic: Mapping[str, str], build_args: Mapping[str, str]
) -> dict[str, str]:
    """The global ARG values: ``automatic`` (each replaced by a ``--build-arg`` of its name),
    then the ARGs before the first FROM. Raises a located error when a default cannot be
    expanded."""
    lexer = Lexer(dockerfile.escape)
    env = dict(automatic)
    for name in AUTOMATIC_ARGS:
        if name in build_args:
            env[name] = build_args[name]
    for arg in dockerfile.global_args:
        for decl in arg.args:
            if decl.name in build_args:
                env[decl.name] = build_args[decl.name]
            elif decl.default is not None:
                env[decl.name] = _expand(dockerfile, lexer, arg, decl.default, env).value
    return env


@dataclass(frozen=True, slots=True)
class _From:
    base: str
    base_stage: int | None
    platform: str | None
    used: tuple[str, ...]
    unset: tuple[str, ...]


def _resolve_from(
    dockerfile: Dockerfile,
    index: int,
    env: Mapping[str, str],
    lexer: Lexer,
    earlier: Mapping[str, int],
) -> _From:
    frm: From = dockerfile.stages[index].from_
    result = _expand(dockerfile, lexer, frm, frm.image, env)
    used, unset = set(result.used), set(result.unset_used)
    base = result.value
    if not base:
        raise located(
            dockerfile,
            frm,
            f"base name ({frm.image}) should not be blank",
            needle=frm.image,
            hint="give the ARG a default before the first FROM, or pass --build-arg",
        )
    platform: str | None = None
    if frm.platform is not None:
        expanded = _expand(dockerfile, lexer, frm, frm.platform, env)
        used |= expanded.used
        unset |= expanded.unset_used
        if not expanded.value:
            raise located(
                dockerfile,
                frm,
                f"empty platform value from expression {frm.platform}",
                needle=frm.platform,
                hint="automatic platform ARGs such as $BUILDPLATFORM are always set",
            )
        try:
            Platform.parse(expanded.value)
        except PlatformError as exc:
            raise located(
                dockerfile,
                frm,
                f"failed to parse platform {frm.platform}: {exc.message}",
                needle=frm.platform,
                hint=exc.hint,
            ) from exc
        platform = expanded.value
    base_stage = earlier.get(base)
    if base_stage is None:
        check_image_name(dockerfile, frm, base, needle=frm.image)
    return _From(base, base_stage, platform, _names(used), _names(unset - used))


def _resolve_target(dockerfile: Dockerfile, target: str | None) -> int:
    if target is None:
        return len(dockerfile.stages) - 1
    lowered = target.lower()
    found = None
    for stage in dockerfile.stages:
        if stage.name is not None and stage.name == lowered:
            found = stage.index
    if found is not None:
        return found
    named = [s for s in dockerfile.stages if s.name is not None]
    if named:
        listing = ", ".join(f"{s.name} (line {s.from_.start_line})" for s in named)
        hint = f"the stages are: {listing}"
        import difflib  # noqa: PLC0415 - only for the error's suggestion

        close = difflib.get_close_matches(lowered, [str(s.name) for s in named], n=1)
        if close:
            hint = f"did you mean {close[0]!r}? {hint}"
    else:
        hint = "no stage has a name: name the one to build with FROM <image> AS <name>"
    raise located(
        dockerfile,
        dockerfile.stages[0].from_,
        f"target stage {go_quote(target)} could not be found",
        hint=hint,
    )


def _check_cycles(dockerfile: Dockerfile, own: list[list[Read]]) -> None:
    """BuildKit's validateCircularDependency over the stages' own reads (of every stage)."""
    done: set[int] = set()
    for root in range(len(own)):
        if root in done:
            continue
        on_path = {root}
        path: list[tuple[int, Read]] = []
        stack = [(root, iter(own[root]))]
        while stack:
            node, pending = stack[-1]
            read = next(pending, None)
            if read is None:
                stack.pop()
                on_path.discard(node)
                done.add(node)
                if stack:
                    path.pop()
                continue
            dep = read.index
            if dep is None or dep in done:
                continue
            if dep in on_path:
                _raise_cycle(dockerfile, dep, [*path, (node, read)])
            path.append((node, read))
            on_path.add(dep)
            stack.append((dep, iter(own[dep])))


def _raise_cycle(dockerfile: Dockerfile, stage: int, chain: list[tuple[int, Read]]) -> NoReturn:
    # The chain runs from the search's root; the cycle is the part from `stage` on.
    start = next((i for i, (owner, _) in enumerate(chain) if owner == stage), 0)
    cycle = chain[start:]
    steps = ", ".join(
        f"{stage_display_name(dockerfile, owner)} reads "
        f"{stage_display_name(dockerfile, read.index or 0)} (line {read.instruction.start_line})"
        for owner, read in cycle
    )
    closing = cycle[-1][1]
    raise located(
        dockerfile,
        closing.instruction,
        f"circular dependency detected on stage: {stage_display_name(dockerfile, stage)}",
        needle=closing.written,
        prefix="from=",
        hint=f"{steps}: a stage cannot read itself, directly or through other stages",
    )


def _effective(index: int, reads: Iterable[Read]) -> list[int]:
    """The stages among ``reads`` the build follows (a later stage's mount is not run)."""
    out = []
    for read in reads:
        if read.index is None or (read.kind == "mount" and read.index >= index):
            continue
        out.append(read.index)
    return out


def _closure(start: int, edges: list[list[int]]) -> frozenset[int]:
    seen = {start}
    todo = [start]
    while todo:
        for dep in edges[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return frozenset(seen)


def _check_runnable(
    dockerfile: Dockerfile,
    reachable: frozenset[int],
    own: list[list[Read]],
    triggers: list[list[Read]],
    trigger_errors: list[DockerfileError | None],
) -> None:
    """What BuildKit finds only while dispatching the stages that run: a bad ONBUILD trigger,
    a COPY from the stage itself or from a later stage."""
    for index in sorted(reachable):
        error = trigger_errors[index]
        if error is not None:
            raise error
        for read in (*triggers[index], *own[index]):
            if read.kind == "copy" and read.index is not None and read.index >= index:
                current = stage_display_name(dockerfile, index)
                raise located(
                    dockerfile,
                    read.instruction,
                    f"cannot copy from stage {go_quote(read.written)}, it needs to be defined "
                    f"before current stage {go_quote(current)}",
                    needle=read.written,
                    prefix="--from=",
                    hint=f"move stage {read.written!r} above stage {current!r}",
                )


def _order(dockerfile: Dockerfile, reachable: frozenset[int], edges: list[list[int]]) -> list[int]:
    """Kahn's algorithm, lowest index first: file order wherever dependencies allow."""
    waiting = {i: {d for d in edges[i] if d in reachable} for i in reachable}
    ready = [i for i, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        current = heapq.heappop(ready)
        order.append(current)
        for i, deps in waiting.items():
            if current in deps:
                deps.discard(current)
                if not deps:
                    heapq.heappush(ready, i)
    if len(order) != len(reachable):  # cannot happen after the checks above; kept as a guard
        stuck = min(set(reachable) - set(order))
        raise located(
            dockerfile,
            dockerfile.stages[stuck].from_,
            f"circular dependency detected on stage: {stage_display_name(dockerfile, stuck)}",
        )
    return order


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(items))


def _stage_end(dockerfile: Dockerfile, index: int) -> int:
    stage = dockerfile.stages[index]
    if stage.instructions:
        return stage.instructions[-1].end_line
    return stage.from_.end_line


def build_graph(
    dockerfile: Dockerfile,
    *,
    target: str | None = None,
    build_args: Mapping[str, str] = _NO_ARGS,
    target_platform: Platform | None = None,
    build_platform: Platform | None = None,
) -> BuildGraph:
    """The stage graph of building ``target`` (default: the last stage) of ``dockerfile``.

    ``build_platform`` defaults to this machine's platform, ``target_platform`` to the build
    platform (BuildKit's defaults). Raises a located
    :class:`~dockwright.errors.DockerfileError` for everything BuildKit rejects while
    planning: an unknown target, a FROM that expands to nothing or to an invalid name or
    platform, variables in ``--from``, a stage index out of range, a cycle, a stage that runs
    and copies from a later stage.
    """
    build = build_platform if build_platform is not None else host_platform()
    target_plat = target_platform if target_platform is not None else build
    stages = dockerfile.stages
    target_name = target if target else (stages[-1].name or "")
    automatic = platform_args(target_plat, build, target_name)
    env = global_scope(dockerfile, automatic, build_args)
    lexer = Lexer(dockerfile.escape)

    froms: list[_From] = []
    earlier: dict[str, int] = {}  # FROM sees the stages above it only
    for stage in stages:
        froms.append(_resolve_from(dockerfile, stage.index, env, lexer, earlier))
        if stage.name is not None:
            earlier[stage.name] = stage.index
    target_index = _resolve_target(dockerfile, target)
    resolver = Resolver(dockerfile)
    own = [[r for i in stage.instructions for r in resolver.reads_of(i)] for stage in stages]
    _check_cycles(dockerfile, own)
    triggers: list[list[Read]] = []
    trigger_errors: list[DockerfileError | None] = []
    for frm in froms:
        if frm.base_stage is None:
            triggers.append([])
            trigger_errors.append(None)
        else:
            reads, error = resolver.trigger_reads(frm.base_stage)
            triggers.append(reads)
            trigger_errors.append(error)

    edges: list[list[int]] = []
    for i, frm in enumerate(froms):
        deps = [] if frm.base_stage is None else [frm.base_stage]
        deps += _effective(i, triggers[i]) + _effective(i, own[i])
        edges.append(list(_unique(deps)))
    reachable = _closure(target_index, edges)
    _check_runnable(dockerfile, reachable, own, triggers, trigger_errors)
    order = _order(dockerfile, reachable, edges)

    chain = [target_index]
    while (base := froms[chain[-1]].base_stage) is not None:
        chain.append(base)

    nodes = []
    for i, frm in enumerate(froms):
        copies = [r.index for r in own[i] if r.kind == "copy" and r.index is not None]
        mounts = [r.index for r in own[i] if r.kind == "mount" and r.index is not None]
        onbuild = [r.index for r in triggers[i] if r.index is not None]
        external = [r.image for r in (*triggers[i], *own[i]) if r.image is not None]
        nodes.append(
            StageNode(
                index=i,
                name=stages[i].name,
                base=frm.base,
                base_stage=frm.base_stage,
                platform=frm.platform,
                copies_from=_unique(copies),
                mounts_from=_unique(mounts),
                external_from=_unique(external),
                start_line=stages[i].from_.start_line,
                end_line=_stage_end(dockerfile, i),
                onbuild_from=_unique(onbuild),
                depends_on=tuple(sorted(edges[i])),
                from_args=frm.used,
                from_unset=frm.unset,
            )
        )
    return BuildGraph(
        stages=tuple(nodes),
        target=target_index,
        reachable=reachable,
        order=tuple(order),
        final_chain=tuple(chain),
        args=MappingProxyType(env),
        build_args=MappingProxyType(dict(build_args)),
        target_platform=format_platform(target_plat, with_os_version=True),
        build_platform=format_platform(build),
    )
