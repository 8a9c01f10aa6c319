"""OCI source/revision/version labels from git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dockwright.prebuilt.vcs import public_source_url, vcs_labels


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("git@github.com:acme/app.git", "https://github.com/acme/app"),
        ("https://user:s3cret@github.com/acme/app.git", "https://github.com/acme/app"),
        ("https://token@gitlab.example/acme/app", "https://gitlab.example/acme/app"),
        ("ssh://git@git.example:2222/acme/app.git", "https://git.example/acme/app"),
        ("https://github.com/acme/app", "https://github.com/acme/app"),
    ],
)
def test_public_source_url_drops_credentials(remote: str, url: str) -> None:
    assert public_source_url(remote) == url


def test_labels_from_a_git_checkout(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout.strip()

    assert vcs_labels(tmp_path) == {}
    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (tmp_path / "f").write_text("x")
    git("add", "f")
    git("commit", "-qm", "one")
    git("remote", "add", "origin", "https://bob:pw@example.com/acme/app.git")
    labels = vcs_labels(tmp_path)
    assert labels["org.opencontainers.image.revision"] == git("rev-parse", "HEAD")
    assert labels["org.opencontainers.image.source"] == "https://example.com/acme/app"
    assert "org.opencontainers.image.version" not in labels
    git("tag", "v1.2.3")
    assert vcs_labels(tmp_path)["org.opencontainers.image.version"] == "v1.2.3"
