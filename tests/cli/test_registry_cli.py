"""`dockwright pull/push/copy/login/logout` and `package --base REF/--push` against the
real distribution registry, checked with skopeo."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from dockwright.image.digest import Digest
from dockwright.store import Store
from support import run_dockwright
from support.registry import (
    RegistryServer,
    layout_digest,
    make_test_image,
    skopeo_copy,
    skopeo_inspect,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
HELLO = REPO_ROOT / "examples" / "hello"


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _one_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("dockwright: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    return proc.stderr


def _access(reg: RegistryServer) -> list[str]:
    return [f"--ca-cert={reg.ca_cert}"] if reg.ca_cert is not None else []


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOCKER_CONFIG folder, so logins never touch the user's ~/.docker."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    return folder


def test_package_push_is_read_back_by_skopeo(
    registry: RegistryServer, repo: str, dockwright_home: Path, tmp_path: Path
) -> None:
    ref = f"{registry.host}/{repo}/hello:1"
    proc = _ok(
        run_dockwright(
            "package", HELLO, "--platform", "linux/amd64,linux/arm64", "-t", ref, "--push"
        )
    )
    pushed = next(line for line in proc.stdout.splitlines() if line.startswith("pushed "))
    digest = pushed.rsplit("(", 1)[1].rstrip(")")
    raw = skopeo_inspect(registry.ref(f"{repo}/hello:1"), raw=True, **registry.skopeo_access())
    assert {m["platform"]["architecture"] for m in raw["manifests"]} == {"amd64", "arm64"}
    # skopeo verifies every blob's digest while copying the whole index out.
    layout = tmp_path / "copied"
    skopeo_copy(
        registry.ref(f"{repo}/hello:1"),
        f"oci:{layout}:1",
        all_platforms=True,
        **registry.skopeo_access(),
    )
    assert layout_digest(layout, "1") == digest


@pytest.mark.parametrize("platforms", [["linux/amd64"], ["linux/amd64", "linux/arm64/v8"]])
def test_pull_of_skopeo_pushed_images_matches_digest_for_digest(
    registry: RegistryServer,
    repo: str,
    dockwright_home: Path,
    tmp_path: Path,
    platforms: list[str],
) -> None:
    layout = make_test_image(tmp_path / "src", platforms, payload_size=300_000)
    name = f"{repo}/multi:v1"
    skopeo_copy(
        f"oci:{layout}:latest", registry.ref(name), all_platforms=True, **registry.skopeo_access()
    )
    expected_root = layout_digest(layout)
    proc = _ok(run_dockwright("pull", f"{registry.host}/{name}", "--all-platforms", "-q"))
    assert proc.stdout.strip() == expected_root
    store = Store.open(dockwright_home)
    root = store.resolve(f"{registry.host}/{name}")
    assert str(root.digest) == expected_root
    ours = {str(d.digest) for d in store.walk(root)}
    theirs = {f"sha256:{p.name}" for p in (layout / "blobs" / "sha256").iterdir()}
    assert ours == theirs
    for digest in ours:  # every stored blob hashes to its name
        assert Digest.of(store.read(Digest.parse(digest), verify=False)) == Digest.parse(digest)


def test_pull_one_platform_then_copy_between_repositories(
    registry: RegistryServer, repo: str, dockwright_home: Path, tmp_path: Path
) -> None:
    layout = make_test_image(tmp_path / "src", ["linux/amd64", "linux/arm64"])
    skopeo_copy(
        f"oci:{layout}:latest",
        registry.ref(f"{repo}/a:1"),
        all_platforms=True,
        **registry.skopeo_access(),
    )
    _ok(run_dockwright("pull", f"{registry.host}/{repo}/a:1", "--platform", "linux/arm64"))
    listing = _ok(run_dockwright("images", "--format", "json"))
    row = json.loads(listing.stdout)[0]
    assert (row["platforms"], row["platforms_not_pulled"]) == (["linux/arm64"], ["linux/amd64"])
    # A push needs every platform: the amd64 image was not pulled.
    err = _one_error(
        run_dockwright("push", f"{registry.host}/{repo}/a:1", f"{registry.host}/{repo}/b:1")
    )
    assert "linux/amd64" in err
    _ok(run_dockwright("copy", f"{registry.host}/{repo}/a:1", f"{registry.host}/{repo}/b:1"))
    assert (
        layout_digest(layout)
        == skopeo_inspect(registry.ref(f"{repo}/b:1"), **registry.skopeo_access())["Digest"]
    )


def test_basic_auth_over_tls_login_push_pull_logout(
    registry_basic: RegistryServer,
    repo: str,
    dockwright_home: Path,
    docker_config: Path,
    tmp_path: Path,
) -> None:
    reg = registry_basic
    assert reg.password is not None and reg.username is not None
    wrong = run_dockwright(
        "login", reg.host, "-u", reg.username, "--password-stdin", *_access(reg), input="nope\n"
    )
    _one_error(wrong, "rejected the user name or password")
    assert not (docker_config / "config.json").exists()

    out = _ok(
        run_dockwright(
            "login",
            reg.host,
            "-u",
            reg.username,
            "--password-stdin",
            *_access(reg),
            input=reg.password + "\n",
        )
    )
    assert reg.password not in out.stdout + out.stderr
    config = docker_config / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert reg.host in json.loads(config.read_text())["auths"]

    layout = make_test_image(tmp_path / "src", ["linux/amd64"])
    _ok(run_dockwright("copy", f"oci:{layout}:latest", f"{reg.host}/{repo}/app:1", *_access(reg)))
    skopeo_inspect(reg.ref(f"{repo}/app:1"), **reg.skopeo_access())
    _ok(run_dockwright("pull", f"{reg.host}/{repo}/app:1", *_access(reg)))
    # Without the CA the TLS failure is explained, not dumped.
    _one_error(run_dockwright("pull", f"{reg.host}/{repo}/app:1"), "--ca-cert")

    _ok(run_dockwright("logout", reg.host))
    _one_error(run_dockwright("pull", f"{reg.host}/{repo}/app:1", *_access(reg)))


@pytest.mark.usefixtures("token_server")
def test_token_auth_push_and_anonymous_public_pull(
    registry_token: RegistryServer,
    repo: str,
    dockwright_home: Path,
    docker_config: Path,
    tmp_path: Path,
) -> None:
    reg = registry_token
    assert reg.password is not None and reg.username is not None
    _ok(
        run_dockwright(
            "login",
            reg.host,
            "-u",
            reg.username,
            "--password-stdin",
            *_access(reg),
            input=reg.password,
        )
    )
    layout = make_test_image(tmp_path / "src", ["linux/amd64", "linux/arm64"])
    target = f"{reg.host}/public/{repo}/app:1"
    _ok(run_dockwright("copy", f"oci:{layout}:latest", target, *_access(reg)))
    _ok(run_dockwright("logout", reg.host))
    # Anonymous tokens may pull public/… but not push anywhere.
    _ok(run_dockwright("pull", target, "--all-platforms", *_access(reg)))
    _one_error(run_dockwright("push", target, f"{reg.host}/public/{repo}/other:1", *_access(reg)))


def test_unknown_repository_and_tag_are_one_clear_line(
    registry: RegistryServer, repo: str, dockwright_home: Path, tmp_path: Path
) -> None:
    _one_error(run_dockwright("pull", f"{registry.host}/{repo}/nothing:1"), "not found")
    layout = make_test_image(tmp_path / "src")
    skopeo_copy(f"oci:{layout}:latest", registry.ref(f"{repo}/there:1"), **registry.skopeo_access())
    _one_error(run_dockwright("pull", f"{registry.host}/{repo}/there:2"), "tag 2 not found")
    _one_error(run_dockwright("pull", "UPPER/case"), "UPPER/case")
    _one_error(run_dockwright("pull", "127.0.0.1:1/none:1"), "127.0.0.1:1")


def test_mirror_serves_docker_hub_names(
    registry: RegistryServer, repo: str, dockwright_home: Path, tmp_path: Path
) -> None:
    layout = make_test_image(tmp_path / "src")
    skopeo_copy(
        f"oci:{layout}:latest",
        registry.ref(f"library/{repo}-mirrored:1"),
        **registry.skopeo_access(),
    )
    proc = _ok(
        run_dockwright(
            "pull",
            f"{repo}-mirrored:1",
            "--registry-mirror",
            f"docker.io=http://{registry.host}",
            "-q",
        )
    )
    assert proc.stdout.strip() == layout_digest(layout)
    config = tmp_path / "registries.toml"
    config.write_text(f'[mirrors]\n"docker.io" = ["http://{registry.host}"]\n')
    env = {"DOCKWRIGHT_REGISTRIES_CONFIG": str(config), "DOCKWRIGHT_HOME": str(tmp_path / "h2")}
    _ok(run_dockwright("pull", f"docker.io/library/{repo}-mirrored:1", env=env))


def test_package_on_a_base_pulled_from_the_registry(
    registry: RegistryServer, repo: str, dockwright_home: Path, tmp_path: Path
) -> None:
    layout = make_test_image(tmp_path / "src", ["linux/amd64", "linux/arm64"])
    base = f"{registry.host}/{repo}/base:1"
    skopeo_copy(
        f"oci:{layout}:latest",
        registry.ref(f"{repo}/base:1"),
        all_platforms=True,
        **registry.skopeo_access(),
    )
    out = tmp_path / "out"
    _ok(
        run_dockwright(
            "package",
            HELLO,
            "--base",
            base,
            "--platform",
            "linux/arm64",
            "-t",
            "onbase:1",
            "--output",
            f"type=oci,dest={out},tar=false",
        )
    )
    manifest = skopeo_inspect(f"oci:{out}:1", raw=True)
    assert len(manifest["layers"]) == 2  # the base's layer and the binary's
    assert manifest["annotations"]["org.opencontainers.image.base.name"] == base
    assert os.path.exists(out / "index.json")
