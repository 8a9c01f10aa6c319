"""A live build display for terminals, like BuildKit's: finished steps scroll by with their
time or CACHED; running steps stay at the bottom with a timer and their last output lines."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from dockwright.solve.events import StepEvent

_TAIL = 6
_REFRESH = 0.1


@dataclass
class _Running:
    name: str
    started: float
    lines: list[str] = field(default_factory=list)
    partial: bytes = b""


class TtyDisplay:
    """Renders :class:`StepEvent` values on a terminal; call :meth:`close` at the end."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.begin = time.monotonic()
        self.running: dict[int, _Running] = {}
        self._drawn = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="build-display", daemon=True)
        self._ticker.start()

    def _width(self) -> int:
        return max(20, shutil.get_terminal_size((100, 24)).columns)

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        width = self._width()
        now = time.monotonic()
        lines = [f"[+] Building {now - self.begin:.1f}s"]
        for _step, item in sorted(self.running.items()):
            lines.append(f" => {item.name}"[: width - 8] + f" {now - item.started:5.1f}s")
            for text in item.lines[-_TAIL:]:
                lines.append(f" => => # {text}"[:width])
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def _tick(self) -> None:
        while not self._stop.wait(_REFRESH):
            with self._lock:
                if self.running:
                    self._clear()
                    self._draw()

    def __call__(self, event: StepEvent) -> None:
        with self._lock:
            self._clear()
            if event.kind == "start":
                self.running[event.step] = _Running(event.name, time.monotonic())
            elif event.kind == "log":
                item = self.running.get(event.step)
                if item is not None:
                    data = item.partial + event.data
                    *done, item.partial = data.split(b"\n")
                    item.lines += [d.decode("utf-8", "replace").rstrip("\r") for d in done]
                    del item.lines[:-_TAIL]
            else:
                item = self.running.pop(event.step, None)
                name = item.name if item is not None else event.name
                if event.kind == "cached":
                    self.stream.write(f" => CACHED {name}\n")
                elif event.kind == "done":
                    self.stream.write(f" => {name} {event.seconds or 0:.1f}s\n")
                else:
                    self.stream.write(f" => ERROR {name}: {event.message}\n")
            self._draw()

    def close(self) -> None:
        """Stop redrawing; leave the final state on screen."""
        self._stop.set()
        self._ticker.join(timeout=1)
        with self._lock:
            self._clear()
            total = time.monotonic() - self.begin
            self.stream.write(f"[+] Building {total:.1f}s FINISHED\n")
            self.stream.flush()
