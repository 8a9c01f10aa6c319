"""A whole Dockerfile, typed: directives, the global ARGs and the stages split at FROM.

This is where BuildKit's ``instructions.Parse`` rules live: ARG is the only instruction
allowed before the first FROM (those ARGs are global, usable in FROM lines), and there must
be at least one FROM.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockwright.dockerfile.instructions import Arg, From, Instruction
from dockwright.dockerfile.parse_instructions import parse_instruction
from dockwright.dockerfile.parser import Directive, ParseResult, ParseWarning, parse
from dockwright.errors import DockerfileError

__all__ = ["Dockerfile", "Stage", "parse_dockerfile"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """One build stage: its FROM and the instructions up to the next FROM."""

    index: int
    from_: From
    instructions: tuple[Instruction, ...] = ()

    @property
    def name(self) -> str | None:
        """The ``AS`` name (lowercased), if any."""
        return self.from_.stage_name

    @property
    def base(self) -> str:
        """The FROM image (or stage) reference, unexpanded."""
        return self.from_.image


@dataclass(frozen=True, slots=True, kw_only=True)
class Dockerfile:
    """A parsed, typed Dockerfile.

    ``instructions`` holds every instruction in source order (global ARGs and FROMs too);
    ``global_args`` are the ARGs before the first FROM; ``stages`` split the rest at FROM.
    """

    file: str
    directives: tuple[Directive, ...]
    escape: str
    global_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]
    instructions: tuple[Instruction, ...]
    warnings: tuple[ParseWarning, ...] = ()
    parsed: ParseResult | None = None

    def directive(self, name: str) -> str | None:
        """The value of a parser directive (``syntax``, ``escape``, ``check``), if set."""
        for directive in self.directives:
            if directive.name == name.lower():
                return directive.value
        return None

    def stage(self, name: str) -> Stage | None:
        """The stage called ``name`` (case-insensitive) or with that index, if any."""
        lowered = name.lower()
        for stage in self.stages:
            if stage.name == lowered:
                return stage
        if lowered.isdecimal() and int(lowered) < len(self.stages):
            return self.stages[int(lowered)]
        return None


def parse_dockerfile(text: str | bytes, file: str = "Dockerfile") -> Dockerfile:
    """Parse and type a Dockerfile. Raises :class:`~dockwright.errors.DockerfileError`,
    located by file, line and column, for anything BuildKit would reject while parsing."""
    result = parse(text, file)
    instructions: list[Instruction] = []
    global_args: list[Arg] = []
    stages: list[Stage] = []
    current: From | None = None
    body: list[Instruction] = []
    for node in result.nodes:
        instruction = parse_instruction(node, file=file, lines=result.lines)
        instructions.append(instruction)
        if isinstance(instruction, From):
            if current is not None:
                stages.append(Stage(index=len(stages), from_=current, instructions=tuple(body)))
            current, body = instruction, []
        elif current is None:
            if not isinstance(instruction, Arg):
                raise _located(
                    result,
                    node.start_line,
                    f"{node.keyword.upper()} before the first FROM: no build stage in current "
                    "context",
                    hint="only ARG may come before the first FROM",
                )
            global_args.append(instruction)
        else:
            body.append(instruction)
    if current is None:
        raise _located(
            result,
            result.nodes[-1].start_line,
            "dockerfile contains no stages to build",
            hint="add a FROM instruction",
        )
    stages.append(Stage(index=len(stages), from_=current, instructions=tuple(body)))
    return Dockerfile(
        file=file,
        directives=result.directives,
        escape=result.escape,
        global_args=tuple(global_args),
        stages=tuple(stages),
        instructions=tuple(instructions),
        warnings=result.warnings,
        parsed=result,
    )


def _located(result: ParseResult, line: int, message: str, hint: str) -> DockerfileError:
    text = result.line_text(line)
    column = len(text) - len(text.lstrip()) + 1 if text else 0
    return DockerfileError(message, file=result.file, line=line, column=column, hint=hint)
