"""Snapshots of stacked layers: unpacked once, shared read-only, one writable view per step.

:func:`open_snapshotter` picks the overlayfs back end where overlay mounts work (root, a
recent kernel) and the copy back end elsewhere; both satisfy :class:`Snapshotter`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dockwright.errors import UsageError
from dockwright.snapshot.base import Active, LayerUsage, Snapshotter
from dockwright.snapshot.overlay import OverlayActive, OverlaySnapshotter

__all__ = [
    "Active",
    "CopyActive",
    "CopySnapshotter",
    "LayerUsage",
    "OverlayActive",
    "OverlaySnapshotter",
    "Snapshotter",
    "open_snapshotter",
]

_PROBE_FILE = "probe.json"

if TYPE_CHECKING:
    from dockwright.snapshot.copy import CopyActive, CopySnapshotter

# The copy back end (and the tar reading it needs) loads only where overlayfs does not work.
_LAZY = {"CopyActive": "dockwright.snapshot.copy", "CopySnapshotter": "dockwright.snapshot.copy"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _copy_snapshotter(root: Path) -> Snapshotter:
    from dockwright.snapshot.copy import CopySnapshotter  # noqa: PLC0415

    return CopySnapshotter(root)


def _overlay_works(root: Path, overlay: OverlaySnapshotter) -> bool:
    """Probe once per root and kernel; the answer is cached in ``root/probe.json``."""
    cache = root / _PROBE_FILE
    kernel = os.uname().release
    try:
        cached = json.loads(cache.read_text())
        if cached.get("kernel") == kernel and cached.get("uid") == os.geteuid():
            return bool(cached["overlay"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    works = overlay.probe()
    staging = root / f".{_PROBE_FILE}.{os.getpid()}"
    staging.write_text(json.dumps({"kernel": kernel, "uid": os.geteuid(), "overlay": works}))
    os.replace(staging, cache)
    return works


def open_snapshotter(root: Path) -> Snapshotter:
    """The overlayfs snapshotter at ``root`` when overlay mounts work, else the copy one.

    ``DOCKWRIGHT_SNAPSHOTTER=overlay`` or ``copy`` forces one.
    """
    forced = os.environ.get("DOCKWRIGHT_SNAPSHOTTER", "").strip()
    if forced == "copy":
        return _copy_snapshotter(root)
    if forced == "overlay":
        return OverlaySnapshotter(root)
    if forced:
        raise UsageError(
            f"DOCKWRIGHT_SNAPSHOTTER={forced!r} is not a snapshotter", hint="use overlay or copy"
        )
    overlay = OverlaySnapshotter(root)
    if _overlay_works(root, overlay):
        return overlay
    return _copy_snapshotter(root)
