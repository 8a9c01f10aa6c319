"""`dockwright package` end to end: the real Go toolchain, skopeo, umoci and Docker."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from support import DockerDaemon, free_port, require_tool, run_dockwright

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "hello"
ELF_MACHINE = {"amd64": 62, "arm64": 183, "arm": 40}


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _skopeo_raw(ref: str) -> dict[str, object]:
    skopeo = require_tool("skopeo", "apt-get install -y skopeo")
    out = subprocess.run(
        [skopeo, "inspect", "--raw", ref], check=True, capture_output=True, text=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", f"{path} is not an ELF file"
    machine: int = struct.unpack_from("<H", head, 18)[0]
    return machine


def test_multi_platform_oci_archive_is_valid(tmp_path: Path, dockwright_home: Path) -> None:
    umoci = require_tool("umoci", "apt-get install -y umoci")
    archive = tmp_path / "hello.tar"
    _ok(
        run_dockwright(
            "package",
            HELLO,
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            "hello:1",
            "--output",
            f"type=oci,dest={archive}",
        )
    )
    index = _skopeo_raw(f"oci-archive:{archive}:1")
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    manifests = index["manifests"]
    assert isinstance(manifests, list)
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]) for m in manifests}
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}

    skopeo = require_tool("skopeo", "apt-get install -y skopeo")
    layout = tmp_path / "layout"
    for entry in manifests:
        arch = entry["platform"]["architecture"]
        bundle = tmp_path / f"bundle-{arch}"
        # umoci unpacks one manifest by name: let skopeo pick this platform out of the index.
        subprocess.run(
            [
                skopeo,
                "copy",
                "--override-arch",
                arch,
                f"oci-archive:{archive}:1",
                f"oci:{layout}:{arch}",
            ],
            check=True,
            capture_output=True,
        )
        refs = json.loads((layout / "index.json").read_text())["manifests"]
        copied = [m for m in refs if m["annotations"]["org.opencontainers.image.ref.name"] == arch]
        assert copied[0]["digest"] == entry["digest"]  # the very manifest we wrote
        subprocess.run(
            [umoci, "unpack", "--image", f"{layout}:{arch}", bundle],
            check=True,
            capture_output=True,
        )
        binary = bundle / "rootfs" / "usr" / "local" / "bin" / "hello"
        assert _elf_machine(binary) == ELF_MACHINE[arch]
        assert (bundle / "rootfs" / "etc" / "ssl" / "certs" / "ca-certificates.crt").is_file()
        assert (bundle / "rootfs" / "usr" / "share" / "zoneinfo" / "Europe" / "Paris").is_file()
        config = json.loads((bundle / "config.json").read_text())
        assert config["process"]["args"] == ["/usr/local/bin/hello"]
        assert config["process"]["user"]["uid"] == 65532


@pytest.mark.docker
def test_docker_archive_loads_and_serves(
    tmp_path: Path, dockwright_home: Path, dockerd: DockerDaemon
) -> None:
    archive = tmp_path / "hello-docker.tar"
    proc = _ok(
        run_dockwright(
            "package",
            HELLO,
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            "hello:docker",
            "--output",
            f"type=docker,dest={archive}",
        )
    )
    assert "linux/amd64" in proc.stdout  # says which platform the archive holds
    assert "hello:docker" in dockerd.load(archive)
    port = free_port()
    name = f"dwhello{port}"
    dockerd.run(
        "run", "-d", "--name", name, "--network", "host", "-e", f"PORT={port}", "hello:docker"
    )
    try:
        reply = ""
        for _ in range(100):
            probe = subprocess.run(
                ["curl", "-fsS", f"http://127.0.0.1:{port}/"],
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode == 0:
                reply = probe.stdout
                break
            time.sleep(0.1)
        logs = dockerd.run("logs", name, check=False)
        assert "Hello from dockwright! (linux/amd64)" in reply, logs.stdout + logs.stderr
        assert "ca-certificates: present" in reply
        assert "timezone data: present" in reply
    finally:
        dockerd.run("rm", "-f", name, check=False)


def _copy_hello(dest: Path, mtime: float) -> Path:
    shutil.copytree(HELLO, dest)
    for path in [dest, *dest.rglob("*")]:
        os.utime(path, (mtime, mtime))
    return dest


def test_reproducible_across_directories_mtimes_and_time(tmp_path: Path) -> None:
    digests = []
    for n, mtime in enumerate((1_000_000_000, 1_700_000_000)):
        src = _copy_hello(tmp_path / f"src{n}" / ("deep/" * n) / "hello", mtime)
        env = {
            "DOCKWRIGHT_HOME": str(tmp_path / f"home{n}"),
            # A second, empty Go build cache: the second build really compiles again.
            **({"GOCACHE": str(tmp_path / "gocache")} if n else {}),
        }
        env.pop("SOURCE_DATE_EPOCH", None)
        iid = tmp_path / f"iid{n}"
        _ok(
            run_dockwright(
                "package",
                src,
                "--platform",
                "linux/amd64,linux/arm64",
                "-t",
                "hello:repro",
                "--iidfile",
                iid,
                env=env,
                cwd=src.parent,
            )
        )
        digests.append(iid.read_text())
        time.sleep(1.1)
    assert digests[0] == digests[1]
    assert digests[0].startswith("sha256:")


def test_source_date_epoch_sets_created_time(tmp_path: Path, dockwright_home: Path) -> None:
    layout = tmp_path / "layout"
    _ok(
        run_dockwright(
            "package",
            HELLO,
            "-t",
            "hello:sde",
            "--output",
            f"type=oci,dest={layout},tar=false",
            env={"SOURCE_DATE_EPOCH": "1700000000"},
        )
    )
    manifest = _skopeo_raw(f"oci:{layout}:sde")
    config_digest = manifest["config"]["digest"]  # type: ignore[index]
    config = json.loads((layout / "blobs" / "sha256" / config_digest.split(":")[1]).read_bytes())
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert all(h["created"] == "2023-11-14T22:13:20Z" for h in config["history"][-1:])


def test_second_run_reuses_build_and_layer(tmp_path: Path, dockwright_home: Path) -> None:
    src = _copy_hello(tmp_path / "hello", 1_000_000_000)
    first = _ok(run_dockwright("package", src, "-t", "hello:fast"))
    assert "(compiled)" in first.stdout
    assert "(new)" in first.stdout
    os.utime(src / "main.go")  # a touch changes no content
    second = _ok(run_dockwright("package", src, "-t", "hello:fast"))
    assert "(unchanged)" in second.stdout
    assert "(reused)" in second.stdout
    assert first.stdout.splitlines()[-2] == second.stdout.splitlines()[-2]
    main = src / "main.go"
    main.write_text(main.read_text().replace("Hello from dockwright!", "Hello again!"))
    third = _ok(run_dockwright("package", src, "-t", "hello:fast"))
    assert "(compiled)" in third.stdout
    assert "(new)" in third.stdout


def test_config_knobs_reach_the_image(tmp_path: Path, dockwright_home: Path) -> None:
    extra = tmp_path / "static"
    extra.mkdir()
    (extra / "index.html").write_text("<h1>hi</h1>")
    layout = tmp_path / "layout"
    _ok(
        run_dockwright(
            "package",
            HELLO,
            "-t",
            "hello:knobs",
            "--base",
            "scratch",
            "--entrypoint",
            '["/app/hello", "-v"]',
            "--env",
            "PORT=9000",
            "--label",
            "team=core",
            "--annotation",
            "com.example.note=yes",
            "--user",
            "1000:1000",
            "--workdir",
            "/app",
            "--expose",
            "9000",
            "--include",
            f"{extra}:/srv/www",
            "--binary-path",
            "/app/hello",
            "--output",
            f"type=oci,dest={layout},tar=false",
            "--",
            "serve",
            "--fast",
        )
    )
    manifest = _skopeo_raw(f"oci:{layout}:knobs")
    assert manifest["annotations"] == {"com.example.note": "yes"}
    assert len(manifest["layers"]) == 1  # type: ignore[arg-type]
    config_digest = manifest["config"]["digest"]  # type: ignore[index]
    config = json.loads((layout / "blobs" / "sha256" / config_digest.split(":")[1]).read_bytes())
    run = config["config"]
    assert run["Entrypoint"] == ["/app/hello", "-v"]
    assert run["Cmd"] == ["serve", "--fast"]
    assert "PORT=9000" in run["Env"]
    assert run["Labels"]["team"] == "core"
    assert run["User"] == "1000:1000"
    assert run["WorkingDir"] == "/app"
    assert run["ExposedPorts"] == {"9000/tcp": {}}
    layer_digest = manifest["layers"][0]["digest"]  # type: ignore[index]
    with tarfile.open(layout / "blobs" / "sha256" / layer_digest.split(":")[1]) as tar:
        names = tar.getnames()
    assert "app/hello" in names
    assert "srv/www/index.html" in names


# -- bad input: one clear line, a non-zero exit, never a traceback ---------------------------


def _fails(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("dockwright: ")]
    assert len(errors) in (1, 2), proc.stderr  # the error, and perhaps a hint
    assert errors[0].startswith("dockwright: error: "), proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    return proc.stderr


def test_no_go_mod(tmp_path: Path, dockwright_home: Path) -> None:
    (tmp_path / "main.go").write_text("package main\nfunc main() {}\n")
    _fails(run_dockwright("package", tmp_path), "no go.mod found", "go mod init")


def test_not_a_main_package(tmp_path: Path, dockwright_home: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/lib\n\ngo 1.22\n")
    (tmp_path / "lib.go").write_text("package lib\n\nfunc A() int { return 1 }\n")
    _fails(run_dockwright("package", tmp_path), "is package lib, not a main package")


def test_compiler_errors_are_shown(tmp_path: Path, dockwright_home: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/broken\n\ngo 1.22\n")
    (tmp_path / "main.go").write_text("package main\n\nfunc main() { undefinedThing() }\n")
    err = _fails(run_dockwright("package", tmp_path), "go build failed")
    assert "undefined: undefinedThing" in err
    assert "main.go:3" in err


def test_unknown_platform_lists_valid_ones(dockwright_home: Path) -> None:
    err = _fails(run_dockwright("package", HELLO, "--platform", "linux/sparc"))
    assert "unknown architecture" in err
    assert "arm64" in err


def test_missing_base(dockwright_home: Path) -> None:
    _fails(run_dockwright("package", HELLO, "--base", "nosuch:1"), "base image 'nosuch:1'")


def test_unwritable_output(tmp_path: Path, dockwright_home: Path) -> None:
    dest = tmp_path / "missing-dir" / "out.tar"
    _fails(run_dockwright("package", HELLO, "--output", f"type=oci,dest={dest}"), str(dest))


def test_bad_output_spec(dockwright_home: Path) -> None:
    _fails(run_dockwright("package", HELLO, "--output", "type=tarball,dest=x"), "tarball")


def test_corrupt_blob_is_named_with_the_fix(tmp_path: Path, dockwright_home: Path) -> None:
    _ok(run_dockwright("package", HELLO, "-t", "hello:c", "--base", "scratch"))
    index = json.loads((dockwright_home / "index.json").read_text())
    digest = index["manifests"][0]["digest"]
    blob = dockwright_home / "blobs" / "sha256" / digest.split(":")[1]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes().replace(b"layers", b"LAYERS"))
    err = _fails(
        run_dockwright("save", "hello:c", "-o", tmp_path / "x.tar"), str(blob), "prune --repair"
    )
    assert "corrupt" in err
    _ok(run_dockwright("prune", "--repair"))
    _ok(run_dockwright("package", HELLO, "-t", "hello:c", "--base", "scratch"))
    _ok(run_dockwright("save", "hello:c", "-o", tmp_path / "x.tar"))
