"""Against the real registry with auth: Basic over TLS with a test CA, and token auth."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import httpx
import pytest

from dockwright.errors import RegistryError
from dockwright.image.reference import Reference
from dockwright.registry import Client, RegistryOptions, login, logout, pull, push
from dockwright.registry.credentials import Credential, DockerKeychain, StaticKeychain
from dockwright.store import Store
from dockwright.store.testing import add_image
from support import PUBLIC_PREFIX, RegistryServer, TokenServer, make_test_image, skopeo_copy


def creds(server: RegistryServer) -> StaticKeychain:
    assert server.username and server.password
    return StaticKeychain({server.host: Credential(server.username, server.password)})


def tls(server: RegistryServer, **extra: object) -> RegistryOptions:
    assert server.ca_cert is not None
    return RegistryOptions(ca_certs=(server.ca_cert,), **extra)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- Basic over TLS


def test_basic_auth_over_tls_round_trip(
    registry_basic: RegistryServer, repo: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    source = Store.open(tmp_path / "src")
    root = add_image(source, layers=({"f": b"basic" * 1000},))
    ref = Reference.parse(f"{registry_basic.host}/{repo}/app:1")
    with Client(tls(registry_basic), keychain=creds(registry_basic)) as c:
        assert push(c, source, root, ref).digest == root.digest
        dest = Store.open(tmp_path / "dest")
        assert pull(c, ref, dest).root.digest == root.digest
    assert registry_basic.password is not None
    assert registry_basic.password not in caplog.text


def test_untrusted_ca_is_a_clear_error(registry_basic: RegistryServer, tmp_path: Path) -> None:
    ref = Reference.parse(f"{registry_basic.host}/x/y:1")
    with (
        Client(RegistryOptions(retries=0), keychain=creds(registry_basic)) as c,
        pytest.raises(RegistryError) as info,
    ):
        pull(c, ref, Store.open(tmp_path / "s"))
    text = str(info.value)
    assert f"TLS certificate of registry {registry_basic.host} could not be verified" in text
    assert "--ca-cert" in text and f"--insecure-registry {registry_basic.host}" in text
    assert "\n" not in text


def test_insecure_registry_skips_verification(
    registry_basic: RegistryServer, repo: str, tmp_path: Path
) -> None:
    source = Store.open(tmp_path / "src")
    root = add_image(source)
    options = RegistryOptions(insecure=frozenset({registry_basic.host}))
    with Client(options, keychain=creds(registry_basic)) as c:
        push(c, source, root, Reference.parse(f"{registry_basic.host}/{repo}/insecure:1"))


def test_wrong_password_and_anonymous_are_clear(
    registry_basic: RegistryServer, repo: str, tmp_path: Path
) -> None:
    ref = Reference.parse(f"{registry_basic.host}/{repo}/app:1")
    bad = StaticKeychain({registry_basic.host: Credential("dwuser", "not-the-password")})
    with Client(tls(registry_basic), keychain=bad) as c, pytest.raises(RegistryError) as wrong:
        c.resolve(ref)
    with (
        Client(tls(registry_basic), keychain=StaticKeychain()) as c,
        pytest.raises(RegistryError) as anonymous,
    ):
        c.resolve(ref)
    assert "UNAUTHORIZED" in wrong.value.codes and "with your credentials" in str(wrong.value)
    assert "not-the-password" not in f"{wrong.value!r} {wrong.value}"
    assert "requires authentication" in str(anonymous.value)
    assert f"dockwright login {registry_basic.host}" in str(anonymous.value)


def test_login_then_use_the_stored_credentials(
    registry_basic: RegistryServer, repo: str, tmp_path: Path
) -> None:
    env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    options = tls(registry_basic)
    assert registry_basic.username and registry_basic.password
    with pytest.raises(RegistryError, match="rejected the user name or password"):
        login(registry_basic.host, registry_basic.username, "wrong", options, environ=env)
    config = Path(env["HOME"]) / ".docker" / "config.json"
    assert not config.exists()
    where = login(
        registry_basic.host, registry_basic.username, registry_basic.password, options, environ=env
    )
    assert where == str(config)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert registry_basic.host in json.loads(config.read_text())["auths"]
    source = Store.open(tmp_path / "src")
    root = add_image(source)
    with Client(options, keychain=DockerKeychain(environ=env)) as c:
        push(c, source, root, Reference.parse(f"{registry_basic.host}/{repo}/app:2"))
    assert logout(registry_basic.host, options, environ=env)


# ---------------------------------------------------------------------------- token auth


def test_token_auth_scopes_and_caching(
    registry_token: RegistryServer, token_server: TokenServer, repo: str, tmp_path: Path
) -> None:
    source = Store.open(tmp_path / "src")
    root = add_image(source, layers=({"a": b"1"}, {"b": b"2"}, {"c": b"3"}))
    name = f"{repo}/app"
    ref = Reference.parse(f"{registry_token.host}/{name}:1")
    with Client(tls(registry_token, parallel=4), keychain=creds(registry_token)) as c:
        push(c, source, root, ref)
        pull(c, ref, Store.open(tmp_path / "dest"))
    push_scope = f"repository:{name}:pull,push"
    assert token_server.token_requests(push_scope) == 1
    # The pull reused the push token: no token asked for pull alone.
    assert token_server.token_requests(f"repository:{name}:pull") == 0
    assert token_server.token_requests() <= 3


def test_anonymous_pull_of_public_and_denied_push(
    registry_token: RegistryServer, token_server: TokenServer, repo: str, tmp_path: Path
) -> None:
    layout = make_test_image(tmp_path / "layout", ("linux/amd64",))
    public = f"{PUBLIC_PREFIX}{repo}/app"
    skopeo_copy(
        f"oci:{layout}:latest", registry_token.ref(f"{public}:1"), **registry_token.skopeo_access()
    )
    anonymous = StaticKeychain()
    store = Store.open(tmp_path / "store")
    with Client(tls(registry_token), keychain=anonymous) as c:
        result = pull(
            c,
            Reference.parse(f"{registry_token.host}/{public}:1"),
            store,
            platforms=None,
        )
        assert result.blobs_fetched == 2
        assert any(r.account is None for r in token_server.requests)
        with pytest.raises(RegistryError) as denied:
            push(c, store, result.root, Reference.parse(f"{registry_token.host}/{repo}/mine:1"))
    text = str(denied.value)
    assert "UNAUTHORIZED" in denied.value.codes or "DENIED" in denied.value.codes
    assert f"dockwright login {registry_token.host}" in text and "\n" not in text


def test_expired_tokens_are_fetched_again(
    registry_token: RegistryServer, token_server: TokenServer, repo: str, tmp_path: Path
) -> None:
    source = Store.open(tmp_path / "src")
    root = add_image(source)
    ref = Reference.parse(f"{registry_token.host}/{repo}/exp:1")
    with Client(tls(registry_token), keychain=creds(registry_token)) as c:
        push(c, source, root, ref)
    before = token_server.token_requests()
    with Client(tls(registry_token), keychain=creds(registry_token)) as c:
        # Tokens minted now are already expired for the registry: the client notices the
        # 401, fetches a new token and retries once; that one is expired too, so the answer
        # is a clear error, not a loop.
        with token_server.settings(clock_offset=-3600), pytest.raises(RegistryError) as info:
            c.resolve(ref)
        assert token_server.token_requests() == before + 2
        assert "UNAUTHORIZED" in info.value.codes
        # The client still holds the expired token (it expires later by its own clock):
        # the registry refuses it, and a fresh, valid one is fetched.
        assert c.resolve(ref).digest == root.digest
        assert token_server.token_requests() == before + 3


def test_wrong_password_with_a_token_server(
    registry_token: RegistryServer, token_server: TokenServer, tmp_path: Path
) -> None:
    bad = StaticKeychain({registry_token.host: Credential("dwuser", "nope-nope")})
    with Client(tls(registry_token), keychain=bad) as c, pytest.raises(RegistryError) as info:
        c.resolve(Reference.parse(f"{registry_token.host}/x/y:1"))
    assert "rejected the credentials" in str(info.value)
    assert "nope-nope" not in repr(info.value)
    with pytest.raises(RegistryError, match=r"login to .* failed"):
        login(
            registry_token.host,
            "dwuser",
            "nope-nope",
            tls(registry_token),
            environ={"HOME": str(tmp_path)},
        )


def test_identity_token_through_the_oauth2_endpoint(
    registry_token: RegistryServer, token_server: TokenServer, repo: str, tmp_path: Path
) -> None:
    assert registry_token.username and registry_token.password
    with httpx.Client(verify=registry_token.ssl_context()) as http:
        answer = http.post(
            token_server.realm,
            data={
                "grant_type": "password",
                "username": registry_token.username,
                "password": registry_token.password,
                "service": token_server.service,
                "client_id": "test",
                "access_type": "offline",
            },
        )
    refresh = answer.json()["refresh_token"]
    token_server.reset()
    keychain = StaticKeychain({registry_token.host: Credential(identity_token=refresh)})
    source = Store.open(tmp_path / "src")
    root = add_image(source)
    with Client(tls(registry_token), keychain=keychain) as c:
        result = push(c, source, root, Reference.parse(f"{registry_token.host}/{repo}/oauth:1"))
    assert result.digest == root.digest
    assert [r.grant_type for r in token_server.requests] == ["refresh_token"]
