"""``dockwright package``: arguments → :func:`dockwright.prebuilt.package.package` → output."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from dockwright.cli.bases import open_base
from dockwright.cli.render import EventPrinter, human_size
from dockwright.errors import PublishError, UsageError
from dockwright.image.layer import source_date_epoch
from dockwright.image.platform import host_platform, parse_platforms
from dockwright.prebuilt.gotool import GoOptions
from dockwright.prebuilt.includes import parse_include
from dockwright.prebuilt.package import PackageOptions, package
from dockwright.publish import OutputSpec, parse_output, publish
from dockwright.store import Store, normalize_tag


def _key_values(items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid {flag} {item!r}", hint=f"use {flag} KEY=VALUE")
        out[key] = value
    return out


def _words(text: str | None, flag: str) -> tuple[str, ...] | None:
    """A JSON array (exec form) or shell-like words."""
    if text is None:
        return None
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except ValueError as exc:
            raise UsageError(f"{flag}: invalid JSON array: {exc}") from exc
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{flag}: the JSON form must be an array of strings")
        return tuple(value)
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from exc


def _annotations(items: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    manifest: dict[str, str] = {}
    index: dict[str, str] = {}
    for key, value in _key_values(items, "--annotation").items():
        scope, sep, name = key.partition(":")
        if sep and scope in ("index", "manifest") and name:
            (index if scope == "index" else manifest)[name] = value
        else:
            manifest[key] = value
    return manifest, index


def _preflight(spec: OutputSpec) -> None:
    """Refuse an output that cannot be written before minutes of compiling, not after."""
    dest = spec.dest
    if dest is None:
        return
    if not spec.tar and dest.is_dir():
        folder = dest
    elif dest.is_dir():
        raise PublishError(
            f"cannot write {dest}: it is a directory",
            hint="give a file name, or tar=false to write a layout folder",
        )
    else:
        folder = dest.parent
        if not folder.is_dir():
            raise PublishError(
                f"cannot write {dest}: directory {folder} does not exist",
                hint=f"create it first (mkdir -p {folder}) or choose another dest",
            )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PublishError(
            f"cannot write {dest}: no write permission in {folder}", hint="choose another dest"
        )


def _options(args: argparse.Namespace) -> PackageOptions:
    platform_text = ",".join(args.platform) or os.environ.get("DOCKER_DEFAULT_PLATFORM", "")
    platforms = tuple(parse_platforms(platform_text)) if platform_text else (host_platform(),)
    cmd = _words(args.cmd, "--cmd")
    if args.args:
        if cmd is not None:
            raise UsageError("give default arguments either with --cmd or after --, not both")
        cmd = tuple(args.args)
    manifest_ann, index_ann = _annotations(args.annotation)
    epoch_text = os.environ.get("SOURCE_DATE_EPOCH", "")
    return PackageOptions(
        path=Path(args.path),
        platforms=platforms,
        go=GoOptions(
            go=args.go,
            cgo=args.cgo,
            trimpath=not args.no_trimpath,
            strip=not args.no_strip,
            ldflags=args.ldflags,
            tags=args.go_tags,
            buildvcs=args.buildvcs,
        ),
        entrypoint=_words(args.entrypoint, "--entrypoint"),
        cmd=cmd,
        env=_key_values(args.env, "--env"),
        labels=_key_values(args.label, "--label"),
        annotations=manifest_ann,
        index_annotations=index_ann,
        user=args.user if args.user is not None else "65532:65532",
        workdir=args.workdir,
        expose=tuple(args.expose),
        includes=tuple(parse_include(i) for i in args.include),
        binary_path=args.binary_path,
        vcs=not args.no_vcs_labels,
        source_date_epoch=source_date_epoch() if epoch_text.strip() else None,
        compression=args.compression,
        compression_level=args.compression_level,
        force_index=args.index,
    )


def run_package(args: argparse.Namespace) -> int:
    """Run ``dockwright package``."""
    options = _options(args)
    tags = [normalize_tag(t) for t in args.tag]
    spec = parse_output(args.output) if args.output else None
    if spec is not None:
        _preflight(spec)
    store = Store.open()
    base = open_base(args.base, store)
    printer = EventPrinter(sys.stderr, quiet=args.quiet)
    result = package(options, base, store, tags=tags, emit=printer)
    if not tags:
        from dockwright.prebuilt.gotool import locate_main_package  # noqa: PLC0415

        default = normalize_tag(locate_main_package(options.path).binary_name)
        store.tag(default, result.root)
        tags = [default]
    published = None
    if spec is not None and spec.kind != "store":
        wanted = spec.extra.get("platform")
        published = publish(
            spec,
            store,
            result.root,
            tags,
            store=store,
            platform=parse_platforms(wanted)[0] if wanted else None,
        )
    if args.iidfile:
        try:
            Path(args.iidfile).write_text(str(result.root.digest), encoding="utf-8")
        except OSError as exc:
            raise PublishError(f"cannot write --iidfile {args.iidfile}: {exc.strerror}") from exc
    if args.quiet:
        print(result.root.digest)
        return 0
    for image in result.images:
        state = "compiled" if image.compiled else "unchanged"
        layer = "reused" if image.layer_reused else "new"
        print(
            f"{image.platform!s:<14} {image.manifest.digest.short}  binary "
            f"{human_size(image.binary_size)} ({state}), layer "
            f"{human_size(image.layer.size)} ({layer})"
        )
    kind = "index" if result.root.is_index else "image"
    print(f"{kind} {result.root.digest}")
    for tag in tags:
        print(f"tagged {tag} in {store.root}")
    if published is not None:
        print(f"wrote {published.kind} {published.dest}")
        for note in published.notes:
            print(f"note: {note}")
    return 0
