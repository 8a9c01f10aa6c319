"""Writing selected units into a destination rootfs view, with BuildKit's metadata rules."""

from __future__ import annotations

import os
import posixpath
import stat as st
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from dockwright.solve.copying.destpath import make_dirs, resolve_dest
from dockwright.solve.copying.model import CopySourceError, Entry, Unit
from dockwright.solve.copying.modes import Mode, Owner

__all__ = ["Writer"]


def _archive() -> ModuleType:
    """ADD's archive extraction (tarfile and friends), loaded when an ADD source is local."""
    from dockwright.solve.copying import archive  # noqa: PLC0415

    return archive


@dataclass
class Writer:
    """Copies units under ``root``; one per apply_copy call."""

    root: Path
    owner: Owner | None
    mode: Mode | None
    mtime: int | None
    unpack: bool
    made: list[Path] = field(default_factory=list)
    _links: dict[tuple[int, int], Path] = field(default_factory=dict)

    def write(self, unit: Unit, dest: str, as_dir: bool) -> None:
        """Copy one unit to ``dest`` (absolute in the rootfs; ``as_dir``: trailing slash)."""
        if unit.prefix:
            base = make_dirs(self.root, dest, self.owner, self.made)
            for entry in unit.prefix_dirs:
                base = base / entry.rel
                try:
                    os.lstat(base)
                except FileNotFoundError:
                    os.mkdir(base, 0o700)
                    self._owner_mode(unit, entry, base)
            dest = posixpath.join(dest, unit.prefix)
            as_dir = True
        top = unit.entries[0]
        if self.unpack and unit.archive and _archive().is_archive(top.host):
            target = make_dirs(self.root, dest, self.owner, self.made)
            _archive().extract_archive(top.host, target, self.root, self.mtime)
            return
        if unit.is_dir:
            target = make_dirs(self.root, dest, self.owner, self.made)
            self._copy_tree(unit, target)
            return
        if as_dir:
            target = make_dirs(self.root, dest, self.owner, self.made) / unit.name
        else:
            make_dirs(self.root, posixpath.dirname(dest), self.owner, self.made)
            target = resolve_dest(self.root, dest)
            if target.is_dir():
                target = target / unit.name
            elif not target.parent.is_dir():  # a dangling symlink named the destination
                shown = "/" + os.path.relpath(target.parent, self.root)
                make_dirs(self.root, shown, self.owner, self.made)
        self._copy_entry(unit, top, target)

    def _copy_tree(self, unit: Unit, target: Path) -> None:
        dirs: list[tuple[Entry, Path]] = []
        for entry in unit.entries[1:]:
            path = target / entry.rel
            self._copy_entry(unit, entry, path)
            if st.S_ISDIR(entry.stat.st_mode):
                dirs.append((entry, path))
        for entry, path in reversed(dirs):
            self._times(entry, path)

    def _copy_entry(self, unit: Unit, entry: Entry, path: Path) -> None:
        info = entry.stat
        kind = st.S_IFMT(info.st_mode)
        try:
            existing: os.stat_result | None = os.lstat(path)
        except FileNotFoundError:
            existing = None
        if kind == st.S_IFDIR:
            if existing is None:
                os.mkdir(path, 0o700)
            elif not st.S_ISDIR(existing.st_mode):
                raise CopySourceError(f"cannot copy to non-directory: {self._shown(path)}")
            self._owner_mode(unit, entry, path)
            return
        if existing is not None:
            if st.S_ISDIR(existing.st_mode):
                raise CopySourceError(
                    f"cannot replace directory {self._shown(path)} with {unit.source}"
                )
            os.unlink(path)
        if kind == st.S_IFREG:
            self._copy_file(entry, path)
        elif kind == st.S_IFLNK:
            os.symlink(os.readlink(entry.host), path)
        elif kind == st.S_IFIFO:
            os.mkfifo(path, 0o600)
        elif kind in (st.S_IFCHR, st.S_IFBLK):
            os.mknod(path, kind | 0o600, info.st_rdev)
        else:
            return  # sockets are not copied
        self._owner_mode(unit, entry, path)
        if kind == st.S_IFREG:
            _copy_xattrs(entry.host, path)  # after chown, which drops security.capability
        self._times(entry, path)

    def _copy_file(self, entry: Entry, path: Path) -> None:
        info = entry.stat
        key = (info.st_dev, info.st_ino)
        if info.st_nlink > 1:
            first = self._links.get(key)
            if first is not None and first.exists():
                os.link(first, path)
                return
            self._links[key] = path
        _copy_bytes(entry.host, path)

    def _owner_mode(self, unit: Unit, entry: Entry, path: Path) -> None:
        info = entry.stat
        if self.owner is not None:
            uid, gid = self.owner.uid, self.owner.gid
        elif unit.zero_owner:
            uid, gid = 0, 0
        else:
            uid, gid = info.st_uid, info.st_gid
        os.lchown(path, uid, gid)
        if st.S_ISLNK(info.st_mode):
            return
        mode = st.S_IMODE(info.st_mode) if self.mode is None else self.mode.apply(info.st_mode)
        os.chmod(path, mode)

    def _times(self, entry: Entry, path: Path) -> None:
        mtime = entry.stat.st_mtime_ns
        if self.mtime is not None:
            mtime = min(mtime, self.mtime * 1_000_000_000)
        os.utime(path, ns=(entry.stat.st_atime_ns, mtime), follow_symlinks=False)

    def _shown(self, path: Path) -> str:
        return "/" + os.path.relpath(path, self.root)

    def finish(self) -> None:
        """Date the directories made for parents (SOURCE_DATE_EPOCH), once all is written."""
        if self.mtime is None:
            return
        for path in self.made:
            os.utime(path, (self.mtime, self.mtime), follow_symlinks=False)


def _copy_xattrs(source: str, path: Path) -> None:
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(path, name, os.getxattr(source, name, follow_symlinks=False))
        except OSError:
            continue  # best effort, as BuildKit


_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _copy_bytes(source: str, path: Path) -> None:
    """Copy a regular file's bytes into a new file (never through a symlink at ``path``)."""
    src = os.open(source, _READ)
    try:
        dst = os.open(path, _WRITE, 0o600)
        try:
            _pump(src, dst)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _pump(src: int, dst: int) -> None:
    try:
        while os.copy_file_range(src, dst, 1 << 30):
            pass
        return
    except OSError:
        os.lseek(src, 0, os.SEEK_SET)
        os.lseek(dst, 0, os.SEEK_SET)
        os.ftruncate(dst, 0)
    while chunk := os.read(src, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]
