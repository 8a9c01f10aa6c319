"""The test harness itself: tools, the private dockerd, busybox base images, the skip rule."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (
    BUSYBOX_IMAGE,
    DockerDaemon,
    busybox_rootfs,
    find_tool,
    free_port,
    go_toolchain,
    require_tool,
    rootfs_tar,
    rootfs_to_docker_image,
    start_dockerd,
    stop_dockerd,
)
from support.dockerd import (
    STATIC_FLAGS,
    dockerd_command,
    reap_stale_daemons,
    storage_driver_for,
)

REPO = Path(__file__).resolve().parents[1]


def test_require_tool_returns_path() -> None:
    path = require_tool("sh", "apt-get install -y dash")
    assert os.access(path, os.X_OK)


def test_require_tool_fails_clearly_when_missing() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"no-such-tool-dw.*apt-get install -y x"):
        require_tool("no-such-tool-dw", "apt-get install -y x")


def test_find_tool_looks_in_sbin_and_takes_absolute_paths() -> None:
    assert find_tool("/bin/sh") == "/bin/sh"
    assert find_tool("/no/such/file") is None


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_busybox_rootfs_layout(busybox_rootfs_dir: Path) -> None:
    root = busybox_rootfs_dir
    assert (root / "bin" / "busybox").stat().st_size > 100_000
    for applet in ("sh", "ls", "cat", "wget", "echo"):
        assert os.readlink(root / "bin" / applet) == "busybox"
    assert (root / "etc" / "passwd").read_text().startswith("root:x:0:0:")
    assert "nogroup:x:65534:" in (root / "etc" / "group").read_text()
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777


def test_busybox_rootfs_runs_on_the_host(busybox_rootfs_dir: Path) -> None:
    out = subprocess.run(
        [busybox_rootfs_dir / "bin" / "sh", "-c", "echo hi"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "hi\n"


def test_busybox_rootfs_refuses_a_nonempty_dir(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("")
    with pytest.raises(FileExistsError):
        busybox_rootfs(tmp_path)


def test_rootfs_tar_is_deterministic_and_root_owned(
    busybox_rootfs_dir: Path, tmp_path: Path
) -> None:
    one = rootfs_tar(busybox_rootfs_dir, tmp_path / "one.tar")
    copy = tmp_path / "copy"
    shutil.copytree(busybox_rootfs_dir, copy, symlinks=True)
    two = rootfs_tar(copy, tmp_path / "two.tar")
    assert one.read_bytes() == two.read_bytes()
    with tarfile.open(one) as tar:
        members = tar.getmembers()
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, 0)}
    assert {m.name for m in members} >= {"./bin/busybox", "./bin/sh", "./etc/passwd", "./tmp"}


def test_go_toolchain_compiles_hello(go: str, go_build_env: dict[str, str], tmp_path: Path) -> None:
    assert go == go_toolchain()
    src = tmp_path / "hello"
    src.mkdir()
    (src / "go.mod").write_text("module example.com/hello\n\ngo 1.21\n")
    (src / "main.go").write_text(
        'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n'
    )
    assert go_build_env["GOPROXY"] == "off"
    env = {**os.environ, **go_build_env}
    build = [go, "build", "-o", str(tmp_path / "hello.bin"), "."]
    subprocess.run(build, cwd=src, env=env, check=True, capture_output=True)
    out = subprocess.run([tmp_path / "hello.bin"], capture_output=True, text=True, check=True)
    assert out.stdout == "hello from go\n"


def test_storage_driver_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKWRIGHT_TEST_DOCKER_STORAGE_DRIVER", "vfs")
    assert storage_driver_for(tmp_path) == "vfs"
    monkeypatch.delenv("DOCKWRIGHT_TEST_DOCKER_STORAGE_DRIVER")
    assert storage_driver_for(tmp_path) in {"overlay2", "vfs"}


def test_start_script_uses_the_fixture_flags() -> None:
    script = (REPO / "scripts" / "start-dockerd.sh").read_text()
    fixture_cmd = dockerd_command("dockerd", Path("/tmp/dwd-x"), "overlay2", "dwtest-x")
    fixture_flags = {arg.split("=")[0] for arg in fixture_cmd[1:]}
    script_flags = set(re.findall(r"^\s+(--[a-z0-9-]+)", script, re.MULTILINE))
    assert script_flags == fixture_flags
    for flag in STATIC_FLAGS:
        assert f"    {flag} \\\n" in script, flag


def test_dockwright_home_is_fresh_and_exported(dockwright_home: Path) -> None:
    assert os.environ["DOCKWRIGHT_HOME"] == str(dockwright_home)
    assert list(dockwright_home.iterdir()) == []


# --- the private Docker Engine ------------------------------------------------------------


@pytest.mark.docker
def test_dockerd_runs_an_imported_busybox(dockerd: DockerDaemon, busybox_image: str) -> None:
    assert busybox_image == BUSYBOX_IMAGE
    assert dockerd.host.startswith("unix:///tmp/")
    info = dockerd.run("info", "--format", "{{.Driver}}").stdout.strip()
    assert info == dockerd.storage_driver
    out = dockerd.run("run", "--rm", busybox_image, "echo", "hello")
    assert out.stdout == "hello\n"


@pytest.mark.docker
def test_containers_get_loopback_only_by_default(dockerd: DockerDaemon, busybox_image: str) -> None:
    out = dockerd.run("run", "--rm", busybox_image, "cat", "/proc/net/dev").stdout
    interfaces = {line.split(":")[0].strip() for line in out.splitlines() if ":" in line}
    assert interfaces == {"lo"}


@pytest.fixture
def http_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"hello from the host\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.docker
def test_host_network_reaches_host_loopback(
    dockerd: DockerDaemon, busybox_image: str, http_server: int
) -> None:
    url = f"http://127.0.0.1:{http_server}/"
    out = dockerd.run("run", "--rm", "--network", "host", busybox_image, "wget", "-q", "-O-", url)
    assert out.stdout == "hello from the host\n"


@pytest.mark.docker
def test_buildkit_builds_with_network_none(
    dockerd: DockerDaemon, busybox_image: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {busybox_image}\nRUN echo built > /built.txt\nCOPY Dockerfile /df\n"
        'CMD ["cat", "/built.txt"]\n'
    )
    dockerd.buildkit_build(tmp_path, tag="dwtest/support-bk:1")
    assert dockerd.run("run", "--rm", "dwtest/support-bk:1").stdout == "built\n"
    assert dockerd.inspect("dwtest/support-bk:1")["Config"] is not None


@pytest.mark.docker
def test_save_and_load_round_trip(
    dockerd: DockerDaemon, busybox_rootfs_dir: Path, tmp_path: Path
) -> None:
    rootfs_to_docker_image(dockerd, busybox_rootfs_dir, "dwtest/support-load:1")
    archive = tmp_path / "img.tar"
    dockerd.run("save", "-o", archive, "dwtest/support-load:1")
    dockerd.run("rmi", "dwtest/support-load:1")
    assert dockerd.load(archive) == ["dwtest/support-load:1"]
    assert dockerd.run("run", "--rm", "dwtest/support-load:1", "true").returncode == 0


def _leftovers(root: Path) -> tuple[list[str], list[str]]:
    procs = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(root) + "/" in cmd:
                procs.append(cmd)
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(root) + "/")
    ]
    return procs, mounts


@pytest.mark.docker
@pytest.mark.slow
def test_stop_dockerd_leaves_nothing_behind(busybox_rootfs_dir: Path) -> None:
    daemon = start_dockerd()
    try:
        rootfs_to_docker_image(daemon, busybox_rootfs_dir, "dwtest/busybox:stop")
        daemon.run("run", "-d", "dwtest/busybox:stop", "sleep", "1000")
        assert _leftovers(daemon.root)[0]  # containerd and the shim are running
    finally:
        stop_dockerd(daemon)
    assert _leftovers(daemon.root) == ([], [])
    assert not daemon.root.exists()


@pytest.mark.docker
@pytest.mark.slow
def test_stale_daemons_of_dead_runs_are_reaped(busybox_rootfs_dir: Path) -> None:
    daemon = start_dockerd()
    try:
        rootfs_to_docker_image(daemon, busybox_rootfs_dir, "dwtest/busybox:stale")
        daemon.run("run", "-d", "dwtest/busybox:stale", "sleep", "1000")
        dead = subprocess.Popen(["true"])
        dead.wait()
        (daemon.root / "owner.pid").write_text(f"{dead.pid}\n")
        assert daemon.root in reap_stale_daemons()
        assert daemon.process is not None
        assert daemon.process.wait(timeout=10) in {0, -signal.SIGTERM}
        assert _leftovers(daemon.root) == ([], [])
        assert not daemon.root.exists()
    finally:
        stop_dockerd(daemon)


# --- the no-skip rule ----------------------------------------------------------------------


def test_skips_fail_except_for_missing_conformance_vectors(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((REPO / "tests" / "conftest.py").read_text())
    shutil.copytree(REPO / "tests" / "support", pytester.path / "support")
    pytester.makepyfile(
        test_skips="""
        import pytest
        from support import conformance_dir

        def test_plain_skip():
            pytest.skip("no reason")

        @pytest.mark.skipif(True, reason="marker")
        def test_marker_skip():
            pass

        def test_conformance(monkeypatch, tmp_path):
            monkeypatch.setenv("DOCKWRIGHT_CONFORMANCE_DIR", str(tmp_path / "absent"))
            conformance_dir()

        @pytest.mark.xfail(reason="expected")
        def test_xfail():
            assert False
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(failed=1, errors=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped tests are not allowed*"])
    assert re.search(r"SKIPPED.*BuildKit conformance vectors not found", result.stdout.str())
