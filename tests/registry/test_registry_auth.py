"""Challenges, the token flow (scopes, caching, expiry, refresh), Basic auth, secrecy."""

from __future__ import annotations

import logging

import httpx
import pytest

from dockwright.errors import RegistryError
from dockwright.image.reference import Reference
from dockwright.registry.auth import Challenge, parse_challenges, scopes_cover
from dockwright.registry.credentials import Credential
from dockwright.registry.fakes import FakeClock
from dockwright.store import MemoryStore
from dockwright.store.testing import add_image
from registry.fakeregistry import PASSWORD, REFRESH_TOKEN, USER, FakeRegistry
from registry.kit import ALICE, make_client, serve_image

REF = Reference.parse("reg.test/team/app:1")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/golang:pull"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/golang:pull",
                    },
                )
            ],
        ),
        (
            'Bearer realm="https://a/t", scope="repository:x:pull,push repository:y:pull"',
            [
                Challenge(
                    "bearer",
                    {"realm": "https://a/t", "scope": "repository:x:pull,push repository:y:pull"},
                )
            ],
        ),
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        (
            'basic realm="a, b", Bearer Realm=https://t/x , error="insufficient_scope"',
            [
                Challenge("basic", {"realm": "a, b"}),
                Challenge("bearer", {"realm": "https://t/x", "error": "insufficient_scope"}),
            ],
        ),
        ('Bearer realm="say \\"hi\\""', [Challenge("bearer", {"realm": 'say "hi"'})]),
        ("Negotiate", [Challenge("negotiate", {})]),
        ("", []),
        (" , ,", []),
    ],
)
def test_parse_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


def test_challenge_scopes_split() -> None:
    (challenge,) = parse_challenges('Bearer realm="r",scope="a:b:pull c:d:push"')
    assert challenge.scopes == ("a:b:pull", "c:d:push")


def test_scopes_cover() -> None:
    assert scopes_cover(["repository:a:pull,push"], ["repository:a:pull"])
    assert scopes_cover(["repository:a:*"], ["repository:a:push"])
    assert not scopes_cover(["repository:a:pull"], ["repository:a:push"])
    assert not scopes_cover(["repository:a:pull"], ["repository:b:pull"])
    assert scopes_cover(["repository:host:5000/a:pull"], ["repository:host:5000/a:pull"])


def served() -> FakeRegistry:
    fake = FakeRegistry(auth="bearer")
    store = MemoryStore()
    serve_image(fake, "team/app", store, add_image(store), "1")
    return fake


def test_anonymous_token_is_fetched_once_and_cached() -> None:
    fake = served()
    with make_client(fake) as client:
        client.resolve(REF)
        client.get_manifest(REF)
        client.list_tags(REF)
    assert len(fake.token_requests) == 1
    request = fake.token_requests[0]
    assert "authorization" not in request.headers
    assert request.url.params.get_list("scope") == ["repository:team/app:pull"]
    assert request.url.params["service"] == "fake-registry"
    # Only the first registry request went out without a token.
    assert sum("authorization" not in r.headers for r in fake.requests) == 1


def test_token_expiry_and_refresh_on_401() -> None:
    fake = served()
    fake.token_lifetime = None  # the default of 60 s applies
    clock = FakeClock()
    with make_client(fake, clock=clock) as client:
        client.resolve(REF)
        clock.advance(30)
        client.resolve(REF)
        assert len(fake.token_requests) == 1
        clock.advance(31)
        client.resolve(REF)
        assert len(fake.token_requests) == 2
        # The registry stops accepting the token early: one fresh token, one retry.
        fake.revoked.update(fake.tokens)
        client.resolve(REF)
        assert len(fake.token_requests) == 3


def test_push_token_serves_pulls_and_mount_asks_for_both_scopes() -> None:
    fake = served()
    data = b"layer bytes"
    fake.add_blob("team/base", data)
    from dockwright.image import mediatypes as mt
    from dockwright.image.model import Descriptor

    desc = Descriptor(mt.OCI_LAYER, fake.add_blob("team/base", data), len(data))
    with make_client(fake, credentials={"reg.test": ALICE}) as client:
        client.put_manifest(
            REF.with_tag("2"),
            fake.manifests["team/app"]["1"][1],
            fake.manifests["team/app"]["1"][0],
        )
        pushes = len(fake.token_requests)
        client.resolve(REF)
        assert len(fake.token_requests) == pushes  # pull,push covers pull
        outcome = client.push_blob(
            REF, desc, lambda: pytest.fail("no upload"), mount_from=["team/base"]
        )
    assert outcome == "mounted"
    scopes = fake.token_requests[-1].url.params.get_list("scope")
    assert scopes == ["repository:team/app:pull,push", "repository:team/base:pull"]
    assert fake.token_requests[-1].url.params["account"] == USER


def test_identity_token_uses_the_oauth2_post() -> None:
    fake = served()
    credential = Credential(identity_token=REFRESH_TOKEN, source="test")
    with make_client(fake, credentials={"reg.test": credential}) as client:
        client.resolve(REF)
    (request,) = fake.token_requests
    assert request.method == "POST"
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form["grant_type"] == "refresh_token"
    assert form["scope"] == "repository:team/app:pull"
    assert form["client_id"] == "dockwright"


def test_basic_auth_is_sent_after_the_challenge() -> None:
    fake = FakeRegistry(auth="basic")
    store = MemoryStore()
    serve_image(fake, "team/app", store, add_image(store), "1")
    with make_client(fake, credentials={"reg.test": ALICE}) as client:
        client.resolve(REF)
        client.resolve(REF)
    assert ["authorization" in r.headers for r in fake.requests] == [False, True, True]
    with make_client(fake) as client, pytest.raises(RegistryError) as info:
        client.resolve(REF)
    assert info.value.status == 401 and "UNAUTHORIZED" in info.value.codes
    assert "log in with `dockwright login reg.test`" in str(info.value)


def test_wrong_password_is_one_clear_line_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = served()
    secret = "wrong-password-do-not-leak"
    bad = Credential(USER, secret, source="test")
    with make_client(fake, credentials={"reg.test": bad}) as client:
        with pytest.raises(RegistryError) as info:
            client.resolve(REF)
        with pytest.raises(RegistryError) as ping_info:
            client.ping("reg.test")
    for err in (info.value, ping_info.value):
        text = f"{err} {err!r} {err.args}"
        assert secret not in text and PASSWORD not in text
        assert "UNAUTHORIZED" in err.codes
        assert "\n" not in str(err)
    assert "rejected the credentials" in str(info.value)
    assert "dockwright login reg.test" in str(info.value)
    assert secret not in caplog.text
    assert "d3JvbmctcGFzc3dvcmQ" not in caplog.text  # nor its base64
    assert secret not in repr(bad)


def test_basic_credentials_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = served()
    with make_client(fake, credentials={"reg.test": ALICE}) as client:
        client.resolve(REF)
    assert PASSWORD not in caplog.text
    assert "Basic " not in caplog.text
    assert "tok-" not in caplog.text  # tokens are secrets too
