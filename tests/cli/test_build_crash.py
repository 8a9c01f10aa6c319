"""A `dockwright build` killed with SIGKILL at random points leaves a valid store; the next
build cleans up after it (mounts, half-written snapshots) and reuses what was committed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import require_tool, run_dockwright
from support.images import store_rootfs_image

from .crashkit import check_store, sigkill_at_random

KILLS = int(os.environ.get("DOCKWRIGHT_BUILD_CRASH_KILLS", "20"))

DOCKERFILE = """\
FROM busybox
RUN dd if=/dev/urandom of=/big1 bs=1M count=6 2>/dev/null && echo one > /one
ARG N=0
RUN echo "$N" > /n && dd if=/dev/zero of=/big2 bs=1M count=4 2>/dev/null
COPY data.txt /data.txt
RUN sleep 0.2 && echo "$N done" > /done
"""


def _runc_containers_of(home: Path) -> list[str]:
    """runc's records (default --root) of containers whose bundle was under ``home``."""
    found = []
    root = Path("/run/runc")
    for entry in root.iterdir() if root.is_dir() else []:
        try:
            state = json.loads((entry / "state.json").read_text())
        except (OSError, ValueError):
            continue
        if str(state.get("config", {}).get("rootfs", "")).startswith(str(home)):
            found.append(entry.name)
    return found


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(path))]


@pytest.mark.slow
def test_sigkill_during_builds_leaves_a_valid_store(
    tmp_path: Path, busybox_rootfs_dir: Path
) -> None:
    require_tool("runc", "apt-get install -y runc")
    home = tmp_path / "home"
    home.mkdir()
    store_rootfs_image(home, busybox_rootfs_dir, "busybox:latest")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "data.txt").write_text("data\n")
    env = {**os.environ, "DOCKWRIGHT_HOME": str(home)}

    def command(n: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "dockwright",
            "build",
            str(ctx),
            "-t",
            "crash:test",
            "--build-arg",
            f"N={n}",
            "--progress",
            "plain",
        ]

    started = time.monotonic()
    first = subprocess.run(command(0), env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    duration = time.monotonic() - started

    def touch_data_every_third(attempt: int) -> None:
        if attempt % 3 == 0:
            (ctx / "data.txt").write_text(f"data {attempt}\n")

    sigkill_at_random(
        command, env, home, kills=KILLS, window=duration * 1.2, prepare=touch_data_every_third
    )

    final = run_dockwright(*command(10_000)[3:], env={"DOCKWRIGHT_HOME": str(home)})
    assert final.returncode == 0, final.stderr
    # The first RUN was committed long ago: it must come from the cache, not run again.
    assert "#2 CACHED" in final.stderr, final.stderr
    check_store(home)
    assert _mounts_under(home) == [], "a build left overlay mounts behind"
    assert _runc_containers_of(home) == [], "killed builds' runc containers were not reaped"
    assert run_dockwright("images", env={"DOCKWRIGHT_HOME": str(home)}).stdout.count("crash") == 1
