"""``dockwright lint --fix`` output builds with Docker's BuildKit and gives the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwright.cli import main
from support import DockerDaemon


@pytest.mark.docker
def test_fixed_dockerfile_builds_and_keeps_modes_and_owners(
    dockerd: DockerDaemon, busybox_image: str, tmp_path: Path
) -> None:
    (tmp_path / "run.sh").write_text("#!/bin/sh\necho fixed and running\n")
    (tmp_path / "run.sh").chmod(0o644)
    (tmp_path / "data.txt").write_text("data\n")
    (tmp_path / ".dockerignore").write_text(".git\n")
    original = (
        f"FROM {busybox_image}\n"
        "COPY run.sh /usr/local/bin/run.sh\n"
        "COPY data.txt /srv/data.txt\n"
        "RUN chmod +x /usr/local/bin/run.sh\n"
        "RUN chown 1000:1000 /srv/data.txt && chmod 0600 /srv/data.txt\n"
        'CMD ["/usr/local/bin/run.sh"]\n'
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(original)
    dockerd.buildkit_build(tmp_path, tag="dwtest/lint-fix:before")

    args = ["lint", str(dockerfile), "--context", str(tmp_path), "--fix", "--fail-on", "error"]
    assert main(args) == 0
    fixed = dockerfile.read_text()
    assert "RUN" not in fixed
    assert "COPY --chmod=0755 run.sh /usr/local/bin/run.sh" in fixed
    assert "COPY --chmod=0600 --chown=1000:1000 data.txt /srv/data.txt" in fixed
    dockerd.buildkit_build(tmp_path, tag="dwtest/lint-fix:after")

    probe = ["stat", "-c", "%a %u:%g %n", "/usr/local/bin/run.sh", "/srv/data.txt"]
    before = dockerd.run("run", "--rm", "dwtest/lint-fix:before", *probe).stdout
    after = dockerd.run("run", "--rm", "dwtest/lint-fix:after", *probe).stdout
    assert after == before == "755 0:0 /usr/local/bin/run.sh\n600 1000:1000 /srv/data.txt\n"
    assert dockerd.run("run", "--rm", "dwtest/lint-fix:after").stdout == "fixed and running\n"
    layers_before = dockerd.inspect("dwtest/lint-fix:before")["RootFS"]
    layers_after = dockerd.inspect("dwtest/lint-fix:after")["RootFS"]
    assert isinstance(layers_before, dict) and isinstance(layers_after, dict)
    assert len(layers_after["Layers"]) == len(layers_before["Layers"]) - 2
