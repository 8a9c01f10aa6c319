"""What the SIGKILL tests share: killing runs of a command at random points, and checking
that the store each left behind is whole."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from dockwright.store import Store


def check_store(home: Path) -> None:
    """index.json parses, every blob hashes to its name, and the store's own check is clean."""
    index = json.loads((home / "index.json").read_text())  # must parse
    assert index["schemaVersion"] == 2
    for blob in (home / "blobs" / "sha256").iterdir():
        digest = hashlib.sha256(blob.read_bytes()).hexdigest()
        assert digest == blob.name, f"blob {blob} holds bytes of {digest}"
    assert Store.open(home).verify() == []


def sigkill_at_random(
    command: Callable[[int], Sequence[str]],
    env: Mapping[str, str],
    home: Path,
    *,
    kills: int,
    window: float,
    prepare: Callable[[int], None] = lambda attempt: None,
) -> None:
    """Start ``command(attempt)`` (after ``prepare(attempt)``) and SIGKILL its process group
    at a random point of the first ``window`` seconds, until ``kills`` runs were really
    killed; check the store in ``home`` after each. A run that finishes first (the machine
    got faster than the calibration run) shrinks the window, so the kills stay spread over
    the run."""
    rng = random.Random(20261128)
    killed = attempts = 0
    while killed < kills:
        attempts += 1
        assert attempts <= 3 * kills, f"only {killed} of {attempts} runs could be killed"
        prepare(attempts)
        proc = subprocess.Popen(
            list(command(attempts)),
            env=dict(env),
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
        check_store(home)
