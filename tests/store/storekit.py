"""Helpers for the store tests: real tools, child processes, unprivileged runs."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dockwright
from dockwright.errors import DockwrightError
from dockwright.store import Store

SRC_DIR = Path(dockwright.__file__).resolve().parents[1]
NOBODY = 65534


def make_store(tmp_path: Path, name: str = "store") -> Store:
    """A fresh store in a temp directory."""
    return Store.open(tmp_path / name)


def child_env() -> dict[str, str]:
    """Environment for a child Python that must import this checkout's dockwright."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
    return env


def need_tool(name: str) -> str:
    """The tool's path; fails (never skips) with an install hint when it is missing."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    if path is None:
        pytest.fail(f"{name} not found: install it with apt-get install {name}", pytrace=False)
    return path


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a validation tool; fail the test with its output when it exits non-zero."""
    result = subprocess.run(
        [need_tool(args[0]), *args[1:]], check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result


def readonly_dir() -> Path:
    """A directory the unprivileged test user cannot write into (remove with ``remove``)."""
    path = Path(tempfile.mkdtemp(prefix="dw-readonly-"))
    path.chmod(0o555)
    return path


def remove(path: Path) -> None:
    """Delete a directory made by :func:`readonly_dir`."""
    path.chmod(0o755)
    shutil.rmtree(path)


def _child(queue: Any, func: Callable[..., object], args: tuple[object, ...]) -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    try:
        func(*args)
        queue.put("")
    except DockwrightError as exc:
        queue.put(f"{type(exc).__name__}: {exc}")
    except BaseException as exc:
        queue.put(f"UNEXPECTED {type(exc).__name__}: {exc}")


def run_unprivileged(func: Callable[..., object], *args: object) -> str:
    """Run ``func(*args)`` as a user without root's permission bypass.

    Returns ``"ErrorClass: message"`` for a DockwrightError, ``""`` when nothing was
    raised and ``"UNEXPECTED …"`` for any other exception. As root the call runs in a
    forked child that switched to ``nobody``, since root ignores directory permissions.
    """
    if os.geteuid() != 0:
        try:
            func(*args)
        except DockwrightError as exc:
            return f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            return f"UNEXPECTED {type(exc).__name__}: {exc}"
        return ""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(queue, func, args))
    process.start()
    try:
        return str(queue.get(timeout=60))
    finally:
        process.join(10)
