"""Overlay mounts through libc, without a process per mount.

The new mount API (``fsopen``/``fsconfig``/``fsmount``/``move_mount``, Linux 5.2; overlayfs
accepts ``lowerdir+`` one layer per call since Linux 6.8) has no page-size limit on the
options, so hundreds of lowers fit. Kernels without it get classic ``mount(2)`` with one
option string, which holds as many lowers as fit in a page.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Sequence
from pathlib import Path

from dockwright.errors import StoreError

# The same numbers on every architecture but alpha (the syscall table was unified for 5.x).
_SYS_MOVE_MOUNT = 429
_SYS_FSOPEN = 430
_SYS_FSCONFIG = 431
_SYS_FSMOUNT = 432
_FSOPEN_CLOEXEC = 0x1
_FSCONFIG_SET_FLAG = 0
_FSCONFIG_SET_STRING = 1
_FSCONFIG_CMD_CREATE = 6
_FSMOUNT_CLOEXEC = 0x1
_MOUNT_ATTR_RDONLY = 0x1
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_AT_FDCWD = -100
_MS_RDONLY = 0x1
_MNT_DETACH = 0x2
_PAGE = 4096
MAX_LOWERS = 500
"""Overlayfs's own limit on stacked lower directories (OVL_MAX_STACK)."""

# With an upper directory, the mount is also "volatile": unmounting then skips syncing the
# whole upper filesystem (milliseconds to seconds when other work writes to the disk). An
# upper is either discarded or kept as a layer, which is no more durable than an unpacked
# one (extraction does not fsync either): both are caches of the stored layer tars.
# Keep the upper directory a plain diff: no inode index, no redirects, no metadata-only
# copy-ups (each would leave xattrs or partial files that are not a layer).
OVERLAY_OPTIONS: tuple[tuple[str, str], ...] = (
    ("index", "off"),
    ("redirect_dir", "off"),
    ("metacopy", "off"),
)

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc  # noqa: PLW0603 - loaded once, on first use
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def _kernel_messages(fs_fd: int) -> str:
    lines: list[str] = []
    while True:
        try:
            lines.append(os.read(fs_fd, 4096).decode(errors="replace").strip())
        except OSError:
            return "; ".join(line for line in lines if line)


def _fsconfig(fs_fd: int, key: str, value: str | None, cmd: int = _FSCONFIG_SET_STRING) -> None:
    lib = _lib()
    result = lib.syscall(
        ctypes.c_long(_SYS_FSCONFIG),
        ctypes.c_int(fs_fd),
        ctypes.c_uint(cmd),
        ctypes.c_char_p(os.fsencode(key) if key else None),
        ctypes.c_char_p(os.fsencode(value) if value is not None else None),
        ctypes.c_int(0),
    )
    if result < 0:
        code = ctypes.get_errno()
        detail = _kernel_messages(fs_fd)
        what = key or "create"
        raise OSError(code, f"overlay {what}: {os.strerror(code)} ({detail or 'no detail'})")


def _mount_new_api(
    target: Path, lowers: Sequence[Path], upper: Path | None, work: Path | None
) -> None:
    lib = _lib()
    fs_fd = _check(
        lib.syscall(
            ctypes.c_long(_SYS_FSOPEN), ctypes.c_char_p(b"overlay"), ctypes.c_uint(_FSOPEN_CLOEXEC)
        ),
        "fsopen overlay",
    )
    try:
        _fsconfig(fs_fd, "source", "dockwright")
        # lowerdir+ appends below the previous one: the topmost layer goes first.
        for lower in reversed(lowers):
            _fsconfig(fs_fd, "lowerdir+", str(lower))
        if upper is not None and work is not None:
            _fsconfig(fs_fd, "upperdir", str(upper))
            _fsconfig(fs_fd, "workdir", str(work))
            _fsconfig(fs_fd, "volatile", None, _FSCONFIG_SET_FLAG)
        for key, value in OVERLAY_OPTIONS:
            _fsconfig(fs_fd, key, value)
        _fsconfig(fs_fd, "", None, _FSCONFIG_CMD_CREATE)
        attrs = 0 if upper is not None else _MOUNT_ATTR_RDONLY
        mnt_fd = _check(
            lib.syscall(
                ctypes.c_long(_SYS_FSMOUNT),
                ctypes.c_int(fs_fd),
                ctypes.c_uint(_FSMOUNT_CLOEXEC),
                ctypes.c_uint(attrs),
            ),
            "fsmount",
        )
    finally:
        os.close(fs_fd)
    try:
        _check(
            lib.syscall(
                ctypes.c_long(_SYS_MOVE_MOUNT),
                ctypes.c_int(mnt_fd),
                ctypes.c_char_p(b""),
                ctypes.c_int(_AT_FDCWD),
                ctypes.c_char_p(os.fsencode(target)),
                ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH),
            ),
            f"move_mount to {target}",
        )
    finally:
        os.close(mnt_fd)


def _escape(path: Path) -> str:
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def _mount_classic(
    target: Path, lowers: Sequence[Path], upper: Path | None, work: Path | None
) -> None:
    options = ["lowerdir=" + ":".join(_escape(lower) for lower in reversed(lowers))]
    if upper is not None and work is not None:
        options += [f"upperdir={_escape(upper)}", f"workdir={_escape(work)}", "volatile"]
    options += [f"{key}={value}" for key, value in OVERLAY_OPTIONS]
    data = ",".join(options).encode()
    if len(data) >= _PAGE:
        raise StoreError(
            f"{len(lowers)} layers do not fit in one overlay mount on this kernel",
            hint="Linux 6.8 or later mounts any number of layers (overlayfs 'lowerdir+')",
        )
    lib = _lib()
    flags = 0 if upper is not None else _MS_RDONLY
    _check(
        lib.mount(
            ctypes.c_char_p(b"overlay"),
            ctypes.c_char_p(os.fsencode(target)),
            ctypes.c_char_p(b"overlay"),
            ctypes.c_ulong(flags),
            ctypes.c_char_p(data),
        ),
        f"mount overlay on {target}",
    )


_new_api_ok: bool | None = None


def _new_api_supported() -> bool:
    """Whether this kernel has the new mount API and overlayfs takes ``lowerdir+``."""
    global _new_api_ok  # noqa: PLW0603 - probed once per process
    if _new_api_ok is None:
        lib = _lib()
        fs_fd = lib.syscall(
            ctypes.c_long(_SYS_FSOPEN), ctypes.c_char_p(b"overlay"), ctypes.c_uint(_FSOPEN_CLOEXEC)
        )
        if fs_fd < 0:
            _new_api_ok = False
        else:
            try:
                _fsconfig(fs_fd, "lowerdir+", "/")
                _new_api_ok = True
            except OSError:
                _new_api_ok = False
            finally:
                os.close(fs_fd)
    return _new_api_ok


def mount_overlay(
    target: Path, lowers: Sequence[Path], upper: Path | None = None, work: Path | None = None
) -> None:
    """Mount an overlay of ``lowers`` (bottom first) at ``target``; read-only without ``upper``.

    Raise :class:`OSError` (with the kernel's own message where it gives one) when the mount
    fails, :class:`StoreError` when the layers do not fit a classic mount.
    """
    if len(lowers) > MAX_LOWERS:
        raise StoreError(
            f"{len(lowers)} layers are more than overlayfs stacks ({MAX_LOWERS})",
            hint="squash some layers of the base image",
        )
    if _new_api_supported():
        _mount_new_api(target, lowers, upper, work)
    else:
        _mount_classic(target, lowers, upper, work)


def unmount(target: Path) -> bool:
    """Unmount ``target`` (lazily if it is busy); False when nothing was mounted there."""
    lib = _lib()
    path = ctypes.c_char_p(os.fsencode(target))
    if lib.umount2(path, ctypes.c_int(0)) == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.EBUSY and lib.umount2(path, ctypes.c_int(_MNT_DETACH)) == 0:
        return True
    if code in (errno.EINVAL, errno.ENOENT):
        return False
    raise OSError(code, f"umount {target}: {os.strerror(code)}")
