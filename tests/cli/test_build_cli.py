"""`dockwright build` end to end: results, errors, secrets, reproducibility, the cache."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from dockwright.image.model import ImageConfig, Manifest
from dockwright.store import Store
from support import require_tool, run_dockwright, ssh_agent
from support.images import store_rootfs_image
from support.registry import RegistryServer

RUNC_HINT = "apt-get install -y runc"


@pytest.fixture
def home(dockwright_home: Path, busybox_rootfs_dir: Path) -> Path:
    require_tool("runc", RUNC_HINT)
    store_rootfs_image(dockwright_home, busybox_rootfs_dir, "busybox:latest")
    return dockwright_home


def _context(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ctx


def _image(home: Path, tag: str) -> tuple[ImageConfig, dict[str, tuple[str, int, bytes]]]:
    """The config and flattened files (path -> kind, mode, content) of a stored image."""
    store = Store.open(home)
    manifest = Manifest.from_bytes(store.read(store.resolve(tag).digest))
    config = ImageConfig.from_bytes(store.read(manifest.config.digest))
    files: dict[str, tuple[str, int, bytes]] = {}
    for layer in manifest.layers:
        data = store.read(layer.digest)
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar:
                name = member.name.rstrip("/")
                base = os.path.basename(name)
                parent = os.path.dirname(name)
                if base == ".wh..wh..opq":
                    for key in [k for k in files if k.startswith(parent + "/")]:
                        del files[key]
                    continue
                if base.startswith(".wh."):
                    gone = os.path.join(parent, base[4:])
                    for key in [k for k in files if k == gone or k.startswith(gone + "/")]:
                        del files[key]
                    continue
                content = b""
                if member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    content = extracted.read()
                kind = "dir" if member.isdir() else "symlink" if member.issym() else "file"
                files[name] = (kind, member.mode, content)
    return config, files


def test_multistage_build_gives_the_expected_image(home: Path, tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        """\
FROM busybox AS build
ARG MSG=hello
RUN mkdir -p /out && echo "$MSG from build" > /out/msg && rm /bin/vi
FROM busybox AS unused
RUN exit 3
FROM busybox
WORKDIR /app
ENV GREETING="hi there"
RUN --mount=type=bind,from=build,source=/out,target=/mnt cp /mnt/msg /app/msg
USER nobody
CMD ["cat", "/app/msg"]
""",
    )
    result = run_dockwright("build", ctx, "-t", "demo", "--build-arg", "MSG=howdy")
    assert result.returncode == 0, result.stderr
    config, files = _image(home, "demo")
    assert files["app/msg"][2] == b"howdy from build\n"
    assert "bin/vi" in files  # only the build stage deleted it
    run = config.config
    assert run.working_dir == "/app"
    assert run.user == "nobody"
    assert run.cmd == ("cat", "/app/msg")
    assert "GREETING=hi there" in run.env
    created_by = [h.created_by for h in config.history]
    assert "WORKDIR /app" in created_by
    assert any(c.startswith("RUN /bin/sh -c cp /mnt/msg") for c in created_by)


def test_failing_run_names_file_line_status_and_output(home: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN echo first\nRUN echo boom-output && exit 7\n")
    result = run_dockwright("build", ctx, "-t", "fails")
    assert result.returncode != 0
    assert "Dockerfile:3" in result.stderr
    assert "status 7" in result.stderr
    assert "boom-output" in result.stderr
    assert "Traceback" not in result.stderr
    assert Store.open(home).verify() == []


@pytest.mark.parametrize(
    ("dockerfile", "needle"),
    [
        ("FROM busybox\nFROBNICATE now\n", "Dockerfile:2"),
        ("FROM busybox\nCOPY --from=nowhere /x /y\n", "nowhere"),
        (
            "FROM busybox\nRUN --mount=type=secret,id=tok,required=true cat /run/secrets/tok\n",
            "tok",
        ),
        ("FROM no-such-image-here\nRUN true\n", "no-such-image-here"),
    ],
)
def test_bad_input_is_one_clear_error(
    home: Path, tmp_path: Path, dockerfile: str, needle: str
) -> None:
    ctx = _context(tmp_path, dockerfile)
    result = run_dockwright("build", ctx, "--registry-mirror", "docker.io=http://127.0.0.1:9")
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert Store.open(home).verify() == []


def test_target_stage_that_does_not_exist(home: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox AS a\nRUN true\n")
    result = run_dockwright("build", ctx, "--target", "b")
    assert result.returncode != 0
    assert "b" in result.stderr
    assert "Traceback" not in result.stderr


def test_secret_never_reaches_store_or_logs(home: Path, tmp_path: Path) -> None:
    secret = b"s3cr3t-VALUE-7f1c2a9e"
    (tmp_path / "token").write_bytes(secret)
    ctx = _context(
        tmp_path,
        """\
FROM busybox
RUN --mount=type=secret,id=token sha256sum < /run/secrets/token > /sum \\
    && cat /run/secrets/token && echo checked > /ok
RUN --mount=type=secret,id=token,env=TOKEN test -n "$TOKEN" && echo "${#TOKEN}" > /len
""",
    )
    result = run_dockwright(
        "build",
        ctx,
        "-t",
        "sec",
        "--secret",
        f"id=token,src={tmp_path / 'token'}",
        "--progress",
        "plain",
    )
    assert result.returncode == 0, result.stderr
    assert secret not in (result.stdout + result.stderr).encode()
    _, files = _image(home, "sec")
    assert files["ok"][2] == b"checked\n"
    assert files["sum"][2].split()[0].decode() == hashlib.sha256(secret).hexdigest()
    assert files["len"][2] == b"21\n"
    assert "run/secrets/token" not in files
    scanned = 0
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            scanned += 1
            assert secret not in path.read_bytes(), f"secret found in {path}"
    assert scanned > 5


def test_source_date_epoch_builds_are_reproducible(
    tmp_path: Path, busybox_rootfs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("runc", RUNC_HINT)
    digests = []
    for n in (1, 2):
        home = tmp_path / f"home{n}"
        home.mkdir()
        store_rootfs_image(home, busybox_rootfs_dir, "busybox:latest")
        ctx = _context(
            tmp_path / f"c{n}",
            "FROM busybox\nRUN echo data > /data && mkdir /d && touch /d/f\nENV A=1\n"
            'WORKDIR /work\nCMD ["sh"]\n',
        )
        result = run_dockwright(
            "build",
            ctx,
            "-q",
            "-t",
            "repro",
            env={"DOCKWRIGHT_HOME": str(home), "SOURCE_DATE_EPOCH": "1700000000"},
        )
        assert result.returncode == 0, result.stderr
        digests.append(result.stdout.strip())
    assert digests[0] == digests[1]
    config, files = _image(tmp_path / "home1", "repro")
    assert config.created == "2023-11-14T22:13:20Z"
    assert {h.created for h in config.history if h.created_by.startswith(("RUN", "ENV"))} == {
        "2023-11-14T22:13:20Z"
    }
    assert files["data"][2] == b"data\n"


def test_rebuild_reuses_the_cache_and_notices_edits(home: Path, tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        "FROM busybox\nRUN --mount=type=bind,target=/src cat /src/input > /copy\n",
        {"input": "one\n"},
    )
    first = run_dockwright("build", ctx, "-t", "c", "--progress", "plain")
    assert first.returncode == 0, first.stderr
    iid = tmp_path / "iid"
    again = run_dockwright("build", ctx, "-t", "c", "--progress", "plain", "--iidfile", iid)
    assert again.returncode == 0, again.stderr
    assert "CACHED" in again.stderr
    assert again.stdout.split()[1] == first.stdout.split()[1]
    assert "(2/2 steps cached)" in again.stdout  # answered from the memo of the first build
    assert iid.read_text() == first.stdout.split()[1]
    (ctx / "input").write_text("two\n")
    edited = run_dockwright("build", ctx, "-t", "c", "--progress", "plain", "--no-cache")
    assert edited.returncode == 0, edited.stderr
    _, files = _image(home, "c")
    assert files["copy"][2] == b"two\n"


def test_json_progress_is_one_object_per_line(home: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN echo visible-line\n")
    result = run_dockwright("build", ctx, "--progress", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    kinds = {e["kind"] for e in events}
    assert {"start", "done", "log"} <= kinds
    assert any("visible-line" in e.get("data", "") for e in events)


def test_copy_source_that_matches_nothing(home: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN true\nCOPY missing.txt /x\n")
    result = run_dockwright("build", ctx)
    assert result.returncode != 0
    assert "Dockerfile:3" in result.stderr
    assert "missing.txt" in result.stderr
    assert "Traceback" not in result.stderr
    assert Store.open(home).verify() == []


def test_no_runc_is_one_clear_error(home: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN true\n")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    result = run_dockwright("build", ctx, env={"PATH": str(empty)})
    assert result.returncode != 0
    assert "runc" in result.stderr
    assert "apt-get install runc" in result.stderr
    assert "Traceback" not in result.stderr


def test_copy_snapshotter_builds_the_same_image(tmp_path: Path, busybox_rootfs_dir: Path) -> None:
    """The copy fallback (no overlayfs) gives byte-identical layers to the overlay back end."""
    require_tool("runc", RUNC_HINT)
    dockerfile = (
        "FROM busybox\nRUN mkdir -p /a/b && echo x > /a/b/f && rm -rf /etc/passwd /usr\n"
        "COPY . /ctx/\nRUN rm -rf /ctx/sub && mkdir /ctx/sub && echo new > /ctx/sub/n\n"
    )
    digests = []
    for kind in ("overlay", "copy"):
        home = tmp_path / f"home-{kind}"
        home.mkdir()
        store_rootfs_image(home, busybox_rootfs_dir, "busybox:latest")
        ctx = _context(tmp_path / kind, dockerfile, {"sub/old": "old\n", "top": "t\n"})
        result = run_dockwright(
            "build",
            ctx,
            "-q",
            env={
                "DOCKWRIGHT_HOME": str(home),
                "DOCKWRIGHT_SNAPSHOTTER": kind,
                "SOURCE_DATE_EPOCH": "1700000000",
            },
        )
        assert result.returncode == 0, result.stderr
        digests.append(result.stdout.strip())
    assert digests[0] == digests[1]


def test_push_iidfile_and_metadata_file(
    home: Path, tmp_path: Path, registry: RegistryServer
) -> None:
    skopeo = require_tool("skopeo", "apt-get install -y skopeo")
    ctx = _context(tmp_path, "FROM busybox\nRUN echo pushed > /p\n")
    ref = f"{registry.host}/build/pushed:v1"
    iid = tmp_path / "iid"
    meta = tmp_path / "meta.json"
    result = run_dockwright(
        "build", ctx, "-t", ref, "--push",
        "--insecure-registry", registry.host,
        "--iidfile", iid, "--metadata-file", meta,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "pushed" in result.stdout
    data = json.loads(meta.read_text())
    assert data["containerimage.digest"] == iid.read_text()
    inspect = subprocess.run(
        [skopeo, "inspect", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["Layers"]
    listing = run_dockwright("images")
    assert "build/pushed" in listing.stdout


def test_foreign_platform_run_without_emulation_says_so(
    home: Path, tmp_path: Path, busybox_rootfs_dir: Path
) -> None:
    arch, qemu = ("arm64", "aarch64") if os.uname().machine == "x86_64" else ("amd64", "x86_64")
    if Path(f"/proc/sys/fs/binfmt_misc/qemu-{qemu}").exists():
        pytest.fail("this test expects a machine without a qemu binfmt handler for " + arch)
    ctx = _context(tmp_path, "FROM scratch\nCOPY --chmod=755 busybox /bin/sh\nRUN true\n")
    (ctx / "busybox").write_bytes((busybox_rootfs_dir / "bin" / "busybox").read_bytes())
    result = run_dockwright("build", ctx, "--platform", f"linux/{arch}")
    assert result.returncode != 0
    assert "Dockerfile:3" in result.stderr
    assert "binfmt" in result.stderr
    assert "Traceback" not in result.stderr
    # The same Dockerfile builds for the host's own platform.
    assert run_dockwright("build", ctx).returncode == 0


def test_ssh_agent_is_forwarded_only_on_request(home: Path, tmp_path: Path) -> None:
    with ssh_agent(tmp_path / "agent.sock") as sock:
        ctx = _context(
            tmp_path,
            'FROM busybox\nRUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo yes > /ssh\n',
        )
        env = {"SSH_AUTH_SOCK": str(sock)}
        forwarded = run_dockwright("build", ctx, "-t", "ssh", "--ssh", "default", env=env)
        assert forwarded.returncode == 0, forwarded.stderr
        _, files = _image(home, "ssh")
        assert files["ssh"][2] == b"yes\n"
        assert not any(name.startswith("run/buildkit") for name in files)
        refused = run_dockwright("build", ctx, "--no-cache", env=env)
        assert refused.returncode != 0  # no --ssh: no socket, so the test in RUN fails


def test_copy_unpack_lays_out_the_layers_before_the_first_build(home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bb.tar"
    assert run_dockwright("save", "busybox", "-o", archive).returncode == 0
    other = tmp_path / "other-home"
    env = {"DOCKWRIGHT_HOME": str(other)}
    copied = run_dockwright("copy", "--unpack", f"oci-archive:{archive}", "store:bb:1", env=env)
    assert copied.returncode == 0, copied.stderr
    layers = list((other / "snapshots" / "layers").iterdir())
    assert len(layers) == 1
    ctx = _context(tmp_path, "FROM bb:1\nRUN test -x /bin/busybox\n")
    built = run_dockwright("build", ctx, env=env)
    assert built.returncode == 0, built.stderr
    assert [p.name for p in (other / "snapshots" / "layers").iterdir()].count(layers[0].name) == 1


def test_from_an_image_only_in_a_registry_is_pulled(
    home: Path, tmp_path: Path, registry: RegistryServer
) -> None:
    ref = f"{registry.host}/build/base:1"
    pushed = run_dockwright("push", "busybox", ref, "--insecure-registry", registry.host)
    assert pushed.returncode == 0, pushed.stderr
    fresh = tmp_path / "fresh-home"
    env = {"DOCKWRIGHT_HOME": str(fresh)}
    ctx = _context(tmp_path, f"FROM {ref}\nRUN echo pulled > /p\n")
    built = run_dockwright("build", ctx, "-t", "from-registry", "--insecure-registry",
                           registry.host, env=env)  # fmt: skip
    assert built.returncode == 0, built.stderr
    _, files = _image(fresh, "from-registry")
    assert files["p"][2] == b"pulled\n"
    assert "bin/busybox" in files
    # The base is now in the store: a second build needs no registry at all.
    again = run_dockwright("build", ctx, "--no-cache", "--registry-mirror",
                           f"{registry.host}=http://127.0.0.1:9", env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
