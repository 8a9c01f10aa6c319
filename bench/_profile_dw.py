"""Run ``dockwright ARGS`` in this process and report where its wall time goes.

    python bench/_profile_dw.py OUT.json [--cprofile OUT.pstats] -- package PATH ...

Two views, written as JSON to OUT.json:

- wall time spent in named functions of dockwright (wrapped for this run only; a missing name
  is skipped, so the driver survives refactors), plus ``os.fsync`` calls;
- with ``--cprofile``, a cProfile of every thread (the packager compiles in a worker thread,
  which a plain ``python -m cProfile`` does not see), merged into one pstats file.

Imports are timed separately from the command: the driver imports the CLI modules first.
"""

from __future__ import annotations

import cProfile
import functools
import importlib
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import thread as futures_thread
from typing import Any

# label -> (module, attribute path); indentation in the label shows nesting in the report.
SPOTS: tuple[tuple[str, str, str], ...] = (
    ("cli: Store.open", "dockwright.store", "Store.open"),
    ("cli: open_base (read --base)", "dockwright.cli.package_cmd", "open_base"),
    ("cli: package()", "dockwright.cli.package_cmd", "package"),
    ("  base.resolve", "dockwright.prebuilt.base", "SourceBase.resolve"),
    ("  source fingerprint", "dockwright.prebuilt.package", "_Packager._source_fingerprint"),
    ("  vcs labels", "dockwright.prebuilt.package", "vcs_labels"),
    ("  per-platform image (worker thread)", "dockwright.prebuilt.package", "_Packager._image"),
    ("    go build (subprocess)", "dockwright.prebuilt.gotool", "go_build"),
    ("    sha256 of the binary", "dockwright.prebuilt.package", "_sha256_file"),
    (
        "    write layer (tar + compress + store)",
        "dockwright.prebuilt.package",
        "_Packager._write_layer",
    ),
    ("      image.layer.write_layer", "dockwright.image.layer", "write_layer"),
    ("      BlobWriter.commit (fsync, rename)", "dockwright.store.blobwriter", "BlobWriter.commit"),
    ("    config", "dockwright.prebuilt.package", "_Packager._config"),
    ("  copy base blobs", "dockwright.prebuilt.package", "_Packager._copy_base_blobs"),
    ("  Store.put_bytes (config, manifest)", "dockwright.store", "Store.put_bytes"),
    ("  Store.tag", "dockwright.store", "Store.tag"),
    ("  Store.cache_get", "dockwright.store", "Store.cache_get"),
    ("  Store.cache_put", "dockwright.store", "Store.cache_put"),
    ("cli: publish (--output)", "dockwright.cli.package_cmd", "publish"),
    ("os.fsync (anywhere)", "os", "fsync"),
)
IMPORTS = ("dockwright.cli", "dockwright.cli.package_cmd")

_wall: dict[str, float] = {}
_calls: dict[str, int] = {}


def _timed(label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            _wall[label] = _wall.get(label, 0.0) + time.perf_counter() - start
            _calls[label] = _calls.get(label, 0) + 1

    return wrapper


def _install(label: str, module_name: str, path: str) -> bool:
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError:
        return False
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part, None)
        if owner is None:
            return False
    raw = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    if raw is None:
        return False
    if isinstance(raw, classmethod):
        setattr(owner, name, classmethod(_timed(label, raw.__func__)))
    elif isinstance(raw, staticmethod):
        setattr(owner, name, staticmethod(_timed(label, raw.__func__)))
    elif callable(raw):
        setattr(owner, name, _timed(label, raw))
    else:
        return False
    return True


def _profile_threads(profiles: list[cProfile.Profile]) -> None:
    """Profile the body of every thread-pool work item in its own thread."""
    original = futures_thread._WorkItem.run

    def run(self: Any) -> None:
        prof = cProfile.Profile()
        profiles.append(prof)
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    futures_thread._WorkItem.run = run  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    """Run the driver (see the module docstring); returns dockwright's exit code."""
    if "--" not in argv or not argv:
        print(__doc__, file=sys.stderr)
        return 2
    sep = argv.index("--")
    opts, dw_args = argv[:sep], argv[sep + 1 :]
    out = opts[0]
    pstats_out = opts[opts.index("--cprofile") + 1] if "--cprofile" in opts else None

    start = time.perf_counter()
    for name in IMPORTS:
        importlib.import_module(name)
    imports = time.perf_counter() - start
    installed = [label for label, mod, path in SPOTS if _install(label, mod, path)]

    profiles: list[cProfile.Profile] = []
    main_prof = cProfile.Profile() if pstats_out else None
    if main_prof is not None:
        _profile_threads(profiles)
    cli: Any = importlib.import_module("dockwright.cli")
    start = time.perf_counter()
    if main_prof is not None:
        main_prof.enable()
    try:
        code = int(cli.main(dw_args))
    finally:
        if main_prof is not None:
            main_prof.disable()
    run_s = time.perf_counter() - start

    if main_prof is not None and pstats_out:
        import pstats

        stats = pstats.Stats(main_prof)
        for prof in profiles:
            stats.add(prof)
        stats.dump_stats(pstats_out)
    report = {
        "exit_code": code,
        "imports_s": imports,
        "main_s": run_s,
        "spots": [
            {"label": label, "wall_s": _wall.get(label, 0.0), "calls": _calls.get(label, 0)}
            for label, _mod, _path in SPOTS
            if label in installed
        ],
        "missing": [label for label, _m, _p in SPOTS if label not in installed],
    }
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    return code


if __name__ == "__main__":
    sys.stdout.flush()
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.exit(code)
