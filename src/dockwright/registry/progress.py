"""Progress events of blob transfers, for a progress bar per blob."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from dockwright.image.digest import Digest

Phase = Literal["downloading", "uploading", "retrying", "done", "exists", "mounted"]
"""``downloading``/``uploading`` while bytes move (``done`` counts them), ``retrying`` after a
broken transfer, then one final event: ``done`` (transferred), ``exists`` (already there,
nothing moved) or ``mounted`` (cross-repository mount, nothing moved)."""

# Bytes between two events of one blob: enough for a smooth bar, few enough to be cheap.
EVENT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Progress:
    """One step of one blob's transfer."""

    digest: Digest
    done: int
    total: int
    phase: Phase
    media_type: str = ""


ProgressCallback = Callable[[Progress], None]
"""Receives events, possibly from several worker threads at once: keep it quick and
thread-safe. Exceptions it raises abort the transfer."""


class Reporter:
    """Emits throttled events for one blob to an optional callback."""

    def __init__(
        self, callback: ProgressCallback | None, digest: Digest, total: int, media_type: str = ""
    ) -> None:
        self._callback = callback
        self._digest = digest
        self._total = total
        self._media_type = media_type
        self._last = -EVENT_BYTES

    def emit(self, phase: Phase, done: int, *, force: bool = False) -> None:
        """Send an event (``downloading``/``uploading`` ones at most every megabyte)."""
        if self._callback is None:
            return
        moving = phase in ("downloading", "uploading")
        if moving and not force and done - self._last < EVENT_BYTES and done != self._total:
            return
        self._last = done
        self._callback(Progress(self._digest, done, self._total, phase, self._media_type))
