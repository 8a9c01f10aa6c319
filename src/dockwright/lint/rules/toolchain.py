"""Rules about how a build uses its toolchain: where it compiles, when it fetches."""

from __future__ import annotations

from collections.abc import Iterator

from dockwright.dockerfile import Add, Copy, Run
from dockwright.lint.copies import whole_context
from dockwright.lint.engine import LintContext, Step
from dockwright.lint.facts import RunFacts
from dockwright.lint.findings import Finding, Rule, Severity

__all__ = ["SOURCE_BEFORE_DEPENDENCIES", "TOOLCHAIN_IN_FINAL_IMAGE"]

_TOOLCHAIN = {
    "go": "the Go toolchain",
    "cargo": "the Rust toolchain",
    "rustc": "the Rust toolchain",
    "mvn": "Maven and a JDK",
    "gradle": "Gradle and a JDK",
    "javac": "a JDK",
    "dotnet": "the .NET SDK",
}
_STATIC_HINT = {
    "go": "FROM scratch or a distroless static base, for a CGO_ENABLED=0 binary",
    "cargo": "FROM a distroless or slim base, or scratch for a musl target",
}


def _cleaned_in_same_run(facts: RunFacts) -> bool:
    """Whether the RUN installs build packages and removes them again before it ends."""
    installed = {p for op in facts.packages if op.action == "install" for p in op.packages}
    for op in facts.packages:
        if op.action == "autoremove" and installed:
            return True
        if op.action == "remove" and installed & set(op.packages):
            return True
    return False


def _check_toolchain(ctx: LintContext) -> Iterator[Finding]:
    chain = ctx.final_chain
    root = chain[0]
    base = root.base
    for step in ctx.chain_steps():
        if not isinstance(step.instruction, Run):
            continue
        facts = ctx.run_facts(step.instruction)
        if not facts.compiles or _cleaned_in_same_run(facts):
            continue
        command = facts.compiles[0]
        tool = _TOOLCHAIN.get(command.name, "the compiler and build tools")
        single = len(ctx.stages) == 1
        message = (
            f"`{command.text}` compiles in the final image "
            f"({'a single-stage build' if single else f'stage {step.stage.label}'} on "
            f"FROM {base}, line {root.stage.from_.start_line}): {tool}, the package manager and "
            "the shell ship with the program"
        )
        runtime = _STATIC_HINT.get(command.name, "FROM a slim runtime base")
        fix = (
            f"make this a builder stage (FROM {base} AS build) and add a final stage "
            f"({runtime}) that copies only the build output with COPY --from=build"
        )
        yield ctx.finding(
            TOOLCHAIN_IN_FINAL_IMAGE, step.instruction, message, stage=step.stage, fix=fix
        )
        return


TOOLCHAIN_IN_FINAL_IMAGE: Rule[LintContext] = Rule(
    id="DW005",
    name="toolchain-in-final-image",
    severity=Severity.WARNING,
    doc=(
        "A build that compiles (go build, cargo build, gcc, make, mvn package, gradle build, "
        "dotnet publish, …) in a stage of the final image leaves the compiler, the package "
        "manager and the shell in it: often ten times the program's size, and attack surface. "
        "A multistage build compiles in a builder stage and copies only the output into a "
        "small final stage. Not reported when the same RUN installs the build packages and "
        "removes them again."
    ),
    check=_check_toolchain,
)

_MANIFESTS = {
    "go": "go.mod go.sum",
    "npm": "package.json package-lock.json",
    "yarn": "package.json yarn.lock",
    "pnpm": "package.json pnpm-lock.yaml",
    "pip": "requirements.txt",
    "poetry": "pyproject.toml poetry.lock",
    "pipenv": "Pipfile Pipfile.lock",
    "uv": "pyproject.toml uv.lock",
    "cargo": "Cargo.toml Cargo.lock",
    "maven": "pom.xml",
    "gradle": "build.gradle settings.gradle",
    "bundler": "Gemfile Gemfile.lock",
    "composer": "composer.json composer.lock",
    "mix": "mix.exs mix.lock",
    "dotnet": "*.csproj",
}


def _check_order(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        whole: Step | None = None
        fetched_before: set[str] = set()
        for step in ctx.steps[info.index]:
            instruction = step.instruction
            if isinstance(instruction, Copy | Add) and whole is None:
                from_other = isinstance(instruction, Copy) and instruction.from_
                if not from_other and any(whole_context(s) for s in instruction.sources):
                    whole = step
                continue
            if not isinstance(instruction, Run):
                continue
            facts = ctx.run_facts(instruction)
            for ecosystem, command in facts.fetches:
                if whole is None:
                    fetched_before.add(ecosystem)
                    continue
                if ecosystem in fetched_before or facts.cache_mounts:
                    continue
                copy = whole.instruction
                manifests = _MANIFESTS.get(ecosystem, "the dependency manifests")
                message = (
                    f"`{command.text}` runs after {copy.keyword} of the whole context on line "
                    f"{copy.start_line}: any source change invalidates that layer, so the "
                    "dependencies are downloaded again on every build"
                )
                fix = (
                    f"COPY {manifests} ./ first, then `{command.text}`, then copy the rest "
                    f"(or use RUN --mount=type=cache for the {ecosystem} cache)"
                )
                yield ctx.finding(
                    SOURCE_BEFORE_DEPENDENCIES, instruction, message, stage=info, fix=fix
                )
                break


SOURCE_BEFORE_DEPENDENCIES: Rule[LintContext] = Rule(
    id="DW006",
    name="source-before-dependencies",
    severity=Severity.WARNING,
    doc=(
        "Copying the whole source (COPY . .) before downloading dependencies (go mod "
        "download, npm ci, pip install -r, cargo fetch, bundle install, …) in the same stage "
        "means every source edit throws the dependency layer away. Copy the manifests "
        "(go.mod/go.sum, package.json and its lock file, requirements.txt, Cargo.toml/lock, …) "
        "first, download, then copy the rest. Not reported for a RUN with a cache mount."
    ),
    check=_check_order,
)
