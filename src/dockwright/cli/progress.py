"""Progress of blob transfers on a terminal: one bar per blob, redrawn in place.

On a terminal the display keeps one line per active blob (plus finished ones, collapsed
into a count) and redraws at most ten times a second. Elsewhere (CI logs, pipes) it prints
one line when each blob finishes, so logs stay short.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TextIO

from dockwright.cli.render import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockwright.registry.progress import Progress

_BAR = 24
_MAX_LINES = 8


@dataclass(slots=True)
class _Blob:
    label: str
    phase: str
    done: int
    total: int | None
    finished: bool = False


class BlobProgress:
    """Collects ``update`` calls from any thread and renders them on ``stream``."""

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self._blobs: dict[str, _Blob] = {}
        self._lock = threading.Lock()
        self._drawn = 0
        self._last = 0.0

    def update(
        self, key: str, label: str, phase: str, done: int, total: int | None, *, final: bool
    ) -> None:
        """Record that blob ``key`` has ``done`` of ``total`` bytes in ``phase``."""
        if not self.enabled:
            return
        with self._lock:
            blob = self._blobs.get(key)
            if blob is None:
                blob = self._blobs[key] = _Blob(label, phase, done, total)
            blob.phase, blob.done, blob.total = phase, done, total
            if final and not blob.finished:
                blob.finished = True
                if not self.tty:
                    print(f"{phase:<10} {label}  {human_size(done)}", file=self.stream)
            now = time.monotonic()
            if self.tty and (final or now - self._last > 0.1):
                self._last = now
                self._draw()

    def registry_event(self, event: Progress) -> None:
        """Adapter for the registry client's progress callback."""
        final = event.phase in ("done", "exists", "mounted")
        label = event.digest.short
        self.update(str(event.digest), label, event.phase, event.done, event.total, final=final)

    def close(self) -> None:
        """Draw the final state once more (terminal only)."""
        if self.tty:
            with self._lock:
                self._draw()

    def _line(self, blob: _Blob) -> str:
        if blob.total:
            filled = min(_BAR, _BAR * blob.done // blob.total)
            bar = "=" * filled + (">" if filled < _BAR else "") + " " * (_BAR - filled - 1)
            amount = f"{human_size(blob.done)}/{human_size(blob.total)}"
        else:
            bar = " " * _BAR
            amount = human_size(blob.done)
        return f"{blob.phase:<10} {blob.label:<14} [{bar[:_BAR]}] {amount}"

    def _draw(self) -> None:
        active = [b for b in self._blobs.values() if not b.finished]
        finished = [b for b in self._blobs.values() if b.finished]
        lines = [f"{len(finished)} of {len(self._blobs)} blobs done"]
        lines += [self._line(b) for b in active[:_MAX_LINES]]
        if len(active) > _MAX_LINES:
            lines.append(f"... {len(active) - _MAX_LINES} more")
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}F")  # back to the first line drawn last time
        out.extend(f"\x1b[2K{line}\n" for line in lines)
        # Clear lines left over from a taller previous frame.
        extra = self._drawn - len(lines)
        if extra > 0:
            out.extend("\x1b[2K\n" for _ in range(extra))
            out.append(f"\x1b[{extra}F")
        self.stream.write("".join(out))
        self.stream.flush()
        self._drawn = len(lines)
