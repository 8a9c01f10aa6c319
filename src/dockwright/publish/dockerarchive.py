"""docker-archive tars (``docker save`` format) as an output and as an input.

The output holds ``manifest.json`` and ``repositories`` for ``docker load`` of every Docker
version, plus an OCI layout (``oci-layout``, ``index.json``, ``blobs/``) as Docker 25+
writes, so containerd-based loaders find the image too. Layers stay as stored (gzip is
fine: ``docker load`` and skopeo decompress on the fly).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dockwright.errors import DockwrightError, PublishError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, ImageConfig, Index, Manifest, canonical_json
from dockwright.image.platform import Platform, best_match, host_platform
from dockwright.publish._output import DeterministicTar, atomic_file
from dockwright.publish.ocilayout import OCI_LAYOUT_BYTES, index_entries
from dockwright.publish.result import PublishResult
from dockwright.publish.sources import OverlaySource, TarSource, blob_name
from dockwright.store import BlobSource, normalize_tag, split_tag
from dockwright.store.graph import walk

_ATTESTATION = "attestation-manifest"
_CHUNK = 1 << 20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _is_image_entry(desc: Descriptor) -> bool:
    if not desc.is_manifest or desc.platform is None:
        return False
    if desc.annotations.get("vnd.docker.reference.type") == _ATTESTATION:
        return False
    return desc.platform.os != "unknown"


def select_platform(
    source: BlobSource, root: Descriptor, platform: Platform | None
) -> tuple[Descriptor, tuple[str, ...]]:
    """The single-platform manifest to export, and a note when an index was narrowed.

    For an index, the best match for ``platform`` (default: this machine's) is chosen;
    :class:`PublishError` lists the platforms available when none fits.
    """
    if root.is_manifest:
        return root, ()
    if not root.is_index:
        raise PublishError(f"{root.digest} is a {root.media_type}, not an image or an index")
    try:
        index = Index.from_bytes(source.read(root.digest), root.media_type)
    except DockwrightError as exc:
        raise PublishError(f"cannot read the image index {root.digest}: {exc}") from exc
    candidates = [d for d in index.manifests if _is_image_entry(d)]
    platforms = [d.platform for d in candidates if d.platform is not None]
    shown = ", ".join(str(p) for p in platforms)
    if not candidates:
        raise PublishError(f"the image index {root.digest} names no platform images")
    wanted = platform or host_platform()
    chosen = best_match(wanted, platforms)
    if chosen is None:
        raise PublishError(
            f"the image has no {wanted} variant (it has {shown})",
            hint="choose one of those with --platform",
        )
    notes: tuple[str, ...] = ()
    if len(candidates) > 1:
        notes = (f"docker-archive holds one platform: {platforms[chosen]} (of {shown})",)
    return candidates[chosen], notes


def publish_docker_archive(
    source: BlobSource,
    root: Descriptor,
    dest: Path,
    *,
    tags: Sequence[str],
    platform: Platform | None,
) -> PublishResult:
    """Write a docker-archive tar of ``root`` (one platform of an index) to ``dest``.

    ``RepoTags`` are the normalised tags (``hello:1``). Output is deterministic and
    written atomically; unwritable destinations raise :class:`PublishError`.
    """
    dest = Path(dest)
    manifest_desc, notes = select_platform(source, root, platform)
    try:
        manifest = Manifest.from_bytes(source.read(manifest_desc.digest), manifest_desc.media_type)
        closure = walk(source, manifest_desc)
    except DockwrightError as exc:
        raise PublishError(f"cannot publish {manifest_desc.digest}: {exc}") from exc
    names = list(dict.fromkeys(normalize_tag(t) for t in tags))
    archive = DeterministicTar()
    for desc in closure:
        archive.add_dir("blobs")
        archive.add_dir(f"blobs/{desc.digest.algorithm}")
        archive.add_blob(blob_name(desc.digest), source, desc)
    docker_manifest = [
        {
            "Config": blob_name(manifest.config.digest),
            "RepoTags": names,
            "Layers": [blob_name(layer.digest) for layer in manifest.layers],
        }
    ]
    archive.add_bytes("manifest.json", canonical_json(docker_manifest))
    if names and manifest.layers:
        repositories: dict[str, dict[str, str]] = {}
        for name in names:
            repository, tag = split_tag(name)
            repositories.setdefault(repository, {})[tag] = manifest.layers[-1].digest.hex
        archive.add_bytes("repositories", canonical_json(repositories))
    entries = index_entries(manifest_desc, names)
    archive.add_bytes("index.json", canonical_json(Index(tuple(entries)).to_json()))
    archive.add_bytes("oci-layout", OCI_LAYOUT_BYTES)
    with atomic_file(dest) as out:
        archive.write_to(out)
    return PublishResult(kind="docker", dest=str(dest), digest=manifest_desc.digest, notes=notes)


def _layer_media_type(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return mt.OCI_LAYER_GZIP
    if head.startswith(_ZSTD_MAGIC):
        return mt.OCI_LAYER_ZSTD
    return mt.OCI_LAYER


def _load_manifest_json(tar: TarSource) -> list[dict[str, Any]]:
    if not tar.has_file("manifest.json"):
        raise PublishError(
            f"{tar.path} is not a docker-archive: it has no manifest.json",
            hint="for an OCI archive use oci-archive: / an OCI layout instead",
        )
    try:
        entries = json.loads(tar.read_file("manifest.json"))
    except ValueError as exc:
        raise PublishError(f"{tar.path}: manifest.json is not valid JSON: {exc}") from exc
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("Config"), str) for e in entries
    ):
        raise PublishError(f"{tar.path}: manifest.json is not a list of images")
    return entries


def _familiar(name: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    try:
        return normalize_tag(name)
    except DockwrightError:
        return name


def _select_image(entries: list[dict[str, Any]], tag: str | None, path: Path) -> dict[str, Any]:
    tags_of = [[str(t) for t in (e.get("RepoTags") or [])] for e in entries]
    available = ", ".join(t for ts in tags_of for t in ts) or "untagged images only"
    if not entries:
        raise PublishError(f"{path} holds no images")
    if tag is None:
        if len(entries) == 1:
            return entries[0]
        raise PublishError(
            f"{path} holds {len(entries)} images", hint=f"choose one of: {available}"
        )
    wanted = _familiar(tag)
    for entry, tags in zip(entries, tags_of, strict=True):
        if any(_familiar(t) == wanted for t in tags):
            return entry
    raise PublishError(f"no image {tag!r} in {path}", hint=f"available: {available}")


def _hash_member(tar: TarSource, name: str) -> tuple[Digest, int, bytes]:
    hasher = Digest.of(b"").hasher()
    size = 0
    head = b""
    with tar.open_file(name) as stream:
        while chunk := stream.read(_CHUNK):
            if not head:
                head = chunk[:4]
            hasher.update(chunk)
            size += len(chunk)
    return Digest.from_hasher(hasher), size, head


def _original_manifest(tar: TarSource, config: Digest) -> Descriptor | None:
    # Docker 25+ archives carry the image's own manifest; keep it (and its digest).
    if not tar.has_file("index.json"):
        return None
    try:
        pending = list(Index.from_bytes(tar.read_file("index.json")).manifests)
        while pending:
            desc = pending.pop(0)
            if not tar.has(desc.digest):
                continue
            if desc.is_index:
                pending.extend(Index.from_bytes(tar.read(desc.digest), desc.media_type).manifests)
            elif desc.is_manifest:
                manifest = Manifest.from_bytes(tar.read(desc.digest), desc.media_type)
                blobs = [manifest.config, *manifest.layers]
                if manifest.config.digest == config and all(tar.has(b.digest) for b in blobs):
                    return desc
    except DockwrightError:
        return None
    return None


def read_docker_archive(path: Path, tag: str | None) -> tuple[BlobSource, Descriptor]:
    """Open a docker-archive tar (any ``docker save`` format, or skopeo's) as a base image.

    Selects the image tagged ``tag`` (or the only one) and returns a source and an OCI
    manifest descriptor for it: the archive's own manifest when it carries an OCI layout,
    else one built here (config as is, layers as stored, typed by their compression).
    """
    path = Path(path)
    if not path.is_file():
        raise PublishError(
            f"{path} does not exist or is not a file", hint="give a docker save tar file"
        )
    tar = TarSource(path)
    image = _select_image(_load_manifest_json(tar), tag, path)
    try:
        config_name = image["Config"]
        config_digest, config_size, _ = _hash_member(tar, config_name)
        tar.digests.setdefault(config_digest, config_name)
        original = _original_manifest(tar, config_digest)
        if original is not None:
            return tar, original
        config = ImageConfig.from_bytes(tar.read_file(config_name))
        layers: list[Descriptor] = []
        for name in image.get("Layers") or []:
            digest, size, head = _hash_member(tar, str(name))
            tar.digests.setdefault(digest, str(name))
            layers.append(Descriptor(_layer_media_type(head), digest, size))
    except (DockwrightError, KeyError) as exc:
        message = exc.message if isinstance(exc, DockwrightError) else f"missing {exc}"
        raise PublishError(f"{path} is not a usable docker-archive: {message}") from exc
    if len(layers) != len(config.diff_ids):
        raise PublishError(
            f"{path}: the image has {len(layers)} layers but its config lists "
            f"{len(config.diff_ids)} diff IDs"
        )
    manifest = Manifest(
        config=Descriptor(mt.OCI_CONFIG, config_digest, config_size), layers=tuple(layers)
    )
    data = manifest.to_bytes()
    plat = config.platform if config.os and config.architecture else None
    root = Descriptor(mt.OCI_MANIFEST, Digest.of(data), len(data), platform=plat)
    return OverlaySource(tar, {root.digest: data}), root
