"""``dockwright package``: arguments → :func:`dockwright.prebuilt.package.package` → output."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from dockwright.errors import NotFoundError, PublishError, RegistryError, UsageError
from dockwright.image.platform import Platform, host_platform, parse_platforms
from dockwright.prebuilt import gotool
from dockwright.prebuilt.includes import parse_include

TYPE_CHECKING = False  # typing itself is not worth its import time here
if TYPE_CHECKING:
    from dockwright.image.model import Descriptor
    from dockwright.prebuilt.package import PackageOptions
    from dockwright.publish import OutputSpec

# Only light modules are imported above: `go build` starts before the rest is loaded, so the
# compiler runs while Python imports the store, the publishers and the image model.


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


def _platforms(args: argparse.Namespace) -> tuple[Platform, ...]:
    text = ",".join(args.platform) or os.environ.get("DOCKER_DEFAULT_PLATFORM", "")
    return tuple(parse_platforms(text)) if text else (host_platform(),)


def _go_options(args: argparse.Namespace) -> gotool.GoOptions:
    return gotool.GoOptions(
        go=args.go,
        cgo=args.cgo,
        trimpath=not args.no_trimpath,
        strip=not args.no_strip,
        ldflags=args.ldflags,
        tags=args.go_tags,
        buildvcs=args.buildvcs,
    )


def _start_builds(
    args: argparse.Namespace, platforms: tuple[Platform, ...], folder: Path
) -> dict[str, gotool.GoBuild]:
    """Start `go build` for every platform now; the packager adopts or cancels them."""
    options = _go_options(args)
    go = gotool.find_go(options.go)
    pkg = gotool.locate_main_package(Path(args.path))
    gotool.check_main_package(pkg)
    return {
        str(plat): gotool.start_build(
            go,
            pkg,
            plat,
            gotool.binary_file(folder, plat),
            options=options,
            base_env=os.environ,
        )
        for plat in platforms
    }


def _options(args: argparse.Namespace, platforms: tuple[Platform, ...]) -> PackageOptions:
    from dockwright.image.layer import source_date_epoch  # noqa: PLC0415
    from dockwright.prebuilt.package import PackageOptions  # noqa: PLC0415

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
        go=_go_options(args),
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
        force_index=args.index,
    )


def run_package(args: argparse.Namespace) -> int:
    """Run ``dockwright package``."""
    platforms = _platforms(args)
    # Not tempfile: its import (shutil, random) would delay the compiler's start.
    folder = (
        Path(os.environ.get("TMPDIR", "/tmp"))
        / f"dockwright-go-{os.getpid()}-{os.urandom(6).hex()}"
    )
    folder.mkdir(mode=0o700)
    builds: dict[str, gotool.GoBuild] = {}
    try:
        builds = _start_builds(args, platforms, folder)
        return _package(args, platforms, builds)
    finally:
        for build in builds.values():
            build.cancel()
        import shutil  # noqa: PLC0415

        shutil.rmtree(folder, ignore_errors=True)


def _package(
    args: argparse.Namespace, platforms: tuple[Platform, ...], builds: dict[str, gotool.GoBuild]
) -> int:
    # The heavy modules, loaded while the early builds compile.
    from dockwright.cli.bases import open_base  # noqa: PLC0415
    from dockwright.cli.render import EventPrinter, human_size  # noqa: PLC0415
    from dockwright.prebuilt.package import package  # noqa: PLC0415
    from dockwright.publish import parse_output, publish  # noqa: PLC0415
    from dockwright.store import Store, normalize_tag  # noqa: PLC0415

    options = _options(args, platforms)
    tags = [normalize_tag(t) for t in args.tag]
    spec = parse_output(args.output) if args.output else None
    if spec is not None:
        _preflight(spec)
    store = Store.open()
    if args.push and not tags:
        raise UsageError("--push needs at least one -t registry/repository:tag to push to")

    def pull_base(name: str) -> Descriptor:
        from dockwright.cli.progress import BlobProgress  # noqa: PLC0415
        from dockwright.cli.registry_cmds import pull_into_store, registry_options  # noqa: PLC0415
        from dockwright.image.reference import Reference  # noqa: PLC0415

        try:
            return pull_into_store(
                Reference.parse(name),
                store,
                registry_options(args),
                platforms=platforms,
                all_platforms=False,
                progress=BlobProgress(sys.stderr, enabled=not args.quiet),
            )
        except RegistryError as exc:
            raise NotFoundError(
                f"base image {name!r} is not in the local store, and pulling it failed: "
                f"{exc.message}",
                hint=exc.hint or "use static, scratch, a tag from 'dockwright images' or a file",
            ) from exc

    with store.session():
        base = open_base(args.base, store, pull_base)
    printer = EventPrinter(sys.stderr, quiet=args.quiet)
    result = package(options, base, store, tags=tags, emit=printer, prestarted=builds)
    if args.push:
        from dockwright.cli.registry_cmds import push_tags  # noqa: PLC0415

        pushed = push_tags(args, store, result.root, tags)
    else:
        pushed = []
    if not tags:
        default = normalize_tag(gotool.locate_main_package(options.path).binary_name)
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
    final = published.digest if published is not None else result.root.digest
    if args.iidfile:
        try:
            Path(args.iidfile).write_text(str(final), encoding="utf-8")
        except OSError as exc:
            raise PublishError(f"cannot write --iidfile {args.iidfile}: {exc.strerror}") from exc
    if args.quiet:
        print(final)
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
    for name, digest in pushed:
        print(f"pushed {name} ({digest})")
    if published is not None:
        print(f"wrote {published.kind} {published.dest} ({published.digest})")
        for note in published.notes:
            print(f"note: {note}")
    return 0
