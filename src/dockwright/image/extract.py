"""Apply one layer tar onto a directory, safely, with OCI whiteout semantics.

:func:`extract_layer` streams the tar (gzip, zstd or plain; sniffed by default) and applies
each member to ``dest``, which may already hold the lower layers. Nothing outside ``dest``
is ever created, changed or removed, whatever the layer holds.

How: every member's parent directory is reached by walking from a descriptor of ``dest``,
one component at a time, with ``O_DIRECTORY | O_NOFOLLOW`` opens; every change is an ``*at``
call on that parent descriptor that never follows the last component. A symbolic link met
on the way is resolved *inside* ``dest``, as if ``dest`` were the root of a chroot: an
absolute target restarts at ``dest`` and ``..`` stops at ``dest``. That is how the image will
see its own links when it runs, and how containerd applies layers. Files are created with
``O_CREAT | O_EXCL | O_NOFOLLOW`` after whatever was at the path has been removed, so a
member never writes into an existing inode (which could be a symlink or a hard link).

What happens to hostile or odd members ("reject": :class:`UnsafeLayerError`; extraction
stops there and ``dest`` should be discarded; "contain": applied, only ever inside ``dest``):

- a name with a ``..`` part (``../x``, ``a/../../x``, even ``a/../b``): reject.
- an absolute name (``/etc/x``): contain; the leading ``/`` is dropped, as Docker does.
- the root itself (``./``, ``/``): ignored as a directory (``dest``'s own metadata is left
  alone); reject as anything else.
- a symlink, whatever its target (``/etc``, ``../..``): created as given. Members below it
  (``evil/passwd`` after ``evil -> /etc``; chains; links left by lower layers): contain;
  written where the link leads inside ``dest`` (``dest/etc/passwd``). A dangling link on
  the way is made into directories, like ``mkdir -p``. A loop, or more than 40 links on one
  path: reject.
- a hard link target with ``..``: reject. An absolute target, or one through a symlink:
  contain; looked up inside ``dest`` only, and :class:`ImageFormatError` if nothing is
  there. A hard link to a directory: :class:`ImageFormatError`.
- a file, directory, link or node where a symlink is: contain; the symlink itself is
  replaced and its target is never opened.
- device nodes and FIFOs: skipped (listed in ``skipped``) unless ``allow_devices``; then
  made inside ``dest`` like any member; char/block nodes are skipped when not root.
- whiteouts ``.wh.``, ``.wh..``, ``.wh...`` (they name the directory or its parent): reject;
  a whiteout path with ``..``: reject. A whiteout or opaque marker below a symlink: contain;
  resolved inside ``dest``, so it removes only what is there. A whiteout of a symlink
  removes the link, never what it points at.
- AUFS metadata (``.wh..wh.plnk``, ``.wh..wh.aufs``) and unknown member types: skipped.
- setuid/setgid/sticky bits: kept; modes are set through a descriptor opened without
  following links (a device node: on the name just made), so always inside ``dest``.

Whiteouts only remove what lower layers left (OCI image spec): ``.wh.<name>`` removes
``<name>``, ``.wh..wh..opq`` empties its directory, but in both cases everything this layer
itself created (files, links, directories and the directories above them) is kept, whether
it came before or after the marker in the tar. ``whiteouts="keep"`` (or ``apply_whiteouts``
false) extracts the markers as the ordinary empty files they are (counted as files);
``whiteouts="overlay"`` writes them as overlayfs does for a lower directory: ``.wh.NAME`` as a
0/0 character device ``NAME`` (unless this layer made ``NAME``), ``.wh..wh..opq`` as the
xattr ``trusted.overlay.opaque=y`` on its directory. A marker is known by its name alone.

Directory metadata is set last, deepest first, so a read-only directory does not block its
own contents. Owners are the tar's numeric ids, never looked up by name."""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, cast

from dockwright.errors import ImageFormatError, UnsafeLayerError, UsageError
from dockwright.image.decompress import ExtractCompression, Reader, decompressed
from dockwright.image.layer import CHUNK_SIZE

# decompressed and ExtractCompression live in image/decompress.py; importable from here too.
__all__ = ["ExtractCompression", "ExtractReport", "Whiteouts", "decompressed", "extract_layer"]

Whiteouts = Literal["apply", "keep", "overlay"]
_MAX_SYMLINK_HOPS = 40
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_AUFS_META = ".wh..wh."
_OVERLAY_OPAQUE = "trusted.overlay.opaque"
# O_PATH descriptors are enough to walk through a directory and work relative to it, and
# they need no read permission on the directories of lower layers.
_O_PATH: int = getattr(os, "O_PATH", os.O_RDONLY)
_WALK_FLAGS = _O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NODE_KINDS = {
    tarfile.CHRTYPE: (stat.S_IFCHR, "character device"),
    tarfile.BLKTYPE: (stat.S_IFBLK, "block device"),
    tarfile.FIFOTYPE: (stat.S_IFIFO, "FIFO"),
}


@dataclass(frozen=True, slots=True)
class ExtractReport:
    """What :func:`extract_layer` did: counts per kind and the members it left out.

    ``files`` counts regular files, and device nodes and FIFOs made with ``allow_devices``;
    ``dirs`` counts directory members (not the parents made for them); ``skipped`` holds
    one line per member left out, with the reason.
    """

    files: int
    dirs: int
    symlinks: int
    hardlinks: int
    whiteouts: int
    skipped: tuple[str, ...]


def _member_parts(name: str, member: str | None = None) -> list[str]:
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayerError(member or name, f"the path {name!r} contains '..'")
    return parts


def _inode(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _listdir(dir_fd: int, name: str) -> tuple[int, list[str]]:
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        return fd, os.listdir(fd)
    except BaseException:
        os.close(fd)
        raise


def _remove(parent_fd: int, name: str) -> None:
    """Remove ``name`` (a whole tree if it is a directory) without following any link."""
    st = _lstat(name, parent_fd)
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=parent_fd)
        return
    # Iterative, so a deep tree from a hostile layer cannot exhaust Python's stack.
    fd, names = _listdir(parent_fd, name)
    stack: list[tuple[int, str, Iterator[str]]] = [(fd, name, iter(names))]
    try:
        while stack:
            fd, dirname, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                os.close(fd)
                os.rmdir(dirname, dir_fd=stack[-1][0] if stack else parent_fd)
                continue
            child_st = os.stat(child, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(child_st.st_mode):
                sub_fd, sub_names = _listdir(fd, child)
                stack.append((sub_fd, child, iter(sub_names)))
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


class _Applier:
    """Applies members one by one; holds what this layer created, for whiteouts."""

    def __init__(
        self, root_fd: int, dest: Path, whiteouts: Whiteouts, devices: bool, owner: bool
    ) -> None:
        self.root_fd, self.dest = root_fd, dest
        self.whiteouts, self.allow_devices, self.preserve_owner = whiteouts, devices, owner
        # (st_dev, st_ino) of everything this layer made or wrote below: whiteouts keep these.
        self.ours: set[tuple[int, int]] = set()
        self.deferred_dirs: list[tuple[list[str], tarfile.TarInfo]] = []
        self.counts = {"files": 0, "dirs": 0, "symlinks": 0, "hardlinks": 0, "whiteouts": 0}
        self.skipped: list[str] = []
        # (name, descriptor) of the plain directories down to the last member's parent, kept
        # open: no walk from the root per member. Whiteouts and replacing members cut it.
        self._chain: list[tuple[str, int]] = []

    def close(self, depth: int = 0) -> None:
        """Let go of the kept directories below ``depth``."""
        while len(self._chain) > depth:
            os.close(self._chain.pop()[1])

    def _parent_of(self, parts: list[str], member: str) -> int:
        """A descriptor of the member's parent (owned by the chain: do not close it)."""
        depth = 0
        while depth < min(len(self._chain), len(parts)) and self._chain[depth][0] == parts[depth]:
            depth += 1
        self.close(depth)
        for part in parts[depth:]:
            if part in ("", ".", ".."):
                break
            fd = self._chain[-1][1] if self._chain else self.root_fd
            st = _lstat(part, fd)
            if st is None:
                next_fd = self._make_parent(fd, part)
            elif stat.S_ISDIR(st.st_mode):
                next_fd = os.open(part, _WALK_FLAGS, dir_fd=fd)
                self.ours.add(_inode(st))
            else:
                break  # a symlink (or worse): the careful walk below decides
            self._chain.append((part, next_fd))
        else:
            return self._chain[-1][1] if self._chain else self.root_fd
        self.close()
        careful = self.resolve_dir(parts, create=True, member=member)
        assert careful is not None
        self._chain.append(("\0", careful))  # never matches a name: dropped by the next member
        return careful

    def _walk_physical(self, parts: Sequence[str], member: str) -> int:
        """Walk ``parts`` from the root again, following no link at all."""
        fd = os.dup(self.root_fd)
        try:
            for part in parts:
                next_fd = os.open(part, _WALK_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = next_fd
        except OSError as exc:
            os.close(fd)
            raise ImageFormatError(
                f"cannot extract {member!r}: {self.dest} changed during extraction"
            ) from exc
        return fd

    def resolve_dir(self, parts: Sequence[str], *, create: bool, member: str) -> int | None:
        """A descriptor of the directory ``parts`` names inside the root, or None if absent.

        Symlinks are followed inside the root only. With ``create``, missing directories
        are made and every directory passed through is recorded as this layer's.
        """
        pending = list(reversed(parts))
        physical: list[str] = []  # the real path of ``fd`` below the root, for ".."
        hops = 0
        fd = os.dup(self.root_fd)
        try:
            while pending:
                part = pending.pop()
                if part in ("", "."):
                    continue
                if part == "..":
                    del physical[-1:]  # ".." at the root stays at the root
                    os.close(fd)
                    fd = -1
                    fd = self._walk_physical(physical, member)
                    continue
                st = _lstat(part, fd)
                if st is None:
                    if not create:
                        os.close(fd)
                        return None
                    next_fd = self._make_parent(fd, part)
                elif stat.S_ISLNK(st.st_mode):
                    hops += 1
                    if hops > _MAX_SYMLINK_HOPS:
                        raise UnsafeLayerError(member, "too many levels of symbolic links")
                    target = os.readlink(part, dir_fd=fd)
                    pending.extend(reversed(target.split("/")))
                    if target.startswith("/"):
                        physical.clear()
                        os.close(fd)
                        fd = -1
                        fd = os.dup(self.root_fd)
                    continue
                elif stat.S_ISDIR(st.st_mode):
                    next_fd = os.open(part, _WALK_FLAGS, dir_fd=fd)
                    if create:
                        self.ours.add(_inode(st))
                else:
                    where = "/".join([*physical, part])
                    raise ImageFormatError(
                        f"cannot extract {member!r}: {where!r} is not a directory"
                    )
                os.close(fd)
                fd = next_fd
                physical.append(part)
            return fd
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise

    def _make_parent(self, dir_fd: int, name: str) -> int:
        os.mkdir(name, 0o755, dir_fd=dir_fd)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            # mkdir's mode passes through the umask; implied parents are 0755, as in Docker.
            os.chmod(fd, 0o755)  # noqa: S103 - the usual mode of a directory
            self.ours.add(_inode(os.fstat(fd)))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        """Apply one member to the root."""
        parts = _member_parts(member.name)
        if not parts:
            if member.isdir():
                return
            raise UnsafeLayerError(member.name, "a non-directory cannot replace the root")
        name = parts[-1]
        if self.whiteouts != "keep" and name.startswith(_WHITEOUT):
            self.close()
            self._whiteout(member.name, parts)
            return
        parent_fd = self._parent_of(parts[:-1], member.name)
        if len(self._chain) > len(parts) - 1 and self._chain[len(parts) - 1][0] == name:
            self.close(len(parts) - 1)  # this member may replace a kept directory
        try:
            if member.isreg():
                self._file(tar, member, parent_fd, name)
            elif member.isdir():
                self._dir(member, parts, parent_fd, name)
            elif member.issym():
                self._symlink(member, parent_fd, name)
            elif member.islnk():
                self._hardlink(member, parent_fd, name)
            elif member.type in _NODE_KINDS:
                self._node(member, parent_fd, name)
            else:
                self.skipped.append(
                    f"{member.name}: unsupported tar entry type {member.type!r} skipped"
                )
        except BaseException:
            self.close()
            raise

    def _owner(self, member: tarfile.TarInfo, fd: int) -> None:
        if self.preserve_owner:
            os.chown(fd, member.uid, member.gid)

    def _file(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent_fd: int, name: str
    ) -> None:
        _remove(parent_fd, name)
        fd = os.open(name, _CREATE_FLAGS, 0o600, dir_fd=parent_fd)
        try:
            self.ours.add(_inode(os.fstat(fd)))
            source = tar.extractfile(member)
            if source is not None:
                while chunk := source.read(CHUNK_SIZE):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
            # chown before chmod: changing the owner clears setuid/setgid bits.
            self._owner(member, fd)
            os.chmod(fd, member.mode & 0o7777)
            os.utime(fd, (int(member.mtime), int(member.mtime)))
        finally:
            os.close(fd)
        self.counts["files"] += 1

    def _dir(self, member: tarfile.TarInfo, parts: list[str], parent_fd: int, name: str) -> None:
        st = _lstat(name, parent_fd)
        if st is None or not stat.S_ISDIR(st.st_mode):
            _remove(parent_fd, name)
            # Owner-only until the deferred pass sets the real mode.
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        self.ours.add(_inode(os.stat(name, dir_fd=parent_fd, follow_symlinks=False)))
        self.deferred_dirs.append((parts, member))
        self.counts["dirs"] += 1

    def _symlink(self, member: tarfile.TarInfo, parent_fd: int, name: str) -> None:
        _remove(parent_fd, name)
        os.symlink(member.linkname, name, dir_fd=parent_fd)
        if self.preserve_owner:
            os.chown(name, member.uid, member.gid, dir_fd=parent_fd, follow_symlinks=False)
        mtime = int(member.mtime)
        os.utime(name, (mtime, mtime), dir_fd=parent_fd, follow_symlinks=False)
        self.ours.add(_inode(os.stat(name, dir_fd=parent_fd, follow_symlinks=False)))
        self.counts["symlinks"] += 1

    def _hardlink(self, member: tarfile.TarInfo, parent_fd: int, name: str) -> None:
        target = _member_parts(member.linkname, member.name)
        if not target:
            raise UnsafeLayerError(member.name, "a hard link cannot point at the root")
        target_fd = self.resolve_dir(target[:-1], create=False, member=member.name)
        target_st = None if target_fd is None else _lstat(target[-1], target_fd)
        if target_fd is None or target_st is None:
            if target_fd is not None:
                os.close(target_fd)
            raise ImageFormatError(
                f"hard link {member.name!r} points at {member.linkname!r}, which does not exist"
            )
        try:
            if stat.S_ISDIR(target_st.st_mode):
                raise ImageFormatError(
                    f"hard link {member.name!r} points at a directory, {member.linkname!r}"
                )
            existing = _lstat(name, parent_fd)
            if existing is None or _inode(existing) != _inode(target_st):
                _remove(parent_fd, name)
                os.link(
                    target[-1],
                    name,
                    src_dir_fd=target_fd,
                    dst_dir_fd=parent_fd,
                    follow_symlinks=False,
                )
            self.ours.add(_inode(target_st))
        finally:
            os.close(target_fd)
        self.counts["hardlinks"] += 1

    def _node(self, member: tarfile.TarInfo, parent_fd: int, name: str) -> None:
        file_type, what = _NODE_KINDS[member.type]
        if not self.allow_devices:
            self.skipped.append(f"{member.name}: {what} skipped (allow_devices is off)")
            return
        _remove(parent_fd, name)
        device = os.makedev(member.devmajor, member.devminor) if file_type != stat.S_IFIFO else 0
        try:
            os.mknod(name, file_type | 0o600, device, dir_fd=parent_fd)
        except PermissionError:
            self.skipped.append(f"{member.name}: {what} skipped (creating it needs root)")
            return
        self.ours.add(_inode(os.stat(name, dir_fd=parent_fd, follow_symlinks=False)))
        if self.preserve_owner:
            os.chown(name, member.uid, member.gid, dir_fd=parent_fd, follow_symlinks=False)
        # Linux has no lchmod; the node was made just now by this call, inside the root.
        os.chmod(name, member.mode & 0o7777, dir_fd=parent_fd)
        self.counts["files"] += 1

    def _whiteout(self, member: str, parts: list[str]) -> None:
        name = parts[-1]
        victim = name[len(_WHITEOUT) :]
        if name != _OPAQUE and name.startswith(_AUFS_META):
            self.skipped.append(f"{member}: AUFS metadata skipped")
            return
        if victim in ("", ".", ".."):
            raise UnsafeLayerError(member, "a whiteout must name an entry of its directory")
        self.counts["whiteouts"] += 1
        overlay = self.whiteouts == "overlay"
        parent_fd = self.resolve_dir(parts[:-1], create=overlay, member=member)
        if parent_fd is None:
            return
        try:
            if overlay:
                self._overlay_marker(parent_fd, victim if name != _OPAQUE else None)
            elif name == _OPAQUE:
                self._prune_children(*_listdir(parent_fd, "."))
            else:
                self._prune(parent_fd, victim)
        finally:
            os.close(parent_fd)

    def _overlay_marker(self, parent_fd: int, victim: str | None) -> None:
        if victim is None:
            fd = os.open(".", _DIR_FLAGS, dir_fd=parent_fd)
            try:
                os.setxattr(fd, _OVERLAY_OPAQUE, b"y")
            finally:
                os.close(fd)
            return
        st = _lstat(victim, parent_fd)
        if st is not None and _inode(st) in self.ours:
            return
        _remove(parent_fd, victim)
        os.mknod(victim, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent_fd)

    def _prune(self, parent_fd: int, name: str) -> None:
        """Remove what lower layers put at ``name``, keeping everything this layer made."""
        st = _lstat(name, parent_fd)
        if st is None:
            return
        if _inode(st) not in self.ours:
            _remove(parent_fd, name)
        elif stat.S_ISDIR(st.st_mode):
            self._prune_children(*_listdir(parent_fd, name))

    def _prune_children(self, fd: int, names: list[str]) -> None:
        """:meth:`_prune` every entry of the directory ``fd`` (which this closes)."""
        stack: list[tuple[int, Iterator[str]]] = [(fd, iter(names))]
        try:
            while stack:
                fd, children = stack[-1]
                child = next(children, None)
                if child is None:
                    os.close(stack.pop()[0])
                    continue
                st = _lstat(child, fd)
                if st is None:
                    continue
                if _inode(st) not in self.ours:
                    _remove(fd, child)
                elif stat.S_ISDIR(st.st_mode):
                    sub_fd, sub_names = _listdir(fd, child)
                    stack.append((sub_fd, iter(sub_names)))
        finally:
            for fd, _ in stack:
                os.close(fd)

    def finish(self) -> ExtractReport:
        """Set directory metadata (deepest first) and report."""
        self.close()
        for parts, member in sorted(self.deferred_dirs, key=lambda item: -len(item[0])):
            parent_fd = self.resolve_dir(parts[:-1], create=False, member=member.name)
            if parent_fd is None:
                continue
            try:
                fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=parent_fd)
            except OSError:
                # Replaced later in the layer by something that is not a directory.
                continue
            finally:
                os.close(parent_fd)
            try:
                self._owner(member, fd)
                os.chmod(fd, member.mode & 0o7777)
                os.utime(fd, (int(member.mtime), int(member.mtime)))
            finally:
                os.close(fd)
        return ExtractReport(**self.counts, skipped=tuple(self.skipped))


def extract_layer(
    layer: BinaryIO | Path,
    dest: Path,
    *,
    compression: ExtractCompression = "auto",
    apply_whiteouts: bool = True,
    allow_devices: bool = False,
    preserve_owner: bool | None = None,
    whiteouts: Whiteouts | None = None,
) -> ExtractReport:
    """Apply the layer tar ``layer`` (a stream or a file) onto the directory ``dest``.

    ``compression="auto"`` recognises gzip and zstd by their magic bytes. Whiteouts are
    applied, kept as files or written in overlayfs form as ``whiteouts`` says (default:
    "apply", or "keep" when ``apply_whiteouts`` is false); devices and FIFOs are skipped unless
    ``allow_devices``, and owners are set when ``preserve_owner`` (default: when running as
    root). Nothing outside ``dest`` is changed; the module documentation lists what happens
    to each kind of hostile member. Raise :class:`UnsafeLayerError` for a member that tries
    to leave ``dest``, :class:`ImageFormatError` for a malformed layer or one that cannot be
    applied, :class:`UsageError` when ``dest`` is not a directory.
    """
    if preserve_owner is None:
        preserve_owner = os.geteuid() == 0
    with ExitStack() as stack:
        if isinstance(layer, Path):
            try:
                raw: BinaryIO = stack.enter_context(layer.open("rb"))
            except OSError as exc:
                raise ImageFormatError(f"cannot read layer {layer}: {exc.strerror}") from exc
        else:
            raw = layer
        try:
            root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise UsageError(f"cannot extract into {dest}: {exc.strerror}") from exc
        stack.callback(os.close, root_fd)
        stream = decompressed(raw, compression)
        if whiteouts is None:
            whiteouts = "apply" if apply_whiteouts else "keep"
        elif whiteouts not in ("apply", "keep", "overlay"):
            raise UsageError(f"unknown whiteout handling {whiteouts!r}: use apply, keep or overlay")
        applier = _Applier(root_fd, dest, whiteouts, allow_devices, preserve_owner)
        stack.callback(applier.close)
        report = _apply_all(stream, applier)
        # Read to the end so a gzip or zstd checksum after the tar is verified too.
        while stream.read(CHUNK_SIZE):
            pass
        return report


def _open_tar(stream: Reader) -> tarfile.TarFile:
    try:
        return tarfile.open(
            fileobj=cast(BinaryIO, stream),
            mode="r|",
            encoding="utf-8",
            errors="surrogateescape",
        )
    except tarfile.TarError as exc:
        raise ImageFormatError(f"layer is not a tar archive: {exc}") from exc


def _apply_all(stream: Reader, applier: _Applier) -> ExtractReport:
    with _open_tar(stream) as tar:
        what = "the layer"
        try:
            while (member := tar.next()) is not None:
                # Stream mode keeps every member read so far; nothing here needs them.
                tar.members.clear()  # type: ignore[attr-defined]
                what = repr(member.name)
                applier.apply(tar, member)
            what = "directory metadata"
            return applier.finish()
        except tarfile.TarError as exc:
            raise ImageFormatError(f"layer tar is malformed at {what}: {exc}") from exc
        except (OSError, ValueError, OverflowError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ImageFormatError(f"cannot extract {what} into {applier.dest}: {detail}") from exc
