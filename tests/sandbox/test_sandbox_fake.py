"""FakeExecutor, run_checked and user resolution, without runc."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwright.errors import BuildError
from dockwright.sandbox import (
    Executor,
    FakeExecutor,
    FakeResult,
    ProcessSpec,
    ResolvedUser,
    RuncExecutor,
    resolve_user,
    run_checked,
)
from dockwright.sandbox.runc import DEFAULT_CAPABILITIES, runtime_config
from dockwright.sandbox.users import in_root

SPEC = ProcessSpec(args=("/bin/sh", "-c", "make"), env=("A=1",))


def test_both_executors_satisfy_the_protocol() -> None:
    executors: list[Executor] = [FakeExecutor(), RuncExecutor()]
    assert len(executors) == 2


def test_fake_records_and_plays_back(tmp_path: Path) -> None:
    fake = FakeExecutor([FakeResult(0, b"built\n"), 2])
    out: list[bytes] = []
    assert fake.run(tmp_path, SPEC, output=out.append) == 0
    assert fake.run(tmp_path, SPEC) == 2
    assert fake.run(tmp_path, SPEC) == 0
    assert out == [b"built\n"]
    assert fake.calls == [(tmp_path, SPEC)] * 3
    assert fake.specs == [SPEC] * 3


def test_fake_handler_can_write_files(tmp_path: Path) -> None:
    def handler(rootfs: Path, spec: ProcessSpec) -> int:
        (rootfs / "made").write_text(" ".join(spec.args))
        return 0

    fake = FakeExecutor(handler=handler)
    run_checked(fake, tmp_path, SPEC, step="RUN make")
    assert (tmp_path / "made").read_text() == "/bin/sh -c make"


def test_run_checked_raises_with_tail(tmp_path: Path) -> None:
    output = b"".join(f"line {i}\n".encode() for i in range(50))
    fake = FakeExecutor([FakeResult(3, output)])
    with pytest.raises(BuildError) as info:
        run_checked(fake, tmp_path, SPEC, step="RUN make (line 4)", tail_lines=3)
    assert info.value.step == "RUN make (line 4)"
    assert info.value.exit_status == 3
    assert info.value.output_tail == ("line 47", "line 48", "line 49")
    assert "exited with status 3" in str(info.value)


def test_run_checked_tail_is_bounded(tmp_path: Path) -> None:
    class Chatty:
        def run(self, rootfs: Path, spec: ProcessSpec, *, output: object = None) -> int:
            assert callable(output)
            for i in range(100_000):
                output(f"{i}\n".encode())
            return 1

    with pytest.raises(BuildError) as info:
        run_checked(Chatty(), tmp_path, SPEC, step="RUN x", tail_lines=2)
    assert info.value.output_tail == ("99998", "99999")


def make_etc(rootfs: Path) -> None:
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000::/home/app:/bin/sh\n"
    )
    (rootfs / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nwheel:x:10:app,other\n")


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", ResolvedUser(0, 0, (), "/root")),
        ("root", ResolvedUser(0, 0, (), "/root")),
        ("app", ResolvedUser(1000, 1000, (10,), "/home/app")),
        ("1000", ResolvedUser(1000, 1000, (10,), "/home/app")),
        ("1000:5", ResolvedUser(1000, 5, (), "/home/app")),
        ("app:wheel", ResolvedUser(1000, 10, (), "/home/app")),
        ("777", ResolvedUser(777, 0, (), "/")),
        ("777:888", ResolvedUser(777, 888, (), "/")),
    ],
)
def test_resolve_user(tmp_path: Path, user: str, expected: ResolvedUser) -> None:
    make_etc(tmp_path)
    assert resolve_user(tmp_path, user) == expected


def test_resolve_user_without_etc(tmp_path: Path) -> None:
    assert resolve_user(tmp_path, "") == ResolvedUser(0, 0)
    assert resolve_user(tmp_path, "5:6") == ResolvedUser(5, 6)
    with pytest.raises(BuildError, match="unable to find user app"):
        resolve_user(tmp_path, "app")


def test_passwd_symlink_stays_in_rootfs(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    make_etc(rootfs)
    (rootfs / "etc" / "passwd").unlink()
    (rootfs / "etc" / "passwd").symlink_to("/../../../etc/real-passwd")
    (rootfs / "etc" / "real-passwd").write_text("zed:x:42:43::/z:/bin/sh\n")
    assert in_root(rootfs, "/etc/passwd") == rootfs / "etc" / "real-passwd"
    assert resolve_user(rootfs, "zed") == ResolvedUser(42, 43, (), "/z")


def test_runtime_config_shape(tmp_path: Path) -> None:
    spec = ProcessSpec(args=("true",), env=("HOME=/x",), network="none", cwd="/w")
    config = runtime_config(tmp_path, spec, ResolvedUser(1, 2, (3,)), [])
    process = config["process"]
    assert process["terminal"] is False
    assert process["noNewPrivileges"] is True
    assert process["user"] == {"uid": 1, "gid": 2, "additionalGids": [3]}
    assert process["cwd"] == "/w"
    assert process["env"][0] == "HOME=/x" and any(e.startswith("PATH=") for e in process["env"])
    assert sorted(process["capabilities"]["bounding"]) == sorted(DEFAULT_CAPABILITIES)
    assert len(DEFAULT_CAPABILITIES) == 14
    assert [r["type"] for r in process["rlimits"]] == ["RLIMIT_NOFILE"]
    assert config["root"] == {"path": str(tmp_path.resolve()), "readonly": False}
    kinds = [n["type"] for n in config["linux"]["namespaces"]]
    assert kinds == ["pid", "mount", "ipc", "uts", "network"]
    host = runtime_config(tmp_path, ProcessSpec(args=("true",), env=()), ResolvedUser(0, 0), [])
    assert "network" not in [n["type"] for n in host["linux"]["namespaces"]]
    targets = [m["destination"] for m in config["mounts"]]
    for target in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"):
        assert target in targets
