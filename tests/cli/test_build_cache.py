"""--cache-to / --cache-from through a folder and a real registry, and prune's build-cache flags.

The functions are called directly; the last tests run the command line end to end and need
build_run.py/cli/__init__.py to pass the flags (see the report of the build-cache work).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

import pytest

from dockwright.cli.build_cache import LOCAL_NAME, export_cache, import_caches, parse_size
from dockwright.cli.store_cmds import run_prune
from dockwright.errors import DockwrightError, UsageError
from dockwright.image import mediatypes as mt
from dockwright.image.model import Descriptor, Manifest, descriptor_for
from dockwright.registry import RegistryOptions
from dockwright.solve.cachetransfer import CONFIG_MEDIA_TYPE
from dockwright.solve.commit import StepLayer, cached, remember
from dockwright.store import Store
from dockwright.store.testing import add_layer
from support import free_port, require_tool, run_dockwright, skopeo_inspect
from support.images import store_rootfs_image
from support.registry import RegistryServer


def _records(store: Store) -> tuple[list[tuple[str, StepLayer]], Descriptor]:
    """Three steps (one changed nothing) and a result image holding the last layer only."""
    out: list[tuple[str, StepLayer]] = []
    for key, files in (("k-build", {"bin/app": b"A" * 5000}), ("k-final", {"app": b"A" * 5000})):
        desc, diff_id = add_layer(store, files, compress=False)
        out.append((key, StepLayer(desc, diff_id, "2026-03-03T03:03:03Z")))
    out.append(("k-none", StepLayer(None, None, "2026-03-03T03:03:03Z")))
    for key, step in out:
        remember(store, key, step)
    config = store.put_bytes(b"{}")
    final = out[1][1].layer
    assert final is not None
    data = Manifest(Descriptor(mt.OCI_CONFIG, config, 2), (final,)).to_bytes()
    store.put_bytes(data)
    return out, descriptor_for(mt.OCI_MANIFEST, data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("4096", 4096), ("500MB", 500 << 20), ("2GB", 2 << 30), ("1.5g", 3 << 29)],
)
def test_sizes_read_like_dockers(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_a_bad_size_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="invalid size"):
        parse_size("lots")


def test_local_cache_round_trip_gzip_max(tmp_path: Path) -> None:
    src = Store.open(tmp_path / "a")
    records, image = _records(src)
    folder = tmp_path / "cache"
    spec = f"type=local,dest={folder},mode=max"

    (done,) = export_cache(src, [spec], records, image, RegistryOptions())

    assert done.ok and "3 record(s), 2 layer(s)" in done.message
    index = json.loads((folder / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"].endswith(LOCAL_NAME)
    manifest = json.loads((folder / "blobs" / "sha256" / entry["digest"][7:]).read_bytes())
    assert manifest["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    assert [layer["mediaType"] for layer in manifest["layers"]] == [mt.OCI_LAYER_GZIP] * 2
    for layer in manifest["layers"]:
        gzip.decompress((folder / "blobs" / "sha256" / layer["digest"][7:]).read_bytes())

    dest = Store.open(tmp_path / "b")
    (got,) = import_caches(dest, [f"type=local,src={folder}"], RegistryOptions())

    assert got.ok, got.message
    for key, step in records:
        assert cached(dest, key) == step
        if step.layer is not None:
            assert dest.read(step.layer.digest) == src.read(step.layer.digest)


def test_min_mode_leaves_out_layers_not_in_the_result(tmp_path: Path) -> None:
    src = Store.open(tmp_path / "a")
    records, image = _records(src)
    folder = tmp_path / "cache"
    export_cache(
        src,
        [f"type=local,dest={folder},compression=uncompressed"],
        records,
        image,
        RegistryOptions(),
    )
    dest = Store.open(tmp_path / "b")
    import_caches(dest, [f"type=local,src={folder}"], RegistryOptions())
    assert cached(dest, "k-build") is None
    assert cached(dest, "k-final") == records[1][1]
    assert cached(dest, "k-none") == records[2][1]


def test_registry_cache_round_trip(tmp_path: Path, registry: RegistryServer, repo: str) -> None:
    options = RegistryOptions(insecure=frozenset({registry.host}))
    src = Store.open(tmp_path / "a")
    records, image = _records(src)
    ref = f"{registry.host}/{repo}/app:buildcache"

    (done,) = export_cache(
        src, [f"type=registry,ref={ref},mode=max,compression=zstd"], records, image, options
    )

    assert done.ok, done.message
    raw = skopeo_inspect(f"docker://{ref}", raw=True, **registry.skopeo_access())
    manifest = raw if isinstance(raw, dict) else json.loads(raw)
    assert manifest["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    assert [layer["mediaType"] for layer in manifest["layers"]] == [mt.OCI_LAYER_ZSTD] * 2

    dest = Store.open(tmp_path / "b")
    (got,) = import_caches(dest, [f"type=registry,ref={ref}"], options)
    assert got.ok, got.message
    assert "3 record(s), 2 layer(s)" in got.message
    for key, step in records:
        assert cached(dest, key) == step
    # A second import finds everything already there and fetches nothing.
    (again,) = import_caches(dest, [ref], options)
    assert "0 record(s), 0 layer(s)" in again.message


def test_an_unusable_cache_from_is_a_warning(
    tmp_path: Path, registry: RegistryServer, repo: str
) -> None:
    options = RegistryOptions(insecure=frozenset({registry.host}))
    store = Store.open(tmp_path / "s")
    missing, not_a_layout = import_caches(
        store,
        [f"type=registry,ref={registry.host}/{repo}/none:cache", f"type=local,src={tmp_path}"],
        options,
    )
    assert not missing.ok and "cannot import cache" in missing.message
    assert not not_a_layout.ok and "oci-layout" in not_a_layout.message


def test_a_failed_cache_to_raises_unless_ignore_error(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    records, image = _records(store)
    host = f"127.0.0.1:{free_port()}"
    dead = f"{host}/app:cache"
    options = RegistryOptions(insecure=frozenset({host}), timeout=5.0, retries=0)
    with pytest.raises(DockwrightError):
        export_cache(store, [f"type=registry,ref={dead}"], records, image, options)
    (warned,) = export_cache(
        store, [f"type=registry,ref={dead},ignore-error=true"], records, image, options
    )
    assert not warned.ok and "cannot export cache" in warned.message


def test_prune_command_trims_the_build_cache(
    dockwright_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(dockwright_home)
    records, _ = _records(store)

    run_prune(argparse.Namespace(repair=False))
    out = capsys.readouterr().out
    assert "kept 2 build cache layers" in out
    assert all(cached(store, key) == step for key, step in records)

    run_prune(argparse.Namespace(repair=False, keep_storage="0", build_cache=False, all=False))
    out = capsys.readouterr().out
    assert "build cache: removed 3 records, 2 layers" in out
    assert all(cached(store, key) is None for key, _ in records)


# -- end to end: these need the flags wired into `dockwright build` and `dockwright prune` --


@pytest.fixture
def two_homes(tmp_path: Path, busybox_rootfs_dir: Path) -> tuple[Path, Path]:
    require_tool("runc", "apt-get install -y runc")
    homes = (tmp_path / "home-a", tmp_path / "home-b")
    for home in homes:
        home.mkdir()
        store_rootfs_image(home, busybox_rootfs_dir, "busybox:latest")
    return homes


def _cached_counts(stdout: str) -> tuple[int, int]:
    match = re.search(r"\((\d+)/(\d+) steps cached\)", stdout)
    assert match, stdout
    return int(match.group(1)), int(match.group(2))


@pytest.mark.slow
def test_build_cache_to_folder_then_from_it_on_another_machine(
    two_homes: tuple[Path, Path], tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN echo built > /built\nCOPY f /f\nRUN cat /built /f > /both\n"
    )
    (ctx / "f").write_text("file\n")
    cache = tmp_path / "cache"
    first = run_dockwright(
        "build", str(ctx), "-t", "app", "--progress", "plain",
        "--cache-to", f"type=local,dest={cache},mode=max",
        env={"DOCKWRIGHT_HOME": str(two_homes[0])},
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert (cache / "index.json").is_file()

    second = run_dockwright(
        "build", str(ctx), "-t", "app", "--progress", "plain",
        "--cache-from", f"type=local,src={cache}",
        env={"DOCKWRIGHT_HOME": str(two_homes[1])},
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    # Every step is served: FROM (metadata only) and the three others from the imported cache.
    assert _cached_counts(second.stdout) == (4, 4), second.stdout + second.stderr
    # The same records (and their times) give the same image on the other machine.
    a = Store.open(two_homes[0]).resolve("app:latest").digest
    b = Store.open(two_homes[1]).resolve("app:latest").digest
    assert a == b

    pruned = run_dockwright(
        "prune", "--keep-storage", "0", env={"DOCKWRIGHT_HOME": str(two_homes[1])}
    )
    assert pruned.returncode == 0, pruned.stderr
    assert "build cache: removed" in pruned.stdout
    rebuilt = run_dockwright(
        "build", str(ctx), "-t", "app2", "--progress", "plain",
        env={"DOCKWRIGHT_HOME": str(two_homes[1])},
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    # The tagged image's layers stay (a tag needs them), so its records still answer.
    assert _cached_counts(rebuilt.stdout)[0] >= 4


@pytest.mark.slow
def test_build_cache_through_a_registry(
    two_homes: tuple[Path, Path], tmp_path: Path, registry: RegistryServer, repo: str
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    ref = f"{registry.host}/{repo}/app:cache"
    flags = ("--insecure-registry", registry.host, "--progress", "plain")
    first = run_dockwright(
        "build", str(ctx), "-t", "app", *flags, "--cache-to", f"type=registry,ref={ref}",
        env={"DOCKWRIGHT_HOME": str(two_homes[0])},
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    second = run_dockwright(
        "build", str(ctx), "-t", "app", *flags, "--cache-from", f"type=registry,ref={ref}",
        env={"DOCKWRIGHT_HOME": str(two_homes[1])},
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert _cached_counts(second.stdout) == (2, 2), second.stdout + second.stderr
