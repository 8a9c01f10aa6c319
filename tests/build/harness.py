"""Build a case with Docker's BuildKit and with dockwright, into comparable flat images.

The BuildKit side is the test dockerd (``support.dockerd``): dockerd 20.10's BuildKit solver
with BuildKit's own Dockerfile frontend at ``FRONTEND_VERSION`` (dockerfile 1.7 with the labs
flags), compiled from its Go module and loaded as a local frontend image, selected with
``--build-arg BUILDKIT_SYNTAX=…``: the frontend built into dockerd 20.10 predates heredocs,
``--link``, ``RUN --network``, ``--parents``, ``--exclude`` and ``ADD --checksum``.

Both builders see the same base images under the same names (``busybox:latest``,
``golang:latest``): made once, imported into dockerd, saved, and copied into dockwright's store.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from build.cases import FIXTURES, Case
from build.flatten import FlatImage, flatten_archive
from support import (
    DockerDaemon,
    busybox_rootfs,
    go_env,
    go_toolchain,
    rootfs_tar,
    run_dockwright,
)

FRONTEND_MODULE = "github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend"
FRONTEND_VERSION = "v0.13.2"
FRONTEND_TAGS = "dfrunsecurity dfparents dfexcludepatterns"
FRONTEND_IMAGE = "dwtest/dockerfile:1.7-labs"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GO_PATH = "/usr/local/go/bin:" + BASE_PATH
# Bump when the base images' recipe changes, so cached tars are rebuilt.
BASES_FORMAT = "3"
# The Go image trusts what this machine trusts (the module proxy may sit behind its CA).
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CACHE_ROOT = Path(os.environ.get("DOCKWRIGHT_BUILD_TEST_CACHE", "/tmp/dockwright-build-test-cache"))


class BuildFailed(AssertionError):
    """A builder exited non-zero; the message holds its command and output."""


@dataclass
class HttpServer:
    """A static file server on 127.0.0.1 (for ADD URL and ADD git over dumb HTTP)."""

    root: Path
    port: int
    server: http.server.ThreadingHTTPServer

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serve_folder(root: Path) -> Iterator[HttpServer]:
    """Serve ``root`` over HTTP on a free port of 127.0.0.1 while the block runs."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpServer(root, server.server_address[1], server)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class BuildEnv:
    """Everything a session's builds share: dockerd, dockwright's store, servers, caches."""

    daemon: DockerDaemon
    home: Path
    work: Path
    http: HttpServer
    go: str
    go_cache: Path
    ssh_sock: Path | None = None  # an ssh-agent of the session, for cases with ssh = true
    buildkit_results: dict[str, Path] = field(default_factory=dict)
    dockwright_results: dict[str, Path] = field(default_factory=dict)

    def dockwright_env(self, case: Case) -> dict[str, str]:
        """Environment of a ``dockwright build`` for ``case``."""
        return {"DOCKWRIGHT_HOME": str(self.home), **self.ssh_env(case), **case.env}

    def ssh_env(self, case: Case) -> dict[str, str]:
        """``SSH_AUTH_SOCK`` for a case that forwards the agent (``--ssh default``)."""
        if not case.ssh:
            return {}
        assert self.ssh_sock is not None, "the session's ssh-agent did not start"
        return {"SSH_AUTH_SOCK": str(self.ssh_sock)}

    def fill(self, value: str) -> str:
        """Fill the placeholders a case.toml may use."""
        return value.replace("{http_url}", self.http.url).replace(
            "{http_port}", str(self.http.port)
        )


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    result = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise BuildFailed(
            f"{what}: `{' '.join(cmd)}` exited {result.returncode}\n{result.stdout[-3000:]}\n"
            f"{result.stderr[-3000:]}"
        )
    return result.stdout


# --- base images -----------------------------------------------------------------------------


def _go_root(go: str) -> Path:
    return Path(_run([go, "env", "GOROOT"], "go env GOROOT").strip())


def _go_version(go: str) -> str:
    return _run([go, "env", "GOVERSION"], "go env GOVERSION").strip()


def busybox_tar(cache: Path) -> Path:
    """The busybox rootfs as a reproducible tar, cached by the busybox binary's digest."""
    from support import busybox_binary

    key = hashlib.sha256(Path(busybox_binary()).read_bytes()).hexdigest()[:16]
    tar = cache / f"busybox-{BASES_FORMAT}-{key}.tar"
    if not tar.exists():
        tmp = cache / f"tmp-busybox-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        rootfs_tar(busybox_rootfs(tmp / "rootfs"), tar.with_suffix(".part"))
        tar.with_suffix(".part").rename(tar)
        shutil.rmtree(tmp, ignore_errors=True)
    return tar


def golang_tar(cache: Path, go: str) -> Path:
    """busybox plus this machine's GOROOT at /usr/local/go (no tests or docs) and its CA bundle."""
    version = _go_version(go)
    ca = HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.is_file() else b""
    tar = cache / f"golang-{BASES_FORMAT}-{version}-{hashlib.sha256(ca).hexdigest()[:12]}.tar"
    if not tar.exists():
        tmp = cache / f"tmp-golang-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        rootfs = busybox_rootfs(tmp / "rootfs")
        skip = shutil.ignore_patterns("test", "testdata", "doc", "api", "misc", "*_test.go")
        shutil.copytree(_go_root(go), rootfs / "usr/local/go", symlinks=True, ignore=skip)
        # Go counts its own use under $HOME/.config/go/telemetry (dated files) unless told not
        # to; GOTELEMETRY=off in the environment does not stop that, the mode file does.
        (rootfs / "root/.config/go/telemetry").mkdir(parents=True)
        (rootfs / "root/.config/go/telemetry/mode").write_text("off\n")
        if ca:
            (rootfs / "etc/ssl/certs").mkdir(parents=True)
            (rootfs / "etc/ssl/certs/ca-certificates.crt").write_bytes(ca)
        rootfs_tar(rootfs, tar.with_suffix(".part"))
        tar.with_suffix(".part").rename(tar)
        shutil.rmtree(tmp, ignore_errors=True)
    return tar


BASE_CHANGES: dict[str, tuple[str, ...]] = {
    "busybox:latest": (f"ENV PATH={BASE_PATH}", 'CMD ["sh"]'),
    "golang:latest": (
        f"ENV PATH={GO_PATH}",
        "ENV HOME=/root GOTOOLCHAIN=local CGO_ENABLED=0 GOTELEMETRY=off",
        'CMD ["go", "version"]',
    ),
}


def install_base(env: BuildEnv, tar: Path, ref: str) -> None:
    """Import ``tar`` into dockerd as ``ref`` and copy the very same image into the store."""
    args: list[str] = ["import"]
    for change in BASE_CHANGES[ref]:
        args += ["--change", change]
    env.daemon.run(*args, tar, ref, timeout=600)
    archive = env.work / f"base-{ref.replace(':', '-')}.tar"
    env.daemon.run("save", "-o", archive, ref, timeout=600)
    done = run_dockwright(
        "copy", f"docker-archive:{archive}", f"store:{ref}", env={"DOCKWRIGHT_HOME": str(env.home)}
    )
    if done.returncode != 0:
        raise BuildFailed(f"dockwright copy of {ref} into the store failed:\n{done.stderr}")
    archive.unlink()


def frontend_binary(cache: Path, go: str) -> Path:
    """BuildKit's Dockerfile frontend at FRONTEND_VERSION, compiled once into ``cache``."""
    binary = cache / f"dockerfile-frontend-{FRONTEND_VERSION}" / "dockerfile-frontend"
    if binary.exists():
        return binary
    gobin = binary.parent / "tmp"
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOBIN": str(gobin),
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
    }
    _run(
        [go, "install", "-tags", FRONTEND_TAGS, f"{FRONTEND_MODULE}@{FRONTEND_VERSION}"],
        "compiling BuildKit's Dockerfile frontend (needs the Go module proxy)",
        env=env,
    )
    (gobin / "dockerfile-frontend").rename(binary)
    shutil.rmtree(gobin, ignore_errors=True)
    return binary


def install_frontend(env: BuildEnv, cache: Path) -> None:
    """Load the frontend into dockerd as FRONTEND_IMAGE (a scratch image like docker/dockerfile)."""
    folder = env.work / "frontend"
    folder.mkdir(exist_ok=True)
    shutil.copy2(frontend_binary(cache, env.go), folder / "dockerfile-frontend")
    (folder / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY dockerfile-frontend /bin/dockerfile-frontend\n"
        'LABEL moby.buildkit.frontend.network.none="true"\n'
        'LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,'
        'moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"\n'
        'ENTRYPOINT ["/bin/dockerfile-frontend"]\n'
    )
    env.daemon.buildkit_build(folder, tag=FRONTEND_IMAGE)


# --- preparing a case ------------------------------------------------------------------------


def _hook_go_binary(env: BuildEnv, work: Path) -> None:
    """Compile the case's Go program (``src/``) on the host into ``context/app``."""
    build_env = {**os.environ, **go_env(env.go_cache)}
    result = subprocess.run(
        [env.go, "build", "-trimpath", "-o", str(work / "context" / "app"), "."],
        cwd=work / "src",
        env=build_env,
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BuildFailed(f"host go build failed:\n{result.stderr}")


def _hook_tarballs(env: BuildEnv, work: Path) -> None:
    """Pack ``payload/`` into ``context/payload.tar.gz`` and ``context/payload.tar``."""
    for name in ("payload.tar.gz", "payload.tar"):
        raw = work / "context" / name
        with tarfile.open(raw, "w") as tar:
            for path in sorted((work / "payload").rglob("*")):
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(work / "payload")))
                info.uid = 1000
                info.gid = 1000
                info.uname = info.gname = ""
                info.mtime = 0
                if path.is_file():
                    with path.open("rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
        if name.endswith(".gz"):
            # gzip with a fixed header time, so every build sees the same bytes
            data = raw.read_bytes()
            with raw.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
                gz.write(data)


PREPARE_HOOKS: dict[str, Callable[[BuildEnv, Path], None]] = {
    "go_binary": _hook_go_binary,
    "tarballs": _hook_tarballs,
}


def prepare(env: BuildEnv, case: Case) -> Path:
    """A fresh working copy of the case folder with modes, empty dirs, symlinks and hooks
    applied; returns it (its ``context/`` is the build context)."""
    work = env.work / "cases" / case.name
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(case.folder, work, symlinks=True)
    (work / "context").mkdir(exist_ok=True)
    for rel in case.mkdirs:
        (work / rel).mkdir(parents=True, exist_ok=True)
    for rel, target in case.symlinks.items():
        (work / rel).symlink_to(target)
    if case.prepare is not None:
        PREPARE_HOOKS[case.prepare](env, work)
    for rel, mode in case.modes.items():
        os.chmod(work / rel, mode)
    return work


# --- the two builders ------------------------------------------------------------------------


def _common_args(env: BuildEnv, case: Case, work: Path) -> list[str]:
    args = ["-f", str(work / case.dockerfile)]
    if case.target:
        args += ["--target", case.target]
    if case.platform:
        args += ["--platform", case.platform]
    for key, value in case.build_args.items():
        args += ["--build-arg", f"{key}={env.fill(value)}"]
    for key, value in case.labels.items():
        args += ["--label", f"{key}={value}"]
    if case.no_cache:
        args.append("--no-cache")
    if case.ssh:
        args += ["--ssh", "default"]
    for secret in case.secrets:
        source = f"src={work / secret.src}" if secret.src else f"env={secret.env}"
        args += ["--secret", f"id={secret.id},{source}"]
    return args


def buildkit_build(env: BuildEnv, case: Case) -> Path:
    """Build ``case`` with dockerd's BuildKit (once per session); returns a docker-archive tar.

    ``--network=host`` makes RUN's default network the host's, as dockwright's default is.
    Named contexts (``--build-context``): the docker 20.10 CLI cannot send them, so each one is
    imported as a local image of that name, which ``COPY --from=NAME`` then resolves to.
    """
    if case.name in env.buildkit_results:
        return env.buildkit_results[case.name]
    work = prepare(env, case)
    for name, folder in case.build_contexts.items():
        tar = rootfs_tar(work / folder, env.work / f"ctx-{case.name}-{name}.tar")
        env.daemon.run("import", tar, f"{name}:latest")
    tag = f"bk/{case.name}:latest"
    args = [*_common_args(env, case, work), "--build-arg", f"BUILDKIT_SYNTAX={FRONTEND_IMAGE}"]
    result = env.daemon.run(
        "build",
        "--progress=plain",
        "--network=host",
        "--tag",
        tag,
        *args,
        str(work / "context"),
        env={"DOCKER_BUILDKIT": "1", **env.ssh_env(case), **case.env},
        check=False,
        timeout=900,
    )
    if result.returncode != 0:
        raise BuildFailed(f"BuildKit could not build case {case.name}:\n{result.stderr[-4000:]}")
    out = env.work / "buildkit" / f"{case.name}.tar"
    out.parent.mkdir(exist_ok=True)
    env.daemon.run("save", "-o", out, tag)
    env.buildkit_results[case.name] = out
    return out


def dockwright_build(env: BuildEnv, case: Case) -> Path:
    """Build ``case`` with ``dockwright build`` into a docker-archive tar (once per session)."""
    if case.name in env.dockwright_results:
        return env.dockwright_results[case.name]
    work = prepare(env, case)
    out = env.work / "dockwright" / f"{case.name}.tar"
    out.parent.mkdir(exist_ok=True)
    args = [
        "build",
        str(work / "context"),
        *_common_args(env, case, work),
        "-t",
        f"dw/{case.name}:latest",
        "--output",
        f"type=docker,dest={out}",
        "--progress",
        "plain",
    ]
    for name, folder in case.build_contexts.items():
        args += ["--build-context", f"{name}={work / folder}"]
    result = run_dockwright(*args, env=env.dockwright_env(case), timeout=900)
    if result.returncode != 0:
        raise BuildFailed(
            f"dockwright build of case {case.name} exited {result.returncode}\n"
            f"command: dockwright {' '.join(args)}\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
        )
    env.dockwright_results[case.name] = out
    return out


def flat(archive: Path) -> FlatImage:
    """Flatten a docker-archive (cached by path and size: archives are written once)."""
    return _flat_cached(archive, archive.stat().st_size)


@functools.lru_cache(maxsize=8)
def _flat_cached(archive: Path, size: int) -> FlatImage:
    return flatten_archive(archive)


def run_image(env: BuildEnv, archive: Path, args: tuple[str, ...]) -> str:
    """``docker load`` the archive and ``docker run`` its (first) image; returns stdout."""
    names = env.daemon.load(archive)
    assert names, f"docker load of {archive} named no image"
    return env.daemon.run("run", "--rm", "--network=none", names[0], *args).stdout


def secret_values(env: BuildEnv, case: Case) -> list[bytes]:
    """The bytes of every secret ``case`` passes (file contents, environment values)."""
    values = []
    for secret in case.secrets:
        if secret.src is not None:
            values.append((case.folder / secret.src).read_bytes().strip())
        elif secret.env is not None:
            values.append(case.env[secret.env].encode())
    return values


def archive_mentions(archive: Path, needle: bytes) -> list[str]:
    """Members of the docker-archive ``archive`` whose bytes (gzip layers decompressed)
    contain ``needle``."""
    found = []
    with tarfile.open(archive, mode="r:*") as outer:
        for member in outer.getmembers():
            handle = outer.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if needle in data:
                found.append(member.name)
    return found


def shared_data() -> Path:
    """Files the HTTP server publishes (``tests/fixtures/build/_http``)."""
    return FIXTURES / "_http"


def make_git_repo(dest: Path) -> Path:
    """A bare git repository with one fixed commit (branch ``main``, tag ``v1``) in ``dest``,
    ready to be served over dumb HTTP. Returns ``dest``."""
    git = shutil.which("git")
    if git is None:
        raise BuildFailed("git is needed for the ADD git case: apt-get install -y git")
    src = dest.with_name(dest.name + "-src")
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(dest, ignore_errors=True)
    src.mkdir(parents=True)
    (src / "README").write_text("from git\n")
    (src / "sub").mkdir()
    (src / "sub" / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    (src / "sub" / "tool.sh").chmod(0o755)
    fixed = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z",
    }
    for cmd in (
        ["init", "-q", "-b", "main", "."],
        ["add", "."],
        ["commit", "-q", "-m", "one"],
        ["tag", "v1"],
        ["clone", "-q", "--bare", ".", str(dest)],
    ):
        _run([git, "-C", str(src), *cmd], "git", env=fixed)
    _run([git, "-C", str(dest), "update-server-info"], "git update-server-info", env=fixed)
    shutil.rmtree(src, ignore_errors=True)
    return dest


def setup_env(daemon: DockerDaemon, work: Path, http: HttpServer) -> BuildEnv:
    """Bases, frontend and store for a session whose scratch folder is ``work``."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    home = work / "dockwright-home"
    home.mkdir(parents=True, exist_ok=True)
    go = go_toolchain()
    env = BuildEnv(daemon, home, work, http, go, work / "go")
    install_frontend(env, CACHE_ROOT)
    install_base(env, busybox_tar(CACHE_ROOT), "busybox:latest")
    install_base(env, golang_tar(CACHE_ROOT, go), "golang:latest")
    return env
