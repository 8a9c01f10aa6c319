"""OCI layouts for the benchmark: a small base made by hand, and size accounting.

The base is built with nothing but the standard library so the benchmark does not depend on
the code it measures: one gzip layer holding /etc/passwd, /etc/group, /etc/nsswitch.conf, a CA
bundle, the IANA time-zone database and a 1777 /tmp, i.e. what a static Go server expects.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_ANNOTATION = "org.opencontainers.image.ref.name"

_PASSWD = """\
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
"""
_GROUP = """\
root:x:0:
nobody:x:65534:
nonroot:x:65532:
"""
_NSSWITCH = "hosts: files dns\n"


@dataclass(frozen=True, slots=True)
class LayerSize:
    """One layer blob: its digest, its (compressed) blob size and its tar size."""

    digest: str
    media_type: str
    size: int
    uncompressed: int


@dataclass(frozen=True, slots=True)
class ImageSize:
    """What one image manifest adds up to."""

    manifest_digest: str
    config_size: int
    layers: tuple[LayerSize, ...]

    @property
    def layers_compressed(self) -> int:
        """Sum of the layer blob sizes, as stored and pushed."""
        return sum(layer.size for layer in self.layers)

    @property
    def layers_uncompressed(self) -> int:
        """Sum of the layers' tar sizes (each blob gunzipped)."""
        return sum(layer.uncompressed for layer in self.layers)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def _write_blob(layout: Path, data: bytes) -> str:
    digest = _sha256(data)
    path = _blob_path(layout, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def _zoneinfo_dir() -> Path | None:
    """The tzdata wheel's zoneinfo (pinned by dockwright, so the same on every host), else the
    system's."""
    try:
        import tzdata  # type: ignore[import-not-found,unused-ignore]

        path = Path(tzdata.__file__).parent / "zoneinfo"
        if path.is_dir():
            return path
    except ImportError:
        pass
    system = Path("/usr/share/zoneinfo")
    return system if system.is_dir() else None


def _ca_bundle() -> bytes:
    try:
        import certifi  # type: ignore[import-not-found,unused-ignore]

        return Path(certifi.where()).read_bytes()
    except ImportError:
        return Path("/etc/ssl/certs/ca-certificates.crt").read_bytes()


def _entry(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _base_entries() -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    files: dict[str, tuple[bytes, int]] = {
        "etc/passwd": (_PASSWD.encode(), 0o644),
        "etc/group": (_GROUP.encode(), 0o644),
        "etc/nsswitch.conf": (_NSSWITCH.encode(), 0o644),
        "etc/ssl/certs/ca-certificates.crt": (_ca_bundle(), 0o644),
    }
    zoneinfo = _zoneinfo_dir()
    if zoneinfo is not None:
        for folder, _dirs, names in os.walk(zoneinfo):
            for fname in names:
                src = Path(folder) / fname
                if fname.startswith(("__", ".")) or src.suffix in (".py", ".pyc"):
                    continue
                rel = src.relative_to(zoneinfo).as_posix()
                if "__pycache__" in rel:
                    continue
                files[f"usr/share/zoneinfo/{rel}"] = (src.read_bytes(), 0o644)
    dirs = {"tmp": 0o1777, "home/nonroot": 0o700}
    for name in list(files) + list(dirs):
        parts = name.split("/")
        for depth in range(1, len(parts)):
            dirs.setdefault("/".join(parts[:depth]), 0o755)
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for name, mode in dirs.items():
        info = _entry(name + "/", tarfile.DIRTYPE, mode)
        if name == "home/nonroot":
            info.uid = info.gid = 65532
        entries.append((info, None))
    for name, (data, mode) in files.items():
        entries.append((_entry(name, tarfile.REGTYPE, mode, len(data)), data))
    yield from sorted(entries, key=lambda e: e[0].name)


def make_base_layout(layout: Path, ref: str = "base") -> ImageSize:
    """Write a one-layer linux/amd64 base image into the OCI layout ``layout`` (created),
    tagged ``ref``; return its sizes. Same inputs give the same bytes."""
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in _base_entries():
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    tar_bytes = tar_buf.getvalue()
    gz_buf = io.BytesIO()
    with gzip.GzipFile(fileobj=gz_buf, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(tar_bytes)
    layer_bytes = gz_buf.getvalue()

    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    layer_digest = _write_blob(layout, layer_bytes)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "User": "65532:65532",
            "WorkingDir": "/home/nonroot",
        },
        "rootfs": {"type": "layers", "diff_ids": [_sha256(tar_bytes)]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "bench/_oci.py base"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = _write_blob(layout, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": len(layer_bytes)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = _write_blob(layout, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {REF_ANNOTATION: ref},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index, indent=2))
    return ImageSize(
        manifest_digest,
        len(config_bytes),
        (LayerSize(layer_digest, OCI_LAYER_GZIP, len(layer_bytes), len(tar_bytes)),),
    )


def _read_json(layout: Path, digest: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(_blob_path(layout, digest).read_bytes())
    return data


class Readable(Protocol):
    """A binary stream to read from."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; all the rest for -1; ``b""`` at the end."""
        ...


@contextlib.contextmanager
def open_layer(path: Path, media_type: str) -> Iterator[Readable]:
    """The layer blob at ``path`` as an uncompressed tar stream (gzip, zstd or plain)."""
    if media_type.endswith(("+zstd", ".zstd")):
        try:
            import zstandard  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise ValueError(f"{path}: a zstd layer needs the zstandard package") from exc
        with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream:
            yield stream
    elif "gzip" in media_type:
        with gzip.open(path, "rb") as stream:
            yield stream
    else:
        with path.open("rb") as stream:
            yield stream


def _uncompressed_size(path: Path, media_type: str) -> int:
    total = 0
    with open_layer(path, media_type) as handle:
        while chunk := handle.read(1 << 20):
            total += len(chunk)
    return total


def _manifest_for(layout: Path, desc: dict[str, object]) -> dict[str, object]:
    """Follow index descriptors down to a linux/amd64 (or the only) image manifest."""
    media_type = str(desc.get("mediaType", ""))
    doc = _read_json(layout, str(desc["digest"]))
    if media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST) or "manifests" in doc:
        children = doc.get("manifests")
        assert isinstance(children, list) and children, f"empty index {desc['digest']}"
        pick = children[0]
        for child in children:
            plat = child.get("platform") or {}
            if plat.get("os") == "linux" and plat.get("architecture") == "amd64":
                pick = child
                break
        return _manifest_for(layout, pick)
    doc["_digest"] = desc["digest"]
    return doc


def _ref_name(desc: dict[str, object]) -> str | None:
    annotations = desc.get("annotations")
    if isinstance(annotations, dict):
        name = annotations.get(REF_ANNOTATION)
        return str(name) if name is not None else None
    return None


def layout_image_size(layout: Path, ref: str | None = None, digest: str | None = None) -> ImageSize:
    """Sizes of the image in ``layout`` whose index entry has the name ``ref`` or the digest
    ``digest`` (default: the last entry of index.json, the newest for tools that append)."""
    index = json.loads((layout / "index.json").read_text())
    entries: list[dict[str, object]] = index["manifests"]
    if digest:
        by_digest = [e for e in entries if e.get("digest") == digest]
        entries = by_digest or entries
    if ref is not None:
        named = [e for e in entries if _ref_name(e) == ref]
        if not named:
            raise KeyError(f"{layout}: no image named {ref!r}")
        entries = named
    manifest = _manifest_for(layout, entries[-1])
    config = manifest["config"]
    assert isinstance(config, dict)
    raw_layers = manifest["layers"]
    assert isinstance(raw_layers, list)
    layers = []
    for layer in raw_layers:
        digest, media_type = str(layer["digest"]), str(layer["mediaType"])
        path = _blob_path(layout, digest)
        layers.append(
            LayerSize(digest, media_type, int(layer["size"]), _uncompressed_size(path, media_type))
        )
    return ImageSize(str(manifest["_digest"]), int(config["size"]), tuple(layers))
