"""Rules about platforms: hard-coded target architectures and redundant platform flags."""

from __future__ import annotations

from collections.abc import Iterator

from dockwright.dockerfile import Env, From, Run
from dockwright.lint.engine import LintContext
from dockwright.lint.findings import Finding, Rule, Severity
from dockwright.lint.shellwords import SimpleCommand

__all__ = ["HARD_CODED_PLATFORM", "REDUNDANT_TARGET_PLATFORM"]

_GO_ARCH_VARS = ("GOARCH", "GOARM", "GOAMD64", "GOARM64")
_FIX_GO = (
    "declare ARG TARGETOS TARGETARCH in the stage and use GOOS=$TARGETOS GOARCH=$TARGETARCH "
    "(with FROM --platform=$BUILDPLATFORM on the builder, so Go cross-compiles natively)"
)


def _hard_coded(pairs: list[tuple[str, str]]) -> list[str]:
    values = {name: value for name, value in pairs if name in (*_GO_ARCH_VARS, "GOOS")}
    constant = {n: v for n, v in values.items() if v and "$" not in v and "`" not in v}
    flagged = [n for n in constant if n in _GO_ARCH_VARS]
    if "GOOS" in constant and (constant["GOOS"] != "linux" or flagged):
        flagged.insert(0, "GOOS")
    return [f"{n}={constant[n]}" for n in flagged]


def _pair(word: str) -> tuple[str, str]:
    name, _, value = word.partition("=")
    return name, value


def _command_pairs(command: SimpleCommand) -> list[tuple[str, str]]:
    pairs = list(command.assignments)
    if command.name in ("export", "declare", "typeset", "readonly"):
        pairs += [_pair(w) for w in command.args() if "=" in w]
    if command.name == "go" and command.args()[:2] == ("env", "-w"):
        pairs += [_pair(w) for w in command.args()[2:] if "=" in w]
    return pairs


def _check(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        from_ = info.stage.from_
        platform = from_.platform
        if platform and "$" not in platform:
            name = info.name or ""
            arch = platform.split("/")[1] if "/" in platform else platform
            if arch not in name:
                message = (
                    f"FROM --platform={platform} is a constant: every build of stage "
                    f"{info.label} is {platform}, whatever platform is asked for"
                )
                fix = (
                    "use --platform=$BUILDPLATFORM for a stage that cross-compiles, or drop "
                    "the flag so the stage follows the target platform"
                )
                yield ctx.finding(HARD_CODED_PLATFORM, from_, message, stage=info, fix=fix)
    for step in ctx.all_steps():
        instruction = step.instruction
        found: list[str] = []
        if isinstance(instruction, Env):
            found = _hard_coded([(p.key, p.value) for p in instruction.pairs])
            where = "ENV"
        elif isinstance(instruction, Run):
            where = "RUN"
            for command in ctx.run_facts(instruction).commands:
                for item in _hard_coded(_command_pairs(command)):
                    if item not in found:
                        found.append(item)
        if found:
            message = (
                f"{where} hard-codes {' '.join(found)}: a build for another platform "
                "(e.g. --platform linux/arm64) still produces a binary for this one"
            )
            yield ctx.finding(
                HARD_CODED_PLATFORM, instruction, message, stage=step.stage, fix=_FIX_GO
            )


HARD_CODED_PLATFORM: Rule[LintContext] = Rule(
    id="DW004",
    name="hard-coded-platform",
    severity=Severity.WARNING,
    doc=(
        "A constant GOARCH (or GOARM/GOAMD64, or a GOOS other than linux) in RUN or ENV, or a "
        "constant `FROM --platform=linux/amd64`, pins the build to one platform: a "
        "multi-platform build silently ships the wrong binary. BuildKit's automatic "
        "platform ARGs ($BUILDPLATFORM, $TARGETOS, $TARGETARCH, $TARGETVARIANT) say which "
        "platform is built. (Includes BuildKit's FromPlatformFlagConstDisallowed.)"
    ),
    check=_check,
)


def _check_redundant(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        from_: From = info.stage.from_
        if from_.platform in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
            yield ctx.finding(
                REDUNDANT_TARGET_PLATFORM,
                from_,
                f"--platform={from_.platform} is redundant: a stage is built for the target "
                "platform by default",
                stage=info,
                fix="remove the --platform flag",
            )


REDUNDANT_TARGET_PLATFORM: Rule[LintContext] = Rule(
    id="DW116",
    name="redundant-target-platform",
    severity=Severity.INFO,
    doc="BuildKit's RedundantTargetPlatform: FROM --platform=$TARGETPLATFORM is the default.",
    check=_check_redundant,
)
