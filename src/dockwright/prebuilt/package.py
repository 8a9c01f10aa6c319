"""``dockwright package``: compile a Go main package per platform on the host and append the
binary, as one layer, to a base image; a multi-platform build gives an image index.

Same sources and options give the same digests: file mtimes, the working directory and the
time of day never reach the output (``SOURCE_DATE_EPOCH`` sets the created time, else 0).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from dockwright.errors import BuildError, GoBuildError, UsageError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import (
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    descriptor_for,
    layers_to_media_family,
)
from dockwright.image.platform import Platform
from dockwright.prebuilt import fingerprint as fp
from dockwright.prebuilt import gotool
from dockwright.prebuilt.base import BaseImage, ResolvedBase
from dockwright.prebuilt.includes import Include, include_entries, includes_digest
from dockwright.prebuilt.vcs import vcs_labels
from dockwright.store import Store

log = logging.getLogger(__name__)

Compression = Literal["gzip", "zstd", "none"]
DEFAULT_USER = "65532:65532"
DEFAULT_BIN_DIR = "/usr/local/bin"
_CACHE_FORMAT = "1"
_ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True, slots=True)
class Event:
    """Progress of a package run, for the CLI to render (the library never prints)."""

    kind: str  # "build", "built", "cached", "layer", "reused", "done"
    message: str
    platform: Platform | None = None
    seconds: float | None = None


EventSink = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class PackageOptions:
    """Everything ``dockwright package`` takes besides the base and the store."""

    path: Path
    platforms: tuple[Platform, ...]
    go: gotool.GoOptions = field(default_factory=gotool.GoOptions)
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    index_annotations: Mapping[str, str] = field(default_factory=dict)
    user: str = DEFAULT_USER
    workdir: str | None = None
    expose: tuple[str, ...] = ()
    includes: tuple[Include, ...] = ()
    binary_path: str | None = None
    vcs: bool = True
    source_date_epoch: int | None = None
    # The store keeps the binary's layer uncompressed; exports compress it (and remember it).
    compression: Compression = "none"
    compression_level: int | None = None
    force_index: bool = False


@dataclass(frozen=True, slots=True)
class PlatformImage:
    """What one platform's image came to."""

    platform: Platform
    manifest: Descriptor
    config: Digest
    layer: Descriptor
    binary_size: int
    compiled: bool  # False when the fingerprint showed nothing had changed
    layer_reused: bool  # True when the binary was unchanged and its layer already stored


@dataclass(frozen=True, slots=True)
class PackageResult:
    """The image (or index) ``package`` wrote to the store."""

    root: Descriptor
    images: tuple[PlatformImage, ...]
    binary_path: str
    tags: tuple[str, ...]


def rfc3339(epoch: int) -> str:
    """``epoch`` seconds as the RFC 3339 UTC time OCI configs use."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_port(text: str) -> str:
    """``8080`` → ``8080/tcp``; ``53/udp`` stays; anything else is a :class:`UsageError`."""
    port, _, proto = text.partition("/")
    proto = proto or "tcp"
    if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("tcp", "udp", "sctp"):
        raise UsageError(f"invalid --expose value {text!r}", hint="use PORT or PORT/tcp|udp|sctp")
    return f"{int(port)}/{proto}"


class _Packager:
    def __init__(
        self,
        options: PackageOptions,
        base: BaseImage,
        store: Store,
        emit: EventSink,
        prestarted: Mapping[str, gotool.GoBuild],
    ) -> None:
        self.prestarted = prestarted
        self.options = options
        self.base = base
        self.store = store
        self.emit = emit
        self.go = gotool.find_go(options.go.go)
        self.pkg = gotool.locate_main_package(options.path)
        gotool.check_main_package(self.pkg)
        self.binary_path = options.binary_path or f"{DEFAULT_BIN_DIR}/{self.pkg.binary_name}"
        if not self.binary_path.startswith("/"):
            raise UsageError(
                f"--binary-path {self.binary_path!r} must be absolute", hint="e.g. /app/server"
            )
        self.epoch = options.source_date_epoch or 0
        self.created = rfc3339(self.epoch)
        self.env = dict(os.environ)
        self.includes_key = includes_digest(options.includes)
        self.toolchain = fp.toolchain_identity(self.go)

    # -- caches -----------------------------------------------------------------------------

    def _source_fingerprint(self) -> str | None:
        key = str(self.pkg.module_root)
        raw = self.store.cache_get("go-stat-memo", key)
        memo: dict[str, list[object]] = json.loads(raw) if raw else {}
        before = dict(memo)
        digest = fp.fingerprint(self.pkg.module_root, {"format": _CACHE_FORMAT}, memo)
        if memo != before:
            self.store.cache_put("go-stat-memo", key, json.dumps(memo, sort_keys=True))
        return digest

    def _build_key(self, sources: str, plat: Platform) -> str:
        ident = {
            "format": _CACHE_FORMAT,
            "sources": sources,
            "toolchain": self.toolchain,
            "env": {k: self.env.get(k, "") for k in gotool.BUILD_ENV_KEYS},
            "flags": self.options.go.build_args(),
            "cgo": self.options.go.cgo,
            "target": self.pkg.build_target,
            "platform": gotool.platform_env(plat),
        }
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    def _layer_key(self, build_key: str) -> str:
        """The build key plus everything else the layer's bytes depend on."""
        ident = {
            "format": _CACHE_FORMAT,
            "build": build_key,
            "path": self.binary_path,
            "includes": self.includes_key,
            "mtime": self.epoch,
            "compression": self.options.compression,
            "level": self.options.compression_level,
        }
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    def _cached_layer(self, layer_key: str) -> tuple[Descriptor, Digest, int] | None:
        raw = self.store.cache_get("package-layer", layer_key)
        if not raw:
            return None
        rec = json.loads(raw)
        desc = Descriptor(rec["media_type"], Digest.parse(rec["digest"]), int(rec["size"]))
        if not self.store.has(desc.digest):
            return None
        return desc, Digest.parse(rec["diff_id"]), int(rec["binary_size"])

    # -- per platform -----------------------------------------------------------------------

    def _started(self, plat: Platform, workdir: Path) -> gotool.GoBuild:
        """The build the caller started early for ``plat`` if it is exactly the one this
        run needs (same command and environment), else a new one."""
        out = gotool.binary_file(workdir, plat)
        cmd, env = gotool.build_command(
            self.go, self.pkg, plat, out, options=self.options.go, base_env=self.env
        )
        early = self.prestarted.get(str(plat))
        if early is not None:
            # Only the output path (argument 3) may differ.
            if early.cmd[:3] + early.cmd[4:] == cmd[:3] + cmd[4:] and early.env == env:
                return early
            early.cancel()
        return gotool.start_build(
            self.go, self.pkg, plat, out, options=self.options.go, base_env=self.env
        )

    def _layer_for(
        self, plat: Platform, sources: str | None, workdir: Path
    ) -> tuple[Descriptor, Digest, int, bool, bool]:
        import time  # noqa: PLC0415

        layer_key = self._layer_key(self._build_key(sources, plat)) if sources else None
        if layer_key:
            hit = self._cached_layer(layer_key)
            if hit:
                early = self.prestarted.get(str(plat))
                if early is not None:
                    early.cancel()
                self.emit(Event("cached", "sources unchanged, build skipped", plat))
                return (*hit, False, True)
        self.emit(Event("build", f"go build {self.pkg.import_path}", plat))
        start = time.monotonic()
        out = self._started(plat, workdir).wait()
        with out.open("rb") as handle:
            magic = handle.read(4)
            binary_size = os.fstat(handle.fileno()).st_size
        if plat.os == "linux" and magic != _ELF_MAGIC:
            raise GoBuildError(
                f"go build of {self.pkg.import_path} produced no executable for {plat}",
                hint="is it a 'package main' with a func main?",
            )
        self.emit(Event("built", f"compiled {binary_size} bytes", plat, time.monotonic() - start))
        desc, diff_id, existed = self._write_layer(out)
        if existed:
            self.emit(Event("reused", "binary unchanged, stored layer reused", plat))
        if layer_key:
            rec = {
                "media_type": desc.media_type,
                "digest": str(desc.digest),
                "size": desc.size,
                "diff_id": str(diff_id),
                "binary_size": binary_size,
            }
            self.store.cache_put("package-layer", layer_key, json.dumps(rec, sort_keys=True))
        return desc, diff_id, binary_size, True, existed

    def _write_layer(self, binary: Path) -> tuple[Descriptor, Digest, bool]:
        """Write the binary's layer; the flag is True when the store had it already (the
        binary came out the same), so exports reuse its compressed form too."""
        from dockwright.image.layer import LayerEntry, write_layer  # noqa: PLC0415 - heavy

        entries = [
            LayerEntry(self.binary_path, source=binary, mode=0o755),
            *include_entries(self.options.includes),
        ]
        with self.store.ingest() as writer:
            info = write_layer(
                entries,
                writer,
                compression=self.options.compression,
                level=self.options.compression_level,
                mtime=self.epoch,
            )
            existed = self.store.has(info.digest)
            writer.commit(info.digest)
        return Descriptor(info.media_type, info.digest, info.size), info.diff_id, existed

    def _config(
        self, plat: Platform, base: ResolvedBase, diff_id: Digest, labels: Mapping[str, str]
    ) -> ImageConfig:
        opts = self.options
        run = base.config.config
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        env.update(run.env_dict())
        env.update(opts.env)
        run = replace(
            run,
            entrypoint=opts.entrypoint if opts.entrypoint is not None else (self.binary_path,),
            # A base's CMD was written for the base's entrypoint, not ours: reset it, as a
            # Dockerfile ENTRYPOINT does.
            cmd=opts.cmd,
            env=tuple(f"{k}={v}" for k, v in env.items()),
            labels={**run.labels, **labels, **opts.labels},
            user=opts.user,
            working_dir=opts.workdir if opts.workdir is not None else run.working_dir,
            exposed_ports=tuple(
                sorted({*run.exposed_ports, *(normalize_port(p) for p in opts.expose)})
            ),
        )
        created_by = f"dockwright package {self.pkg.import_path}"
        flags = " ".join(opts.go.build_args())
        if flags:
            created_by += f" ({flags})"
        config = replace(
            base.config,
            architecture=plat.architecture,
            os=plat.os,
            variant=plat.variant,
            created=self.created,
            config=run,
        )
        return config.with_layer(
            diff_id, History(created=self.created, created_by=created_by, comment="dockwright")
        )

    def _image(
        self,
        plat: Platform,
        base: ResolvedBase,
        sources: str | None,
        workdir: Path,
        labels: Mapping[str, str],
    ) -> PlatformImage:
        layer, diff_id, size, compiled, reused = self._layer_for(plat, sources, workdir)
        config = self._config(plat, base, diff_id, labels)
        config_bytes = config.to_bytes()
        config_digest = self.store.put_bytes(config_bytes)
        annotations = dict(self.options.annotations)
        if base.manifest is not None:
            annotations.setdefault(mt.ANNOTATION_BASE_NAME, self.base.name)
            annotations.setdefault(mt.ANNOTATION_BASE_DIGEST, str(base.manifest.digest))
        if self.options.source_date_epoch is not None:
            annotations.setdefault(mt.ANNOTATION_CREATED, self.created)
        manifest = Manifest(
            config=Descriptor(mt.OCI_CONFIG, config_digest, len(config_bytes)),
            layers=(*layers_to_media_family(base.layers, docker=False), layer),
            annotations=annotations,
        )
        data = manifest.to_bytes()
        self.store.put_bytes(data)
        desc = descriptor_for(mt.OCI_MANIFEST, data, platform=plat)
        return PlatformImage(plat, desc, config_digest, layer, size, compiled, reused)

    def _copy_base_blobs(self, base: ResolvedBase) -> None:
        if base.source is None or base.source is self.store:
            return
        for layer in base.layers:
            if self.store.has(layer.digest):
                continue
            with base.source.open_blob(layer.digest) as blob, self.store.ingest() as writer:
                while chunk := blob.read(1 << 20):
                    writer.write(chunk)
                writer.commit(layer.digest)

    def run(self, tags: Sequence[str]) -> PackageResult:
        import time  # noqa: PLC0415

        start = time.monotonic()
        # Resolve every base first: a base lacking a platform fails before any compiling.
        bases = [self.base.resolve(plat) for plat in self.options.platforms]
        sources = self._source_fingerprint()
        labels = vcs_labels(self.pkg.module_root) if self.options.vcs else {}
        with tempfile.TemporaryDirectory(prefix="dockwright-go-") as tmp:
            workers = max(1, min(len(bases), os.cpu_count() or 1))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [
                    pool.submit(self._image, plat, base, sources, Path(tmp), labels)
                    for plat, base in zip(self.options.platforms, bases, strict=True)
                ]
                images = tuple(f.result() for f in futures)
        for base in bases:
            self._copy_base_blobs(base)
        if len(images) == 1 and not self.options.force_index:
            root = images[0].manifest
        else:
            index_annotations = dict(self.options.index_annotations)
            if self.options.source_date_epoch is not None:
                index_annotations.setdefault(mt.ANNOTATION_CREATED, self.created)
            index = Index(tuple(i.manifest for i in images), annotations=index_annotations)
            data = index.to_bytes()
            self.store.put_bytes(data)
            root = descriptor_for(mt.OCI_INDEX, data)
        for tag in tags:
            self.store.tag(tag, root)
        kind = "index" if root.is_index else "image"
        self.emit(Event("done", f"wrote {kind} {root.digest}", None, time.monotonic() - start))
        return PackageResult(root, images, self.binary_path, tuple(tags))


def package(
    options: PackageOptions,
    base: BaseImage,
    store: Store,
    *,
    tags: Sequence[str] = (),
    emit: EventSink | None = None,
    prestarted: Mapping[str, gotool.GoBuild] | None = None,
) -> PackageResult:
    """Build the Go main package at ``options.path`` for every platform, append each binary
    as one layer to ``base``, write the image (or index) into ``store`` and tag it.

    Raises :class:`~dockwright.errors.UsageError` for a path that is not a main package of a
    module, :class:`~dockwright.errors.GoBuildError` with the compiler's output when Go
    fails, and :class:`~dockwright.errors.NotFoundError` when the base lacks a platform.

    ``prestarted`` maps platform strings to builds the caller started early (see
    :func:`~dockwright.prebuilt.gotool.start_build`), to overlap compiling with start-up:
    each is used if its command matches, and cancelled if the sources turn out unchanged.
    """
    if not options.platforms:
        raise UsageError("no platform to build for")
    packager = _Packager(options, base, store, emit or (lambda _e: None), prestarted or {})
    try:
        with store.session():
            return packager.run(tags)
    except OSError as exc:
        raise BuildError(f"packaging {options.path} failed: {exc}") from exc
