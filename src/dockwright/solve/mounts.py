"""``RUN --mount``: host-side preparation of bind, cache, tmpfs, secret and ssh mounts."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from dockwright.dockerfile.mounts import Mount
from dockwright.errors import BuildError, UsageError
from dockwright.sandbox import BindMount
from dockwright.solve.options import SecretSource

SECRETS_DIR = "/run/secrets"
SSH_SOCKET = "/run/buildkit/ssh_agent.0"


@dataclass(frozen=True, slots=True)
class PreparedMounts:
    """The binds to give the sandbox, the environment entries they add, and the secret
    values in play (the step's output is redacted with them)."""

    binds: tuple[BindMount, ...]
    env: tuple[str, ...]
    secrets: tuple[bytes, ...] = ()


_MASK = b"****"
_MIN_SECRET = 4  # shorter values would mask ordinary words


class Redactor:
    """Passes output on with every secret value (and each line of a multi-line one) masked.

    Output is held back to a line end, so a secret split across two chunks is still found;
    call :meth:`flush` after the process ends.
    """

    def __init__(self, secrets: tuple[bytes, ...], sink: Callable[[bytes], None]) -> None:
        values = set(secrets)
        for secret in secrets:
            values.update(line.strip() for line in secret.splitlines())
        self.values = sorted((v for v in values if len(v) >= _MIN_SECRET), key=len, reverse=True)
        self.sink = sink
        self._pending = b""

    def redact(self, data: bytes) -> bytes:
        """``data`` with the secrets masked."""
        for value in self.values:
            data = data.replace(value, _MASK)
        return data

    def __call__(self, chunk: bytes) -> None:
        if not self.values:
            self.sink(chunk)
            return
        data = self._pending + chunk
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        if len(self._pending) > 1 << 16:  # a very long line: pass it on anyway
            cut, self._pending = len(data), b""
        if cut:
            self.sink(self.redact(data[:cut]))

    def flush(self) -> None:
        """Pass on what is held back."""
        if self._pending:
            self.sink(self.redact(self._pending))
            self._pending = b""


def _memory_dir() -> Path:
    """A private directory in memory (secrets never touch a disk)."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="dockwright-secret-", dir=base))


def _secret_bytes(secret: SecretSource) -> bytes:
    if secret.env is not None:
        value = os.environ.get(secret.env)
        if value is None:
            raise UsageError(
                f"--secret id={secret.id}: environment variable {secret.env} is not set"
            )
        return value.encode("utf-8")
    assert secret.path is not None
    try:
        return secret.path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"--secret id={secret.id}: cannot read {secret.path}: {exc.strerror}"
        ) from exc


def cache_mount_id(mount: Mount) -> str:
    """The cache mount's id (BuildKit's default: the target path)."""
    return mount.id or mount.target or ""


class MountPreparer:
    """Makes host directories/files for one RUN's mounts; ``close`` undoes the temporary ones.

    ``stage_root`` maps a ``from=`` value (stage name/index or image) to a read-only
    directory; ``context`` is the build context (the default bind source).
    """

    def __init__(
        self,
        *,
        cache_root: Path,
        context: Path,
        stage_root: Callable[[str], Path],
        secrets: dict[str, SecretSource],
        ssh: tuple[str, ...],
        step: str,
    ) -> None:
        self.cache_root = cache_root
        self.context = context
        self.stage_root = stage_root
        self.secrets = secrets
        self.ssh = ssh
        self.step = step
        self._stack = ExitStack()
        self.secret_values: list[bytes] = []

    def close(self) -> None:
        """Remove temporary files (secrets, tmpfs and writable bind copies), drop locks."""
        self._stack.close()

    def _temp_dir(self, memory: bool = False) -> Path:
        path = _memory_dir() if memory else Path(tempfile.mkdtemp(prefix="dockwright-mnt-"))
        self._stack.callback(shutil.rmtree, path, True)
        return path

    def _source(self, mount: Mount) -> Path:
        root = self.stage_root(mount.from_) if mount.from_ else self.context
        rel = (mount.source or "").strip("/")
        path = root / rel if rel else root
        real = path.resolve()
        if real != root.resolve() and root.resolve() not in real.parents:
            raise BuildError(
                f"{self.step}: --mount source {mount.source!r} leads outside its root",
                step=self.step,
            )
        if not path.exists():
            raise BuildError(
                f"{self.step}: --mount source {mount.source or '/'!r} does not exist",
                step=self.step,
            )
        return path

    def _bind(self, mount: Mount) -> BindMount:
        source = self._source(mount)
        if not mount.readonly:
            copy = self._temp_dir() / "rw"
            if source.is_dir():
                shutil.copytree(source, copy, symlinks=True)
            else:
                shutil.copy2(source, copy)
            source = copy
        return BindMount(source, mount.target or "", readonly=mount.readonly)

    def _cache(self, mount: Mount) -> BindMount:
        ident = cache_mount_id(mount)
        # BuildKit seeds a cache that sets mode/uid/gid or from= from its own source, which
        # makes it another cache than the bare id: the same id with other options is apart.
        seed = (mount.mode, mount.uid, mount.gid, mount.from_, mount.source)
        if any(v is not None for v in seed):
            ident += "\0" + repr(seed)
        name = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]
        base = self.cache_root / name
        base.mkdir(parents=True, exist_ok=True)
        lock_file = base / "lock"
        sharing = mount.sharing or "shared"
        data = base / "data"
        if sharing == "locked":
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            self._stack.callback(os.close, fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        elif sharing == "private":
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._stack.callback(os.close, fd)
            except BlockingIOError:
                os.close(fd)
                data = self._temp_dir() / "data"
        if not data.exists():
            fresh = data.with_name(data.name + ".new")
            shutil.rmtree(fresh, ignore_errors=True)
            if mount.from_:
                shutil.copytree(self._source(mount), fresh, symlinks=True)
            else:
                fresh.mkdir()
            os.chmod(fresh, mount.mode if mount.mode is not None else 0o755)
            os.chown(fresh, mount.uid or 0, mount.gid or 0)
            fresh.rename(data)
        return BindMount(data, mount.target or "", readonly=False)

    def _secret(self, mount: Mount) -> tuple[BindMount | None, str | None]:
        ident = mount.id or os.path.basename(mount.target or "")
        secret = self.secrets.get(ident)
        if secret is None:
            if mount.required:
                raise BuildError(
                    f"{self.step}: secret {ident!r} is required but was not given",
                    step=self.step,
                )
            return None, None
        folder = self._temp_dir(memory=True)
        path = folder / "secret"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_secret_bytes(secret))
        uid, gid = mount.uid or 0, mount.gid or 0
        os.chown(path, uid, gid)
        os.chmod(path, mount.mode if mount.mode is not None else 0o400)
        self.secret_values.append(_secret_bytes(secret))
        env = None
        if mount.env:
            env = f"{mount.env}={_secret_bytes(secret).decode('utf-8', errors='replace')}"
        if mount.env and not mount.target:
            return None, env
        target = mount.target or f"{SECRETS_DIR}/{ident}"
        return BindMount(path, target, readonly=True), env

    def _ssh(self, mount: Mount) -> tuple[BindMount | None, str]:
        sock = os.environ.get("SSH_AUTH_SOCK")
        if "default" not in self.ssh and (mount.id or "default") not in self.ssh:
            if mount.required:
                raise BuildError(
                    f"{self.step}: --mount=type=ssh needs --ssh default", step=self.step
                )
            return None, ""
        if not sock:
            raise UsageError("--ssh default: SSH_AUTH_SOCK is not set (start an ssh-agent)")
        target = mount.target or SSH_SOCKET
        return BindMount(Path(sock), target, readonly=False), f"SSH_AUTH_SOCK={target}"

    def prepare(self, mounts: tuple[Mount, ...]) -> PreparedMounts:
        """Host-side sources for ``mounts``."""
        binds: list[BindMount] = []
        env: list[str] = []
        for mount in mounts:
            if mount.type == "bind":
                binds.append(self._bind(mount))
            elif mount.type == "cache":
                binds.append(self._cache(mount))
            elif mount.type == "tmpfs":
                binds.append(BindMount(self._temp_dir(memory=True), mount.target or "", False))
            elif mount.type == "secret":
                bind, extra = self._secret(mount)
                if bind is not None:
                    binds.append(bind)
                if extra:
                    env.append(extra)
            elif mount.type == "ssh":
                bind_ssh, extra_ssh = self._ssh(mount)
                if bind_ssh is not None:
                    binds.append(bind_ssh)
                    env.append(extra_ssh)
        return PreparedMounts(tuple(binds), tuple(env), tuple(self.secret_values))


@contextlib.contextmanager
def prepared(preparer: MountPreparer, mounts: tuple[Mount, ...]) -> Iterator[PreparedMounts]:
    """``preparer.prepare`` as a context manager that always cleans up."""
    try:
        yield preparer.prepare(mounts)
    finally:
        preparer.close()
