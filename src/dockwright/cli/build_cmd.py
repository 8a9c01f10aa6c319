"""``dockwright build``: the no-change fast path, else the full build (``build_run``).

Only the standard library and :mod:`dockwright.solve.memo` load before the memo is checked:
a rebuild of unchanged inputs answers from the memo in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockwright import __version__
from dockwright.solve import memo

# Options that change what is built (the rest only change where it goes or how it is shown).
_KEY_OPTIONS = (
    "target",
    "build_arg",
    "platform",
    "secret",
    "ssh",
    "build_context",
    "label",
    "annotation",
    "network",
    "no_cache_filter",
)


@dataclass(frozen=True, slots=True)
class MemoPlan:
    """What the memo of this build is keyed on, computed before the build starts."""

    root: Path
    key: str
    context: str
    folders: tuple[Path, ...]


def _store_root() -> Path:
    home = os.environ.get("DOCKWRIGHT_HOME")
    if home:
        return Path(home).expanduser()
    from dockwright.store.store import default_root  # noqa: PLC0415

    return default_root()


def _simple_tag(name: str) -> str | None:
    """``name`` as the store spells tags, for plain names; None when unsure (digests...)."""
    if "@" in name or not name or name != name.strip():
        return None
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _plan(args: argparse.Namespace) -> MemoPlan | None:
    if args.no_cache or args.file == "-" or args.cache_from:
        return None
    context = Path(args.context).resolve()
    dockerfile = Path(args.file) if args.file else context / "Dockerfile"
    try:
        text = dockerfile.read_bytes()
    except OSError:
        return None
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    try:
        ignore_bytes = ignore.read_bytes()
    except OSError:
        ignore_bytes = b""
    folders = [context]
    for item in args.build_context:
        folders.append(Path(item.partition("=")[2].removeprefix("local:")).resolve())
    parts: dict[str, object] = {
        "version": __version__,
        "context": str(context),
        "dockerfile": str(dockerfile.resolve()),
        "text": hashlib.sha256(text).hexdigest(),
        "ignore": hashlib.sha256(ignore_bytes).hexdigest(),
        "sde": os.environ.get("SOURCE_DATE_EPOCH", ""),
        "ssh_sock": bool(os.environ.get("SSH_AUTH_SOCK")),
        "uid": os.geteuid(),
    }
    for name in _KEY_OPTIONS:
        parts[name] = getattr(args, name)
    signature = memo.tree_signature(folders)
    if signature is None:
        return None
    return MemoPlan(_store_root(), memo.memo_key(parts), signature, tuple(folders))


def write_result_files(
    args: argparse.Namespace,
    final: str,
    root: dict[str, object],
    config: str | None,
    tags: list[str],
) -> None:
    """``--iidfile`` and ``--metadata-file`` (BuildKit's keys)."""
    from dockwright.errors import PublishError  # noqa: PLC0415

    meta: dict[str, object] = {
        "containerimage.digest": final,
        "containerimage.descriptor": {k: root[k] for k in ("mediaType", "digest", "size")},
    }
    if config:
        meta["containerimage.config.digest"] = config
    if tags:
        meta["image.name"] = ",".join(tags)
    for flag, path, text in (
        ("--iidfile", args.iidfile, final),
        ("--metadata-file", args.metadata_file, json.dumps(meta, indent=2)),
    ):
        if path:
            try:
                Path(path).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise PublishError(f"cannot write {flag} {path}: {exc.strerror}") from exc


def _fast(args: argparse.Namespace, plan: MemoPlan) -> int | None:
    """Answer from the memo when every input holds and nothing else is asked for."""
    if args.output or args.push or args.cache_to:
        return None
    record = memo.lookup(plan.root, plan.key, plan.folders)
    if record is None:
        return None
    root = record.get("root")
    if not isinstance(root, dict):
        return None
    digest = str(root.get("digest"))
    tags = [_simple_tag(t) for t in args.tag]
    if any(t is None for t in tags):
        return None
    current = memo.read_tags(plan.root)
    if any(current.get(str(t)) != digest for t in tags):
        return None  # a tag to (re)write: the full path does it with the store's locking
    config = root.get("config")
    write_result_files(args, digest, root, str(config) if config else None, [str(t) for t in tags])
    quiet = args.quiet or args.progress == "quiet"
    recorded = record.get("steps")
    steps = [str(s) for s in recorded] if isinstance(recorded, list) else []
    if quiet:
        print(digest)
        return 0
    if args.progress in ("plain", "auto", "tty"):
        for number, name in enumerate(steps, 1):
            print(f"#{number} {name}\n#{number} CACHED", file=sys.stderr)
    kind = "index" if "index" in str(root.get("mediaType")) else "image"
    print(f"{kind} {digest} ({len(steps)}/{len(steps)} steps cached)")
    for tag in tags:
        print(f"tagged {tag} in {plan.root}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    """Run ``dockwright build``."""
    plan = _plan(args)
    if plan is not None:
        code = _fast(args, plan)
        if code is not None:
            return code
    # Loading the builder makes ~90 dataclasses and many small objects: with the cyclic
    # collector off meanwhile it loads ~5% faster (reference counting still frees garbage).
    from dockwright.cli import codecache  # noqa: PLC0415

    cache = codecache.install(codecache.default_folder())
    gc.disable()
    try:
        from dockwright.cli.build_run import full_build  # noqa: PLC0415
    finally:
        gc.enable()
        codecache.uninstall()
    if cache is not None:
        cache.save()
    return _full(args, plan, full_build)


def _full(
    args: argparse.Namespace,
    plan: MemoPlan | None,
    full_build: Callable[[argparse.Namespace, MemoPlan | None], int],
) -> int:
    from dockwright.errors import DockerfileError  # noqa: PLC0415

    try:
        return full_build(args, plan)
    except DockerfileError as exc:
        source = _source_of(exc, args)
        if source is None:
            raise
        from dockwright.cli.render import print_dockerfile_error  # noqa: PLC0415

        print_dockerfile_error(exc, source, sys.stderr)
        return exc.exit_code


def _source_of(exc: Exception, args: argparse.Namespace) -> bytes | None:
    """The Dockerfile a located error points into, to show its line with a caret."""
    path = Path(args.file) if args.file and args.file != "-" else Path(args.context) / "Dockerfile"
    if getattr(exc, "file", None) != str(path):
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None
