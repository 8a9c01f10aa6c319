"""Helpers for dockwright's tests: real tools, a private Docker Engine, small base images.

Tests import it as ``support`` (pytest puts ``tests/`` on ``sys.path`` for ``conftest.py``).
The fixtures built on it are in ``tests/conftest.py``; DEVELOPERS.md explains the set-up.
"""

from support.dockerd import (
    DockerCommandError,
    DockerDaemon,
    running_dockerd,
    start_dockerd,
    stop_dockerd,
)
from support.rootfs import (
    BUSYBOX_IMAGE,
    busybox_binary,
    busybox_rootfs,
    rootfs_tar,
    rootfs_to_docker_image,
)
from support.tools import (
    CONFORMANCE_SKIP_REASON,
    conformance_dir,
    find_tool,
    free_port,
    go_env,
    go_toolchain,
    require_tool,
    run_dockwright,
)

__all__ = [
    "BUSYBOX_IMAGE",
    "CONFORMANCE_SKIP_REASON",
    "DockerCommandError",
    "DockerDaemon",
    "busybox_binary",
    "busybox_rootfs",
    "conformance_dir",
    "find_tool",
    "free_port",
    "go_env",
    "go_toolchain",
    "require_tool",
    "rootfs_tar",
    "rootfs_to_docker_image",
    "run_dockwright",
    "running_dockerd",
    "start_dockerd",
    "stop_dockerd",
]
