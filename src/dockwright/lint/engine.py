"""The lint engine: one parse, one :class:`LintContext`, every rule of the registry.

:func:`lint` parses the Dockerfile once, works out the stage graph (which stages become the
final image), walks every stage once to know the WORKDIR, ENV, ARGs and USER in force at
each instruction, reads every RUN into :class:`~dockwright.lint.facts.RunFacts`, and hands
that context to each rule of :data:`dockwright.lint.rules.ALL_RULES`. Settings and inline
``# dockwright ignore=`` comments then drop or re-grade findings, which come back sorted.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dockwright.dockerfile import (
    Arg,
    Dockerfile,
    Env,
    Instruction,
    Run,
    User,
    Workdir,
    parse_dockerfile,
)
from dockwright.dockerfile.ignore import IgnoreRules
from dockwright.dockerfile.shell import ExpansionError, Lexer
from dockwright.lint.commands import run_facts
from dockwright.lint.config import LintConfig, drop_ignored, inline_ignores
from dockwright.lint.facts import RunFacts
from dockwright.lint.findings import Finding, Rule, Severity, sort_findings
from dockwright.lint.graph import PLATFORM_ARGS, StageGraph, StageInfo, build_stage_graph

__all__ = ["LintContext", "Step", "build_context", "lint"]


@dataclass(frozen=True, slots=True)
class Step:
    """One instruction of a stage with the state in force *before* it runs.

    ``env`` holds the ENV and ARG values known literally (ARGs without a value are absent),
    ``declared`` every ENV and ARG name in scope, ``workdir`` the working directory (``/``
    at the start of a stage on an image, whose own WORKDIR dockwright does not know).
    """

    instruction: Instruction
    stage: StageInfo
    workdir: str
    env: Mapping[str, str]
    declared: frozenset[str]
    user: str | None


@dataclass(frozen=True, slots=True)
class _StageEnd:
    workdir: str
    env: Mapping[str, str]
    env_names: frozenset[str]
    user: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LintContext:
    """Everything a rule may look at: the parsed file and what the engine learnt of it.

    ``context_dir`` is the build context when one was given. ``ignore`` holds the
    ``.dockerignore`` rules in force, ``ignore_file`` the file they came from; when
    ``ignore_known`` is false dockwright could not look for one (no file on disk).
    """

    dockerfile: Dockerfile
    file: str
    lines: tuple[str, ...]
    graph: StageGraph
    steps: Mapping[int, tuple[Step, ...]]
    facts: Mapping[int, RunFacts]
    context_dir: Path | None = None
    dockerfile_path: Path | None = None
    ignore: IgnoreRules | None = None
    ignore_file: Path | None = None
    ignore_known: bool = False
    _ids: Mapping[int, int] = field(default_factory=dict, repr=False)

    @property
    def final_chain(self) -> tuple[StageInfo, ...]:
        """The stages whose filesystem is the final image, base first."""
        return tuple(self.graph.stages[i] for i in self.graph.final_chain)

    @property
    def stages(self) -> tuple[StageInfo, ...]:
        """Every stage, in file order."""
        return self.graph.stages

    def in_final(self, stage: StageInfo) -> bool:
        """Whether ``stage`` is part of the final image."""
        return stage.index in self.graph.final_chain

    def chain_steps(self) -> Iterator[Step]:
        """The steps of the final chain, in build order."""
        for index in self.graph.final_chain:
            yield from self.steps[index]

    def all_steps(self) -> Iterator[Step]:
        """Every stage's steps, in file order."""
        for info in self.graph.stages:
            yield from self.steps[info.index]

    def run_facts(self, run: Run) -> RunFacts:
        """What ``run`` does (see :mod:`dockwright.lint.facts`)."""
        return self.facts[id(run)]

    def line_text(self, line: int) -> str:
        """Source line ``line`` (1-based), without its line ending."""
        return self.lines[line - 1] if 1 <= line <= len(self.lines) else ""

    def finding(
        self,
        rule: Rule[LintContext],
        instruction: Instruction,
        message: str,
        *,
        stage: StageInfo | None = None,
        fix: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of ``rule`` spanning ``instruction``'s lines."""
        return Finding(
            rule=rule.id,
            severity=rule.severity if severity is None else severity,
            file=self.file,
            line=instruction.start_line,
            end_line=max(instruction.end_line, instruction.start_line),
            message=message,
            stage=None if stage is None else stage.label,
            fix=fix,
        )


def _expand(text: str, env: Mapping[str, str], lexer: Lexer) -> str | None:
    if "$" not in text:
        return text
    try:
        return lexer.expand(text, env)
    except ExpansionError:
        return None


# ENV that well-known official images set, so cache paths resolve as they will at build time.
_IMAGE_ENV: Mapping[str, Mapping[str, str]] = {
    "golang": {"GOPATH": "/go"},
    "rust": {"CARGO_HOME": "/usr/local/cargo", "RUSTUP_HOME": "/usr/local/rustup"},
}


def _image_env(base: str) -> dict[str, str]:
    repository = base.split("@", maxsplit=1)[0].rsplit("/", 1)[-1].split(":", maxsplit=1)[0]
    return dict(_IMAGE_ENV.get(repository, {}))


def _walk_stage(
    info: StageInfo, parent: _StageEnd | None, lexer: Lexer, facts: dict[int, RunFacts]
) -> tuple[tuple[Step, ...], _StageEnd]:
    if parent is None:
        base_env = _image_env(info.base)
        workdir, env, env_names, user = "/", base_env, frozenset(base_env), None
    else:
        workdir, env, env_names, user = (
            parent.workdir,
            dict(parent.env),
            parent.env_names,
            parent.user,
        )
    env = dict(env)
    names = set(env_names)
    arg_values: dict[str, str] = {}
    arg_names: set[str] = set()
    steps: list[Step] = []
    for instruction in info.stage.instructions:
        merged = {**arg_values, **env}
        steps.append(Step(instruction, info, workdir, merged, frozenset(names | arg_names), user))
        if isinstance(instruction, Run):
            facts[id(instruction)] = run_facts(instruction, workdir, merged)
        elif isinstance(instruction, Env):
            for pair in instruction.pairs:
                value = _expand(pair.value, merged, lexer)
                names.add(pair.key)
                if value is None:
                    env.pop(pair.key, None)
                else:
                    env[pair.key] = value
        elif isinstance(instruction, Arg):
            for decl in instruction.args:
                arg_names.add(decl.name)
                if decl.default is not None:
                    value = _expand(decl.default, merged, lexer)
                    if value is not None:
                        arg_values[decl.name] = value
                elif decl.name not in PLATFORM_ARGS:
                    arg_values.pop(decl.name, None)
        elif isinstance(instruction, Workdir):
            path = _expand(instruction.path, merged, lexer)
            if path is None:
                workdir = "?"
            elif path.startswith("/"):
                workdir = posixpath.normpath(path)
            elif workdir.startswith("/"):
                workdir = posixpath.normpath(posixpath.join(workdir, path))
        elif isinstance(instruction, User):
            user = instruction.user
    return tuple(steps), _StageEnd(workdir, env, frozenset(names), user)


def build_context(
    text: str | bytes,
    file: str = "Dockerfile",
    *,
    context_dir: Path | None = None,
    dockerfile_path: Path | None = None,
    target: str | None = None,
) -> LintContext:
    """Parse ``text`` and learn what the rules need. Raises
    :class:`~dockwright.errors.DockerfileError` for a Dockerfile that does not parse,
    :class:`~dockwright.errors.UsageError` for an unknown target, and
    :class:`~dockwright.dockerfile.ignore.IgnoreFileError` for a bad ``.dockerignore``."""
    dockerfile = parse_dockerfile(text, file)
    graph = build_stage_graph(dockerfile, target)
    lexer = Lexer(dockerfile.escape)
    facts: dict[int, RunFacts] = {}
    steps: dict[int, tuple[Step, ...]] = {}
    ends: dict[int, _StageEnd] = {}
    for info in graph.stages:
        parent = ends.get(info.base_stage) if info.base_stage is not None else None
        steps[info.index], ends[info.index] = _walk_stage(info, parent, lexer, facts)
    lines = dockerfile.parsed.lines if dockerfile.parsed is not None else ()
    ignore, ignore_file, known = _find_ignore(context_dir, dockerfile_path)
    return LintContext(
        dockerfile=dockerfile,
        file=file,
        lines=tuple(line.rstrip("\r\n") for line in lines),
        graph=graph,
        steps=steps,
        facts=facts,
        context_dir=context_dir,
        dockerfile_path=dockerfile_path,
        ignore=ignore,
        ignore_file=ignore_file,
        ignore_known=known,
    )


def _find_ignore(
    context_dir: Path | None, dockerfile_path: Path | None
) -> tuple[IgnoreRules | None, Path | None, bool]:
    """The .dockerignore BuildKit would use, whether it exists, and whether we could tell.

    Without a context, the folder of the Dockerfile stands in for it (the usual
    ``docker build .``) to learn whether a .dockerignore exists.
    """
    folder = context_dir
    if folder is None and dockerfile_path is not None:
        folder = dockerfile_path.parent
    if folder is None or not folder.is_dir():
        return None, None, False
    candidates = [folder / ".dockerignore"]
    if dockerfile_path is not None:
        candidates.insert(0, dockerfile_path.with_name(dockerfile_path.name + ".dockerignore"))
    for candidate in candidates:
        if candidate.is_file():
            from dockwright.dockerfile.ignore import load_ignore  # noqa: PLC0415

            rules = load_ignore(folder, dockerfile_path or folder / "Dockerfile")
            return rules, candidate, True
    return None, None, True


def lint(
    text: str | bytes,
    file: str = "Dockerfile",
    *,
    context_dir: Path | None = None,
    dockerfile_path: Path | None = None,
    target: str | None = None,
    config: LintConfig | None = None,
    rules: Sequence[Rule[LintContext]] | None = None,
) -> list[Finding]:
    """Lint a Dockerfile: every rule's findings, settings and inline ignores applied, sorted.

    ``context_dir`` lets the rules look at the build context (sources, .dockerignore,
    sensitive files); ``dockerfile_path`` is where the file lives, to find a
    ``<name>.dockerignore`` beside it. Raises what :func:`build_context` raises.
    """
    if rules is None:
        from dockwright.lint.rules import ALL_RULES  # noqa: PLC0415

        rules = ALL_RULES
    context = build_context(
        text, file, context_dir=context_dir, dockerfile_path=dockerfile_path, target=target
    )
    return run_rules(context, rules, config)


def run_rules(
    context: LintContext,
    rules: Sequence[Rule[LintContext]],
    config: LintConfig | None = None,
) -> list[Finding]:
    """Run ``rules`` on a built context, then apply ``config`` and inline ignores."""
    findings: list[Finding] = []
    for rule in rules:
        if config is not None and rule.id in config.disabled:
            continue
        findings.extend(rule.check(context))
    if config is not None:
        findings = config.apply(findings)
    findings = drop_ignored(findings, inline_ignores(list(context.lines)))
    return sort_findings(_unique(findings))


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    out = []
    for f in findings:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out
