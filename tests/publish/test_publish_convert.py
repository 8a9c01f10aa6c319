"""Export-time layer compression: uncompressed store layers leave gzip'd, once."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from dockwright.image import mediatypes as mt
from dockwright.image.layer import LayerEntry, write_layer
from dockwright.image.model import Descriptor, ImageConfig, Index, Manifest, descriptor_for
from dockwright.image.platform import Platform
from dockwright.publish.convert import compress_layers
from dockwright.store import Store


def _image(store: Store, plat: Platform, text: bytes) -> Descriptor:
    buf = io.BytesIO()
    info = write_layer([LayerEntry("hello.txt", data=text)], buf, compression="none")
    store.put_bytes(buf.getvalue())
    config = ImageConfig(plat.architecture, plat.os, diff_ids=(info.diff_id,)).to_bytes()
    store.put_bytes(config)
    manifest = Manifest(
        descriptor_for(mt.OCI_CONFIG, config),
        (Descriptor(mt.OCI_LAYER, info.digest, info.size),),
        annotations={"note": "kept"},
    ).to_bytes()
    store.put_bytes(manifest)
    return descriptor_for(mt.OCI_MANIFEST, manifest, platform=plat)


def test_index_layers_compressed_once_and_platforms_kept(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    amd = _image(store, Platform.parse("linux/amd64"), b"amd64 " * 1000)
    arm = _image(store, Platform.parse("linux/arm64"), b"arm64 " * 1000)
    index = Index((amd, arm)).to_bytes()
    store.put_bytes(index)
    root = descriptor_for(mt.OCI_INDEX, index)

    out = compress_layers(store, root, "gzip", 1)
    assert out.digest != root.digest
    converted = Index.from_bytes(store.read(out.digest))
    assert [d.platform for d in converted.manifests] == [amd.platform, arm.platform]
    for child, original in zip(converted.manifests, (amd, arm), strict=True):
        manifest = Manifest.from_bytes(store.read(child.digest))
        assert manifest.annotations == {"note": "kept"}
        layer = manifest.layers[0]
        assert layer.media_type == mt.OCI_LAYER_GZIP
        old = Manifest.from_bytes(store.read(original.digest)).layers[0]
        # The same tar inside: the config's diff_ids stay valid.
        assert gzip.decompress(store.read(layer.digest)) == store.read(old.digest)

    blobs_before = set((tmp_path / "store" / "blobs" / "sha256").iterdir())
    assert compress_layers(store, root, "gzip", 1) == out  # cached: nothing compressed again
    assert set((tmp_path / "store" / "blobs" / "sha256").iterdir()) == blobs_before
    assert compress_layers(store, root, "uncompressed") == root
    assert compress_layers(store, out, "gzip", 1) == out  # already compressed: unchanged
    zstd = compress_layers(store, root, "zstd")
    first = Index.from_bytes(store.read(zstd.digest)).manifests[0]
    assert Manifest.from_bytes(store.read(first.digest)).layers[0].media_type == mt.OCI_LAYER_ZSTD
