"""Fuzzing the planner: for any Dockerfile that parses, ``build_graph`` returns a consistent
graph or raises a located DockerfileError, and ``stage_scopes`` never raises.

Dockerfiles come from a grammar built to hit the planner's corners: stage names reused,
references by name, case and index (in range or not, signed, huge), images valid or not,
ARGs in FROM lines and defaults, ``--from`` with variables, mounts of every type, ONBUILD
triggers, forward references and cycles. Derandomized, so a failure reproduces.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dockwright.dockerfile import parse_dockerfile
from dockwright.errors import DockerfileError
from dockwright.image.platform import Platform
from dockwright.plan import build_graph, stage_scopes

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=600,
    suppress_health_check=[HealthCheck.too_slow],
)
AMD64 = Platform.parse("linux/amd64")

_NAMES = ["a", "b", "build", "base-amd64", "base-arm64", "x"]
_GOOD = [*_NAMES, "0", "1", "2", "alpine", "alpine:3.20", "scratch"]
# Each is an error somewhere (or an image named oddly): rarer, so that most graphs plan.
_ODD = ["7", "-1", "+1", "01", "9" * 30, "0" * 25 + "1", "A", "Build", "a b", "$V", "x@y"]
_names = st.sampled_from(_NAMES)
_refs = st.sampled_from(_GOOD * 6 + _ODD)
_bases = st.sampled_from(
    _GOOD * 6 + _ODD + ["base-$TARGETARCH"] * 4 + ["${V:-alpine}", "$UNSET", "${V:?req}"]
)
_platforms = st.sampled_from(
    [""] * 8 + ["--platform=$BUILDPLATFORM ", "--platform=linux/arm64 ", "--platform=$NOPE "]
)
_args = st.sampled_from(
    ["ARG V", "ARG V=alpine", "ARG TARGETARCH", "ARG W=$V", "ENV V=x", "ENV E=$V"]
)


@st.composite
def _instruction(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    ref = draw(_refs)
    if kind == 0:
        return f"COPY --from={ref} /a /b"
    if kind == 1:
        mount = draw(st.sampled_from(["bind", "cache", "tmpfs", "secret", "$T"]))
        return f"RUN --mount=type={mount},from={ref},target=/m echo $V $TARGETARCH"
    if kind == 2:
        return f"ONBUILD COPY --from={ref} /a /b"
    if kind == 3:
        return f"ONBUILD RUN --mount=from={ref},target=/m true"
    if kind == 4:
        return draw(_args)
    return "RUN echo ${V:-x} $W"


@st.composite
def _dockerfile(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.sampled_from(["ARG V=alpine", "ARG V", "ARG T=$V"]), max_size=2))
    lines.insert(0, "ARG V=alpine")
    for _ in range(draw(st.integers(1, 5))):
        platform = draw(_platforms)
        base = draw(_bases)
        name = draw(st.one_of(st.none(), _names))
        lines.append(f"FROM {platform}{base}" + (f" AS {name}" if name else ""))
        lines += draw(st.lists(_instruction(), max_size=4))
    return "\n".join(lines) + "\n"


@FUZZ
@given(
    _dockerfile(),
    st.sampled_from([None] * 6 + [*_NAMES, "nope"]),
    st.dictionaries(st.sampled_from(["V", "TARGETARCH", "W"]), st.sampled_from(["", "b", "0"])),
)
def test_planner_never_raises_anything_else(
    text: str, target: str | None, build_args: dict[str, str]
) -> None:
    try:
        dockerfile = parse_dockerfile(text)
    except DockerfileError:
        event("parse error")
        return
    try:
        graph = build_graph(dockerfile, target=target, build_args=build_args, build_platform=AMD64)
    except DockerfileError as exc:
        event(f"plan error: {exc.message.split(': ', 1)[1][:24]}")
        assert 1 <= exc.line <= text.count("\n")
        assert exc.column >= 1
        return
    event(f"planned: {len(graph.reachable)} of {len(graph.stages)} stages run")
    assert graph.target in graph.reachable
    assert sorted(graph.order) == sorted(graph.reachable)
    position = {stage: i for i, stage in enumerate(graph.order)}
    for stage in graph.reachable:
        node = graph.stages[stage]
        for dep in node.depends_on:
            assert dep in graph.reachable
            assert position[dep] < position[stage]
        assert all(dep < stage for dep in node.copies_from + node.onbuild_from)
    assert set(graph.final_chain) <= graph.reachable
    assert graph.final_chain[0] == graph.target
    stage_scopes(graph, dockerfile)
