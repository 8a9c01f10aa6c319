"""Sharing the build cache between machines: ``--cache-to`` and ``--cache-from``.

The exported cache is an ordinary OCI image manifest, so any registry or OCI layout holds it:

- its layers are the cached layer blobs (compressed for the trip, or not);
- its config (media type :data:`CONFIG_MEDIA_TYPE`) lists the records, each cache key with
  the stored layer's digest (the uncompressed tar: the diff_id), the exported blob's digest,
  media type and size, and the record's time.

Importing reads the config, brings each needed blob into the store *uncompressed* (checked
against its diff_id, so a store layer is always the plain tar the builder expects) and writes
the record into the store's build cache, where the builder's lookups then hit. The transport
(registry, folder) is the caller's: this module reads any :class:`BlobSource`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from dockwright.errors import CorruptBlobError, ImageFormatError, StoreError, UsageError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.extract import decompressed
from dockwright.image.model import Descriptor, Manifest, canonical_json, descriptor_for
from dockwright.solve.commit import CACHE_NAMESPACE, StepLayer, cached
from dockwright.store import BlobSource, Store

log = logging.getLogger(__name__)

CONFIG_MEDIA_TYPE = "application/vnd.dockwright.buildcache.config.v1+json"
ARTIFACT_TYPE = "application/vnd.dockwright.buildcache.v1"
CacheMode = Literal["min", "max"]
CacheKind = Literal["registry", "local"]
_COMPRESSIONS = ("gzip", "zstd", "uncompressed")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class CacheSpec:
    """One ``--cache-to``/``--cache-from`` value, parsed.

    ``where`` is the registry reference (``type=registry,ref=``) or the folder
    (``type=local,dest=`` to export, ``src=`` to import).
    """

    kind: CacheKind
    where: str
    mode: CacheMode = "min"
    compression: str = "gzip"
    ignore_error: bool = False


def parse_cache_spec(text: str, *, export: bool) -> CacheSpec:
    """Parse BuildKit's spelling: ``type=registry,ref=R[,mode=min|max][,compression=…]`` or
    ``type=local,dest=DIR`` (export) / ``type=local,src=DIR`` (import). A bare value is a
    registry reference, as buildx reads it. Problems raise :class:`UsageError`."""
    flag = "--cache-to" if export else "--cache-from"
    if "=" not in text:
        return CacheSpec("registry", text) if text else _bad(flag, text, "empty value")
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key:
            _bad(flag, text, f"{part!r} is not KEY=VALUE")
        fields[key.strip()] = value.strip()
    kind = fields.pop("type", "registry")
    if kind == "registry":
        where = fields.pop("ref", "")
        if not where:
            _bad(flag, text, "type=registry needs ref=REGISTRY/REPOSITORY:TAG")
    elif kind == "local":
        where = fields.pop("dest" if export else "src", "")
        if not where:
            _bad(flag, text, f"type=local needs {'dest' if export else 'src'}=DIR")
    else:
        _bad(flag, text, f"unsupported type {kind!r} (use registry or local)")
    mode = fields.pop("mode", "min")
    if mode not in ("min", "max"):
        _bad(flag, text, f"mode={mode}: use min or max")
    compression = fields.pop("compression", "gzip")
    if compression not in _COMPRESSIONS:
        _bad(flag, text, f"compression={compression}: use {', '.join(_COMPRESSIONS)}")
    ignore_error = fields.pop("ignore-error", "false").lower() == "true"
    # Options BuildKit knows but that change nothing here are accepted and ignored.
    for known in ("compression-level", "force-compression", "oci-mediatypes", "image-manifest"):
        fields.pop(known, None)
    if fields:
        _bad(flag, text, f"unknown option(s): {', '.join(sorted(fields))}")
    return CacheSpec(
        kind,  # type: ignore[arg-type]  # checked above
        where,
        mode,  # type: ignore[arg-type]
        compression,
        ignore_error,
    )


def _bad(flag: str, text: str, why: str) -> CacheSpec:
    raise UsageError(
        f"{flag} {text!r}: {why}",
        hint="e.g. type=registry,ref=localhost:5000/app:buildcache,mode=max or "
        + ("type=local,dest=DIR" if flag == "--cache-to" else "type=local,src=DIR"),
    )


# -- export ----------------------------------------------------------------------------------


def select_records(
    store: Store,
    records: Sequence[tuple[str, StepLayer]],
    result: Descriptor | None,
    mode: CacheMode,
) -> list[tuple[str, StepLayer]]:
    """The records to export, each key once (its last result wins), in build order.

    ``max``: all of them. ``min``: those whose layer is in the result image (``result``, a
    manifest or index in ``store``), plus the records of steps that changed nothing, which
    cost no blob.
    """
    latest: dict[str, StepLayer] = {}
    for key, layer in records:
        latest.pop(key, None)
        latest[key] = layer
    if mode == "max" or result is None:
        return list(latest.items())
    in_image = {d.digest for d in store.walk(result)}
    return [
        (key, layer)
        for key, layer in latest.items()
        if layer.layer is None or layer.layer.digest in in_image
    ]


def cache_layers(records: Iterable[tuple[str, StepLayer]]) -> list[Descriptor]:
    """The distinct stored layers of ``records``, in order (what the cache image carries)."""
    seen: dict[Digest, Descriptor] = {}
    for _, layer in records:
        if layer.layer is not None:
            seen.setdefault(layer.layer.digest, layer.layer)
    return list(seen.values())


def write_cache_image(
    store: Store,
    records: Sequence[tuple[str, StepLayer]],
    exported: Mapping[Digest, Descriptor],
) -> Descriptor:
    """Write the cache image for ``records`` into ``store``; return its manifest descriptor.

    ``exported`` maps each stored layer digest to the blob that travels (its compressed
    variant, already in the store, or the layer itself).
    """
    layers = cache_layers(records)
    blobs = [exported.get(layer.digest, layer) for layer in layers]
    entries: dict[str, object] = {}
    for key, step in records:
        if step.layer is None:
            entries[key] = {"layer": None, "created": step.created}
            continue
        blob = exported.get(step.layer.digest, step.layer)
        entries[key] = {
            "layer": {"digest": str(step.layer.digest), "size": step.layer.size},
            "blob": {"mediaType": blob.media_type, "digest": str(blob.digest), "size": blob.size},
            "created": step.created,
        }
    config = canonical_json({"version": 1, "records": entries})
    store.put_bytes(config)
    manifest = Manifest(
        config=descriptor_for(CONFIG_MEDIA_TYPE, config),
        layers=tuple(blobs),
        artifact_type=ARTIFACT_TYPE,
    )
    data = manifest.to_bytes()
    store.put_bytes(data)
    return descriptor_for(mt.OCI_MANIFEST, data)


# -- import ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """One record of an exported cache: the step's key and its result (blob: what travels)."""

    key: str
    result: StepLayer
    blob: Descriptor | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What :func:`import_cache` did."""

    records: int
    layers_fetched: int
    bytes_fetched: int
    skipped: tuple[str, ...] = ()


def read_cache_manifest(source: BlobSource, root: Descriptor) -> list[CacheRecord]:
    """The records of the cache image ``root`` in ``source``; :class:`ImageFormatError` when it
    is not one (e.g. ``--cache-from`` names an ordinary image)."""
    try:
        manifest = Manifest.from_bytes(source.read(root.digest), root.media_type)
    except ImageFormatError as exc:
        raise ImageFormatError(f"{root.digest} is not a dockwright build cache: {exc}") from exc
    if manifest.config.media_type != CONFIG_MEDIA_TYPE:
        raise ImageFormatError(
            f"{root.digest} is not a dockwright build cache (its config is a "
            f"{manifest.config.media_type})"
        )
    try:
        obj = json.loads(source.read(manifest.config.digest))
        raw = obj["records"]
        if obj.get("version") != 1 or not isinstance(raw, dict):
            raise ValueError("unknown version")
        return [_record(key, value) for key, value in raw.items()]
    except (ValueError, KeyError, TypeError, ImageFormatError) as exc:
        raise ImageFormatError(
            f"the build cache config {manifest.config.digest} is invalid: {exc}"
        ) from exc


def _record(key: str, value: dict[str, object]) -> CacheRecord:
    created = str(value.get("created") or "")
    layer = value.get("layer")
    if layer is None:
        return CacheRecord(key, StepLayer(None, None, created), None)
    if not isinstance(layer, dict):
        raise ValueError(f"record {key}: layer is not an object")
    blob = value["blob"]
    if not isinstance(blob, dict):
        raise ValueError(f"record {key}: blob is not an object")
    diff_id = Digest.parse(str(layer["digest"]))
    stored = Descriptor(mt.OCI_LAYER, diff_id, int(layer["size"]))
    travelling = Descriptor(
        str(blob["mediaType"]), Digest.parse(str(blob["digest"])), int(blob["size"])
    )
    return CacheRecord(key, StepLayer(stored, diff_id, created), travelling)


def needed_blobs(store: Store, records: Iterable[CacheRecord]) -> list[Descriptor]:
    """The exported blobs to fetch: those of records whose layer the store lacks (each once),
    skipping keys the store already answers."""
    out: dict[Digest, Descriptor] = {}
    for record in records:
        result = record.result
        if record.blob is None or result.diff_id is None or store.has(result.diff_id):
            continue
        if cached(store, record.key) is not None:
            continue
        out.setdefault(record.blob.digest, record.blob)
    return list(out.values())


def import_cache(
    store: Store,
    source: BlobSource,
    records: Sequence[CacheRecord],
    *,
    progress: Callable[[Descriptor], None] | None = None,
) -> ImportReport:
    """Bring ``records`` into ``store``'s build cache, reading blobs from ``source``.

    A record whose key the store already answers is left alone (the local one is as good and
    keeps its own time). A blob that is absent from ``source`` or does not unpack to the
    diff_id the record names is skipped with a warning: the step just runs.
    """
    written = 0
    fetched = 0
    fetched_bytes = 0
    skipped: list[str] = []
    done: set[Digest] = set()
    for record in records:
        if cached(store, record.key) is not None:
            continue
        result = record.result
        if record.blob is not None and result.diff_id is not None:
            if not store.has(result.diff_id) and result.diff_id not in done:
                try:
                    size = _unpack_into(store, source, record.blob, result.diff_id)
                except (StoreError, CorruptBlobError, ImageFormatError, OSError) as exc:
                    log.warning("build cache record %s skipped: %s", record.key, exc)
                    skipped.append(record.key)
                    continue
                fetched += 1
                fetched_bytes += size
                if progress is not None:
                    progress(record.blob)
            done.add(result.diff_id)
        store.cache_put(CACHE_NAMESPACE, record.key, result.to_json())
        written += 1
    return ImportReport(written, fetched, fetched_bytes, tuple(skipped))


def _unpack_into(store: Store, source: BlobSource, blob: Descriptor, diff_id: Digest) -> int:
    """Store ``blob`` uncompressed; the result must hash to ``diff_id``. Returns its size."""
    if not source.has(blob.digest):
        raise StoreError(f"the cache source lacks blob {blob.digest}")
    compression = (
        "none"
        if blob.media_type in (mt.OCI_LAYER, "application/vnd.docker.image.rootfs.diff.tar")
        else "auto"
    )
    with source.open_blob(blob.digest) as raw, store.ingest() as writer:
        reader = decompressed(raw, compression)  # type: ignore[arg-type]
        while chunk := reader.read(_CHUNK):
            writer.write(chunk)
        _, size = writer.commit(diff_id)
    return size
