"""Rendering a build's step events: plain lines, JSON lines, or nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TextIO

from dockwright.solve.events import Emit, StepEvent


class PlainPrinter:
    """BuildKit's ``--progress=plain`` look: ``#N name``, output lines, ``#N DONE 0.1s``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self._partial: dict[int, bytes] = {}

    def __call__(self, event: StepEvent) -> None:
        out = self.stream
        if event.kind == "start":
            print(f"#{event.step} {event.name}", file=out, flush=True)
        elif event.kind == "log":
            data = self._partial.pop(event.step, b"") + event.data
            *lines, rest = data.split(b"\n")
            if rest:
                self._partial[event.step] = rest
            elapsed = time.monotonic() - self.start
            for line in lines:
                text = line.decode("utf-8", errors="replace")
                print(f"#{event.step} {elapsed:.3f} {text}", file=out, flush=True)
        elif event.kind == "cached":
            print(f"#{event.step} CACHED", file=out, flush=True)
        elif event.kind == "done":
            rest_bytes = self._partial.pop(event.step, b"")
            if rest_bytes:
                print(f"#{event.step} {rest_bytes.decode('utf-8', 'replace')}", file=out)
            print(f"#{event.step} DONE {event.seconds or 0:.1f}s", file=out, flush=True)
        elif event.kind == "error":
            print(f"#{event.step} ERROR: {event.message}", file=out, flush=True)


class JsonPrinter:
    """One JSON object per event."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: StepEvent) -> None:
        record: dict[str, object] = {"kind": event.kind, "step": event.step, "name": event.name}
        if event.seconds is not None:
            record["seconds"] = round(event.seconds, 6)
        if event.data:
            record["data"] = event.data.decode("utf-8", errors="replace")
        if event.message:
            record["message"] = event.message
        print(json.dumps(record), file=self.stream, flush=True)


def _nothing(event: StepEvent) -> None:
    del event


def _done() -> None:
    return None


def progress_printer(mode: str, stream: TextIO, *, quiet: bool) -> tuple[Emit, Callable[[], None]]:
    """The ``emit`` for ``--progress=mode`` and a function to call when the build ends."""
    if quiet or mode == "quiet":
        return _nothing, _done
    if mode == "json":
        return JsonPrinter(stream), _done
    if mode in ("tty", "auto") and stream.isatty():
        from dockwright.cli.build_tty import TtyDisplay  # noqa: PLC0415

        display = TtyDisplay(stream)
        return display, display.close
    return PlainPrinter(stream), _done
