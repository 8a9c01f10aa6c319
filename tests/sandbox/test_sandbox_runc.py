"""RuncExecutor against real runc (as root) and a busybox-static rootfs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from dockwright.errors import BuildError
from dockwright.sandbox import BindMount, ProcessSpec, RuncExecutor, run_checked
from dockwright.sandbox.runc import runtime_config
from dockwright.sandbox.users import resolve_user
from support import require_tool

from .conftest import runc_list

ENV = ("PATH=/usr/sbin:/usr/bin:/sbin:/bin",)


def sh(script: str, **kwargs: object) -> ProcessSpec:
    """A shell-form spec for ``script``."""
    return ProcessSpec(args=("/bin/sh", "-c", script), env=ENV, **kwargs)  # type: ignore[arg-type]


def run(executor: RuncExecutor, rootfs: Path, spec: ProcessSpec) -> tuple[int, str]:
    """Run and collect the output."""
    chunks: list[bytes] = []
    status = executor.run(rootfs, spec, output=chunks.append)
    return status, b"".join(chunks).decode()


def test_runs_as_root() -> None:
    assert os.geteuid() == 0, "the sandbox tests need root (runc runs containers as root)"


def test_echo_output_is_streamed(executor: RuncExecutor, rootfs: Path) -> None:
    chunks: list[bytes] = []
    status = executor.run(rootfs, sh("echo hello; echo oops >&2"), output=chunks.append)
    assert status == 0
    text = b"".join(chunks).decode()
    assert "hello\n" in text and "oops\n" in text


def test_output_arrives_while_running(executor: RuncExecutor, rootfs: Path) -> None:
    marker = rootfs / "tmp" / "seen"
    seen_before_end: list[bool] = []

    def sink(chunk: bytes) -> None:
        if b"first" in chunk:
            # The command waits for this file: output must arrive before the process ends.
            marker.write_text("x")
            seen_before_end.append(True)

    script = (
        "echo first; i=0; while [ ! -f /tmp/seen ] && [ $i -lt 100 ]; do sleep 0.1;"
        " i=$((i+1)); done; [ -f /tmp/seen ]"
    )
    assert executor.run(rootfs, sh(script), output=sink) == 0
    assert seen_before_end == [True]


@pytest.mark.parametrize("code", [0, 1, 3, 42])
def test_exit_codes(executor: RuncExecutor, rootfs: Path, code: int) -> None:
    assert executor.run(rootfs, sh(f"exit {code}")) == code


def test_env_and_cwd(executor: RuncExecutor, rootfs: Path) -> None:
    (rootfs / "work").mkdir()
    spec = ProcessSpec(
        args=("/bin/sh", "-c", 'echo "$FOO|$BAR|$(pwd)|$HOME"'),
        env=(*ENV, "FOO=one two", "BAR=x=y"),
        cwd="/work",
    )
    status, out = run(executor, rootfs, spec)
    assert status == 0
    assert out == "one two|x=y|/work|/root\n"


def test_exec_form_without_shell(executor: RuncExecutor, rootfs: Path) -> None:
    status, out = run(executor, rootfs, ProcessSpec(args=("echo", "a  b", "$HOME"), env=ENV))
    assert (status, out) == (0, "a  b $HOME\n")


def add_user(rootfs: Path) -> None:
    """Add user ``app`` (1234:2345, home /home/app) and group ``extra`` (3456) with app in it."""
    with (rootfs / "etc" / "passwd").open("a") as f:
        f.write("app:x:1234:2345:app:/home/app:/bin/sh\n")
    with (rootfs / "etc" / "group").open("a") as f:
        f.write("app:x:2345:\nextra:x:3456:app\n")


def test_user_by_name(executor: RuncExecutor, rootfs: Path) -> None:
    add_user(rootfs)
    status, out = run(executor, rootfs, sh("id -u; id -g; id -G; echo $HOME", user="app"))
    assert status == 0
    assert out.split("\n")[:4] == ["1234", "2345", "2345 3456", "/home/app"]


def test_user_by_uid_gid(executor: RuncExecutor, rootfs: Path) -> None:
    add_user(rootfs)
    status, out = run(executor, rootfs, sh("id -u; id -g", user="1234:777"))
    assert (status, out) == (0, "1234\n777\n")
    status, out = run(executor, rootfs, sh("id -u; id -g", user="4321"))
    assert (status, out) == (0, "4321\n0\n")
    status, out = run(executor, rootfs, sh("id -u; id -g", user="app:extra"))
    assert (status, out) == (0, "1234\n3456\n")


def test_unknown_user_is_a_clear_error(executor: RuncExecutor, rootfs: Path) -> None:
    with pytest.raises(BuildError, match="unable to find user nosuch"):
        executor.run(rootfs, sh("true", user="nosuch"))
    with pytest.raises(BuildError, match="unable to find group nogrp"):
        executor.run(rootfs, sh("true", user="root:nogrp"))


def test_user_files_are_owned_by_the_user(executor: RuncExecutor, rootfs: Path) -> None:
    add_user(rootfs)
    (rootfs / "out").mkdir(mode=0o777)
    os.chmod(rootfs / "out", 0o777)
    assert executor.run(rootfs, sh("touch /out/f", user="app")) == 0
    st = (rootfs / "out" / "f").stat()
    assert (st.st_uid, st.st_gid) == (1234, 2345)


def test_network_none_has_only_loopback(executor: RuncExecutor, rootfs: Path) -> None:
    status, out = run(executor, rootfs, sh("tail -n +3 /proc/net/dev", network="none"))
    assert status == 0
    names = [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]
    assert names == ["lo"]


def test_network_host_sees_host_interfaces(executor: RuncExecutor, rootfs: Path) -> None:
    status, out = run(executor, rootfs, sh("tail -n +3 /proc/net/dev"))
    assert status == 0
    names = {line.split(":")[0].strip() for line in out.splitlines() if line.strip()}
    with open("/proc/net/dev") as f:
        host = {line.split(":")[0].strip() for line in f.read().splitlines()[2:]}
    assert names == host


def test_pid_namespace(executor: RuncExecutor, rootfs: Path) -> None:
    status, out = run(executor, rootfs, sh("echo $$; ls /proc | grep -c '^[0-9]'"))
    assert status == 0
    pid, count = out.split()
    assert int(pid) == 1
    assert int(count) <= 3


def test_hostname(executor: RuncExecutor, rootfs: Path) -> None:
    status, out = run(executor, rootfs, sh("hostname", hostname="box1"))
    assert (status, out) == (0, "box1\n")


def test_files_written_land_in_rootfs(executor: RuncExecutor, rootfs: Path) -> None:
    assert executor.run(rootfs, sh("mkdir -p /opt/app && echo data > /opt/app/f")) == 0
    assert (rootfs / "opt" / "app" / "f").read_text() == "data\n"


def test_resolv_conf_and_hosts_visible_but_not_left_behind(
    executor: RuncExecutor, rootfs: Path
) -> None:
    assert not (rootfs / "etc" / "resolv.conf").exists()
    status, out = run(executor, rootfs, sh("cat /etc/resolv.conf; cat /etc/hosts"))
    assert status == 0
    with open("/etc/resolv.conf") as f:
        assert out.startswith(f.read())
    assert "127.0.0.1\tlocalhost buildkitsandbox" in out
    # Mount targets runc had to create must not end up in a layer.
    assert not (rootfs / "etc" / "resolv.conf").exists()
    assert not (rootfs / "etc" / "hosts").exists()


def test_etc_binds_are_read_only(executor: RuncExecutor, rootfs: Path) -> None:
    assert executor.run(rootfs, sh("echo x >> /etc/hosts")) != 0


def test_no_etc_no_etc_binds(executor: RuncExecutor, rootfs: Path) -> None:
    (rootfs / "etc" / "passwd").unlink()
    (rootfs / "etc" / "group").unlink()
    (rootfs / "etc").rmdir()
    status, _ = run(executor, rootfs, sh("ls /etc 2>&1; true"))
    assert status == 0
    assert not (rootfs / "etc").exists()


def test_bind_mount(executor: RuncExecutor, rootfs: Path, tmp_path: Path) -> None:
    src = tmp_path / "ctx"
    src.mkdir()
    (src / "hello.txt").write_text("from host\n")
    spec = sh("cat /ctx/hello.txt; touch /ctx/new", mounts=(BindMount(src, "/ctx"),))
    status, out = run(executor, rootfs, spec)
    assert status != 0
    assert out.startswith("from host\n")
    assert not (src / "new").exists()
    assert not (rootfs / "ctx").exists()
    rw = sh("touch /ctx/new", mounts=(BindMount(src, "/ctx", readonly=False),))
    assert executor.run(rootfs, rw) == 0
    assert (src / "new").exists()


def test_capabilities_and_no_new_privs(executor: RuncExecutor, rootfs: Path) -> None:
    status, out = run(executor, rootfs, sh("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"))
    assert status == 0
    fields = dict(line.split(":\t") for line in out.splitlines())
    assert fields["NoNewPrivs"] == "1"
    assert int(fields["CapEff"], 16) == 0xA80425FB  # Docker's default set
    # Without CAP_SYS_ADMIN, no mounts.
    assert executor.run(rootfs, sh("mount -t tmpfs t /mnt")) != 0


def test_failing_command_raises_build_error_via_run_checked(
    executor: RuncExecutor, rootfs: Path
) -> None:
    script = "for i in $(seq 1 30); do echo line$i; done; exit 7"
    streamed: list[bytes] = []
    with pytest.raises(BuildError) as info:
        run_checked(
            executor, rootfs, sh(script), step="RUN make", tail_lines=5, output=streamed.append
        )
    err = info.value
    assert err.step == "RUN make"
    assert err.exit_status == 7
    assert err.output_tail == ("line26", "line27", "line28", "line29", "line30")
    assert b"line1\n" in b"".join(streamed)
    run_checked(executor, rootfs, sh("true"), step="RUN true")


def test_missing_executable_is_not_exit_status(executor: RuncExecutor, rootfs: Path) -> None:
    with pytest.raises(BuildError, match="runc could not run the command"):
        executor.run(rootfs, ProcessSpec(args=("/no/such/binary",), env=ENV))


def test_missing_runc_binary(rootfs: Path, tmp_path: Path) -> None:
    executor = RuncExecutor(tmp_path / "no-runc")
    with pytest.raises(BuildError) as info:
        executor.run(rootfs, sh("true"))
    assert info.value.hint == "install runc: apt-get install runc"


def test_runc_not_on_path(rootfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BuildError, match="runc was not found") as info:
        RuncExecutor().run(rootfs, sh("true"))
    assert "apt-get install runc" in (info.value.hint or "")


def test_not_root_is_a_clear_error(
    executor: RuncExecutor, rootfs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(BuildError, match="root") as info:
        executor.run(rootfs, sh("true"))
    assert "root" in (info.value.hint or "")


def test_no_leftover_containers_or_bundles(
    executor: RuncExecutor, rootfs: Path, runc_root: Path
) -> None:
    before = set(os.listdir(rootfs.parent)) | {runc_root.name}
    assert executor.run(rootfs, sh("exit 0")) == 0
    assert executor.run(rootfs, sh("exit 5")) == 5
    with pytest.raises(BuildError):
        executor.run(rootfs, ProcessSpec(args=("/no/such/binary",), env=ENV))

    def boom(chunk: bytes) -> None:
        raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError):
        executor.run(rootfs, sh("echo x; sleep 30"), output=boom)
    assert runc_list(runc_root) == []
    assert set(os.listdir(rootfs.parent)) == before


def test_default_state_root_leaves_nothing(rootfs: Path) -> None:
    prefix = f"dwtest-{uuid.uuid4().hex[:8]}-"
    runc = require_tool("runc", "apt-get install -y runc")
    executor = RuncExecutor(runc, id_prefix=prefix)
    assert executor.run(rootfs, sh("true")) == 0
    assert executor.run(rootfs, sh("exit 1")) == 1
    done = subprocess.run(
        [runc, "list", "--format", "json"], capture_output=True, text=True, check=True
    )
    listed = json.loads(done.stdout or "null") or []
    assert [c["id"] for c in listed if c["id"].startswith(prefix)] == []


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup per hierarchy (``/proc/self/cgroup``: controllers -> path)."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    return {line.split(":", 2)[1]: line.split(":", 2)[2] for line in lines}


def _container_cgroups(executor: RuncExecutor, rootfs: Path) -> dict[str, str]:
    status, out = run(executor, rootfs, sh("cat /proc/self/cgroup"))
    assert status == 0, out
    return {line.split(":", 2)[1]: line.split(":", 2)[2] for line in out.splitlines()}


def test_containers_get_their_cgroup_under_the_parent(runc_root: Path, rootfs: Path) -> None:
    runc = require_tool("runc", "apt-get install -y runc")
    prefix = f"dwtest-{uuid.uuid4().hex[:8]}-"
    default = RuncExecutor(runc, state_root=runc_root, id_prefix=prefix)
    # cgroup v1's memory hierarchy, or the unified one ("") on a cgroup v2 host.
    memory = next((k for k in _own_cgroups() if "memory" in k.split(",")), "")
    got = _container_cgroups(default, rootfs)[memory]
    # Absolute, like Docker's /docker/<id>: not nested in the caller's own memory cgroup.
    assert got.startswith(f"/dockwright/{prefix}"), got
    custom = RuncExecutor(runc, state_root=runc_root, id_prefix=prefix, cgroup_parent="/dwtest/x")
    assert _container_cgroups(custom, rootfs)[memory].startswith(f"/dwtest/x/{prefix}")
    relative = RuncExecutor(runc, state_root=runc_root, id_prefix=prefix, cgroup_parent="rel")
    own = _own_cgroups()[memory].rstrip("/")
    assert _container_cgroups(relative, rootfs)[memory].startswith(f"{own}/rel/{prefix}")
    # runc removes each container's own cgroup when it ends.
    for hierarchy in ("/sys/fs/cgroup/memory/dockwright", "/sys/fs/cgroup/memory/dwtest/x"):
        if os.path.isdir(hierarchy):
            assert not [n for n in os.listdir(hierarchy) if n.startswith(prefix)]


@pytest.mark.parametrize("bad", ["../escape", "/a/../b", "a:b", "x\ny"])
def test_a_bad_cgroup_parent_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a cgroup path"):
        RuncExecutor(cgroup_parent=bad)


def _start_container(runc: str, runc_root: Path, rootfs: Path, bundle: Path, cid: str) -> int:
    """``runc run`` of ``sleep 60`` in ``rootfs`` as a killed dockwright would have left it
    running; returns the container's init pid once runc reports it."""
    bundle.mkdir()
    spec = sh("sleep 60")
    config = runtime_config(rootfs, spec, resolve_user(rootfs, spec.user), [])
    (bundle / "config.json").write_text(json.dumps(config))
    subprocess.Popen(
        [runc, "--root", str(runc_root), "run", "--bundle", str(bundle), cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(200):
        state = runc_root / cid / "state.json"
        if state.exists():
            pid = json.loads(state.read_text()).get("init_process_pid", 0)
            if pid:
                return int(pid)
        time.sleep(0.05)
    raise AssertionError("runc did not start the container")


def test_containers_a_killed_build_left_are_reaped_and_live_ones_kept(
    runc_root: Path, rootfs: Path, tmp_path: Path
) -> None:
    runc = require_tool("runc", "apt-get install -y runc")
    prefix = f"dwtest-{uuid.uuid4().hex[:8]}-"
    executor = RuncExecutor(runc, state_root=runc_root, id_prefix=prefix)
    dead, live, orphan = f"{prefix}dead", f"{prefix}live", f"{prefix}orphan"
    dead_pid = _start_container(runc, runc_root, rootfs, tmp_path / "b1", dead)
    live_pid = _start_container(runc, runc_root, rootfs, tmp_path / "b2", live)
    orphan_pid = _start_container(runc, runc_root, rootfs, tmp_path / "b3", orphan)
    try:
        # Only runc killed: the command runs on, orphaned; reaping must stop it too.
        for proc in subprocess.run(
            ["pgrep", "-f", orphan], check=False, capture_output=True, text=True
        ).stdout.split():
            if int(proc) != orphan_pid:
                os.kill(int(proc), signal.SIGKILL)
        time.sleep(0.2)
        assert Path(f"/proc/{orphan_pid}").exists()
        # SIGKILL of dockwright's process group: runc and the command die, runc's record stays.
        for proc in subprocess.run(
            ["pgrep", "-f", dead], check=False, capture_output=True, text=True
        ).stdout.split():
            os.kill(int(proc), signal.SIGKILL)
        os.kill(dead_pid, signal.SIGKILL)
        for _ in range(100):
            if not Path(f"/proc/{dead_pid}").exists():
                break
            time.sleep(0.05)
        assert dead in runc_list(runc_root)
        assert sorted(executor.reap_stale()) == sorted([dead, orphan])
        assert runc_list(runc_root) == [live]
        assert Path(f"/proc/{live_pid}").exists()
        for _ in range(100):
            if not Path(f"/proc/{orphan_pid}").exists():
                break
            time.sleep(0.05)
        assert not Path(f"/proc/{orphan_pid}").exists(), "the orphaned command still runs"
    finally:
        subprocess.run([runc, "--root", str(runc_root), "delete", "-f", orphan], check=False)
        subprocess.run([runc, "--root", str(runc_root), "delete", "-f", live], check=False)
        subprocess.run([runc, "--root", str(runc_root), "delete", "-f", dead], check=False)
