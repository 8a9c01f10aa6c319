"""``dockwright lint --fix`` output builds with Docker's BuildKit and gives the same files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dockwright.cli import main
from support import DockerDaemon, go_toolchain, rootfs_to_docker_image


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


def _go_image(dockerd: DockerDaemon, busybox_rootfs_dir: Path, work: Path) -> str:
    """A Go toolchain image: the busybox rootfs plus this machine's GOROOT (no tests, docs
    or the toolchain's own sources), as ``dwtest/go-lint:1``."""
    goroot = Path(
        subprocess.run(
            [go_toolchain(), "env", "GOROOT"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    rootfs = work / "go-rootfs"
    shutil.copytree(busybox_rootfs_dir, rootfs, symlinks=True)
    skip = shutil.ignore_patterns("test", "testdata", "doc", "api", "misc", "cmd", "*_test.go")
    shutil.copytree(goroot, rootfs / "usr/local/go", symlinks=True, ignore=skip)
    for folder in ("root", "tmp"):
        (rootfs / folder).mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    changes = [
        "ENV PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin:/sbin",
        "ENV HOME=/root GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod",
        'CMD ["sh"]',
    ]
    rootfs_to_docker_image(dockerd, rootfs, "dwtest/go-lint:1", changes)
    return "dwtest/go-lint:1"


@pytest.mark.docker
@pytest.mark.slow
def test_multistage_fix_builds_a_small_image_that_runs(
    dockerd: DockerDaemon, busybox_rootfs_dir: Path, tmp_path: Path
) -> None:
    image = _go_image(dockerd, busybox_rootfs_dir, tmp_path)
    context = tmp_path / "app"
    context.mkdir()
    (context / "go.mod").write_text("module example.com/hello\n\ngo 1.22\n")
    (context / "main.go").write_text(
        'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello, multistage") }\n'
    )
    (context / ".dockerignore").write_text(".git\n")
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(
        f"FROM {image}\n"
        "WORKDIR /app\n"
        "COPY . .\n"
        "RUN CGO_ENABLED=0 go build -o /app/hello .\n"
        'CMD ["/app/hello"]\n'
    )
    dockerd.buildkit_build(context, tag="dwtest/lint-single:1")
    assert dockerd.run("run", "--rm", "dwtest/lint-single:1").stdout == "hello, multistage\n"

    args = ["lint", str(dockerfile), "--fix", "--fail-on", "never"]
    assert main(args) == 0
    assert "FROM scratch\n" in dockerfile.read_text()
    dockerd.buildkit_build(context, tag="dwtest/lint-multi:1")
    assert dockerd.run("run", "--rm", "dwtest/lint-multi:1").stdout == "hello, multistage\n"
    before = dockerd.inspect("dwtest/lint-single:1")["Size"]
    after = dockerd.inspect("dwtest/lint-multi:1")["Size"]
    assert isinstance(before, int) and isinstance(after, int)
    print(f"single-stage image {before} B, after --fix {after} B ({after / before:.1%})")
    assert after < before / 10, (before, after)
