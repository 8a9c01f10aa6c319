"""Small trees to copy from and into, and a listing that says what a copy produced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dockwright.dockerfile.ignore import IgnoreRules
from dockwright.solve.copying import CopyRequest, SourceTree, apply_copy

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000::/home/app:/bin/sh\n"
    "u2:x:2000:3000::/home/u2:/bin/sh\n"
)
GROUP = "root:x:0:\napp:x:1001:\ng3:x:3000:\n"
NOW_FLOOR = 1_700_000_000  # mtimes at or after this are "now", not copied from a source


def write(path: Path, text: str, mode: int = 0o644, mtime: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def make_context(base: Path) -> Path:
    """The experiments' context: a.txt 0640, b.txt, dir/ 0750 holding sub/ and a link."""
    ctx = base / "ctx"
    write(ctx / "a.txt", "A\n", 0o640, 1_000_000_000)
    write(ctx / "b.txt", "BB\n")
    write(ctx / "dir" / "sub" / "c.txt", "C\n", 0o644, 1_000_000_500)
    os.symlink("../a.txt", ctx / "dir" / "link")
    (ctx / "dir").chmod(0o750)
    os.utime(ctx / "dir", (1_100_000_000, 1_100_000_000))
    return ctx


def make_rootfs(base: Path) -> Path:
    root = base / "rootfs"
    write(root / "etc" / "passwd", PASSWD)
    write(root / "etc" / "group", GROUP)
    return root


def context(path: Path, ignore: str | None = None) -> SourceTree:
    rules = IgnoreRules.parse(ignore) if ignore is not None else None
    return SourceTree(path, "context", rules.matches if rules is not None else None)


def copy(tree: SourceTree, dest_root: Path, *sources: str, dest: str, **kw: object) -> None:
    workdir = kw.pop("workdir", "/")
    request = CopyRequest(sources=sources, dest=dest, workdir=str(workdir), **kw)  # type: ignore[arg-type]
    apply_copy(tree, request, dest_root)


def describe(path: Path) -> tuple[str, int, int, int, str]:
    """(type, mode, uid, gid, content or link target) of one entry."""
    info = os.lstat(path)
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISDIR(info.st_mode):
        return ("dir", mode, info.st_uid, info.st_gid, "")
    if stat.S_ISLNK(info.st_mode):
        return ("link", 0o777, info.st_uid, info.st_gid, os.readlink(path))
    return ("file", mode, info.st_uid, info.st_gid, path.read_text(errors="replace"))


def listing(root: Path, top: str) -> dict[str, tuple[str, int, int, int, str]]:
    """Every entry at and under ``root/top`` by its path in the rootfs."""
    start = root / top.lstrip("/")
    found = {"/" + top.strip("/"): describe(start)}
    if start.is_dir() and not start.is_symlink():
        for dirpath, dirnames, filenames in os.walk(start):
            for name in dirnames + filenames:
                full = Path(dirpath) / name
                found["/" + str(full.relative_to(root))] = describe(full)
    return found


def mtime(path: Path) -> int:
    return int(os.lstat(path).st_mtime)
