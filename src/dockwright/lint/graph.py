"""The stages of a Dockerfile as lint sees them: bases, references, the final chain.

A stage's *final chain* is the target stage and the stages it is built ``FROM``, up to the
first one on an image: their filesystems become the final image. Other stages (builders)
only feed it through ``COPY --from`` and ``RUN --mount=from=``: what they leave behind never
ships, so the rules about the final image judge the final chain only.

This is a small, lint-only view; the builder's stage graph lives in ``plan/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dockwright.dockerfile import Copy, Dockerfile, Instruction, Onbuild, Run, Stage
from dockwright.dockerfile.shell import ExpansionError, Lexer
from dockwright.errors import UsageError

__all__ = ["PLATFORM_ARGS", "StageGraph", "StageInfo", "build_stage_graph"]

# BuildKit's automatic platform ARGs: defined in the global scope (FROM lines) without a
# declaration; inside a stage they need ``ARG NAME`` to be visible.
PLATFORM_ARGS = frozenset(
    {
        "TARGETPLATFORM",
        "TARGETOS",
        "TARGETARCH",
        "TARGETVARIANT",
        "BUILDPLATFORM",
        "BUILDOS",
        "BUILDARCH",
        "BUILDVARIANT",
        "TARGETSTAGE",
    }
)


@dataclass(frozen=True, slots=True)
class StageInfo:
    """One stage: its index and name, its base (global ARG defaults expanded), and the
    stage it is built FROM, if any."""

    index: int
    stage: Stage
    base: str
    base_stage: int | None
    refs: tuple[int, ...] = ()

    @property
    def name(self) -> str | None:
        """The ``AS`` name, lowercased."""
        return self.stage.name

    @property
    def label(self) -> str:
        """The name, or the index for a stage without one."""
        return self.stage.name or str(self.index)

    @property
    def is_scratch(self) -> bool:
        """Whether the stage starts from the empty image."""
        return self.base_stage is None and self.base.lower() == "scratch"


@dataclass(frozen=True, slots=True)
class StageGraph:
    """All stages, the target, the final chain (root first) and the reachable stages."""

    stages: tuple[StageInfo, ...]
    target: int
    final_chain: tuple[int, ...]
    reachable: frozenset[int]
    global_args: Mapping[str, str | None]

    def root_is_scratch(self, index: int) -> bool:
        """Whether the FROM chain of stage ``index`` starts from ``scratch``."""
        info = self.stages[index]
        while info.base_stage is not None:
            info = self.stages[info.base_stage]
        return info.is_scratch


def _global_args(dockerfile: Dockerfile) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    lexer = Lexer(dockerfile.escape)
    for arg in dockerfile.global_args:
        for decl in arg.args:
            if decl.default is None:
                values[decl.name] = values.get(decl.name)
                continue
            known = {k: v for k, v in values.items() if v is not None}
            try:
                values[decl.name] = lexer.expand(decl.default, known)
            except ExpansionError:
                values[decl.name] = decl.default
    return values


def expand_from(text: str, dockerfile: Dockerfile, args: Mapping[str, str | None]) -> str:
    """A FROM word with the global ARG defaults expanded (left as written on error)."""
    if "$" not in text:
        return text
    known = {k: v for k, v in args.items() if v is not None}
    try:
        return Lexer(dockerfile.escape).expand(text, known)
    except ExpansionError:
        return text


def stage_ref(name: str, stages: tuple[Stage, ...], *, before: int | None = None) -> int | None:
    """The stage a ``--from``/``FROM`` name refers to: by name (case-insensitive) or,
    for ``--from``, by index (``before`` limits FROM to earlier stages and no index)."""
    lowered = name.lower()
    limit = len(stages) if before is None else before
    for stage in stages[:limit]:
        if stage.name == lowered:
            return stage.index
    if before is None and lowered.isdecimal() and int(lowered) < len(stages):
        return int(lowered)
    return None


def _from_refs(instruction: Instruction) -> list[str]:
    if isinstance(instruction, Onbuild):
        return _from_refs(instruction.inner)
    if isinstance(instruction, Copy) and instruction.from_:
        return [instruction.from_]
    if isinstance(instruction, Run):
        return [m.from_ for m in instruction.mounts if m.from_]
    return []


def build_stage_graph(dockerfile: Dockerfile, target: str | None = None) -> StageGraph:
    """The lint view of ``dockerfile``'s stages for a build of ``target`` (default: last).

    Raises :class:`~dockwright.errors.UsageError` for a target that is not a stage.
    """
    args = _global_args(dockerfile)
    stages = dockerfile.stages
    infos: list[StageInfo] = []
    for stage in stages:
        base = expand_from(stage.base, dockerfile, args)
        base_stage = stage_ref(base, stages, before=stage.index)
        refs = []
        for instruction in stage.instructions:
            for ref in _from_refs(instruction):
                index = stage_ref(expand_from(ref, dockerfile, args), stages)
                if index is not None and index != stage.index:
                    refs.append(index)
        infos.append(StageInfo(stage.index, stage, base, base_stage, tuple(refs)))
    if target is None:
        target_index = len(stages) - 1
    else:
        found = stage_ref(target, stages, before=len(stages))
        if found is None:
            names = ", ".join(s.name for s in stages if s.name) or "none"
            raise UsageError(
                f"target stage {target!r} could not be found", hint=f"stage names: {names}"
            )
        target_index = found
    chain = [target_index]
    while (parent := infos[chain[-1]].base_stage) is not None and parent not in chain:
        chain.append(parent)
    reachable: set[int] = set()
    todo = [target_index]
    while todo:
        current = todo.pop()
        if current in reachable:
            continue
        reachable.add(current)
        info = infos[current]
        if info.base_stage is not None:
            todo.append(info.base_stage)
        todo.extend(info.refs)
    return StageGraph(
        stages=tuple(infos),
        target=target_index,
        final_chain=tuple(reversed(chain)),
        reachable=frozenset(reachable),
        global_args=args,
    )
