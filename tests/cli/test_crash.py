"""A `dockwright package` killed with SIGKILL at random points never corrupts the store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import run_dockwright

from .crashkit import check_store, sigkill_at_random

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("DOCKWRIGHT_CRASH_KILLS", "30"))


def _edit(main: Path, serial: int) -> None:
    text = main.read_text()
    start = text.index("Hello from dockwright")
    end = text.index("!", start)
    main.write_text(text[:start] + f"Hello from dockwright {serial}" + text[end:])


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_a_valid_store(tmp_path: Path) -> None:
    src = tmp_path / "hello"
    shutil.copytree(REPO / "examples" / "hello", src)
    home = tmp_path / "home"
    env = {**os.environ, "DOCKWRIGHT_HOME": str(home)}
    cmd = [
        sys.executable,
        "-m",
        "dockwright",
        "package",
        str(src),
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        "hello:crash",
        "--output",
        f"type=oci,dest={tmp_path / 'out.tar'}",
    ]
    # Warm the Go build cache, and learn how long one whole run takes.
    started = time.monotonic()
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    _edit(src / "main.go", 0)
    started = time.monotonic()
    subprocess.run(cmd, env=env, capture_output=True, check=True)
    duration = time.monotonic() - started

    def recompile_every_other(attempt: int) -> None:
        # Half the runs recompile (a new binary, a new layer); half only rewrite the image.
        if attempt % 2:
            _edit(src / "main.go", attempt)

    sigkill_at_random(
        lambda _: cmd, env, home, kills=KILLS, window=duration * 1.1, prepare=recompile_every_other
    )

    final = run_dockwright(*cmd[3:], env={"DOCKWRIGHT_HOME": str(home)})
    assert final.returncode == 0, final.stderr
    check_store(home)
    listing = run_dockwright("images", env={"DOCKWRIGHT_HOME": str(home)})
    assert "hello:crash" in listing.stdout
