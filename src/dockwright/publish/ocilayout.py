"""OCI image layouts as outputs (a folder or a deterministic tar) and as inputs."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dockwright.errors import DockwrightError, ImageFormatError, PublishError
from dockwright.image import mediatypes as mt
from dockwright.image.model import Descriptor, Index, canonical_json
from dockwright.publish._output import (
    DeterministicTar,
    atomic_file,
    check_parent,
    write_failed,
)
from dockwright.publish.result import PublishResult
from dockwright.publish.sources import LayoutDirSource, TarSource, blob_name
from dockwright.store import BlobSource, normalize_tag, qualified_name, split_tag
from dockwright.store.graph import copy_blob, walk

ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"
OCI_LAYOUT_BYTES = canonical_json({"imageLayoutVersion": "1.0.0"})
_NAME_KEYS = (mt.ANNOTATION_REF_NAME, ANNOTATION_CONTAINERD_NAME)


def index_entries(root: Descriptor, tags: Sequence[str]) -> list[Descriptor]:
    """``root`` once per tag, annotated as buildx does (ref.name = the tag part,
    io.containerd.image.name = the qualified name); one bare entry without tags."""
    bare = replace(
        root, annotations={k: v for k, v in root.annotations.items() if k not in _NAME_KEYS}
    )
    entries: list[Descriptor] = []
    seen: set[str] = set()
    for tag in tags:
        name = normalize_tag(tag)
        if name in seen:
            continue
        seen.add(name)
        entries.append(
            bare.with_annotations(
                {
                    mt.ANNOTATION_REF_NAME: split_tag(name)[1],
                    ANNOTATION_CONTAINERD_NAME: qualified_name(name),
                }
            )
        )
    return entries or [bare]


def _closure(source: BlobSource, root: Descriptor) -> list[Descriptor]:
    try:
        return walk(source, root)
    except DockwrightError as exc:
        raise PublishError(f"cannot publish {root.digest}: {exc}") from exc


def publish_oci_layout(
    source: BlobSource, root: Descriptor, dest: Path, *, tags: Sequence[str], tar: bool
) -> PublishResult:
    """Write ``root``'s closure as an OCI image layout: a tar file (``tar=True``) or a folder.

    The tar has sorted entries with zero times and owners, so equal inputs give equal bytes;
    it is written beside ``dest`` and renamed into place. A folder is created (its parent
    must exist) or, if it already is a layout, merged into: entries under other names stay.
    """
    dest = Path(dest)
    closure = _closure(source, root)
    entries = index_entries(root, tags)
    if tar:
        archive = DeterministicTar()
        for desc in closure:
            archive.add_dir("blobs")
            archive.add_dir(f"blobs/{desc.digest.algorithm}")
            archive.add_blob(blob_name(desc.digest), source, desc)
        archive.add_bytes("index.json", canonical_json(Index(tuple(entries)).to_json()))
        archive.add_bytes("oci-layout", OCI_LAYOUT_BYTES)
        with atomic_file(dest) as out:
            archive.write_to(out)
    else:
        _write_layout_dir(source, closure, entries, dest)
    return PublishResult(kind="oci", dest=str(dest), digest=root.digest)


def _write_layout_dir(
    source: BlobSource, closure: list[Descriptor], entries: list[Descriptor], dest: Path
) -> None:
    created = False
    existing: tuple[Descriptor, ...] = ()
    if dest.exists():
        if not dest.is_dir():
            raise PublishError(
                f"cannot write an OCI layout folder at {dest}: it is a file",
                hint="remove it, choose another dest, or use tar=true to write a tar file",
            )
        if (dest / "oci-layout").exists():
            existing = _read_index(dest).manifests
        elif any(dest.iterdir()):
            raise PublishError(
                f"cannot write an OCI layout into {dest}: the folder is not empty and is not "
                "an OCI layout",
                hint="choose an empty or new folder",
            )
    else:
        check_parent(dest)
        try:
            dest.mkdir()
        except OSError as exc:
            raise write_failed(dest, exc) from exc
        created = True
    written: list[Path] = []
    try:
        for desc in closure:
            if _write_blob(source, desc, dest):
                written.append(dest / blob_name(desc.digest))
        _replace_file(dest, "oci-layout", OCI_LAYOUT_BYTES)
        names = {d.annotations.get(ANNOTATION_CONTAINERD_NAME) for d in entries}
        refs = {d.annotations.get(mt.ANNOTATION_REF_NAME) for d in entries}
        kept = [
            d
            for d in existing
            if not (
                d.annotations.get(ANNOTATION_CONTAINERD_NAME) in names
                and d.annotations.get(mt.ANNOTATION_REF_NAME) in refs
            )
            and d not in entries
        ]
        index = Index((*kept, *entries))
        _replace_file(dest, "index.json", canonical_json(index.to_json()))
    except BaseException as exc:
        # index.json is written last, so removing what we added restores the old layout.
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for path in written:
                path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_failed(dest, exc) from exc
        raise


def _write_blob(source: BlobSource, desc: Descriptor, dest: Path) -> bool:
    target = dest / blob_name(desc.digest)
    if target.is_file() and target.stat().st_size == desc.size:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".dockwright-", suffix=".tmp", dir=dest)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            copy_blob(source, desc, out.write)
            out.flush()
            os.fsync(out.fileno())
        temp.chmod(0o644)
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
    return True


def _replace_file(dest: Path, name: str, data: bytes) -> None:
    fd, temp_name = tempfile.mkstemp(prefix=".dockwright-", suffix=".tmp", dir=dest)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        temp.chmod(0o644)
        temp.replace(dest / name)
    finally:
        temp.unlink(missing_ok=True)


def _read_index(path: Path) -> Index:
    index_path = path / "index.json"
    try:
        data = index_path.read_bytes()
    except FileNotFoundError:
        return Index(())
    except OSError as exc:
        raise PublishError(f"cannot read {index_path}: {exc.strerror or exc}") from exc
    try:
        return Index.from_bytes(data)
    except ImageFormatError as exc:
        raise PublishError(f"{index_path} is not a valid OCI index: {exc.message}") from exc


def _entry_names(desc: Descriptor) -> list[str]:
    return [desc.annotations[k] for k in _NAME_KEYS if k in desc.annotations]


def select_entry(entries: Sequence[Descriptor], ref: str | None, where: Path) -> Descriptor:
    """Pick the index entry ``ref`` names (full name or tag part), or the only entry."""
    if not entries:
        raise PublishError(f"the OCI layout {where} holds no images")
    available = sorted({n for d in entries for n in _entry_names(d)}) or [
        str(d.digest) for d in entries
    ]
    if ref is None:
        if len({d.digest for d in entries}) == 1:
            return entries[0]
        raise PublishError(
            f"the OCI layout {where} holds several images: {', '.join(available)}",
            hint=f"choose one, e.g. {where}:{available[0]}",
        )
    candidates = [d for d in entries if ref in _entry_names(d)]
    if not candidates:
        with contextlib.suppress(DockwrightError):
            full, tag = qualified_name(ref), split_tag(ref)[1]
            candidates = [
                d for d in entries if d.annotations.get(ANNOTATION_CONTAINERD_NAME) == full
            ] or [d for d in entries if d.annotations.get(mt.ANNOTATION_REF_NAME) == tag]
    if not candidates:
        raise PublishError(
            f"no image {ref!r} in {where}", hint=f"available: {', '.join(available)}"
        )
    if len({d.digest for d in candidates}) > 1:
        raise PublishError(
            f"{ref!r} names several images in {where}",
            hint=f"use a full name; available: {', '.join(available)}",
        )
    return candidates[0]


def _strip_names(desc: Descriptor) -> Descriptor:
    return replace(
        desc, annotations={k: v for k, v in desc.annotations.items() if k not in _NAME_KEYS}
    )


def read_oci_layout(path: Path, ref: str | None) -> tuple[BlobSource, Descriptor]:
    """Open an OCI layout folder or OCI archive tar and select its image named ``ref``.

    ``ref`` may be the full name (``hello:1``, ``docker.io/library/hello:1``) or the tag
    part (``1``); with ``None`` the layout must hold one image. The returned descriptor has
    its name annotations removed. Problems raise :class:`PublishError` saying what to do.
    """
    path = Path(path)
    source: LayoutDirSource | TarSource
    if path.is_dir():
        if not (path / "oci-layout").is_file():
            raise PublishError(
                f"{path} is not an OCI image layout: it has no oci-layout file",
                hint="give a folder written by buildx/skopeo/dockwright with type=oci",
            )
        source = LayoutDirSource(path)
        index = _read_index(path)
    elif path.is_file():
        tar_source = TarSource(path)
        source = tar_source
        if not tar_source.has_file("index.json"):
            raise PublishError(
                f"{path} is not an OCI archive: it has no index.json",
                hint="for a docker save archive use docker-archive: instead",
            )
        try:
            index = Index.from_bytes(tar_source.read_file("index.json"))
        except ImageFormatError as exc:
            raise PublishError(f"{path}: index.json is invalid: {exc.message}") from exc
    else:
        raise PublishError(f"{path} does not exist", hint="check the path of the OCI layout")
    entry = select_entry(index.manifests, ref, path)
    if not source.has(entry.digest):
        raise PublishError(f"{path} lacks the blob {entry.digest} its index.json names")
    return source, _strip_names(entry)
