"""A private Docker Engine for the tests: its own socket, data-root, exec-root and containerd.

The daemon is Debian's ``docker.io`` (dockerd 20.10 with BuildKit built in). It runs without
iptables and without the default bridge, so it changes nothing on the host's network; a
container gets only a loopback interface, or the host's network with ``--network host``.
``scripts/start-dockerd.sh`` starts the same daemon by hand; keep the flags in step
(``tests/test_support.py`` checks that they are).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from support.tools import find_tool, require_tool

DOCKER_HINT = "apt-get install -y docker.io"
# The Debian client matches the daemon and has the built-in BuildKit client; the newer client
# some machines have in /usr/local/bin lacks buildx, so `DOCKER_BUILDKIT=1 docker build` fails.
DOCKER_CLIENT = "/usr/bin/docker"
# Every daemon a test run starts lives in a directory with this prefix in /tmp: short, since
# unix socket paths (the API socket, containerd's sockets under exec-root) max out at 107 bytes.
DIR_PREFIX = "dwd-"
START_TIMEOUT = 60.0

# Flags that do not depend on the directory; scripts/start-dockerd.sh uses the same ones.
STATIC_FLAGS: tuple[str, ...] = (
    "--iptables=false",
    "--ip6tables=false",
    "--bridge=none",
    "--shutdown-timeout=5",
)


class DockerCommandError(AssertionError):
    """A docker client command failed; the message carries its output."""


@dataclass
class DockerDaemon:
    """A running private dockerd. ``host`` is the DOCKER_HOST value for it."""

    root: Path
    host: str
    storage_driver: str
    namespace: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    docker: str = DOCKER_CLIENT

    @property
    def log_path(self) -> Path:
        """Where dockerd (and its containerd) write their log."""
        return self.root / "dockerd.log"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a docker client talking to this daemon (and only to it)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"}
        }
        env["DOCKER_HOST"] = self.host
        # A private client config: no credential helpers or contexts from the user's ~/.docker.
        env["DOCKER_CONFIG"] = str(self.root / "client-config")
        env.update(extra)
        return env

    def run(
        self,
        *args: str | os.PathLike[str],
        check: bool = True,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``/usr/bin/docker ARGS`` against this daemon with text output captured.

        With ``check`` (the default) a non-zero exit raises :class:`DockerCommandError`
        showing the command, its exit code and its output.
        """
        cmd = [self.docker, *(os.fspath(a) for a in args)]
        result = subprocess.run(
            cmd,
            env=self.env(**(env or {})),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise DockerCommandError(
                f"`{' '.join(cmd)}` exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result

    def load(self, tar_path: str | os.PathLike[str]) -> list[str]:
        """``docker load -i TAR``; returns the loaded image names (or IDs, for untagged ones)."""
        out = self.run("load", "-i", tar_path).stdout
        loaded = []
        for line in out.splitlines():
            for prefix in ("Loaded image: ", "Loaded image ID: "):
                if line.startswith(prefix):
                    loaded.append(line.removeprefix(prefix).strip())
        return loaded

    def buildkit_build(
        self,
        context: str | os.PathLike[str],
        *args: str,
        tag: str | None = None,
        network: str = "none",
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """``DOCKER_BUILDKIT=1 docker build`` of ``context`` with plain progress output.

        ``network`` must be ``none`` or ``host``: without a bridge, BuildKit's default
        network for RUN fails with "network bridge not found".
        """
        cmd: list[str] = ["build", "--progress=plain", f"--network={network}"]
        if tag is not None:
            cmd += ["--tag", tag]
        cmd += [*args, os.fspath(context)]
        return self.run(*cmd, env={"DOCKER_BUILDKIT": "1"}, timeout=timeout)

    def inspect(self, ref: str) -> dict[str, object]:
        """``docker image inspect REF`` as a dict."""
        data = json.loads(self.run("image", "inspect", ref).stdout)
        result: dict[str, object] = data[0]
        return result

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the daemon's log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


def _mounts() -> list[tuple[str, str]]:
    """(mount point, fs type) of this mount namespace, from /proc/self/mountinfo."""
    mounts = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            point = fields[4].encode().decode("unicode_escape")
            mounts.append((point, fields[sep + 1]))
    return mounts


def storage_driver_for(data_root: Path) -> str:
    """overlay2 when the kernel has overlayfs and data_root's filesystem can be its upper dir.

    DOCKWRIGHT_TEST_DOCKER_STORAGE_DRIVER overrides the choice (e.g. ``vfs``).
    """
    forced = os.environ.get("DOCKWRIGHT_TEST_DOCKER_STORAGE_DRIVER")
    if forced:
        return forced
    try:
        filesystems = Path("/proc/filesystems").read_text()
    except OSError:
        return "vfs"
    if "\toverlay\n" not in filesystems:
        return "vfs"
    target = str(data_root.resolve())
    best, fstype = "", ""
    for point, kind in _mounts():
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, kind
    # overlayfs cannot use another overlay (or aufs) as its upper layer.
    return "vfs" if fstype in {"overlay", "aufs"} else "overlay2"


def namespace_for(root: Path) -> str:
    """The containerd namespace of the daemon in ``root``: letters and digits only after
    the prefix, since containerd rejects a component that starts or ends with ``_`` or ``-``
    (mkdtemp's random suffix may)."""
    suffix = "".join(c for c in root.name.removeprefix(DIR_PREFIX) if c.isalnum())
    return f"dwtest-{suffix or 'x'}"


def dockerd_command(dockerd: str, root: Path, storage_driver: str, namespace: str) -> list[str]:
    """The full dockerd command line for a daemon living in ``root``."""
    return [
        dockerd,
        *STATIC_FLAGS,
        f"--storage-driver={storage_driver}",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--pidfile={root / 'dockerd.pid'}",
        f"--config-file={root / 'daemon.json'}",
        # dockerd 20.10 uses a system containerd when one answers at /run/containerd; its
        # own namespaces keep our containers and images apart from anyone else's there.
        f"--containerd-namespace={namespace}",
        f"--containerd-plugins-namespace={namespace}-plugins",
        f"--host=unix://{root / 'docker.sock'}",
    ]


def start_dockerd(root: Path | None = None, timeout: float = START_TIMEOUT) -> DockerDaemon:
    """Start a private dockerd in ``root`` (a new short dir in /tmp by default) and wait for it.

    Raises :class:`DockerCommandError` with the log tail when it does not answer in time.
    """
    dockerd = require_tool("dockerd", DOCKER_HINT)
    docker = require_tool(DOCKER_CLIENT, DOCKER_HINT)
    reap_stale_daemons()
    if root is None:
        root = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir="/tmp"))
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "exec", "client-config"):
        (root / sub).mkdir(exist_ok=True)
    (root / "daemon.json").write_text("{}\n")
    (root / "owner.pid").write_text(f"{os.getpid()}\n")
    namespace = namespace_for(root)
    daemon = DockerDaemon(
        root=root,
        host=f"unix://{root / 'docker.sock'}",
        storage_driver=storage_driver_for(root / "data"),
        namespace=namespace,
        docker=docker,
    )
    cmd = dockerd_command(dockerd, root, daemon.storage_driver, namespace)
    (root / "command").write_text(" ".join(cmd) + "\n")
    with daemon.log_path.open("wb") as log:
        daemon.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while True:
        probe = daemon.run("version", "--format", "{{.Server.Version}}", check=False, timeout=10)
        if probe.returncode == 0:
            return daemon
        exited = daemon.process.poll()
        if exited is not None or time.monotonic() > deadline:
            why = f"exited with {exited}" if exited is not None else f"no answer in {timeout:.0f}s"
            tail = daemon.log_tail()
            stop_dockerd(daemon)
            raise DockerCommandError(
                f"dockerd {why}\ncommand: {' '.join(cmd)}\n"
                f"last client error: {probe.stderr.strip()}\n--- dockerd log tail ---\n{tail}"
            )
        time.sleep(0.2)


def _pids_mentioning(needles: Sequence[str]) -> list[int]:
    """PIDs whose command line contains one of ``needles`` (paths and names unique to us)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(needle in cmdline for needle in needles):
            pids.append(int(entry.name))
    return pids


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists() and not _is_zombie(pid)]
        if alive:
            time.sleep(0.1)
    return alive


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _unmount_under(root: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    mnt_detach = 2
    prefix = str(root.resolve()).rstrip("/") + "/"
    points = [p for p, _ in _mounts() if p.startswith(prefix) or p + "/" == prefix]
    for point in sorted(set(points), key=len, reverse=True):
        libc.umount2(point.encode(), mnt_detach)


def stop_dockerd(daemon: DockerDaemon, remove: bool = True) -> None:
    """Stop the daemon: remove its containers, stop dockerd, kill its leftover containerd and
    shims, unmount whatever is left under its directory and (with ``remove``) delete it."""
    root = daemon.root
    pid = _daemon_pid(daemon)
    if pid is not None:
        # Removing containers first spares the shutdown its wait for each one to stop.
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            ids = daemon.run("ps", "-aq", check=False, timeout=20).stdout.split()
            if ids:
                daemon.run("rm", "-f", *ids, check=False, timeout=60)
        _kill(pid, signal.SIGTERM)
        if daemon.process is not None:
            try:
                daemon.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.process.kill()
                daemon.process.wait(timeout=10)
        elif _wait_gone([pid], 30):
            _kill(pid, signal.SIGKILL)
            _wait_gone([pid], 10)
    _kill_leftovers(root, daemon.namespace)
    if remove:
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def _daemon_pid(daemon: DockerDaemon) -> int | None:
    """The running dockerd's PID: our child, or (for a daemon of an earlier run) its pidfile."""
    if daemon.process is not None:
        return daemon.process.pid if daemon.process.poll() is None else None
    try:
        pid = int((daemon.root / "dockerd.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _kill_leftovers(root: Path, namespace: str) -> None:
    needles = [str(root) + "/", f"-namespace {namespace} "]
    pids = _pids_mentioning(needles)
    for pid in pids:
        _kill(pid, signal.SIGTERM)
    for pid in _wait_gone(pids, 5):
        _kill(pid, signal.SIGKILL)
    _wait_gone(pids, 5)


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


def reap_stale_daemons(tmp: Path = Path("/tmp")) -> list[Path]:
    """Stop daemons left by earlier test runs whose pytest process is gone; return their dirs.

    Only directories this module made (``/tmp/dwd-*`` with an ``owner.pid``) are touched.
    """
    reaped = []
    for root in sorted(tmp.glob(f"{DIR_PREFIX}*")):
        owner_file = root / "owner.pid"
        try:
            owner = int(owner_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if _pid_alive(owner):
            continue
        namespace = namespace_for(root)
        stale = DockerDaemon(
            root=root,
            host=f"unix://{root / 'docker.sock'}",
            storage_driver="",
            namespace=namespace,
            docker=find_tool(DOCKER_CLIENT) or DOCKER_CLIENT,
        )
        stop_dockerd(stale)
        reaped.append(root)
    return reaped


@contextlib.contextmanager
def running_dockerd() -> Iterator[DockerDaemon]:
    """A private dockerd for the duration of the ``with`` block."""
    daemon = start_dockerd()
    try:
        yield daemon
    finally:
        stop_dockerd(daemon)
