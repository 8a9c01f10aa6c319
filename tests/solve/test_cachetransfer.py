"""The exported build cache's format: choosing records, writing the cache image, importing it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from dockwright.errors import ImageFormatError, UsageError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, Manifest, descriptor_for
from dockwright.solve.cachetransfer import (
    CONFIG_MEDIA_TYPE,
    CacheSpec,
    cache_layers,
    import_cache,
    needed_blobs,
    parse_cache_spec,
    read_cache_manifest,
    select_records,
    write_cache_image,
)
from dockwright.solve.commit import CACHE_NAMESPACE, StepLayer, cached, remember
from dockwright.store import Store
from dockwright.store.testing import add_image, add_layer


def _step(
    store: Store, files: dict[str, bytes], created: str = "2026-01-01T00:00:00Z"
) -> StepLayer:
    desc, diff_id = add_layer(store, files, compress=False)
    assert desc.digest == diff_id
    return StepLayer(desc, diff_id, created)


def _image_with(store: Store, layer: StepLayer) -> Descriptor:
    """A manifest whose single layer is ``layer`` (the config is any blob: only walked)."""
    config = store.put_bytes(b"{}")
    assert layer.layer is not None
    manifest = Manifest(Descriptor(mt.OCI_CONFIG, config, 2), (layer.layer,))
    data = manifest.to_bytes()
    store.put_bytes(data)
    return descriptor_for(mt.OCI_MANIFEST, data)


def _gzip_variant(store: Store, layer: StepLayer) -> Descriptor:
    assert layer.layer is not None
    data = gzip.compress(store.read(layer.layer.digest), mtime=0)
    return Descriptor(mt.OCI_LAYER_GZIP, store.put_bytes(data), len(data))


@pytest.mark.parametrize(
    ("text", "export", "expected"),
    [
        (
            "type=registry,ref=127.0.0.1:5000/app:cache,mode=max,compression=zstd",
            True,
            CacheSpec("registry", "127.0.0.1:5000/app:cache", "max", "zstd"),
        ),
        ("type=local,dest=/tmp/c", True, CacheSpec("local", "/tmp/c")),
        ("type=local,src=/tmp/c", False, CacheSpec("local", "/tmp/c")),
        ("127.0.0.1:5000/app:cache", False, CacheSpec("registry", "127.0.0.1:5000/app:cache")),
        (
            "type=registry,ref=r/a:c,ignore-error=true,oci-mediatypes=true",
            True,
            CacheSpec("registry", "r/a:c", ignore_error=True),
        ),
    ],
)
def test_cache_specs_parse_buildkits_spelling(text: str, export: bool, expected: CacheSpec) -> None:
    assert parse_cache_spec(text, export=export) == expected


@pytest.mark.parametrize(
    ("text", "export", "needle"),
    [
        ("type=local,src=/tmp/c", True, "dest=DIR"),
        ("type=local,dest=/tmp/c", False, "src=DIR"),
        ("type=registry", True, "ref="),
        ("type=s3,bucket=x", True, "unsupported type"),
        ("type=registry,ref=r/a:c,mode=all", True, "mode=all"),
        ("type=registry,ref=r/a:c,compression=lz4", True, "compression=lz4"),
        ("type=registry,ref=r/a:c,colour=blue", True, "colour"),
        ("type=registry,ref", True, "KEY=VALUE"),
    ],
)
def test_bad_cache_specs_say_what_is_wrong(text: str, export: bool, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        parse_cache_spec(text, export=export)


def test_min_exports_the_result_images_records_and_max_all(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    builder = _step(store, {"bin/app": b"compiled"})
    final = _step(store, {"app": b"compiled"})
    nothing = StepLayer(None, None, "2026-01-01T00:00:00Z")
    records = [("k-builder", builder), ("k-none", nothing), ("k-final", final)]
    # A key seen twice (two platforms, or a hit then a rerun) is exported once, last wins.
    records.append(("k-builder", builder))
    image = _image_with(store, final)

    assert select_records(store, records, image, "max") == [
        ("k-none", nothing),
        ("k-final", final),
        ("k-builder", builder),
    ]
    assert select_records(store, records, image, "min") == [("k-none", nothing), ("k-final", final)]
    assert cache_layers(records) == [builder.layer, final.layer]


def test_cache_image_round_trip_into_another_store(tmp_path: Path) -> None:
    src = Store.open(tmp_path / "a")
    one = _step(src, {"one": b"1" * 1000})
    two = _step(src, {"two": b"2"})
    nothing = StepLayer(None, None, "2026-02-02T00:00:00Z")
    records = [("k1", one), ("k2", two), ("k3", nothing), ("k4", one)]
    gz = _gzip_variant(src, one)
    assert one.layer is not None and two.layer is not None
    root = write_cache_image(src, records, {one.layer.digest: gz})

    manifest = Manifest.from_bytes(src.read(root.digest))
    assert manifest.config.media_type == CONFIG_MEDIA_TYPE
    assert manifest.layers == (gz, two.layer)  # one blob per distinct layer
    config = json.loads(src.read(manifest.config.digest))
    assert config["records"]["k1"]["layer"]["digest"] == str(one.layer.digest)
    assert config["records"]["k1"]["blob"]["digest"] == str(gz.digest)

    dest = Store.open(tmp_path / "b")
    parsed = read_cache_manifest(src, root)
    assert [r.key for r in parsed] == ["k1", "k2", "k3", "k4"]
    assert {b.digest for b in needed_blobs(dest, parsed)} == {gz.digest, two.layer.digest}
    report = import_cache(dest, src, parsed)

    assert (report.records, report.layers_fetched, report.skipped) == (4, 2, ())
    assert cached(dest, "k1") == one and cached(dest, "k4") == one
    assert cached(dest, "k2") == two
    assert cached(dest, "k3") == nothing
    # Stored uncompressed, under the diff_id, as the builder's lookups need.
    assert dest.read(one.layer.digest) == src.read(one.layer.digest)
    assert not dest.has(gz.digest)
    assert needed_blobs(dest, parsed) == []
    assert import_cache(dest, src, parsed).records == 0


def test_import_keeps_local_records_and_skips_bad_blobs(tmp_path: Path) -> None:
    src = Store.open(tmp_path / "a")
    good = _step(src, {"good": b"g"})
    bad = _step(src, {"bad": b"b"})
    other = _step(src, {"other": b"o"})
    assert good.layer is not None and bad.layer is not None
    # The "bad" record's blob unpacks to other bytes than its diff_id: a corrupt cache.
    lying = Descriptor(mt.OCI_LAYER_GZIP, *_gz(src, b"not the layer"))
    root = write_cache_image(src, [("good", good), ("bad", bad)], {bad.layer.digest: lying})

    dest = Store.open(tmp_path / "b")
    local = _step(dest, {"local": b"l"}, created="2020-01-01T00:00:00Z")
    remember(dest, "good", local)
    report = import_cache(dest, src, read_cache_manifest(src, root))

    assert report.records == 0 and report.skipped == ("bad",)
    assert cached(dest, "good") == local  # the local answer stays
    assert cached(dest, "bad") is None and not dest.has(bad.layer.digest)
    assert dest.cache_get(CACHE_NAMESPACE, "bad") is None
    del other


def _gz(store: Store, data: bytes) -> tuple[Digest, int]:
    blob = gzip.compress(data, mtime=0)
    return store.put_bytes(blob), len(blob)


def test_an_ordinary_image_is_not_a_cache(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    image = add_image(store)
    with pytest.raises(ImageFormatError, match="not a dockwright build cache"):
        read_cache_manifest(store, image)
