"""The services the benchmark starts for itself: a CNCF distribution registry on 127.0.0.1 (for
ko's base image) and a private Docker Engine (for the BuildKit comparison).

Both run in directories the benchmark owns and are stopped by PID; the dockerd flags follow
scripts/start-dockerd.sh and tests/support/dockerd.py (no iptables, no bridge, private socket,
data-root, exec-root and containerd namespaces), so nothing on the host changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

DOCKER_CLIENT = "/usr/bin/docker"  # the Debian client: matches dockerd 20.10 and has BuildKit
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


class ServiceError(RuntimeError):
    """A service did not start, or a command against it failed."""


def find_tool(name: str, hint: str) -> str:
    """Path of executable ``name`` (PATH, then the sbin directories); a clear error if absent."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN))
    if found is None:
        raise ServiceError(f"{name} not found on PATH: {hint}")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if _pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _pid_alive(p)]
    return alive


def _stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _pids_mentioning(needles: Sequence[str]) -> list[int]:
    """PIDs whose command line names one of ``needles`` (paths unique to this run)."""
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


def _unmount_under(root: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    mnt_detach = 2
    prefix = str(root.resolve()).rstrip("/") + "/"
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(prefix):
                points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        libc.umount2(point.encode(), mnt_detach)


@dataclass
class Registry:
    """``docker-registry serve`` (CNCF distribution) on 127.0.0.1, storing in ``root``."""

    root: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as it goes into image references."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        """Write a config, start the registry and wait until it answers ``/v2/``."""
        binary = find_tool("docker-registry", "apt-get install -y docker-registry")
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
        )
        log = (self.root / "registry.log").open("wb")
        self.process = subprocess.Popen(
            [binary, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1."):
                        return
            except OSError:
                time.sleep(0.1)
        tail = (self.root / "registry.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise ServiceError(f"docker-registry did not start on port {self.port}:\n{tail}")

    def stop(self) -> None:
        """Stop the registry process (by PID); its storage goes with the benchmark's temp dir."""
        if self.process is not None:
            _stop_process(self.process, timeout=10)
            self.process = None


@dataclass
class Dockerd:
    """A private Docker Engine living in ``root`` (keep it short: socket paths max 107 bytes)."""

    root: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    storage_driver: str = ""

    @property
    def host(self) -> str:
        """The DOCKER_HOST value for this daemon."""
        return f"unix://{self.root / 'docker.sock'}"

    @property
    def namespace(self) -> str:
        """The containerd namespace of this daemon's containers and images."""
        return f"dwbench-{self.root.name}"

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a docker client that talks to this daemon and reads no user config."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"}
        }
        env["DOCKER_HOST"] = self.host
        env["DOCKER_CONFIG"] = str(self.root / "client-config")
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        """A docker client command line."""
        return [DOCKER_CLIENT, *args]

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        """Run ``docker ARGS`` against this daemon; return stdout."""
        proc = subprocess.run(
            self.command(*args),
            env=self.env(DOCKER_BUILDKIT="1"),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ServiceError(
                f"docker {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc.stdout

    def _storage_driver(self) -> str:
        forced = os.environ.get("DOCKWRIGHT_TEST_DOCKER_STORAGE_DRIVER")
        if forced:
            return forced
        filesystems = Path("/proc/filesystems").read_text()
        if "\toverlay\n" not in filesystems:
            return "vfs"
        fstype = ""
        best = ""
        target = str((self.root / "data").resolve())
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                point = fields[4].encode().decode("unicode_escape")
                inside = target == point or target.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, fstype = point, fields[fields.index("-") + 1]
        return "vfs" if fstype in {"overlay", "aufs"} else "overlay2"

    def start(self, timeout: float = 60) -> None:
        """Start dockerd and wait until ``docker version`` answers."""
        dockerd = find_tool("dockerd", "apt-get install -y docker.io")
        if not os.access(DOCKER_CLIENT, os.X_OK):
            raise ServiceError(f"{DOCKER_CLIENT} missing: apt-get install -y docker.io")
        for sub in ("data", "exec", "client-config"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "daemon.json").write_text("{}\n")
        self.storage_driver = self._storage_driver()
        cmd = [
            dockerd,
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--shutdown-timeout=5",
            f"--storage-driver={self.storage_driver}",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'dockerd.pid'}",
            f"--config-file={self.root / 'daemon.json'}",
            f"--containerd-namespace={self.namespace}",
            f"--containerd-plugins-namespace={self.namespace}-plugins",
            f"--host={self.host}",
        ]
        log = (self.root / "dockerd.log").open("wb")
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            probe = subprocess.run(
                self.command("version", "--format", "{{.Server.Version}}"),
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if probe.returncode == 0:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "dockerd.log").read_text(errors="replace")[-3000:]
                self.stop()
                raise ServiceError(f"dockerd did not start:\n{probe.stderr}\n{tail}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Remove containers, stop dockerd, kill what it left (its containerd and shims, found
        by this daemon's directory on their command line) and unmount under ``root``."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.SubprocessError, OSError, ServiceError):
                ids = self.run("ps", "-aq", check=False, timeout=20).split()
                if ids:
                    self.run("rm", "-f", *ids, check=False, timeout=60)
            _stop_process(self.process, timeout=30)
        self.process = None
        leftovers = _pids_mentioning([str(self.root) + "/", f"-namespace {self.namespace} "])
        for pid in leftovers:
            _kill(pid, signal.SIGTERM)
        for pid in _wait_gone(leftovers, 5):
            _kill(pid, signal.SIGKILL)
        _wait_gone(leftovers, 5)
        if self.root.exists():
            _unmount_under(self.root)
