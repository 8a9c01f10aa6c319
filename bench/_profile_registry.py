"""Run ``dockwright push|pull ARGS`` in this process and report where its wall time goes.

    python bench/_profile_registry.py OUT.json [--cprofile OUT.pstats] -- push TAG DEST ...

The registry counterpart of ``_profile_dw.py`` (whose wrappers and thread profiler it reuses):
wall time in named functions of the registry client and the store, plus ``os.fsync``; with
``--cprofile``, a cProfile of the main thread and of every thread-pool work item (the parallel
blob transfers), merged into one pstats file. Functions that run in the transfer threads are
summed over threads, so their total can exceed the command's wall time.
"""

from __future__ import annotations

import cProfile
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _profile_dw

# label -> (module, attribute path); indentation shows nesting; "[threads]" marks a sum over
# the transfer threads.
SPOTS: tuple[tuple[str, str, str], ...] = (
    ("cli: Store.open", "dockwright.store", "Store.open"),
    ("cli: registry_options (registries.toml)", "dockwright.cli.registry_cmds", "registry_options"),
    ("cli: Store.resolve (push: the tag)", "dockwright.store", "Store.resolve"),
    ("cli: compress_layers (push)", "dockwright.cli.registry_cmds", "compress_layers"),
    ("cli: Client() (http client, SSL context)", "dockwright.registry.client", "Client.__init__"),
    ("  ssl_context (system CAs)", "dockwright.registry.transport", "ssl_context"),
    ("cli: pusher.push()", "dockwright.registry.pusher", "push"),
    ("cli: puller.pull()", "dockwright.cli.registry_cmds", "registry_pull"),
    ("  Client.endpoint (resolve, ping)", "dockwright.registry.client", "Client.endpoint"),
    (
        "    EndpointResolver._probe (https, then http)",
        "dockwright.registry.endpoints",
        "EndpointResolver._probe",
    ),
    ("  Client.get_manifest", "dockwright.registry.client", "Client.get_manifest"),
    ("    httpx import + client (fallback)", "dockwright.registry.httpclient", "make_http_client"),
    ("  Client.blob_exists (HEAD) [threads]", "dockwright.registry.client", "Client.blob_exists"),
    ("  upload_blob [threads]", "dockwright.registry.upload", "upload_blob"),
    ("    _Upload.start (POST) [threads]", "dockwright.registry.upload", "_Upload.start"),
    ("    _Upload.monolithic (PUT) [threads]", "dockwright.registry.upload", "_Upload.monolithic"),
    ("  _fetch_one [threads]", "dockwright.registry.puller", "_fetch_one"),
    ("    Client.fetch_blob (GET) [threads]", "dockwright.registry.client", "Client.fetch_blob"),
    ("      lean GET (whole blob) [threads]", "dockwright.registry.download", "_lean_fetch"),
    ("      LeanHttp.get (until headers) [threads]", "dockwright.registry.lean", "LeanHttp.get"),
    (
        "      BlobWriter.write (file + sha256) [threads]",
        "dockwright.store.blobwriter",
        "BlobWriter.write",
    ),
    ("    BlobWriter.commit (fsync) [threads]", "dockwright.store.blobwriter", "BlobWriter.commit"),
    ("  Client.put_manifest", "dockwright.registry.client", "Client.put_manifest"),
    ("  Store.put_bytes", "dockwright.store", "Store.put_bytes"),
    ("  Store.read (verifies)", "dockwright.store", "Store.read"),
    ("  record_origin (push)", "dockwright.registry.pusher", "record_origin"),
    ("  record_origin (pull)", "dockwright.registry.puller", "record_origin"),
    ("  Store.tag", "dockwright.store", "Store.tag"),
    ("os.fsync (anywhere)", "os", "fsync"),
)
IMPORTS = ("dockwright.cli", "dockwright.cli.registry_cmds")


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
    installed = [label for label, mod, path in SPOTS if _profile_dw._install(label, mod, path)]

    profiles: list[cProfile.Profile] = []
    main_prof = cProfile.Profile() if pstats_out else None
    if main_prof is not None:
        _profile_dw._profile_threads(profiles)
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
            {
                "label": label,
                "wall_s": _profile_dw._wall.get(label, 0.0),
                "calls": _profile_dw._calls.get(label, 0),
            }
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
