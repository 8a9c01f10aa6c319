"""``RuncExecutor``: run a ``ProcessSpec`` under runc from an OCI runtime-spec bundle."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from dockwright.errors import BuildError
from dockwright.sandbox.spec import OutputSink, ProcessSpec
from dockwright.sandbox.users import ResolvedUser, in_root, resolve_user

RUNC_INSTALL_HINT = "install runc: apt-get install runc"
# Where RUN containers' cgroups go, as Docker puts containers under /docker and BuildKit under
# /docker/buildkit: one absolute folder per tool in every hierarchy, not nested in whatever
# cgroup the caller happens to sit in.
DEFAULT_CGROUP_PARENT = "/dockwright"
# runc's own --root when run as root (containers' state folders are named by their ids).
_DEFAULT_STATE_ROOT = Path("/run/runc")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's default capability set.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)
_MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)
_READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)
_HOSTS = "127.0.0.1\tlocalhost {name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
_CHUNK = 64 * 1024


def _with_defaults(env: tuple[str, ...], user: ResolvedUser) -> list[str]:
    names = {entry.partition("=")[0] for entry in env}
    result = list(env)
    if "PATH" not in names:
        result.append(f"PATH={DEFAULT_PATH}")
    if "HOME" not in names:
        result.append(f"HOME={user.home}")
    return result


def _nofile_limit() -> dict[str, Any]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1048576
    return {"type": "RLIMIT_NOFILE", "hard": hard, "soft": min(1024, hard)}


def _mounts(spec: ProcessSpec, extra: list[tuple[Path, str]]) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
    ]
    sysfs: dict[str, Any] = {
        "destination": "/sys",
        "type": "sysfs",
        "source": "sysfs",
        "options": ["nosuid", "noexec", "nodev", "ro"],
    }
    mounts.append(sysfs)
    for source, target in extra:
        mounts.append(
            {
                "destination": target,
                "type": "bind",
                "source": str(source),
                "options": ["bind", "ro", "nosuid", "nodev", "noexec"],
            }
        )
    for mount in spec.mounts:
        options = ["rbind", "ro" if mount.readonly else "rw"]
        mounts.append(
            {
                "destination": mount.target,
                "type": "bind",
                "source": str(mount.source),
                "options": options,
            }
        )
    return mounts


def check_cgroup_parent(parent: str) -> str:
    """``parent`` if it is a usable cgroup folder: absolute (from each hierarchy's root),
    relative (below the caller's own cgroup) or empty (runc's default); ValueError if not."""
    parts = [part for part in parent.split("/") if part]
    if any(part in (".", "..") for part in parts) or any(c in parent for c in "\0\n:"):
        raise ValueError(f"{parent!r} is not a cgroup path (no '.', '..', ':' or newlines)")
    return parent


def runtime_config(
    rootfs: Path,
    spec: ProcessSpec,
    user: ResolvedUser,
    extra: list[tuple[Path, str]],
    cgroups_path: str = "",
) -> dict[str, Any]:
    """The OCI runtime-spec ``config.json`` content for running ``spec`` in ``rootfs``.

    ``extra`` lists read-only file binds (host file, target) such as resolv.conf and hosts;
    ``cgroups_path`` is the container's cgroup (empty: runc's default, below the caller's).
    """
    namespaces = [{"type": kind} for kind in ("pid", "mount", "ipc", "uts")]
    if spec.network == "none":
        namespaces.append({"type": "network"})
    caps = list(DEFAULT_CAPABILITIES)
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "maskedPaths": list(_MASKED_PATHS),
        "readonlyPaths": list(_READONLY_PATHS),
    }
    if cgroups_path:
        linux["cgroupsPath"] = cgroups_path
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {
                "uid": user.uid,
                "gid": user.gid,
                "additionalGids": list(user.additional_gids),
            },
            "args": list(spec.args),
            "env": _with_defaults(spec.env, user),
            "cwd": spec.cwd or "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
            },
            "rlimits": [_nofile_limit()],
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs.resolve()), "readonly": False},
        "hostname": spec.hostname,
        "mounts": _mounts(spec, extra),
        "linux": linux,
    }


def _created_paths(rootfs: Path, targets: list[str]) -> list[Path]:
    """For each target missing from ``rootfs``, its topmost missing ancestor (runc makes it)."""
    created: list[Path] = []
    for target in targets:
        parts = [p for p in target.split("/") if p]
        for depth in range(1, len(parts) + 1):
            path = in_root(rootfs, "/".join(parts[:depth]))
            if not os.path.lexists(path):
                created.append(path)
                break
    return created


def _remove_if_empty(rootfs: Path, path: Path) -> None:
    """Undo runc's mount-point creation so it does not end up in a layer: remove empty files
    and directory trees holding only empty directories and files; leave anything else."""
    root = rootfs.resolve()
    try:
        real = path.resolve()
    except OSError:
        return
    if real == root or root not in real.parents or path.is_symlink():
        return
    if path.is_dir():
        for child in list(path.iterdir()):
            _remove_if_empty(rootfs, child)
        with contextlib.suppress(OSError):
            path.rmdir()
    elif path.is_file() and path.stat().st_size == 0:
        path.unlink()


class RuncExecutor:
    """Runs processes under runc (as root): own pid, mount, ipc and uts namespaces, a network
    namespace when ``network="none"``, Docker's default capabilities, no new privileges.

    ``runc`` is the binary (default: found on PATH); ``state_root`` is runc's ``--root``
    (default: runc's own, /run/runc); ``id_prefix`` starts every container id;
    ``cgroup_parent`` is the cgroup folder each container's own cgroup is made in (absolute:
    from the root of every hierarchy; relative: below this process's cgroup; empty: runc's
    default). ValueError when it is not a cgroup path.
    """

    def __init__(
        self,
        runc: str | Path | None = None,
        *,
        state_root: Path | None = None,
        id_prefix: str = "dockwright-",
        cgroup_parent: str = DEFAULT_CGROUP_PARENT,
    ) -> None:
        self._runc = str(runc) if runc is not None else None
        self._state_root = state_root
        self._id_prefix = id_prefix
        self._cgroup_parent = check_cgroup_parent(cgroup_parent)

    def reap_stale(self) -> list[str]:
        """Delete the containers a killed dockwright left behind (ids with this executor's
        prefix whose ``runc run`` is gone: runc keeps their state and cgroups until deleted,
        and a command still running is orphaned), killing what still runs in them; return
        their ids. Containers of builds running beside this one are left alone."""
        root = self._state_dir()
        try:
            names = [n for n in os.listdir(root) if n.startswith(self._id_prefix)]
        except OSError:
            return []
        abandoned = [n for n in names if _abandoned(root / n / "state.json")]
        binary = shutil.which(self._runc or "runc") if abandoned else None
        if binary is None:
            return []
        for name in abandoned:
            self._delete(binary, name)
        return abandoned

    def _state_dir(self) -> Path:
        return self._state_root or _DEFAULT_STATE_ROOT

    def _delete(self, binary: str, container_id: str) -> None:
        """``runc delete -f``: kill what still runs in the container, drop its state."""
        subprocess.run(
            self._command(binary, "delete", "-f", container_id),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )

    def _binary(self) -> str:
        found = shutil.which(self._runc or "runc")
        if found is None:
            raise BuildError(
                f"runc was not found ({self._runc or 'runc on PATH'}); RUN needs an OCI runtime",
                hint=RUNC_INSTALL_HINT,
            )
        return found

    def _command(self, binary: str, *args: str) -> list[str]:
        root = ["--root", str(self._state_root)] if self._state_root is not None else []
        return [binary, *root, *args]

    def run(self, rootfs: Path, spec: ProcessSpec, *, output: OutputSink | None = None) -> int:
        """Run ``spec`` in ``rootfs`` under runc; return its exit status (128+N for signal N).

        Raises ``BuildError`` when runc is missing, when not running as root, or when runc
        cannot start the process (bad user, cwd or mount).
        """
        binary = self._binary()
        if os.geteuid() != 0:
            raise BuildError(
                "RUN needs root privileges: the runc sandbox runs as root",
                hint="run dockwright as root (e.g. with sudo); rootless RUN is not supported",
            )
        if not rootfs.is_dir():
            raise BuildError(f"the rootfs {rootfs} is not a directory")
        user = resolve_user(rootfs, spec.user)
        with tempfile.TemporaryDirectory(prefix=".dockwright-bundle-", dir=rootfs.parent) as tmp:
            bundle = Path(tmp)
            extra = self._etc_files(rootfs, spec, bundle)
            targets = ["/proc", "/dev", "/sys", *(t for _, t in extra)]
            targets += [m.target for m in spec.mounts]
            created = _created_paths(rootfs, targets)
            # The parents' times, restored after the stubs go: a directory that only held a
            # mount point then looks untouched, and snapshot diffs leave it out (as BuildKit).
            parents = {p.parent: os.stat(p.parent, follow_symlinks=False) for p in created}
            container_id = f"{self._id_prefix}{os.urandom(12).hex()}"
            cgroups_path = ""
            if self._cgroup_parent:
                cgroups_path = f"{self._cgroup_parent.rstrip('/')}/{container_id}"
            config = runtime_config(rootfs, spec, user, extra, cgroups_path)
            (bundle / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
            try:
                return self._run_bundle(binary, bundle, container_id, output)
            finally:
                for path in created:
                    _remove_if_empty(rootfs, path)
                for parent, st in parents.items():
                    with contextlib.suppress(OSError):
                        os.utime(parent, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

    def _etc_files(self, rootfs: Path, spec: ProcessSpec, bundle: Path) -> list[tuple[Path, str]]:
        if not in_root(rootfs, "/etc").is_dir():
            return []
        resolv = bundle / "resolv.conf"
        try:
            shutil.copyfile("/etc/resolv.conf", resolv)
        except OSError:
            resolv.write_text("", encoding="utf-8")
        hosts = bundle / "hosts"
        hosts.write_text(_HOSTS.format(name=spec.hostname), encoding="utf-8")
        return [(resolv, "/etc/resolv.conf"), (hosts, "/etc/hosts")]

    def _run_bundle(
        self, binary: str, bundle: Path, container_id: str, output: OutputSink | None
    ) -> int:
        log = bundle / "runc.log"
        command = self._command(
            binary, "--log", str(log), "--log-format", "json", "run", "--bundle", str(bundle)
        )
        try:
            process = subprocess.Popen(
                [*command, container_id],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            raise BuildError(f"could not start runc: {exc}", hint=RUNC_INSTALL_HINT) from exc
        try:
            assert process.stdout is not None
            fd = process.stdout.fileno()
            while chunk := os.read(fd, _CHUNK):
                if output is not None:
                    output(chunk)
            status = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
            # A `runc run` that ran to its end removed the container itself; only one cut
            # short (or that failed half-way) leaves its state folder for `delete` to clear.
            if os.path.lexists(self._state_dir() / container_id):
                self._delete(binary, container_id)
        errors = _runc_errors(log)
        if status != 0 and errors:
            raise BuildError(
                f"runc could not run the command: {errors[-1]}",
                exit_status=status,
                output_tail=errors,
            )
        return status


def _abandoned(state_file: Path) -> bool:
    """Whether the container whose runc ``state.json`` this is was left by a killed
    ``runc run``: its init process is gone (or the pid reused by another process), or it
    still runs but its parent is no longer runc (runc was killed; the command was orphaned)."""
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        pid = int(state["init_process_pid"])
        start = int(state["init_process_start"])
    except (OSError, ValueError, KeyError, TypeError):
        return False  # being created or deleted right now, or not runc's: leave it
    fields = _stat_fields(pid)
    if fields is None or int(fields[19]) != start:  # field 22 of stat: the start time
        return True
    try:
        parent = Path(f"/proc/{int(fields[1])}/comm").read_text(encoding="utf-8")
    except OSError:
        return True
    return not parent.startswith("runc")


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` from its third field on (the state), or None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _runc_errors(log: Path) -> list[str]:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    errors: list[str] = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            errors.append(str(entry.get("msg", "")))
    return errors
