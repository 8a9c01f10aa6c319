"""BuildKit's checks about how instructions are written: casing, forms, formats."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dockwright.dockerfile import Add, Arg, Copy, Env, Expose, Instruction
from dockwright.lint.engine import LintContext
from dockwright.lint.findings import Finding, Rule, Severity
from dockwright.lint.graph import StageInfo

__all__ = [
    "CONSISTENT_INSTRUCTION_CASING",
    "COPY_DEST_NEEDS_SLASH",
    "ENV_SELF_REFERENCE",
    "EXPOSE_INVALID",
    "FROM_AS_CASING",
    "LEGACY_KEY_VALUE_FORMAT",
    "SECRETS_IN_ARG_OR_ENV",
    "STAGE_NAME_CASING",
]


def _keyword_as_written(instruction: Instruction) -> str:
    words = instruction.original.split(None, 1)
    return words[0] if words else instruction.keyword


def _check_copy_dest(ctx: LintContext) -> Iterator[Finding]:
    for step in ctx.all_steps():
        instruction = step.instruction
        if not isinstance(instruction, Copy | Add):
            continue
        count = len(instruction.sources) + len(instruction.heredoc_sources)
        if count > 1 and not instruction.dest.endswith("/"):
            message = (
                f"{instruction.keyword} with {count} sources needs a directory destination "
                f"ending in /, not {instruction.dest}: the build fails"
            )
            yield ctx.finding(
                COPY_DEST_NEEDS_SLASH,
                instruction,
                message,
                stage=step.stage,
                fix=f"write the destination as {instruction.dest}/",
            )


COPY_DEST_NEEDS_SLASH: Rule[LintContext] = Rule(
    id="DW113",
    name="copy-dest-needs-slash",
    severity=Severity.ERROR,
    doc=(
        "hadolint DL3021: COPY/ADD with more than one source must copy into a directory, "
        "written with a trailing slash; BuildKit refuses the build otherwise."
    ),
    check=_check_copy_dest,
)


def _stage_name_as_written(original: str) -> tuple[str, str] | None:
    words = original.split()
    for index, word in enumerate(words[:-1]):
        if word.lower() == "as" and index >= 2:
            return word, words[index + 1]
    return None


def _check_stage_casing(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        found = _stage_name_as_written(info.stage.from_.original)
        if found is None:
            continue
        name = found[1]
        if name != name.lower():
            yield ctx.finding(
                STAGE_NAME_CASING,
                info.stage.from_,
                f"stage name {name} should be lowercase (stage names are case-insensitive)",
                stage=info,
                fix=f"AS {name.lower()}",
            )


STAGE_NAME_CASING: Rule[LintContext] = Rule(
    id="DW114",
    name="stage-name-casing",
    severity=Severity.WARNING,
    doc="BuildKit's StageNameCasing: stage names should be lowercase.",
    check=_check_stage_casing,
)


def _check_from_as(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        from_ = info.stage.from_
        found = _stage_name_as_written(from_.original)
        if found is None:
            continue
        keyword, as_word = _keyword_as_written(from_), found[0]
        if (keyword.isupper() and not as_word.isupper()) or (
            keyword.islower() and not as_word.islower()
        ):
            message = f"'{as_word}' and '{keyword}' keywords' casing do not match"
            fix = f"{keyword} … {as_word.upper() if keyword.isupper() else as_word.lower()} …"
            yield ctx.finding(FROM_AS_CASING, from_, message, stage=info, fix=fix)


FROM_AS_CASING: Rule[LintContext] = Rule(
    id="DW115",
    name="from-as-casing",
    severity=Severity.WARNING,
    doc="BuildKit's FromAsCasing: write `AS` in the same case as `FROM`.",
    check=_check_from_as,
)


def _check_casing(ctx: LintContext) -> Iterator[Finding]:
    written = [(i, _keyword_as_written(i)) for i in ctx.dockerfile.instructions]
    upper = sum(1 for _, w in written if w.isupper())
    lower = sum(1 for _, w in written if w.islower())
    majority = "uppercase" if upper >= lower else "lowercase"
    for instruction, word in written:
        if (majority == "uppercase" and word.isupper()) or (
            majority == "lowercase" and word.islower()
        ):
            continue
        wanted = word.upper() if majority == "uppercase" else word.lower()
        message = f"command '{word}' should match the case of the command majority ({majority})"
        yield ctx.finding(CONSISTENT_INSTRUCTION_CASING, instruction, message, fix=wanted)


CONSISTENT_INSTRUCTION_CASING: Rule[LintContext] = Rule(
    id="DW117",
    name="consistent-instruction-casing",
    severity=Severity.WARNING,
    doc=(
        "BuildKit's ConsistentInstructionCasing: instruction keywords should all be in one "
        "case; the majority's case wins."
    ),
    check=_check_casing,
)


def _check_legacy(ctx: LintContext) -> Iterator[Finding]:
    for step in ctx.all_steps():
        instruction = step.instruction
        if isinstance(instruction, Env) and any(p.legacy for p in instruction.pairs):
            pair = instruction.pairs[0]
            yield ctx.finding(
                LEGACY_KEY_VALUE_FORMAT,
                instruction,
                '"ENV key value" is the legacy form: one space too many changes the value',
                stage=step.stage,
                fix=f'ENV {pair.key}="{pair.value}"',
            )


LEGACY_KEY_VALUE_FORMAT: Rule[LintContext] = Rule(
    id="DW118",
    name="legacy-key-value-format",
    severity=Severity.WARNING,
    doc="BuildKit's LegacyKeyValueFormat: write ENV key=value.",
    check=_check_legacy,
)

_SECRET = re.compile(
    r"(?:^|_)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)"
    r"(?:_|$)",
    re.IGNORECASE,
)
_NOT_SECRET = re.compile(r"(?:^|_)(?:public|file|path|dir|id|url|name|type)(?:_|$)", re.I)


def _check_secrets(ctx: LintContext) -> Iterator[Finding]:
    located: list[tuple[StageInfo | None, Instruction]] = [
        (None, arg) for arg in ctx.dockerfile.global_args
    ]
    located += [(step.stage, step.instruction) for step in ctx.all_steps()]
    for stage, instruction in located:
        names: list[str] = []
        if isinstance(instruction, Arg):
            names = [d.name for d in instruction.args]
        elif isinstance(instruction, Env):
            names = [p.key for p in instruction.pairs]
        for name in names:
            if _SECRET.search(name) and not _NOT_SECRET.search(name):
                message = (
                    f"{instruction.keyword} {name} looks like a secret: {instruction.keyword} "
                    "values are kept in the image's history and config, readable by anyone "
                    "who pulls it"
                )
                fix = (
                    f"pass it as a build secret: RUN --mount=type=secret,id={name.lower()},"
                    f"env={name} …"
                )
                yield ctx.finding(SECRETS_IN_ARG_OR_ENV, instruction, message, stage=stage, fix=fix)


SECRETS_IN_ARG_OR_ENV: Rule[LintContext] = Rule(
    id="DW119",
    name="secrets-in-arg-or-env",
    severity=Severity.WARNING,
    doc=(
        "BuildKit's SecretsUsedInArgOrEnv: an ARG or ENV named like a password, token or key "
        "leaks through the image's history and config. Use RUN --mount=type=secret."
    ),
    check=_check_secrets,
)

_PORT = re.compile(r"^(\d+)(?:-(\d+))?(?:/([A-Za-z]+))?$")


def _check_expose(ctx: LintContext) -> Iterator[Finding]:
    for step in ctx.all_steps():
        instruction = step.instruction
        if not isinstance(instruction, Expose):
            continue
        for port in instruction.ports:
            if "$" in port:
                continue
            problem = None
            match = _PORT.match(port)
            if ":" in port:
                problem = f"EXPOSE {port} maps a host port: EXPOSE takes only container ports"
            elif match is None:
                problem = f"EXPOSE {port} is not a port"
            else:
                low, high, proto = match.groups()
                if not all(0 < int(p) <= 65535 for p in (low, high) if p is not None):
                    problem = f"EXPOSE {port} is out of the port range 1-65535"
                elif proto and proto != proto.lower():
                    problem = f"EXPOSE {port}: the protocol should be lowercase"
                elif proto and proto.lower() not in ("tcp", "udp", "sctp"):
                    problem = f"EXPOSE {port}: {proto} is not tcp, udp or sctp"
            if problem:
                yield ctx.finding(
                    EXPOSE_INVALID,
                    instruction,
                    problem,
                    stage=step.stage,
                    fix="EXPOSE <port>[/tcp|udp] (publish host ports with docker run -p)",
                )


EXPOSE_INVALID: Rule[LintContext] = Rule(
    id="DW120",
    name="expose-invalid",
    severity=Severity.WARNING,
    doc=(
        "BuildKit's ExposeInvalidFormat and ExposeProtoCasing, hadolint DL3011: EXPOSE takes "
        "container ports 1-65535 with an optional lowercase /tcp, /udp or /sctp."
    ),
    check=_check_expose,
)


def _check_env_self(ctx: LintContext) -> Iterator[Finding]:
    for step in ctx.all_steps():
        instruction = step.instruction
        if not isinstance(instruction, Env) or len(instruction.pairs) < 2:
            continue
        earlier: list[str] = []
        for pair in instruction.pairs:
            used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", pair.value))
            for name in sorted(used & set(earlier)):
                if name in step.declared:
                    continue  # the old value is meant, or at least defined
                message = (
                    f"${name} in {pair.key}= is the value from before this ENV: {name}= "
                    "in the same instruction is not visible yet, so it expands to nothing"
                )
                yield ctx.finding(
                    ENV_SELF_REFERENCE,
                    instruction,
                    message,
                    stage=step.stage,
                    fix=f"set {pair.key} in a second ENV instruction",
                )
            earlier.append(pair.key)


ENV_SELF_REFERENCE: Rule[LintContext] = Rule(
    id="DW121",
    name="env-self-reference",
    severity=Severity.WARNING,
    doc=(
        "hadolint DL3044: one ENV instruction expands every value against the variables "
        "before it, so `ENV A=1 B=$A` gives B the old A (empty when A was not set)."
    ),
    check=_check_env_self,
)
