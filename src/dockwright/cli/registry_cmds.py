"""``pull``, ``push``, ``copy``, ``login`` and ``logout``: registries from the command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from dockwright.cli.progress import BlobProgress
from dockwright.errors import UsageError
from dockwright.image.model import Descriptor
from dockwright.image.platform import Platform, parse_platforms
from dockwright.image.reference import Reference
from dockwright.registry import Client, RegistryOptions, load_registry_config
from dockwright.registry import pull as registry_pull
from dockwright.store import BlobSource, Store, normalize_tag

log = logging.getLogger(__name__)

# push, login and logout are imported where they are used: login imports httpx, which a
# pull (through the registry client's lean path) does not need.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockwright.publish.convert import LayerCompression
    from dockwright.registry import PushResult


def registry_options(args: argparse.Namespace) -> RegistryOptions:
    """Options from registries.toml, with the command line's flags added on top."""
    base = load_registry_config()
    mirrors: dict[str, tuple[str, ...]] = dict(base.mirrors)
    for item in getattr(args, "registry_mirror", []):
        host, sep, url = item.partition("=")
        if not sep or not host or not url:
            raise UsageError(
                f"invalid --registry-mirror {item!r}",
                hint="use REGISTRY=URL, e.g. docker.io=http://127.0.0.1:5000",
            )
        mirrors[host] = (*mirrors.get(host, ()), url)
    return replace(
        base,
        mirrors=mirrors,
        insecure=base.insecure | frozenset(getattr(args, "insecure_registry", [])),
        ca_certs=(*base.ca_certs, *(Path(c) for c in getattr(args, "ca_cert", []))),
    )


def _progress(args: argparse.Namespace) -> BlobProgress:
    return BlobProgress(sys.stderr, enabled=not getattr(args, "quiet", False))


def _store_name(ref: Reference) -> str | None:
    """The local tag a pulled reference gets (none for a digest-only reference)."""
    if ref.tag is None:
        return None
    return normalize_tag(replace(ref, digest=None).familiar)


def pull_into_store(
    ref: Reference,
    store: Store,
    options: RegistryOptions,
    *,
    platforms: Sequence[Platform] | None,
    all_platforms: bool,
    progress: BlobProgress,
    client: Client | None = None,
) -> Descriptor:
    """Pull ``ref`` into the store and tag it; return its root descriptor (``client``: one
    to use, and leave open, instead of a new one)."""
    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(Client(options, progress=progress.registry_event))
        result = registry_pull(client, ref, store, platforms=platforms, all_platforms=all_platforms)
    progress.close()
    name = _store_name(ref)
    if name:
        store.tag(name, result.root)
    return result.root


def push_from_store(
    store: Store,
    root: Descriptor,
    dest: Reference,
    options: RegistryOptions,
    *,
    compression: LayerCompression,
    level: int | None,
    progress: BlobProgress,
) -> PushResult:
    """Compress the image's layers as asked, then push it to ``dest``."""
    from dockwright.publish.convert import compress_layers  # noqa: PLC0415
    from dockwright.registry import push as registry_push  # noqa: PLC0415

    ready = compress_layers(store, root, compression, level)
    with Client(options, progress=progress.registry_event) as client:
        result = registry_push(client, store, ready, dest)
    progress.close()
    return result


def _reach(client: Client, ref: Reference) -> None:
    try:
        client.endpoints.warm(ref.registry)
    except Exception as exc:  # the pull asks again and reports it
        log.debug("early probe of %s failed: %s", ref.registry, exc)


def push_tags(
    args: argparse.Namespace, store: Store, root: Descriptor, tags: Sequence[str]
) -> list[tuple[str, str]]:
    """``--push`` of package and build: push ``root`` to every tag (gzip level 1, as ko);
    return ``(tag, pushed digest)`` pairs."""
    out = []
    for tag in tags:
        result = push_from_store(
            store,
            root,
            Reference.parse(tag),
            registry_options(args),
            compression="gzip",
            level=1,
            progress=BlobProgress(sys.stderr, enabled=not args.quiet),
        )
        out.append((tag, str(result.digest)))
    return out


def run_pull(args: argparse.Namespace) -> int:
    """Pull an image into the local store."""
    ref = Reference.parse(args.ref)
    platforms = parse_platforms(args.platform) if args.platform else None
    options = registry_options(args)
    progress = _progress(args)
    with Client(options, progress=progress.registry_event) as client:
        # Both wait on I/O: find out how the registry speaks (https or http) while a new
        # store is laid out and synced. Mirrors are tried first, so then nothing is early.
        early = None
        if not options.mirrors_for(ref.registry):
            early = threading.Thread(target=_reach, args=(client, ref), daemon=True)
            early.start()
        store = Store.open()
        if early is not None:
            early.join()
        with store.session():
            root = pull_into_store(
                ref,
                store,
                options,
                platforms=platforms,
                all_platforms=args.all_platforms,
                progress=progress,
                client=client,
            )
            if args.unpack:
                from dockwright.cli.unpack import unpack_image  # noqa: PLC0415

                unpack_image(store, root)
    if args.quiet:
        print(root.digest)
        return 0
    name = _store_name(ref)
    print(f"pulled {ref} ({root.digest})" + (f" as {name}" if name else ""))
    return 0


def run_push(args: argparse.Namespace) -> int:
    """Push a stored image to a registry."""
    store = Store.open()
    root = store.resolve(args.tag)
    dest = Reference.parse(args.dest or args.tag)
    level = args.compression_level
    if level is None and args.compression == "gzip":
        level = 1
    with store.session():
        result = push_from_store(
            store,
            root,
            dest,
            registry_options(args),
            compression=args.compression,
            level=level,
            progress=_progress(args),
        )
    if args.quiet:
        print(result.digest)
    else:
        print(f"pushed {dest} ({result.digest})")
    return 0


@dataclass(frozen=True, slots=True)
class _Location:
    kind: str  # "registry", "oci", "oci-archive", "docker-archive", "store"
    where: str
    ref: str | None


_PREFIXES = ("docker://", "oci:", "oci-archive:", "docker-archive:", "store:")


def _location(text: str) -> _Location:
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            kind = prefix.rstrip(":/")
            rest = text[len(prefix) :]
            if kind == "docker":
                return _Location("registry", rest, None)
            if kind == "store":
                return _Location("store", rest, None)
            path, sep, ref = rest.rpartition(":")
            # "oci:DIR" or "oci:DIR:REF"; a path with a colon in it needs the :REF form.
            if sep and path and not Path(rest).exists():
                return _Location(kind, path, ref or None)
            return _Location(kind, rest, None)
    return _Location("registry", text, None)


def _open_source(
    loc: _Location, store: Store, args: argparse.Namespace, platforms: list[Platform] | None
) -> tuple[BlobSource, Descriptor, str]:
    if loc.kind == "registry":
        ref = Reference.parse(loc.where)
        root = pull_into_store(
            ref,
            store,
            registry_options(args),
            platforms=platforms,
            all_platforms=platforms is None,
            progress=_progress(args),
        )
        return store, root, ref.tag or "latest"
    if loc.kind == "store":
        return store, store.resolve(loc.where), normalize_tag(loc.where)
    from dockwright.publish import read_docker_archive, read_oci_layout  # noqa: PLC0415

    path = Path(loc.where)
    if loc.kind == "docker-archive":
        source, root = read_docker_archive(path, loc.ref)
    else:
        source, root = read_oci_layout(path, loc.ref)
    return source, root, loc.ref or "latest"


def run_copy(args: argparse.Namespace) -> int:
    """Copy an image between any two locations."""
    from dockwright.publish import OutputSpec, publish  # noqa: PLC0415

    src, dest = _location(args.src), _location(args.dest)
    platforms = parse_platforms(args.platform) if args.platform else None
    store = Store.open()
    with store.session():
        source, root, name = _open_source(src, store, args, platforms)
        if dest.kind == "registry":
            if source is not store:
                root = _import(source, root, store)
            result = push_from_store(
                store,
                root,
                Reference.parse(dest.where),
                registry_options(args),
                compression="gzip",
                level=1,
                progress=_progress(args),
            )
            print(f"copied {args.src} to {dest.where} ({result.digest})")
            return 0
        if dest.kind == "store":
            spec = OutputSpec(kind="store", dest=None)
            tags = [normalize_tag(dest.where)]
        else:
            spec = OutputSpec(
                kind="docker" if dest.kind == "docker-archive" else "oci",
                dest=Path(dest.where),
                tar=dest.kind != "oci",
                compression="uncompressed" if dest.kind == "docker-archive" else None,
            )
            tags = [dest.ref or name]
        published = publish(spec, source, root, tags, store=store)
        if args.unpack and dest.kind == "store":
            from dockwright.cli.unpack import unpack_image  # noqa: PLC0415

            unpack_image(store, store.resolve(tags[0]))
    print(f"copied {args.src} to {args.dest} ({published.digest})")
    for note in published.notes:
        print(f"note: {note}")
    return 0


def _import(source: BlobSource, root: Descriptor, store: Store) -> Descriptor:
    """Copy an image's blobs from another source into the store (nothing tagged)."""
    from dockwright.store.graph import copy_blob, walk  # noqa: PLC0415

    for desc in walk(source, root):
        if not store.has(desc.digest):
            with store.ingest() as writer:
                copy_blob(source, desc, writer.write)
                writer.commit(desc.digest)
    return root


def run_login(args: argparse.Namespace) -> int:
    """Check credentials against the registry and store them."""
    if args.password is not None and args.password_stdin:
        raise UsageError("give the password with --password or --password-stdin, not both")
    if args.password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    elif args.password is not None:
        print(
            "dockwright: warning: --password is visible to other users; prefer --password-stdin",
            file=sys.stderr,
        )
        password = args.password
    else:
        import getpass  # noqa: PLC0415

        password = getpass.getpass(f"Password for {args.username}@{args.server}: ")
    if not password:
        raise UsageError("empty password", hint="pass it on standard input with --password-stdin")
    from dockwright.registry import login as registry_login  # noqa: PLC0415

    where = registry_login(args.server, args.username, password, registry_options(args))
    print(f"Login Succeeded ({args.server}; credentials stored in {where})")
    return 0


def run_logout(args: argparse.Namespace) -> int:
    """Remove stored credentials."""
    from dockwright.registry import logout as registry_logout  # noqa: PLC0415

    if registry_logout(args.server):
        print(f"Removed credentials for {args.server}")
    else:
        print(f"Not logged in to {args.server}")
    return 0
