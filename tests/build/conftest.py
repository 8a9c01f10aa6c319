"""Session fixtures of the differential build tests: one dockerd, one dockwright store, one
HTTP server (ADD URL, ADD git), the base images in both, BuildKit's results cached per case."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from build.harness import BuildEnv, make_git_repo, serve_folder, setup_env, shared_data
from support import DockerDaemon, require_tool


@pytest.fixture(scope="session")
def build_env(
    dockerd: DockerDaemon, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BuildEnv]:
    """The shared build environment (see ``build.harness.setup_env``)."""
    work = tmp_path_factory.mktemp("build-diff")
    www = work / "www"
    shutil.copytree(shared_data(), www)
    make_git_repo(www / "repo.git")
    agent = require_tool("ssh-agent", "apt-get install -y openssh-client")
    sock = work / "ssh-agent.sock"
    started = subprocess.run([agent, "-a", str(sock)], capture_output=True, text=True, check=True)
    pid = next(
        line.split("=", 1)[1].split(";", 1)[0]
        for line in started.stdout.splitlines()
        if line.startswith("SSH_AGENT_PID=")
    )
    try:
        with serve_folder(www) as http:
            env = setup_env(dockerd, work, http)
            env.ssh_sock = sock
            yield env
    finally:
        subprocess.run(["kill", pid], check=False)


@pytest.fixture(scope="session")
def fixtures_root() -> Path:
    """``tests/fixtures/build``."""
    return shared_data().parent
