"""The full ``dockwright build``: options → :class:`~dockwright.solve.builder.Builder` →
outputs, and the memo of the result for the next no-change rebuild (``build_cmd``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockwright.cli.build_cmd import write_result_files
from dockwright.errors import (
    DockwrightError,
    NotFoundError,
    RegistryError,
    UsageError,
)
from dockwright.image.platform import Platform, parse_platforms
from dockwright.solve.bases import BaseImage, image_in_store
from dockwright.solve.builder import Builder, BuildResult
from dockwright.solve.options import BuildOptions, SecretSource
from dockwright.store import Store, normalize_tag

if TYPE_CHECKING:
    from dockwright.cli.build_cache import CacheTransfer
    from dockwright.cli.build_cmd import MemoPlan
    from dockwright.publish import PublishResult


def _pairs(items: list[str], flag: str, *, need_value: bool = True) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or (need_value and not sep):
            raise UsageError(f"{flag} {item!r}: expected KEY=VALUE")
        if not sep:
            env = os.environ.get(key)
            if env is None:
                continue
            value = env
        result[key] = value
    return result


def _secrets(items: list[str]) -> tuple[SecretSource, ...]:
    out: list[SecretSource] = []
    for item in items:
        fields = dict(part.partition("=")[::2] for part in item.split(",") if part)
        ident = fields.get("id")
        if not ident:
            raise UsageError(f"--secret {item!r}: id=NAME is required")
        src = fields.get("src") or fields.get("source")
        env = fields.get("env")
        kind = fields.get("type")
        if src is None and env is None:
            if kind == "env" or (kind is None and ident in os.environ and not Path(ident).exists()):
                env = ident
            else:
                src = ident
        if src is not None:
            path = Path(src).expanduser()
            if not path.is_file():
                raise UsageError(f"--secret id={ident}: file {src} does not exist")
            out.append(SecretSource(ident, path=path))
        else:
            if env not in os.environ:
                raise UsageError(f"--secret id={ident}: environment variable {env} is not set")
            out.append(SecretSource(ident, env=env))
    return tuple(out)


def _platforms(args: argparse.Namespace) -> tuple[Platform, ...]:
    found: list[Platform] = []
    for text in args.platform:
        found += parse_platforms(text)
    return tuple(found)


@dataclass
class _CliResolver:
    """FROM images: the store's tags first, else a pull from the image's registry."""

    store: Store
    args: argparse.Namespace
    quiet: bool
    resolved: dict[str, str] = field(default_factory=dict)

    def _stored(self, name: str, platform: Platform) -> BaseImage | None:
        from dockwright.store.reference import qualified_name  # noqa: PLC0415

        candidates = [name]
        with contextlib.suppress(DockwrightError):
            full = qualified_name(name)
            candidates.append(full)
            for prefix in ("docker.io/library/", "docker.io/"):
                if full.startswith(prefix):
                    candidates.append(full[len(prefix) :])
        for candidate in candidates:
            try:
                root = self.store.resolve(candidate)
            except DockwrightError:  # a name the store does not hold (or cannot spell)
                continue
            try:
                found = image_in_store(self.store, name, root, platform)
            except NotFoundError:
                continue
            self.resolved[normalize_tag(candidate)] = str(root.digest)
            return found
        return None

    def resolve(self, name: str, platform: Platform) -> BaseImage:
        found = self._stored(name, platform)
        if found is not None:
            return found
        from dockwright.cli.progress import BlobProgress  # noqa: PLC0415
        from dockwright.cli.registry_cmds import pull_into_store, registry_options  # noqa: PLC0415
        from dockwright.image.reference import Reference  # noqa: PLC0415

        try:
            root = pull_into_store(
                Reference.parse(name),
                self.store,
                registry_options(self.args),
                platforms=[platform],
                all_platforms=False,
                progress=BlobProgress(sys.stderr, enabled=not self.quiet),
            )
        except RegistryError as exc:
            raise NotFoundError(
                f"image {name!r} is not in the local store, and pulling it failed: {exc.message}",
                hint=exc.hint or "load it first: dockwright copy docker-archive:FILE store:NAME",
            ) from exc
        found = self._stored(name, platform)  # records the tag the pull wrote
        return found if found is not None else image_in_store(self.store, name, root, platform)


def _record(
    plan: MemoPlan, store: Store, builder: Builder, resolver: _CliResolver, result: BuildResult
) -> None:
    """Remember this build for the next no-change rebuild (see :mod:`dockwright.solve.memo`)."""
    from dockwright.solve import memo  # noqa: PLC0415

    if builder.remote_inputs or len(resolver.resolved) < builder.images_resolved:
        return
    blobs = [str(result.root.digest)] + [str(d.digest) for d in store.walk(result.root)]
    root: dict[str, object] = {
        "mediaType": result.root.media_type,
        "digest": str(result.root.digest),
        "size": result.root.size,
    }
    if len(result.images) == 1:
        root["config"] = str(result.images[0].config.digest)
    memo.remember(
        store.cache_put,
        plan.key,
        context=plan.context,
        bases=resolver.resolved,
        blobs=blobs,
        root=root,
        steps=builder.step_names,
    )


def _report_transfers(transfers: list[CacheTransfer], quiet: bool) -> None:
    for transfer in transfers:
        if not transfer.ok:
            print(f"dockwright: warning: {transfer.message}", file=sys.stderr)
        elif not quiet:
            print(transfer.message, file=sys.stderr)


def _options(args: argparse.Namespace) -> BuildOptions:
    context = Path(args.context)
    if not context.is_dir():
        raise UsageError(f"build context {args.context} is not a folder")
    dockerfile = Path(args.file) if args.file else context / "Dockerfile"
    text: str | None = None
    if args.file == "-":
        text = sys.stdin.read()
        dockerfile = Path("Dockerfile")
    elif not dockerfile.is_file():
        raise UsageError(f"Dockerfile {dockerfile} does not exist", hint="name it with -f PATH")
    contexts = {}
    for name, path in _pairs(args.build_context, "--build-context").items():
        folder = Path(path.removeprefix("local:"))
        if not folder.is_dir():
            raise UsageError(f"--build-context {name}={path}: not a folder")
        contexts[name] = folder
    from dockwright.image.layer import source_date_epoch  # noqa: PLC0415

    sde_text = os.environ.get("SOURCE_DATE_EPOCH", "")
    build_args = _pairs(args.build_arg, "--build-arg", need_value=False)
    if "SOURCE_DATE_EPOCH" in build_args:
        sde_text = build_args["SOURCE_DATE_EPOCH"]
    sde = source_date_epoch({"SOURCE_DATE_EPOCH": sde_text}) if sde_text else None
    return BuildOptions(
        context=context.resolve(),
        dockerfile=dockerfile,
        dockerfile_text=text,
        target=args.target,
        build_args=build_args,
        platforms=_platforms(args),
        secrets=_secrets(args.secret),
        ssh=tuple(args.ssh),
        build_contexts=contexts,
        labels=_pairs(args.label, "--label"),
        annotations=_pairs(args.annotation, "--annotation"),
        network="none" if args.network == "none" else "host",
        no_cache=args.no_cache,
        no_cache_filter=tuple(args.no_cache_filter),
        source_date_epoch=sde,
    )


def _publish(*args: Any, **kwargs: Any) -> PublishResult:
    from dockwright.publish import publish  # noqa: PLC0415 - only when exporting

    return publish(*args, **kwargs)


def full_build(args: argparse.Namespace, memo_plan: MemoPlan | None) -> int:
    """Run the build; record it in the memo when ``memo`` allows."""
    from dockwright.cli.build_progress import progress_printer  # noqa: PLC0415
    from dockwright.sandbox import RuncExecutor  # noqa: PLC0415
    from dockwright.snapshot import open_snapshotter  # noqa: PLC0415

    options = _options(args)
    tags = tuple(normalize_tag(t) for t in args.tag)
    push = args.push
    specs = []
    for text in args.output:
        fields = dict(part.partition("=")[::2] for part in text.split(","))
        if fields.get("type") == "registry" or (
            fields.get("type") == "image" and fields.get("push") == "true"
        ):
            push = True
            continue
        from dockwright.publish import parse_output  # noqa: PLC0415

        specs.append(parse_output(text))
    if push and not tags:
        raise UsageError("--push needs at least one -t registry/repository:tag to push to")
    if args.cache_from or args.cache_to:
        from dockwright.solve.cachetransfer import parse_cache_spec  # noqa: PLC0415

        for text in args.cache_from:
            parse_cache_spec(text, export=False)
        for text in args.cache_to:
            parse_cache_spec(text, export=True)
    try:
        executor = RuncExecutor(cgroup_parent=args.cgroup_parent)
    except ValueError as exc:
        raise UsageError(f"--cgroup-parent: {exc}") from exc
    store = Store.open()
    quiet = args.quiet or args.progress == "quiet"
    emit, finish = progress_printer(args.progress, sys.stderr, quiet=quiet)
    with store.session():
        snapshotter = open_snapshotter(store.root / "snapshots")
        # Containers first: a killed build's command may still run on a snapshot mount.
        executor.reap_stale()
        snapshotter.recover()
        if args.cache_from:
            from dockwright.cli.build_cache import import_caches  # noqa: PLC0415
            from dockwright.cli.registry_cmds import registry_options  # noqa: PLC0415

            _report_transfers(import_caches(store, args.cache_from, registry_options(args)), quiet)
        resolver = _CliResolver(store, args, quiet)
        builder = Builder(
            options,
            store=store,
            resolver=resolver,
            executor=executor,
            snapshotter=snapshotter,
            emit=emit,
        )
        try:
            result = builder.build(tags)
        finally:
            finish()
        if memo_plan is not None:
            _record(memo_plan, store, builder, resolver, result)
        if args.cache_to:
            from dockwright.cli.build_cache import export_cache  # noqa: PLC0415
            from dockwright.cli.registry_cmds import registry_options  # noqa: PLC0415

            transfers = export_cache(
                store, args.cache_to, builder.records, result.root, registry_options(args)
            )
            _report_transfers(transfers, quiet)
        pushed: list[tuple[str, str]] = []
        if push:
            from dockwright.cli.registry_cmds import push_tags  # noqa: PLC0415

            pushed = push_tags(args, store, result.root, tags)
        published = []
        for spec in specs:
            if spec.kind == "store":
                continue
            wanted = spec.extra.get("platform")
            published.append(
                _publish(
                    spec,
                    store,
                    result.root,
                    list(tags),
                    store=store,
                    platform=parse_platforms(wanted)[0] if wanted else None,
                )
            )
    final = published[0].digest if published else result.root.digest
    config = str(result.images[0].config.digest) if len(result.images) == 1 else None
    root = {
        "mediaType": result.root.media_type,
        "digest": str(result.root.digest),
        "size": result.root.size,
    }
    write_result_files(args, str(final), root, config, list(tags))
    if quiet:
        print(final)
        return 0
    kind = "index" if result.root.is_index else "image"
    print(f"{kind} {result.root.digest} ({result.cached_steps}/{result.steps} steps cached)")
    for tag in tags:
        print(f"tagged {tag} in {store.root}")
    for name, digest in pushed:
        print(f"pushed {name} ({digest})")
    for item in published:
        print(f"wrote {item.kind} {item.dest} ({item.digest})")
    return 0
