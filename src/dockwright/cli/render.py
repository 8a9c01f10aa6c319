"""Rendering of progress events and sizes for the terminal."""

from __future__ import annotations

from typing import TextIO

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockwright.errors import DockerfileError
    from dockwright.prebuilt.package import Event


def human_size(size: int) -> str:
    """``1536`` → ``1.5 kB``: decimal units, as Docker prints them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


class EventPrinter:
    """Prints package events as plain lines on a stream (stderr)."""

    def __init__(self, stream: TextIO, *, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        where = f"[{event.platform}] " if event.platform else ""
        took = f" ({event.seconds:.2f}s)" if event.seconds is not None else ""
        print(f"=> {where}{event.message}{took}", file=self.stream, flush=True)


def print_dockerfile_error(exc: DockerfileError, source: str | bytes, stream: TextIO) -> None:
    """The error's ``file:line:column`` message, the source line with a caret, the hint."""
    from dockwright.dockerfile import error_context  # noqa: PLC0415 - only on errors

    print(f"dockwright: error: {exc.message}", file=stream)
    context = error_context(source, exc)
    if context:
        print(context, file=stream)
    if exc.hint:
        print(f"dockwright: hint: {exc.hint}", file=stream)
