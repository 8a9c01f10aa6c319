"""What a sandboxed process is (``ProcessSpec``), the ``Executor`` seam, and ``run_checked``."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from dockwright.errors import BuildError

OutputSink = Callable[[bytes], None]

# Enough to hold the last lines of most failures without keeping a chatty build's whole log.
_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class BindMount:
    """A host path bound into the sandbox at ``target`` (read-only unless said otherwise)."""

    source: Path
    target: str
    readonly: bool = True


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One process to run in a root filesystem.

    ``args`` is the final argv (the caller wraps shell form in the stage's SHELL); ``env``
    holds ``"K=V"`` entries; ``user`` is a Dockerfile USER value (``""`` means root), resolved
    from the rootfs' /etc/passwd and /etc/group; ``network`` is the host's or none (only lo).
    """

    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str = "/"
    user: str = ""
    network: Literal["host", "none"] = "host"
    hostname: str = "buildkitsandbox"
    mounts: tuple[BindMount, ...] = ()


class Executor(Protocol):
    """Runs processes in root filesystems: the sandbox seam."""

    def run(self, rootfs: Path, spec: ProcessSpec, *, output: OutputSink | None = None) -> int:
        """Run ``spec`` with ``rootfs`` as its root; return the process's exit status.

        ``output`` receives stdout and stderr (interleaved) in chunks as they arrive. Raises
        ``BuildError`` when the process cannot be started at all.
        """
        ...


class _Tail:
    def __init__(self, sink: OutputSink | None) -> None:
        self._sink = sink
        self._chunks: deque[bytes] = deque()
        self._size = 0

    def __call__(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._size += len(chunk)
        while self._size > _TAIL_BYTES and len(self._chunks) > 1:
            self._size -= len(self._chunks.popleft())
        if self._sink is not None:
            self._sink(chunk)

    def lines(self, count: int) -> list[str]:
        text = b"".join(self._chunks).decode("utf-8", errors="replace")
        lines = text.splitlines()
        return lines[-count:] if count > 0 else []


def run_checked(
    executor: Executor,
    rootfs: Path,
    spec: ProcessSpec,
    *,
    step: str,
    tail_lines: int = 20,
    output: OutputSink | None = None,
) -> None:
    """Run ``spec`` and raise ``BuildError`` naming ``step`` when it exits non-zero.

    The error carries the exit status and the last ``tail_lines`` lines of output; ``output``
    still receives every chunk as it arrives.
    """
    tail = _Tail(output)
    status = executor.run(rootfs, spec, output=tail)
    if status != 0:
        raise BuildError(
            f"{step}: the command {list(spec.args)!r} exited with status {status}",
            step=step,
            exit_status=status,
            output_tail=tail.lines(tail_lines),
        )
