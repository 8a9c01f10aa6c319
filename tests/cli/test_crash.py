"""A `dockwright package` killed with SIGKILL at random points never corrupts the store."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockwright.store import Store
from support import run_dockwright

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("DOCKWRIGHT_CRASH_KILLS", "30"))


def _check_store(home: Path) -> None:
    index = json.loads((home / "index.json").read_text())  # must parse
    assert index["schemaVersion"] == 2
    for blob in (home / "blobs" / "sha256").iterdir():
        digest = hashlib.sha256(blob.read_bytes()).hexdigest()
        assert digest == blob.name, f"blob {blob} holds bytes of {digest}"
    assert Store.open(home).verify() == []


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

    rng = random.Random(20261128)
    killed = attempts = 0
    window = duration * 1.1
    # Until KILLS runs were really killed: a run that finishes first (the machine got faster
    # than the calibration run) shrinks the window, so the kills stay spread over the run.
    while killed < KILLS:
        attempts += 1
        assert attempts <= 3 * KILLS, f"only {killed} of {attempts} runs could be killed"
        # Half the runs recompile (a new binary, a new layer); half only rewrite the image.
        if attempts % 2:
            _edit(src / "main.go", attempts)
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.0, window))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed += 1
        else:
            window *= 0.8
        proc.wait()
        _check_store(home)

    final = run_dockwright(*cmd[3:], env={"DOCKWRIGHT_HOME": str(home)})
    assert final.returncode == 0, final.stderr
    _check_store(home)
    listing = run_dockwright("images", env={"DOCKWRIGHT_HOME": str(home)})
    assert "hello:crash" in listing.stdout
