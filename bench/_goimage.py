"""The Go toolchain image of bench/registry.py, made with the standard library only.

An OCI layout holding one linux/amd64 image: a small base layer (/etc/passwd, /etc/group,
/tmp) and the Go toolchain (GOROOT, by default /usr/local/go) under /usr/local/go, split into
layers of comparable size so parallel transfers matter: ``bin`` + ``pkg`` in one, everything
else (``src``, ``test``, ``api``, ``lib``, ...) cut, in path order, into ``parts`` layers of
equal uncompressed size. Layers are gzip level 6, compressed on all cores; entries are sorted,
owned by root, dated 1970, so the same GOROOT gives the same digests.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from bench import _oci

GOROOT = Path("/usr/local/go")
PREFIX = "usr/local/go"
REF = "go"
GZIP_LEVEL = 6
FORMAT_VERSION = "1"  # bump when the image's layout changes, so --cache regenerates it
_BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class _Entry:
    """One file system object going into a layer."""

    name: str  # path inside the image, no leading slash
    source: Path | None  # None for a synthetic entry (data) or a directory
    kind: bytes
    mode: int
    size: int = 0
    data: bytes = b""
    link: str = ""
    uid: int = 0


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """A written layer: what the manifest and the config need, and what it holds."""

    label: str
    digest: str
    size: int  # compressed (the blob)
    diff_id: str
    uncompressed: int  # the tar
    files: int


@dataclass(frozen=True, slots=True)
class GoImage:
    """The image in ``layout`` under the name ``ref``."""

    layout: Path
    ref: str
    manifest_digest: str
    manifest_size: int
    config_digest: str
    config_size: int
    layers: tuple[LayerInfo, ...]
    go_version: str

    @property
    def compressed(self) -> int:
        """Bytes a push sends and a pull receives: layers, config and manifest."""
        return sum(layer.size for layer in self.layers) + self.config_size + self.manifest_size

    @property
    def uncompressed(self) -> int:
        """Sum of the layers' tar sizes."""
        return sum(layer.uncompressed for layer in self.layers)

    def as_json(self) -> dict[str, object]:
        """Figures for --json."""
        return {
            "ref": self.ref,
            "manifest_digest": self.manifest_digest,
            "go_version": self.go_version,
            "compressed_bytes": self.compressed,
            "uncompressed_bytes": self.uncompressed,
            "layers": [
                {
                    "label": layer.label,
                    "digest": layer.digest,
                    "size": layer.size,
                    "uncompressed": layer.uncompressed,
                    "files": layer.files,
                }
                for layer in self.layers
            ],
        }


class _HashingGzip:
    """A write-only file: hashes what tarfile writes (the diff_id), gzips it into ``out`` and
    hashes the compressed bytes (the blob digest) on the way."""

    def __init__(self, out: Path) -> None:
        self.handle = out.open("wb")
        self.tar_hash = hashlib.sha256()
        self.blob_hash = hashlib.sha256()
        self.tar_size = 0
        self.blob_size = 0
        # wbits 31: a gzip member with a zero mtime and no file name, i.e. reproducible.
        self.deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        self.pending: list[bytes] = []
        self.pending_size = 0

    def write(self, data: bytes) -> int:
        self.pending.append(bytes(data))
        self.pending_size += len(data)
        if self.pending_size >= _BUFFER:
            self._flush_pending()
        return len(data)

    def _flush_pending(self) -> None:
        chunk = b"".join(self.pending)
        self.pending.clear()
        self.pending_size = 0
        self.tar_hash.update(chunk)
        self.tar_size += len(chunk)
        self._emit(self.deflate.compress(chunk))  # zlib lets go of the GIL: layers in parallel

    def _emit(self, data: bytes) -> None:
        if data:
            self.blob_hash.update(data)
            self.blob_size += len(data)
            self.handle.write(data)

    def finish(self) -> None:
        self._flush_pending()
        self._emit(self.deflate.flush())
        self.handle.close()


def _info(entry: _Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.type = entry.kind
    info.mode = entry.mode
    info.size = entry.size if entry.kind == tarfile.REGTYPE else 0
    info.linkname = entry.link
    info.mtime = 0
    info.uid = info.gid = entry.uid
    info.uname = info.gname = ""
    return info


def _with_parents(entries: Sequence[_Entry]) -> list[_Entry]:
    """``entries`` plus every parent directory they need, sorted by name."""
    names = {e.name for e in entries}
    out = list(entries)
    for entry in entries:
        parts = entry.name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent not in names:
                names.add(parent)
                out.append(_Entry(parent, None, tarfile.DIRTYPE, 0o755))
    return sorted(out, key=lambda e: e.name)


def _write_layer(blobs: Path, label: str, entries: Sequence[_Entry]) -> LayerInfo:
    tmp = blobs / f".tmp-{hashlib.sha256(label.encode()).hexdigest()[:12]}"
    sink = _HashingGzip(tmp)
    files = 0
    # Stream mode ("w|"): tarfile only writes, so the sink needs no tell() or seek().
    stream = cast("IO[bytes]", sink)
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in _with_parents(entries):
            info = _info(entry)
            if entry.kind == tarfile.REGTYPE:
                files += 1
                if entry.source is None:
                    tar.addfile(info, io.BytesIO(entry.data))
                else:
                    with entry.source.open("rb") as handle:
                        tar.addfile(info, handle)
            else:
                tar.addfile(info)
    sink.finish()
    digest = sink.blob_hash.hexdigest()
    tmp.rename(blobs / digest)
    return LayerInfo(
        label,
        "sha256:" + digest,
        sink.blob_size,
        "sha256:" + sink.tar_hash.hexdigest(),
        sink.tar_size,
        files,
    )


def _base_entries() -> list[_Entry]:
    passwd = _oci._PASSWD.encode()
    group = _oci._GROUP.encode()
    return [
        _Entry("etc/passwd", None, tarfile.REGTYPE, 0o644, len(passwd), passwd),
        _Entry("etc/group", None, tarfile.REGTYPE, 0o644, len(group), group),
        _Entry("tmp", None, tarfile.DIRTYPE, 0o1777),
        _Entry("home/nonroot", None, tarfile.DIRTYPE, 0o700, uid=65532),
    ]


def _goroot_entries(goroot: Path) -> list[_Entry]:
    """Every file, symlink and directory under ``goroot``, as entries under /usr/local/go."""
    out: list[_Entry] = []
    for folder, dirs, names in os.walk(goroot):
        dirs.sort()
        for name in sorted([*dirs, *names]):
            path = Path(folder) / name
            rel = path.relative_to(goroot).as_posix()
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            image_name = f"{PREFIX}/{rel}"
            if stat.S_ISLNK(st.st_mode):
                out.append(_Entry(image_name, path, tarfile.SYMTYPE, 0o777, link=os.readlink(path)))
            elif stat.S_ISDIR(st.st_mode):
                out.append(_Entry(image_name, None, tarfile.DIRTYPE, mode))
            elif stat.S_ISREG(st.st_mode):
                out.append(_Entry(image_name, path, tarfile.REGTYPE, mode, st.st_size))
    return out


def _split(goroot_entries: Sequence[_Entry], parts: int) -> list[tuple[str, list[_Entry]]]:
    """``bin`` + ``pkg`` in one group; the rest cut in path order into ``parts`` groups of about
    the same number of bytes (a cut never splits a file)."""
    first_dirs = (f"{PREFIX}/bin", f"{PREFIX}/pkg")
    tools = [e for e in goroot_entries if e.name.startswith(first_dirs)]
    rest = [e for e in goroot_entries if not e.name.startswith(first_dirs)]
    total = sum(e.size for e in rest)
    groups: list[tuple[str, list[_Entry]]] = [("go bin+pkg", tools)]
    current: list[_Entry] = []
    done = 0
    for entry in rest:
        current.append(entry)
        done += entry.size
        if len(groups) < parts and done >= total * len(groups) / parts:
            groups.append((f"go rest {len(groups)}/{parts}", current))
            current = []
    if current:
        groups.append((f"go rest {len(groups)}/{parts}", current))
    return groups


def _write_json(blobs: Path, doc: object) -> tuple[str, int]:
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return "sha256:" + digest, len(data)


def _go_version(goroot: Path) -> str:
    version_file = goroot / "VERSION"
    if version_file.is_file():
        return version_file.read_text().splitlines()[0].strip()
    return "unknown"


def make_go_layout(layout: Path, goroot: Path = GOROOT, parts: int = 3) -> GoImage:
    """Write the Go toolchain image into the OCI layout ``layout`` (replaced if present)."""
    if not (goroot / "bin" / "go").is_file():
        raise FileNotFoundError(f"{goroot} does not look like a Go toolchain (no bin/go)")
    if layout.exists():
        shutil.rmtree(layout)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    groups = [("base", _base_entries()), *_split(_goroot_entries(goroot), parts)]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        layers = list(pool.map(lambda g: _write_layer(blobs, g[0], g[1]), groups))
    go_version = _go_version(goroot)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": [
                "PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "GOROOT=/usr/local/go",
            ],
            "Cmd": ["go", "version"],
            "WorkingDir": "/home/nonroot",
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [
            {"created": "1970-01-01T00:00:00Z", "created_by": f"bench/_goimage.py {layer.label}"}
            for layer in layers
        ],
    }
    config_digest, config_size = _write_json(blobs, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": _oci.OCI_MANIFEST,
        "config": {"mediaType": _oci.OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [
            {"mediaType": _oci.OCI_LAYER_GZIP, "digest": layer.digest, "size": layer.size}
            for layer in layers
        ],
        "annotations": {"org.opencontainers.image.title": f"bench Go toolchain {go_version}"},
    }
    manifest_digest, manifest_size = _write_json(blobs, manifest)
    index = {
        "schemaVersion": 2,
        "mediaType": _oci.OCI_INDEX,
        "manifests": [
            {
                "mediaType": _oci.OCI_MANIFEST,
                "digest": manifest_digest,
                "size": manifest_size,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {_oci.REF_ANNOTATION: REF},
            }
        ],
    }
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps(index, indent=2))
    image = GoImage(
        layout,
        REF,
        manifest_digest,
        manifest_size,
        config_digest,
        config_size,
        tuple(layers),
        go_version,
    )
    (layout / "bench-image.json").write_text(json.dumps(image.as_json(), indent=2))
    return image


def cache_key(goroot: Path = GOROOT, parts: int = 3) -> str:
    """What the cached layout depends on: this module's format, GOROOT's version and shape."""
    count = 0
    total = 0
    for _folder, _dirs, names in os.walk(goroot):
        count += len(names)
        total += sum((Path(_folder) / n).lstat().st_size for n in names)
    return f"v{FORMAT_VERSION} parts={parts} {_go_version(goroot)} files={count} bytes={total}"


def load_cached(layout: Path, key: str) -> GoImage | None:
    """The image in ``layout`` when it was made for ``key`` and its blobs are all there."""
    try:
        if (layout / "bench-key").read_text() != key:
            return None
        data = json.loads((layout / "bench-image.json").read_text())
        index = json.loads((layout / "index.json").read_text())
        entry = index["manifests"][0]
        manifest_digest = str(entry["digest"])
        blobs = layout / "blobs" / "sha256"
        manifest = json.loads((blobs / manifest_digest.split(":", 1)[1]).read_bytes())
        layers = []
        for desc, extra in zip(manifest["layers"], data["layers"], strict=True):
            blob = blobs / str(desc["digest"]).split(":", 1)[1]
            if blob.stat().st_size != int(desc["size"]):
                return None
            layers.append(
                LayerInfo(
                    str(extra["label"]),
                    str(desc["digest"]),
                    int(desc["size"]),
                    "",
                    int(extra["uncompressed"]),
                    int(extra["files"]),
                )
            )
        config = manifest["config"]
        if not (blobs / str(config["digest"]).split(":", 1)[1]).is_file():
            return None
        return GoImage(
            layout,
            str(data["ref"]),
            manifest_digest,
            int(entry["size"]),
            str(config["digest"]),
            int(config["size"]),
            tuple(layers),
            str(data["go_version"]),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def go_layout(
    layout: Path, *, goroot: Path = GOROOT, parts: int = 3, reuse: bool = True
) -> tuple[GoImage, bool]:
    """The image in ``layout``: reused when ``reuse`` and it was made from the same GOROOT,
    else (re)made. Returns the image and whether it was reused."""
    key = cache_key(goroot, parts)
    if reuse:
        cached = load_cached(layout, key)
        if cached is not None:
            return cached, True
    image = make_go_layout(layout, goroot, parts)
    (layout / "bench-key").write_text(key)
    return image, False
