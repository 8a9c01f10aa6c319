"""The build's progress renderers: TTY display, plain lines, JSON lines."""

from __future__ import annotations

import io
import json

from dockwright.cli.build_progress import progress_printer
from dockwright.solve.events import StepEvent


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _events() -> list[StepEvent]:
    return [
        StepEvent("start", 1, "[a 1/2] FROM busybox"),
        StepEvent("done", 1, "[a 1/2] FROM busybox", seconds=0.01),
        StepEvent("start", 2, "[a 2/2] RUN make"),
        StepEvent("log", 2, "[a 2/2] RUN make", data=b"compiling x\ncompil"),
        StepEvent("log", 2, "[a 2/2] RUN make", data=b"ing y\n"),
        StepEvent("done", 2, "[a 2/2] RUN make", seconds=1.25),
        StepEvent("start", 3, "[b 1/1] COPY x /x"),
        StepEvent("cached", 3, "[b 1/1] COPY x /x", seconds=0.0),
    ]


def test_tty_display_shows_running_output_and_keeps_finished_steps() -> None:
    stream = _Tty()
    emit, finish = progress_printer("auto", stream, quiet=False)
    for event in _events():
        emit(event)
    finish()
    text = stream.getvalue()
    assert " => => # compiling x" in text
    assert " => => # compiling y" in text  # a line split across chunks is joined
    assert " => [a 2/2] RUN make 1.2s" in text
    assert " => CACHED [b 1/1] COPY x /x" in text
    assert text.rstrip().endswith("FINISHED")


def test_plain_progress_reads_like_buildkit() -> None:
    stream = io.StringIO()
    emit, finish = progress_printer("auto", stream, quiet=False)  # not a terminal: plain
    for event in _events():
        emit(event)
    finish()
    lines = stream.getvalue().splitlines()
    assert "#2 [a 2/2] RUN make" in lines
    assert any(line.startswith("#2 ") and line.endswith(" compiling y") for line in lines)
    assert "#2 DONE 1.2s" in lines
    assert "#3 CACHED" in lines


def test_json_and_quiet() -> None:
    stream = io.StringIO()
    emit, _ = progress_printer("json", stream, quiet=False)
    for event in _events():
        emit(event)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["kind"] for r in records][:3] == ["start", "done", "start"]
    quiet = io.StringIO()
    emit, _ = progress_printer("plain", quiet, quiet=True)
    for event in _events():
        emit(event)
    assert quiet.getvalue() == ""
