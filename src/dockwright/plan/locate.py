"""Located errors for the planner: every problem points at the instruction (and the word in
it) that causes it, like the parser's errors, so the CLI can show the line with a caret."""

from __future__ import annotations

from dockwright.dockerfile import Dockerfile, Instruction
from dockwright.errors import DockerfileError

__all__ = ["located"]


def located(
    dockerfile: Dockerfile,
    instruction: Instruction,
    message: str,
    *,
    needle: str | None = None,
    prefix: str = "",
    hint: str | None = None,
) -> DockerfileError:
    """A :class:`DockerfileError` at ``instruction``: at the first ``needle`` in its lines
    (preferably one right after ``prefix``, such as ``--from=``) when given and found, else at
    its first non-blank column."""
    lines = dockerfile.parsed.lines if dockerfile.parsed is not None else ()
    first = max(instruction.start_line, 1)
    last = max(instruction.end_line, first)
    line, column = first, 0
    searches: list[tuple[str, int]] = []
    if needle:
        if prefix:
            searches.append((prefix + needle, len(prefix)))
        searches.append((needle, 0))
    for text, skip in searches:
        for number in range(first, min(last, len(lines)) + 1):
            at = lines[number - 1].find(text)
            if at >= 0:
                line, column = number, at + skip + 1
                break
        if column:
            break
    if column == 0 and 1 <= line <= len(lines):
        text = lines[line - 1]
        column = len(text) - len(text.lstrip()) + 1
    return DockerfileError(message, file=dockerfile.file, line=line, column=column, hint=hint)
