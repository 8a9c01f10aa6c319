"""``images``, ``rmi``, ``prune`` and ``save``: the local store from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dockwright.cli.render import human_size
from dockwright.image.model import Descriptor, Index, Manifest, parse_document
from dockwright.image.platform import Platform, parse_platforms
from dockwright.publish import OutputSpec, publish
from dockwright.store import Store, normalize_tag


def _summary(store: Store, desc: Descriptor) -> tuple[list[str], list[str], int]:
    """Platforms present, platforms of the index not pulled, and the total stored size
    (every distinct blob counted once)."""
    platforms: list[str] = []
    absent: list[str] = []
    doc = parse_document(store.read(desc.digest), desc.media_type)
    if isinstance(doc, Index):
        for entry in doc.manifests:
            if entry.platform is not None and entry.is_manifest:
                present = store.has(entry.digest)
                (platforms if present else absent).append(str(entry.platform))
    elif isinstance(doc, Manifest):
        from dockwright.image.model import ImageConfig  # noqa: PLC0415

        config = ImageConfig.from_bytes(store.read(doc.config.digest))
        platforms.append(str(Platform(config.os, config.architecture, config.variant)))
    size = sum(d.size for d in store.walk(desc))
    return platforms, absent, size


def run_images(args: argparse.Namespace) -> int:
    """List tags with digest, platforms and size."""
    store = Store.open()
    rows = [(name, desc, *_summary(store, desc)) for name, desc in store.tags()]
    if args.format == "json":
        listing = [
            {
                "name": name,
                "digest": str(desc.digest),
                "platforms": plats,
                "platforms_not_pulled": absent,
                "size": size,
            }
            for name, desc, plats, absent, size in rows
        ]
        print(json.dumps(listing, indent=2))
        return 0
    if args.quiet:
        for name, *_ in rows:
            print(name)
        return 0
    print(f"{'NAME':<40} {'DIGEST':<14} {'SIZE':>9}  PLATFORMS")
    for name, desc, plats, absent, size in rows:
        shown = ", ".join(plats) + (f" (+{len(absent)} not pulled)" if absent else "")
        print(f"{name:<40} {desc.digest.short:<14} {human_size(size):>9}  {shown}")
    return 0


def run_rmi(args: argparse.Namespace) -> int:
    """Remove tags (and, with --prune, the blobs nothing references any more)."""
    store = Store.open()
    for tag in args.tags:
        desc = store.untag(tag)
        print(f"untagged {normalize_tag(tag)} ({desc.digest})")
    if args.prune:
        return run_prune(argparse.Namespace(repair=False))
    return 0


def run_prune(args: argparse.Namespace) -> int:
    """Drop unreferenced blobs (and corrupt ones with --repair), keeping the build cache's
    layers; trim the build cache to --keep-storage SIZE, or empty it with --build-cache/--all.
    """
    from dockwright.solve.cache_prune import BuildCacheTrimmer  # noqa: PLC0415

    keep_storage: int | None = None
    text = getattr(args, "keep_storage", None)
    if text is not None:
        from dockwright.cli.build_cache import parse_size  # noqa: PLC0415

        keep_storage = parse_size(text)
    if getattr(args, "build_cache", False) or getattr(args, "all", False):
        keep_storage = 0
    store = Store.open()
    snapshotter = None
    if keep_storage is not None and (store.root / "snapshots").is_dir():
        from dockwright.snapshot import open_snapshotter  # noqa: PLC0415

        snapshotter = open_snapshotter(store.root / "snapshots")
    trimmer = BuildCacheTrimmer(store, keep_storage=keep_storage, snapshotter=snapshotter)
    report = store.prune(repair=args.repair, keep=trimmer)
    trim = trimmer.report
    for digest in report.corrupt:
        print(f"removed corrupt blob {digest}")
    for tag in report.untagged:
        print(f"untagged {tag}: its image had corrupt or missing blobs")
    freed = report.freed_bytes + trim.freed_bytes
    print(f"removed {len(report.removed)} blobs, freed {human_size(freed)}")
    if keep_storage is not None:
        print(
            f"build cache: removed {trim.records_removed} records, {trim.layers_released} "
            f"layers, {trim.snapshots_removed} unpacked layers, {trim.cache_mounts_removed} "
            f"cache mounts; {human_size(trim.usage_before)} -> {human_size(trim.usage_after)}"
        )
    elif report.kept:
        print(f"kept {report.kept} build cache layers (trim them with --keep-storage SIZE)")
    return 0


def run_save(args: argparse.Namespace) -> int:
    """Write a stored image to an OCI archive or a docker-archive."""
    store = Store.open()
    tag = normalize_tag(args.tag)
    root = store.resolve(tag)
    spec = OutputSpec(kind=args.format, dest=Path(args.output), tar=True)
    platform = parse_platforms(args.platform)[0] if args.platform else None
    result = publish(spec, store, root, [tag], store=store, platform=platform)
    print(f"saved {tag} ({result.digest}) to {result.dest}")
    for note in result.notes:
        print(f"note: {note}")
    return 0
