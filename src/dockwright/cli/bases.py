"""``--base`` values → base images: scratch, static, a stored tag, an OCI layout or archive,
a docker-archive."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path

from dockwright.errors import InvalidReferenceError, NotFoundError, PublishError, UsageError
from dockwright.image.model import Descriptor
from dockwright.prebuilt.base import BaseImage, ScratchBase, SourceBase, StaticBase
from dockwright.publish import read_docker_archive, read_oci_layout
from dockwright.store import Store

_PREFIXES = ("oci:", "oci-archive:", "docker-archive:")


def _split_ref(text: str) -> tuple[Path, str | None]:
    # A path may contain ':' itself; the reference is whatever follows the last ':' when the
    # part before it exists on disk.
    if Path(text).exists():
        return Path(text), None
    path, sep, ref = text.rpartition(":")
    if sep and path and Path(path).exists():
        return Path(path), ref or None
    return Path(text), None


def _is_docker_archive(path: Path) -> bool:
    try:
        with tarfile.open(path) as tar:
            names = set(tar.getnames())
    except (OSError, tarfile.TarError) as exc:
        raise UsageError(f"--base {path}: not a readable tar archive ({exc})") from exc
    return "manifest.json" in names and "index.json" not in names


def _from_path(kind: str, text: str) -> BaseImage:
    path, ref = _split_ref(text)
    if not path.exists():
        raise NotFoundError(f"base image file or folder {path} does not exist")
    try:
        if kind == "docker-archive":
            source, root = read_docker_archive(path, ref)
        else:
            source, root = read_oci_layout(path, ref)
    except PublishError as exc:
        raise UsageError(f"--base {text}: {exc.message}", hint=exc.hint) from exc
    return SourceBase(f"{kind}:{text}", source, root)


def open_base(
    text: str, store: Store, pull: Callable[[str], Descriptor] | None = None
) -> BaseImage:
    """The base image ``text`` names: scratch, static, a file, a stored tag, else (with
    ``pull``) an image pulled from its registry. A clear error when it names nothing."""
    if text == "scratch":
        return ScratchBase()
    if text == "static":
        return StaticBase(store)
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            return _from_path(prefix[:-1], text[len(prefix) :])
    path = Path(text)
    if path.is_dir():
        return _from_path("oci", text)
    if path.is_file():
        return _from_path("docker-archive" if _is_docker_archive(path) else "oci-archive", text)
    try:
        root = store.resolve(text)
    except (NotFoundError, InvalidReferenceError) as exc:
        if pull is None or isinstance(exc, InvalidReferenceError):
            raise NotFoundError(
                f"base image {text!r} not found: not in the local store at {store.root}, "
                "and no such file",
                hint="use static, scratch, a tag from 'dockwright images', a path to an OCI "
                "layout or docker-archive, or a registry reference",
            ) from exc
        root = pull(text)
    return SourceBase(text, store, root)
