"""Helpers for dockwright's tests: real tools, a private Docker Engine, small base images,
test registries (plain, basic auth, token auth) and a fault-injecting proxy.

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
from support.faultproxy import FAULT_KINDS, Fault, FaultKind, FaultProxy, ProxiedRequest
from support.pki import CertAuthority, IssuedCert, issue_cert, make_ca
from support.registry import (
    SETUPS,
    RegistryError,
    RegistryServer,
    Setup,
    SkopeoAccess,
    htpasswd_line,
    layout_digest,
    make_test_image,
    running_registry,
    skopeo_copy,
    skopeo_inspect,
    start_registry,
    stop_registry,
)
from support.rootfs import (
    BUSYBOX_IMAGE,
    busybox_binary,
    busybox_rootfs,
    rootfs_tar,
    rootfs_to_docker_image,
)
from support.tokenserver import (
    PASSWORD,
    PUBLIC_PREFIX,
    USERNAME,
    Scope,
    TokenRequest,
    TokenServer,
    decode_jwt,
    libtrust_key_id,
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
    "FAULT_KINDS",
    "PASSWORD",
    "PUBLIC_PREFIX",
    "SETUPS",
    "USERNAME",
    "CertAuthority",
    "DockerCommandError",
    "DockerDaemon",
    "Fault",
    "FaultKind",
    "FaultProxy",
    "IssuedCert",
    "ProxiedRequest",
    "RegistryError",
    "RegistryServer",
    "Scope",
    "Setup",
    "SkopeoAccess",
    "TokenRequest",
    "TokenServer",
    "busybox_binary",
    "busybox_rootfs",
    "conformance_dir",
    "decode_jwt",
    "find_tool",
    "free_port",
    "go_env",
    "go_toolchain",
    "htpasswd_line",
    "issue_cert",
    "layout_digest",
    "libtrust_key_id",
    "make_ca",
    "make_test_image",
    "require_tool",
    "rootfs_tar",
    "rootfs_to_docker_image",
    "run_dockwright",
    "running_dockerd",
    "running_registry",
    "skopeo_copy",
    "skopeo_inspect",
    "start_dockerd",
    "start_registry",
    "stop_dockerd",
    "stop_registry",
]
