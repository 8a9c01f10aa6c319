"""Small base images made on the spot: no public registry is reachable from these machines.

A busybox-static rootfs stands in for ``busybox`` / ``alpine``: one static binary with an
applet symlink for each command, and the few files in /etc that tools expect.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from support.dockerd import DockerDaemon
from support.tools import require_tool

BUSYBOX_HINT = "apt-get install -y busybox-static"
BUSYBOX_IMAGE = "dwtest/busybox:latest"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
_GROUP = """\
root:x:0:
daemon:x:1:
nogroup:x:65534:
"""


def busybox_binary() -> str:
    """Path of the static busybox (Debian's busybox-static installs it as /bin/busybox)."""
    return require_tool("busybox", BUSYBOX_HINT)


def busybox_rootfs(dest: Path) -> Path:
    """Make a busybox root filesystem in ``dest`` (created; must be empty) and return it.

    /bin/busybox plus a relative symlink per applet in /bin, /etc/passwd and /etc/group with
    root, daemon and nobody, a 1777 /tmp, and empty /root, /home, /var, /proc, /sys, /dev.
    Note: entries are owned by whoever runs the tests (root on CI); pack them with
    :func:`rootfs_tar`, which records every entry as 0:0.
    """
    busybox = busybox_binary()
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    for sub in ("bin", "etc", "root", "home", "var", "proc", "sys", "dev", "usr/bin"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").mkdir()
    (dest / "tmp").chmod(0o1777)
    (dest / "root").chmod(0o700)
    binary = dest / "bin" / "busybox"
    binary.write_bytes(Path(busybox).read_bytes())
    binary.chmod(0o755)
    applets = subprocess.run(
        [busybox, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (dest / "bin" / applet).symlink_to("busybox")
    (dest / "etc" / "passwd").write_text(_PASSWD)
    (dest / "etc" / "group").write_text(_GROUP)
    return dest


def rootfs_tar(rootfs: Path, dest: Path) -> Path:
    """Pack ``rootfs`` into the uncompressed tar ``dest``: sorted, mtime 0, owner 0:0.

    The same folder always gives the same bytes, so the tar can serve as a layer.
    """
    tar = require_tool("tar", "apt-get install -y tar")
    subprocess.run(
        [
            tar,
            "--create",
            f"--file={dest}",
            f"--directory={rootfs}",
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--format=posix",
            "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
            ".",
        ],
        check=True,
        capture_output=True,
    )
    return dest


def rootfs_to_docker_image(
    daemon: DockerDaemon,
    rootfs: Path,
    ref: str = BUSYBOX_IMAGE,
    changes: Sequence[str] = (f"ENV PATH={DEFAULT_PATH}", 'CMD ["sh"]'),
) -> str:
    """``docker import`` the folder ``rootfs`` into ``daemon`` as image ``ref``; returns its ID.

    ``changes`` are Dockerfile instructions applied to the config (``docker import --change``).
    """
    tar_path = daemon.root / f"import-{os.getpid()}-{abs(hash(ref))}.tar"
    rootfs_tar(rootfs, tar_path)
    try:
        args: list[str] = ["import"]
        for change in changes:
            args += ["--change", change]
        out = daemon.run(*args, tar_path, ref).stdout
    finally:
        tar_path.unlink(missing_ok=True)
    return out.strip()
