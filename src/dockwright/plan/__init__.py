"""Instructions → stage graph: the target, the stages a build runs, ARG scopes.

- :func:`build_graph` turns a parsed :class:`~dockwright.dockerfile.Dockerfile` into a
  :class:`BuildGraph` of :class:`StageNode` values: bases after expanding the global ARGs,
  what each stage copies and mounts from, which stages a build of the target runs, and in
  what order; BuildKit's rules throughout (see :mod:`dockwright.plan.graph`).
- :func:`platform_args` gives BuildKit's automatic platform ARGs.
- :func:`stage_scope` gives the ARG and ENV values visible at each instruction of a stage.
"""

from dockwright.plan.graph import BuildGraph, StageNode, build_graph, global_scope
from dockwright.plan.platforms import AUTOMATIC_ARGS, buildkit_platform, platform_args

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockwright.plan.scope import ScopedInstruction, StageScope, stage_scope, stage_scopes

# Variable scopes are for lint and outline; a build plans with the graph alone.
_LAZY = frozenset({"ScopedInstruction", "StageScope", "stage_scope", "stage_scopes"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from dockwright.plan import scope  # noqa: PLC0415

        value = getattr(scope, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AUTOMATIC_ARGS",
    "BuildGraph",
    "ScopedInstruction",
    "StageNode",
    "StageScope",
    "build_graph",
    "buildkit_platform",
    "global_scope",
    "platform_args",
    "stage_scope",
    "stage_scopes",
]
