"""The RUN sandbox: run one process in a root filesystem, isolated.

- ``ProcessSpec`` / ``BindMount``: what to run and how (args, env, cwd, user, network, mounts).
- ``Executor``: the seam; ``RuncExecutor`` runs the process under runc from an OCI runtime
  bundle, ``FakeExecutor`` records specs and plays back scripted results for callers' tests.
- ``run_checked``: run and raise ``BuildError`` (exit status, last output lines) on failure.
- ``resolve_user``: a Dockerfile ``USER`` value → uid, gid, extra gids, home (rootfs files).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockwright.sandbox.runc import RUNC_INSTALL_HINT, RuncExecutor
from dockwright.sandbox.spec import BindMount, Executor, ProcessSpec, run_checked
from dockwright.sandbox.users import ResolvedUser, resolve_user

if TYPE_CHECKING:
    from dockwright.sandbox.fake import FakeExecutor, FakeResult

_LAZY = {"FakeExecutor": "dockwright.sandbox.fake", "FakeResult": "dockwright.sandbox.fake"}

__all__ = [
    "RUNC_INSTALL_HINT",
    "BindMount",
    "Executor",
    "FakeExecutor",
    "FakeResult",
    "ProcessSpec",
    "ResolvedUser",
    "RuncExecutor",
    "resolve_user",
    "run_checked",
]


def __getattr__(name: str) -> object:
    # The fake executor is for callers' tests: loaded on first use.
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
