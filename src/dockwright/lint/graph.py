"""The stages of a Dockerfile as lint sees them: bases, references, the final chain.

A stage's *final chain* is the target stage and the stages it is built ``FROM``, up to the
first one on an image: their filesystems become the final image. Other stages (builders)
only feed it through ``COPY --from`` and ``RUN --mount=from=``: what they leave behind never
ships, so the rules about the final image judge the final chain only.

The structure comes from the builder's own stage graph (:func:`dockwright.plan.build_graph`),
so lint and build agree on bases, targets and reachable stages; this module adds what the
rules want beside it (the typed stage, a label, the global ARG defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dockwright.dockerfile import Dockerfile, Stage
from dockwright.dockerfile.shell import ExpansionError, Lexer
from dockwright.plan import build_graph

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
    from_unset: tuple[str, ...] = ()

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


def build_stage_graph(dockerfile: Dockerfile, target: str | None = None) -> StageGraph:
    """The lint view of ``dockwright.plan``'s graph of a build of ``target`` (default: last).

    Raises the located :class:`~dockwright.errors.DockerfileError` that planning raises for
    what BuildKit rejects (an unknown target, a blank or invalid base, a cycle, …).
    """
    graph = build_graph(dockerfile, target=target)
    infos = tuple(
        StageInfo(
            index=node.index,
            stage=dockerfile.stages[node.index],
            base=node.base,
            base_stage=node.base_stage,
            refs=tuple(i for i in node.depends_on if i != node.base_stage),
            from_unset=node.from_unset,
        )
        for node in graph.stages
    )
    return StageGraph(
        stages=infos,
        target=graph.target,
        final_chain=tuple(reversed(graph.final_chain)),
        reachable=graph.reachable,
        global_args=_global_args(dockerfile),
    )
