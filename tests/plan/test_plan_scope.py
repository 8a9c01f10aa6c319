"""ARG and ENV scope inside stages: what each instruction sees and reads (BuildKit's
dispatchArg/dispatchEnv rules, checked against a real BuildKit in test_plan_buildkit.py)."""

from __future__ import annotations

import pytest

from dockwright.dockerfile import Dockerfile, parse_dockerfile
from dockwright.dockerfile.shell import ExpansionError
from dockwright.image.platform import Platform
from dockwright.plan import StageScope, build_graph, stage_scope, stage_scopes
from dockwright.plan.scope import DEFAULT_PATH

AMD64 = Platform.parse("linux/amd64")


def scopes(
    text: str, build_args: dict[str, str] | None = None, target: str | None = None
) -> tuple[Dockerfile, tuple[StageScope, ...]]:
    dockerfile = parse_dockerfile(text)
    graph = build_graph(
        dockerfile, target=target, build_args=build_args or {}, build_platform=AMD64
    )
    return dockerfile, stage_scopes(graph, dockerfile)


def last(text: str, build_args: dict[str, str] | None = None) -> StageScope:
    return scopes(text, build_args)[1][-1]


def test_global_arg_is_invisible_until_redeclared() -> None:
    scope = last("ARG V=global\nFROM alpine\nRUN echo $V\nARG V\nRUN echo $V\n")
    before, decl, after = scope.steps
    assert "V" not in before.env
    assert before.unset == {"V"} and before.used == set()
    assert decl.env.get("V") is None
    assert after.env["V"] == "global"
    assert after.used == {"V"}
    assert scope.declared_args == ("V",)


@pytest.mark.parametrize(
    ("decl", "build_args", "expected"),
    [
        ("ARG V", {}, "global"),
        ("ARG V=stage", {}, "stage"),
        ("ARG V", {"V": "cli"}, "cli"),
        ("ARG V=stage", {"V": "cli"}, "cli"),
        ("ARG W", {}, None),
        ("ARG W", {"W": "cli"}, "cli"),
        ("ARG W=${V:-fallback}", {}, "fallback"),
    ],
)
def test_arg_value_sources(decl: str, build_args: dict[str, str], expected: str | None) -> None:
    scope = last(f"ARG V=global\nFROM alpine\n{decl}\nRUN true\n", build_args)
    name = decl.split()[1].partition("=")[0]
    assert scope.steps[-1].env.get(name) == expected
    assert name in scope.steps[-1].args


def test_build_arg_for_an_undeclared_name_is_invisible() -> None:
    run = last("FROM alpine\nRUN echo $SECRET\n", {"SECRET": "x"}).steps[0]
    assert "SECRET" not in run.env
    assert run.unset == {"SECRET"}


def test_declared_arg_without_value_is_an_arg_but_unset() -> None:
    scope = last("FROM alpine\nARG VERSION\nRUN echo $VERSION\n")
    run = scope.steps[-1]
    assert run.unset == {"VERSION"}
    assert run.used_args == {"VERSION"}
    assert scope.args_used == ("VERSION",)


def test_env_after_arg_wins_and_arg_after_env_wins() -> None:
    scope = last(
        "FROM alpine\nENV A=env\nARG A=arg\nRUN echo $A\nARG B=b1\nENV B=envb\nRUN echo $B\n"
    )
    assert scope.steps[2].env["A"] == "arg"
    assert "A" in scope.steps[2].args
    assert scope.steps[5].env["B"] == "envb"
    assert "B" not in scope.steps[5].args
    assert scope.args_used == ("A",)


def test_env_pairs_expand_with_the_environment_before_the_instruction() -> None:
    scope = last('FROM alpine\nENV A=1\nENV A=2 B=$A C="x y"\nRUN true\n')
    assert dict(scope.final) == {"A": "2", "B": "1", "C": "x y"}
    assert scope.steps[1].used == {"A"}


def test_arg_declarations_apply_in_order() -> None:
    scope = last("FROM alpine\nENV X=1\nARG A=$X B=${A}2\nRUN true\n")
    assert (scope.final["A"], scope.final["B"]) == ("1", "12")
    assert scope.steps[1].used == {"X", "A"}


def test_stage_inherits_arg_and_env_from_its_base_stage() -> None:
    _, (base, child) = scopes(
        "ARG G=global\nFROM alpine AS base\nARG X=fromx\nENV E=env\n"
        "FROM base\nRUN echo $X $E $G\nARG G\nRUN echo $G\n"
    )
    first = child.steps[0]
    assert dict(child.initial) == {"X": "fromx", "E": "env"}
    assert first.used == {"X", "E"} and first.unset == {"G"}
    assert first.args == {"X"}
    assert child.steps[-1].env["G"] == "global"
    assert child.base_env_known is base.base_env_known is False


def test_onbuild_triggers_of_the_base_stage_set_scope_first() -> None:
    _, (base, child) = scopes(
        "FROM alpine AS base\nONBUILD ARG T=trig\nONBUILD RUN echo $T\nFROM base\nRUN echo $T\n"
    )
    assert base.triggers == ()
    assert [t.trigger for t in child.triggers] == [True, True]
    assert child.triggers[1].used == {"T"}
    assert child.steps[0].env["T"] == "trig"
    assert child.declared_args == ()
    assert child.at(child.triggers[0].instruction) is child.triggers[0]


def test_scratch_starts_with_path_and_images_with_unknown_env() -> None:
    _, (image, scratch) = scopes("FROM alpine\nFROM scratch\n")
    assert dict(image.initial) == {} and not image.base_env_known
    assert dict(scratch.initial) == {"PATH": DEFAULT_PATH} and scratch.base_env_known


def test_expanded_words_per_instruction() -> None:
    _, (scope,) = scopes(
        "FROM alpine\nARG D=/app U=app P=8080 S=SIGTERM\n"
        "WORKDIR $D\nUSER $U\nEXPOSE $P\nVOLUME $D/data\nSTOPSIGNAL $S\n"
        "COPY --chown=$U --chmod=$MODE src $D/\nADD --checksum=$SUM https://x/y $D/\n"
        'LABEL $U=$P\nCMD echo $D\nENTRYPOINT $D\nHEALTHCHECK CMD curl $P\nSHELL ["$D"]\n'
    )
    used = [(s.instruction.keyword, sorted(s.used), sorted(s.unset)) for s in scope.steps[1:]]
    assert used == [
        ("WORKDIR", ["D"], []),
        ("USER", ["U"], []),
        ("EXPOSE", ["P"], []),
        ("VOLUME", ["D"], []),
        ("STOPSIGNAL", ["S"], []),
        ("COPY", ["D", "U"], ["MODE"]),
        ("ADD", ["D"], ["SUM"]),
        ("LABEL", ["P", "U"], []),
        ("CMD", [], []),
        ("ENTRYPOINT", [], []),
        ("HEALTHCHECK", [], []),
        ("SHELL", [], []),
    ]
    copy = scope.steps[6].instruction
    assert scope.expand(copy, "$D/bin").value == "/app/bin"


def test_run_reads_command_mounts_and_expanding_heredocs() -> None:
    _, (scope,) = scopes(
        "FROM alpine\nARG A=1 B=2 C=3 D=4 E=5\n"
        "RUN --mount=type=cache,target=$A echo $B '$C'\n"
        'RUN ["sh", "-c", "echo $D"]\n'
        "RUN <<EOF\necho $E\nEOF\n"
        "RUN <<'EOF'\necho $A\nEOF\n"
        "RUN echo ${#E} $((A+1))\n"
    )
    mounts, exec_form, heredoc, quoted, shellish = scope.steps[1:]
    assert mounts.used == {"A", "B"}
    assert exec_form.used == {"D"}
    assert heredoc.used == {"E"}
    assert quoted.used == set()
    assert shellish.used == {"E"}


def test_non_env_args_are_declared_but_not_in_the_environment() -> None:
    scope = last("FROM alpine\nARG BUILDKIT_SBOM_SCAN_STAGE=true\nRUN true\n")
    assert "BUILDKIT_SBOM_SCAN_STAGE" not in scope.final
    assert "BUILDKIT_SBOM_SCAN_STAGE" in scope.final_args


def test_values_that_cannot_be_expanded_are_kept_as_written() -> None:
    scope = last("FROM alpine\nARG A=${B:?missing}\nENV C=${D:?gone}\nRUN true\n")
    assert (scope.final["A"], scope.final["C"]) == ("${B:?missing}", "${D:?gone}")
    with pytest.raises(ExpansionError):
        scope.expand(scope.steps[-1].instruction, "${B:?missing}")


def test_args_used_lists_from_args_then_instruction_args() -> None:
    scope = last(
        "ARG BASE=alpine\nFROM --platform=$BUILDPLATFORM $BASE\n"
        "ARG TARGETOS TARGETARCH\nRUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build\n"
    )
    assert scope.from_args == ("BASE", "BUILDPLATFORM")
    assert scope.args_used == ("BASE", "BUILDPLATFORM", "TARGETARCH", "TARGETOS")


def test_stage_scope_matches_stage_scopes_and_at_rejects_foreign_instructions() -> None:
    text = "FROM alpine AS a\nENV X=1\nFROM a\nRUN echo $X\n"
    dockerfile, all_scopes = scopes(text)
    graph = build_graph(dockerfile, build_platform=AMD64)
    assert stage_scope(graph, dockerfile, 1) == all_scopes[1]
    with pytest.raises(KeyError):
        all_scopes[1].at(dockerfile.stages[0].instructions[0])


def test_long_chains_of_stages() -> None:
    text = "FROM alpine AS s0\nARG A=0\n" + "".join(
        f"FROM s{i - 1} AS s{i}\nARG N=${{A}}{i}\n" for i in range(1, 1500)
    )
    dockerfile, all_scopes = scopes(text)
    assert (all_scopes[-1].final["A"], all_scopes[-1].final["N"]) == ("0", "01499")
    graph = build_graph(dockerfile, build_platform=AMD64)
    assert len(graph.final_chain) == 1500
    assert stage_scope(graph, dockerfile, 1499).final == all_scopes[-1].final
