"""Credential sources (Docker config, helpers, auth.json) and login/logout file handling."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import textwrap
from pathlib import Path

import pytest

from dockwright.errors import RegistryError
from dockwright.registry.accounts import login, logout
from dockwright.registry.credentials import Credential, DockerKeychain, server_key
from dockwright.registry.options import RegistryOptions
from registry.fakeregistry import PASSWORD, USER, FakeRegistry


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "PATH": os.environ["PATH"]}


def write(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def install_helper(tmp_path: Path, env: dict[str, str]) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    store_dir = tmp_path / "helper-store"
    store_dir.mkdir()
    script = bin_dir / "docker-credential-test"
    script.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            # docker-credential-test: one JSON file per server URL in $HELPER_DIR.
            action="$1"
            input=$(cat)
            case "$action" in
              get)
                key=$(printf %s "$input" | tr '/:' '__')
                if [ -f "$HELPER_DIR/$key.json" ]; then cat "$HELPER_DIR/$key.json"; exit 0; fi
                printf 'credentials not found in native keychain'; exit 1 ;;
              store)
                printf %s "$input" > "$HELPER_DIR/stored.json" ;;
              erase)
                key=$(printf %s "$input" | tr '/:' '__')
                rm -f "$HELPER_DIR/$key.json"; printf %s "$input" > "$HELPER_DIR/erased" ;;
              *) exit 2 ;;
            esac
            """
        )
    )
    script.chmod(0o755)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env["HELPER_DIR"] = str(store_dir)
    return store_dir


def helper_entry(store_dir: Path, server: str, user: str, secret: str) -> None:
    key = server.replace("/", "_").replace(":", "_")
    write(store_dir / f"{key}.json", {"ServerURL": server, "Username": user, "Secret": secret})


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("http://localhost:5000/v2/", "localhost:5000"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("https://ghcr.io", "ghcr.io"),
    ],
)
def test_server_key(key: str, host: str) -> None:
    assert server_key(key) == host


def test_docker_config_auths(env: dict[str, str], tmp_path: Path) -> None:
    config = Path(env["HOME"]) / ".docker" / "config.json"
    write(
        config,
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": basic("hub", "hubpass")},
                "localhost:5000": {"username": "u", "password": "p"},
                "ghcr.io": {"identitytoken": "idtok"},
                "broken.io": {"auth": "not base64 !!"},
            }
        },
    )
    chain = DockerKeychain(environ=env)
    hub = chain.get("docker.io")
    assert hub is not None and (hub.username, hub.password) == ("hub", "hubpass")
    local = chain.get("localhost:5000")
    assert local is not None and (local.username, local.password) == ("u", "p")
    ghcr = chain.get("ghcr.io")
    assert ghcr is not None and ghcr.identity_token == "idtok"
    assert chain.get("broken.io") is None
    assert chain.get("quay.io") is None
    assert "hubpass" not in repr(hub) and "idtok" not in repr(ghcr)


def test_docker_config_env_and_later_sources(env: dict[str, str], tmp_path: Path) -> None:
    write(tmp_path / "dc" / "config.json", {"auths": {"a.io": {"auth": basic("a", "1")}}})
    write(tmp_path / "raf.json", {"auths": {"b.io": {"auth": basic("b", "2")}}})
    write(
        tmp_path / "run" / "containers" / "auth.json",
        {"auths": {"c.io": {"auth": basic("c", "3")}}},
    )
    write(
        Path(env["HOME"]) / ".config" / "containers" / "auth.json",
        {"auths": {"d.io": {"auth": basic("d", "4")}, "a.io": {"auth": basic("late", "x")}}},
    )
    env.update(
        DOCKER_CONFIG=str(tmp_path / "dc"),
        REGISTRY_AUTH_FILE=str(tmp_path / "raf.json"),
        XDG_RUNTIME_DIR=str(tmp_path / "run"),
    )
    chain = DockerKeychain(environ=env)
    found = {host: chain.get(host) for host in ("a.io", "b.io", "c.io", "d.io")}
    assert {h: c.username if c else None for h, c in found.items()} == {
        "a.io": "a",
        "b.io": "b",
        "c.io": "c",
        "d.io": "d",
    }
    explicit = write(tmp_path / "mine.json", {"auths": {"a.io": {"auth": basic("mine", "0")}}})
    first = DockerKeychain(explicit, environ=env).get("a.io")
    assert first is not None and first.username == "mine"


def test_credential_helpers(env: dict[str, str], tmp_path: Path) -> None:
    store_dir = install_helper(tmp_path, env)
    helper_entry(store_dir, "https://index.docker.io/v1/", "hubuser", "hubsecret")
    helper_entry(store_dir, "reg.example:5000", "<token>", "identity-xyz")
    write(
        Path(env["HOME"]) / ".docker" / "config.json",
        {
            "credsStore": "test",
            "credHelpers": {"other.io": "missing"},
            "auths": {"plain.io": {"auth": basic("plain", "pw")}},
        },
    )
    chain = DockerKeychain(environ=env)
    hub = chain.get("docker.io")
    assert hub is not None and (hub.username, hub.password) == ("hubuser", "hubsecret")
    assert hub.source == "docker-credential-test"
    token = chain.get("reg.example:5000")
    assert token is not None and token.identity_token == "identity-xyz" and not token.username
    # Not in the helper: the file's own entry is used.
    plain = chain.get("plain.io")
    assert plain is not None and plain.username == "plain"
    with pytest.raises(RegistryError, match="docker-credential-missing is not installed"):
        chain.get("other.io")


def test_failing_helper_is_logged_without_its_output(
    env: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker-credential-leaky"
    script.write_text("#!/bin/sh\necho 'secret-in-output'\necho 'secret-in-stderr' >&2\nexit 3\n")
    script.chmod(0o755)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    write(Path(env["HOME"]) / ".docker" / "config.json", {"credsStore": "leaky"})
    caplog.set_level(logging.DEBUG)
    assert DockerKeychain(environ=env).get("x.io") is None
    assert "docker-credential-leaky failed for x.io (exit 3)" in caplog.text
    assert "secret-in" not in caplog.text


def test_malformed_config_names_the_file_not_its_content(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = Path(env["HOME"]) / ".docker" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text('{"auths": {"x": {"auth": "c2VjcmV0"}}')  # truncated JSON
    with pytest.raises(RegistryError) as info:
        DockerKeychain(environ=env).get("x")
    assert str(config) in str(info.value) and "c2VjcmV0" not in str(info.value)


# ---------------------------------------------------------------------------- login/logout


def test_login_checks_then_stores_with_mode_0600(env: dict[str, str]) -> None:
    fake = FakeRegistry(auth="bearer")
    config = Path(env["HOME"]) / ".docker" / "config.json"
    write(config, {"auths": {"keep.io": {"auth": basic("k", "v")}}, "experimental": "enabled"})
    config.chmod(0o644)
    where = login("reg.test", USER, PASSWORD, environ=env, transport=fake.transport())
    assert where == str(config)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    saved = json.loads(config.read_text())
    assert saved["experimental"] == "enabled"
    assert saved["auths"]["keep.io"] == {"auth": basic("k", "v")}
    assert saved["auths"]["reg.test"] == {"auth": basic(USER, PASSWORD)}
    assert fake.token_requests and "authorization" in fake.token_requests[0].headers
    assert not list(config.parent.glob(".config-*"))  # no temp file left behind
    cred = DockerKeychain(environ=env).get("reg.test")
    assert cred == Credential(USER, PASSWORD, "", str(config))
    assert logout("reg.test", environ=env) is True
    assert "reg.test" not in json.loads(config.read_text())["auths"]
    assert logout("reg.test", environ=env) is False


def test_wrong_password_stores_nothing(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for auth in ("bearer", "basic"):
        fake = FakeRegistry(auth=auth)
        with pytest.raises(RegistryError) as info:
            login("reg.test", USER, "bad-secret-123", environ=env, transport=fake.transport())
        err = info.value
        assert "UNAUTHORIZED" in err.codes
        assert str(err).startswith("login to reg.test failed: the registry rejected")
        assert "bad-secret-123" not in f"{err} {err!r} {err.__cause__!r}"
    assert not (Path(env["HOME"]) / ".docker" / "config.json").exists()
    assert "bad-secret-123" not in caplog.text
    assert basic(USER, "bad-secret-123") not in caplog.text


def test_login_to_docker_hub_uses_the_v1_key(env: dict[str, str], tmp_path: Path) -> None:
    fake = FakeRegistry("registry-1.docker.io", auth="basic")
    auth_file = tmp_path / "auth.json"
    where = login(
        "docker.io",
        USER,
        PASSWORD,
        RegistryOptions(auth_file=auth_file),
        environ=env,
        transport=fake.transport(),
    )
    assert where == str(auth_file)
    assert list(json.loads(auth_file.read_text())["auths"]) == ["https://index.docker.io/v1/"]
    assert not (Path(env["HOME"]) / ".docker").exists()
    # Docker's own spelling of Docker Hub names the same entry.
    options = RegistryOptions(auth_file=auth_file)
    assert logout("https://index.docker.io/v1/", options, environ=env) is True
    assert json.loads(auth_file.read_text())["auths"] == {}


def test_login_and_logout_through_a_credential_helper(env: dict[str, str], tmp_path: Path) -> None:
    store_dir = install_helper(tmp_path, env)
    config = write(Path(env["HOME"]) / ".docker" / "config.json", {"credsStore": "test"})
    fake = FakeRegistry(auth="basic")
    where = login("reg.test", USER, PASSWORD, environ=env, transport=fake.transport())
    assert where == "docker-credential-test"
    stored = json.loads((store_dir / "stored.json").read_text())
    assert stored == {"ServerURL": "reg.test", "Username": USER, "Secret": PASSWORD}
    saved = json.loads(config.read_text())
    assert saved["auths"] == {"reg.test": {}}
    assert PASSWORD not in config.read_text()
    assert logout("reg.test", environ=env) is True
    assert (store_dir / "erased").read_text() == "reg.test"
