"""Session fixtures of the differential build tests: one dockerd, one dockwright store, one
HTTP server (ADD URL, ADD git), the base images in both, BuildKit's results cached per case."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from build.harness import BuildEnv, make_git_repo, serve_folder, setup_env, shared_data
from support import DockerDaemon, ssh_agent


@pytest.fixture(scope="session")
def build_env(
    dockerd: DockerDaemon, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BuildEnv]:
    """The shared build environment (see ``build.harness.setup_env``)."""
    work = tmp_path_factory.mktemp("build-diff")
    www = work / "www"
    shutil.copytree(shared_data(), www)
    make_git_repo(www / "repo.git")
    with ssh_agent(work / "ssh-agent.sock") as sock, serve_folder(www) as http:
        env = setup_env(dockerd, work, http)
        env.ssh_sock = sock
        yield env


@pytest.fixture(scope="session")
def fixtures_root() -> Path:
    """``tests/fixtures/build``."""
    return shared_data().parent
