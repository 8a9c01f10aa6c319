"""``FakeExecutor``: records what callers ask to run and plays back scripted results."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dockwright.sandbox.spec import OutputSink, ProcessSpec


@dataclass(frozen=True, slots=True)
class FakeResult:
    """What one fake run reports: its exit status and the output it streams."""

    exit_status: int = 0
    output: bytes = b""


Handler = Callable[[Path, ProcessSpec], FakeResult | int]


class FakeExecutor:
    """An ``Executor`` for tests of callers: no process is started.

    Each run takes the next scripted result (a ``FakeResult`` or a bare exit status); when the
    script is used up, ``handler`` (if given) decides — it may also write files into the rootfs
    to stand in for the command's effects — and otherwise the run succeeds silently.
    """

    def __init__(
        self, results: Iterable[FakeResult | int] = (), *, handler: Handler | None = None
    ) -> None:
        self.calls: list[tuple[Path, ProcessSpec]] = []
        self._results: deque[FakeResult | int] = deque(results)
        self._handler = handler

    @property
    def specs(self) -> list[ProcessSpec]:
        """The specs run so far, in order."""
        return [spec for _, spec in self.calls]

    def run(self, rootfs: Path, spec: ProcessSpec, *, output: OutputSink | None = None) -> int:
        """Record the call; stream and return the next scripted result."""
        self.calls.append((rootfs, spec))
        if self._results:
            result = self._results.popleft()
        elif self._handler is not None:
            result = self._handler(rootfs, spec)
        else:
            result = FakeResult()
        if isinstance(result, int):
            result = FakeResult(exit_status=result)
        if output is not None and result.output:
            output(result.output)
        return result.exit_status
