"""Progress events a build emits; ``cli/`` renders them (TTY display, plain, json)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

EventKind = Literal["start", "cached", "log", "done", "error"]


@dataclass(frozen=True, slots=True)
class StepEvent:
    """Something happened to one step of the build.

    ``step`` numbers the steps of one build from 1 (stable across the events of a step);
    ``name`` is BuildKit-like: ``[build 3/5] RUN go build ./...``. ``log`` events carry a
    chunk of the step's output in ``data``; ``done``/``cached``/``error`` carry ``seconds``.
    """

    kind: EventKind
    step: int
    name: str
    seconds: float | None = None
    data: bytes = b""
    message: str = ""


Emit = Callable[[StepEvent], None]


def ignore_events(event: StepEvent) -> None:
    """An ``emit`` that drops every event."""
    del event
