"""Fixtures for the sandbox tests: a private copy of the busybox rootfs and a runc executor."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dockwright.sandbox import RuncExecutor
from support import require_tool

RUNC_HINT = "apt-get install -y runc"


@pytest.fixture
def rootfs(busybox_rootfs_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the shared busybox rootfs, for this test only."""
    dest = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs_dir, dest, symlinks=True)
    return dest


@pytest.fixture
def runc_root(tmp_path: Path) -> Path:
    """A private runc state directory (``runc --root``), so other runc users do not interfere."""
    return tmp_path / "runc-state"


@pytest.fixture
def executor(runc_root: Path) -> RuncExecutor:
    """A real runc executor (fails, never skips, when runc is missing)."""
    return RuncExecutor(require_tool("runc", RUNC_HINT), state_root=runc_root)


def runc_list(runc_root: Path) -> list[str]:
    """Ids of the containers runc knows in ``runc_root``."""
    runc = require_tool("runc", RUNC_HINT)
    done = subprocess.run(
        [runc, "--root", str(runc_root), "list", "-q"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()
