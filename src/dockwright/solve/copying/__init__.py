"""COPY and ADD with BuildKit's semantics, and their build-cache checksum.

:func:`apply_copy` writes what a COPY/ADD selects from a :class:`SourceTree` (the build
context, or a stage's or image's rootfs) into a destination rootfs view;
:func:`cache_checksum` digests what it would copy. Facts checked against BuildKit (dockerd
20.10's builder) are written down in the tests, ``tests/solve/copying``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from dockwright.solve.copying.apply import Writer
from dockwright.solve.copying.checksum import cache_checksum, file_digest
from dockwright.solve.copying.destpath import destination, make_dirs
from dockwright.solve.copying.model import CopyRequest, CopySourceError, Entry, SourceTree, Unit
from dockwright.solve.copying.modes import parse_chmod, resolve_chown
from dockwright.solve.copying.remote import (
    check_request,
    clone_git,
    fetch_url,
    is_git,
    is_url,
    parse_git,
)
from dockwright.solve.copying.select import select_units, units_from_dir

__all__ = [
    "CopyRequest",
    "CopySourceError",
    "Entry",
    "SourceTree",
    "Unit",
    "apply_copy",
    "cache_checksum",
    "file_digest",
    "gather_units",
    "selected_paths",
]

# BuildKit writes an inline document with this mode (before --chmod).
HEREDOC_MODE = 0o644


def gather_units(tree: SourceTree, request: CopyRequest, scratch: Path) -> list[Unit]:
    """Every unit ``request`` copies, fetching URLs and git sources into ``scratch``."""
    if not request.sources and not request.heredocs:
        raise CopySourceError("no source files were specified")
    check_request(request)
    units: list[Unit] = []
    local: list[str] = []

    def flush() -> None:
        if local:
            units.extend(select_units(tree, request, tuple(local)))
            local.clear()

    for source in request.sources:
        if is_git(source):
            flush()
            sub = scratch / f"git-{len(units)}"
            sub.mkdir()
            folder = clone_git(parse_git(source), sub, request.keep_git_dir)
            units.append(units_from_dir(folder, source, "", is_dir=True))
        elif is_url(source):
            flush()
            folder, name = fetch_url(source, request.checksum, scratch)
            archive = request.unpack is True
            units.append(units_from_dir(folder, source, name, is_dir=False, archive=archive))
        else:
            local.append(source)
    flush()
    for index, (name, data) in enumerate(request.heredocs):
        folder = scratch / f"heredoc-{index}"
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        path.chmod(HEREDOC_MODE)
        units.append(units_from_dir(folder, f"<<{name}", name, is_dir=False))
    return units


def selected_paths(tree: SourceTree, request: CopyRequest) -> list[str]:
    """The local paths ``request`` selects, laid out as copied ('/'-separated, sorted).

    URL, git and heredoc sources are left out. Raises :class:`CopySourceError`.
    """
    local = tuple(s for s in request.sources if not is_url(s) and not is_git(s))
    paths: list[str] = []
    for unit in select_units(tree, request, local):
        base = "/".join(p for p in (unit.prefix, "" if unit.is_dir else unit.name) if p)
        for entry in unit.entries:
            paths.append("/".join(p for p in (base, entry.rel) if p) or ".")
    return sorted(paths)


def apply_copy(tree: SourceTree, request: CopyRequest, dest_root: Path) -> None:
    """Carry out ``request`` into ``dest_root`` (the destination stage's rootfs view).

    Destination: relative to the WORKDIR; a trailing ``/`` (or ``.``) names a directory;
    a file copied onto an existing directory lands inside it; a directory's contents are
    copied. Missing parents are made 0755 and owned by the --chown owner (else 0:0);
    existing directories keep their metadata. Entries keep their modes and mtimes (clamped
    by ``request.mtime``); owners are the --chown ids, else 0:0 from the context and the
    source's ids from a rootfs. Symlinks in ``dest_root`` resolve inside it.
    Raises :class:`CopySourceError` for a missing source, a bad flag, or a conflict.
    """
    owner = resolve_chown(dest_root, request.chown)
    mode = parse_chmod(request.chmod)
    dest, as_dir = destination(request)
    try:
        with tempfile.TemporaryDirectory(prefix="dw-copy-") as scratch:
            units = gather_units(tree, request, Path(scratch))
            unpack = request.add and request.unpack is not False
            writer = Writer(dest_root, owner, mode, request.mtime, unpack)
            if request.parents:
                make_dirs(dest_root, dest, owner, writer.made)  # even when nothing matched
            for unit in units:
                writer.write(unit, dest, as_dir)
            writer.finish()
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise CopySourceError(
            f"cannot copy {', '.join(request.sources) or 'heredoc'} to {request.dest}: "
            f"{exc.strerror or exc}{where}"
        ) from exc
