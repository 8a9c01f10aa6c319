"""``build --cache-to`` / ``--cache-from``: the build cache to and from a registry or folder.

The format is in :mod:`dockwright.solve.cachetransfer`; this module is the transport. A
registry cache is an image manifest pushed to ``ref``; a local one an OCI layout folder whose
``index.json`` names the cache manifest :data:`LOCAL_NAME`. Importing is eager: every blob a
record needs and the store lacks is fetched (and stored uncompressed) before the build.

A ``--cache-from`` that cannot be read (absent, not a cache, registry down) is a warning, as
in BuildKit: the build runs without it. A failed ``--cache-to`` is an error unless the spec
says ``ignore-error=true``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dockwright.errors import DockwrightError, PublishError, UsageError
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, Manifest, canonical_json
from dockwright.registry import RegistryOptions
from dockwright.solve.cachetransfer import (
    CONFIG_MEDIA_TYPE,
    CacheRecord,
    CacheSpec,
    cache_layers,
    import_cache,
    needed_blobs,
    parse_cache_spec,
    read_cache_manifest,
    select_records,
    write_cache_image,
)
from dockwright.solve.commit import StepLayer
from dockwright.store import BlobSource, Store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockwright.image.reference import Reference
    from dockwright.registry import Client

LOCAL_NAME = "dockwright-buildcache:latest"

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``500MB``, ``2GB``, ``1.5g``, ``0``, ``4096``: bytes, with binary multiples (1 MB =
    1024 KB), as Docker's ``--keep-storage`` reads them. Bad text is a :class:`UsageError`."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(
            f"invalid size {text!r}", hint="use a number with an optional unit: 500MB, 2GB, 0"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass(frozen=True, slots=True)
class CacheTransfer:
    """The outcome of one ``--cache-from``/``--cache-to``: ``ok`` False means a warning
    (the build went on without it); ``message`` is the line to show."""

    spec: str
    ok: bool
    message: str
    digest: Digest | None = None


# -- import ----------------------------------------------------------------------------------


def import_caches(
    store: Store, specs: Sequence[str], options: RegistryOptions
) -> list[CacheTransfer]:
    """Import every ``--cache-from`` spec into the store's build cache (call it inside the
    build's ``store.session()``, before the build). Unusable sources become warnings;
    a malformed spec raises :class:`UsageError`."""
    parsed = [(text, parse_cache_spec(text, export=False)) for text in specs]
    out: list[CacheTransfer] = []
    for text, spec in parsed:
        try:
            if spec.kind == "registry":
                out.append(_import_registry(store, text, spec, options))
            else:
                out.append(_import_local(store, text, spec))
        except DockwrightError as exc:
            out.append(CacheTransfer(text, False, f"cannot import cache {text}: {exc.message}"))
    return out


def _imported(text: str, store: Store, source: BlobSource, records: list[CacheRecord]) -> str:
    report = import_cache(store, source, records)
    line = (
        f"imported cache {text}: {report.records} record(s), "
        f"{report.layers_fetched} layer(s) ({report.bytes_fetched} bytes)"
    )
    if report.skipped:
        line += f", {len(report.skipped)} record(s) skipped (blob missing or corrupt)"
    return line


def _import_local(store: Store, text: str, spec: CacheSpec) -> CacheTransfer:
    from dockwright.publish import read_oci_layout  # noqa: PLC0415

    source, root = read_oci_layout(Path(spec.where), LOCAL_NAME)
    records = read_cache_manifest(source, root)
    return CacheTransfer(text, True, _imported(text, store, source, records), root.digest)


def _import_registry(
    store: Store, text: str, spec: CacheSpec, options: RegistryOptions
) -> CacheTransfer:
    from dockwright.image.reference import Reference  # noqa: PLC0415
    from dockwright.registry import Client  # noqa: PLC0415

    ref = Reference.parse(spec.where)
    with Client(options) as client:
        root, data = client.get_manifest(ref)
        if root.is_index:
            raise PublishError(f"{spec.where} is an image index, not a dockwright build cache")
        store.put_bytes(data, root.digest)
        manifest = Manifest.from_bytes(data, root.media_type)
        if manifest.config.media_type != CONFIG_MEDIA_TYPE:
            raise PublishError(
                f"{spec.where} is not a dockwright build cache (config media type "
                f"{manifest.config.media_type})"
            )
        _fetch(client, ref, store, manifest.config)
        records = read_cache_manifest(store, root)
        # The compressed blobs land in the store, are unpacked beside, and go at next prune.
        for blob in needed_blobs(store, records):
            _fetch(client, ref, store, blob)
    return CacheTransfer(text, True, _imported(text, store, store, records), root.digest)


def _fetch(client: Client, ref: Reference, store: Store, desc: Descriptor) -> None:
    if store.has(desc.digest):
        return
    with store.ingest() as writer:
        client.fetch_blob(ref, desc, writer, verify=False)
        writer.commit(desc.digest)


# -- export ----------------------------------------------------------------------------------


def export_cache(
    store: Store,
    specs: Sequence[str],
    records: Sequence[tuple[str, StepLayer]],
    result_root: Descriptor | None,
    options: RegistryOptions,
) -> list[CacheTransfer]:
    """Export the build's cache records (``Builder.records``) to every ``--cache-to`` spec
    (call it inside the build's ``store.session()``, after the build). ``result_root`` is
    the built image (for ``mode=min``). A failure raises, unless the spec has
    ``ignore-error=true``; then it is a warning."""
    parsed = [(text, parse_cache_spec(text, export=True)) for text in specs]
    out: list[CacheTransfer] = []
    for text, spec in parsed:
        try:
            out.append(
                _export_one(
                    store,
                    text,
                    spec=spec,
                    records=records,
                    result_root=result_root,
                    options=options,
                )
            )
        except DockwrightError as exc:
            if not spec.ignore_error:
                raise
            out.append(CacheTransfer(text, False, f"cannot export cache {text}: {exc.message}"))
    return out


def _export_one(
    store: Store,
    text: str,
    *,
    spec: CacheSpec,
    records: Sequence[tuple[str, StepLayer]],
    result_root: Descriptor | None,
    options: RegistryOptions,
) -> CacheTransfer:
    chosen = select_records(store, records, result_root, spec.mode)
    exported = _compressed(store, cache_layers(chosen), spec.compression)
    root = write_cache_image(store, chosen, exported)
    if spec.kind == "registry":
        from dockwright.image.reference import Reference  # noqa: PLC0415
        from dockwright.registry import Client, push  # noqa: PLC0415

        with Client(options) as client:
            result = push(client, store, root, Reference.parse(spec.where))
        where = f"{spec.where}@{result.digest}"
    else:
        from dockwright.publish import publish_oci_layout  # noqa: PLC0415

        dest = Path(spec.where)
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PublishError(f"cannot create cache folder {dest}: {exc.strerror}") from exc
        publish_oci_layout(store, root, dest, tags=[LOCAL_NAME], tar=False)
        where = str(dest)
    layers = len(cache_layers(chosen))
    message = f"exported cache to {where}: {len(chosen)} record(s), {layers} layer(s)"
    return CacheTransfer(text, True, message, root.digest)


def _compressed(
    store: Store, layers: list[Descriptor], compression: str
) -> dict[Digest, Descriptor]:
    """Each layer's travelling blob, compressed (and remembered) as ``push`` does."""
    if compression == "uncompressed" or not layers:
        return {}
    from dockwright.image import mediatypes as mt  # noqa: PLC0415
    from dockwright.image.model import descriptor_for  # noqa: PLC0415
    from dockwright.publish.convert import compress_layers, parse_compression  # noqa: PLC0415

    # compress_layers works on a manifest: a scratch one lists the layers (it is garbage
    # after this, for the next prune).
    config = canonical_json({"version": 1, "records": {}})
    store.put_bytes(config)
    scratch = Manifest(config=descriptor_for(CONFIG_MEDIA_TYPE, config), layers=tuple(layers))
    data = scratch.to_bytes()
    store.put_bytes(data)
    level = 1 if compression == "gzip" else None
    done = compress_layers(
        store, descriptor_for(mt.OCI_MANIFEST, data), parse_compression(compression), level
    )
    converted = Manifest.from_bytes(store.read(done.digest), done.media_type)
    return {before.digest: after for before, after in zip(layers, converted.layers, strict=True)}
