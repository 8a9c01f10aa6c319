"""Retries: backoff with jitter on a fake clock, Retry-After, what is and is not retried."""

from __future__ import annotations

import email.utils
import socket
from collections.abc import Callable

import httpx
import pytest

from dockwright.errors import RegistryError
from dockwright.image.reference import Reference
from dockwright.registry.errors import RegistryUnavailableError
from dockwright.registry.fakes import FakeClock
from dockwright.registry.transport import BACKOFF_BASE, retry_after
from dockwright.store import MemoryStore
from dockwright.store.testing import add_image
from registry.fakeregistry import FakeRegistry, Fault, error
from registry.kit import make_client, serve_image

REF = Reference.parse("reg.test/team/app:1")


def served() -> FakeRegistry:
    fake = FakeRegistry()
    store = MemoryStore()
    serve_image(fake, "team/app", store, add_image(store), "1")
    return fake


def fail_first(count: int, make: Callable[[httpx.Request], httpx.Response]) -> Fault:
    left = {"n": count}

    def fault(request: httpx.Request) -> httpx.Response | None:
        if left["n"] and "/manifests/" in request.url.path:
            left["n"] -= 1
            return make(request)
        return None

    return fault


def test_5xx_is_retried_with_growing_jittered_backoff() -> None:
    fake = served()
    fake.faults.append(fail_first(3, lambda r: error(503, "UNAVAILABLE", "try later")))
    clock = FakeClock()
    with make_client(fake, clock=clock) as client:
        client.get_manifest(REF)
    assert len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps):
        full = BACKOFF_BASE * 2**attempt
        assert full / 2 <= slept <= full


def test_429_honours_retry_after_seconds_and_dates() -> None:
    fake = served()
    clock = FakeClock(start=1_700_000_000.0)
    date = email.utils.formatdate(clock.time() + 10, usegmt=True)  # 3 s pass first
    answers = iter(
        [
            error(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": "3"}),
            error(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": date}),
        ]
    )
    fake.faults.append(fail_first(2, lambda r: next(answers)))
    with make_client(fake, clock=clock) as client:
        client.get_manifest(REF)
    assert clock.sleeps[0] == 3
    assert 6 <= clock.sleeps[1] <= 7


def test_long_retry_after_is_not_waited_for() -> None:
    fake = served()
    fake.faults.append(
        lambda r: error(429, "TOOMANYREQUESTS", "rate limit", {"Retry-After": "21600"})
    )
    clock = FakeClock()
    with make_client(fake, clock=clock) as client, pytest.raises(RegistryError) as info:
        client.get_manifest(REF)
    assert clock.sleeps == []
    assert info.value.status == 429 and info.value.codes == ("TOOMANYREQUESTS",)
    assert "rate-limiting" in str(info.value) and "--registry-mirror" in str(info.value)


def test_4xx_is_not_retried() -> None:
    fake = served()
    fake.faults.append(lambda r: error(403, "DENIED", "no"))
    clock = FakeClock()
    with make_client(fake, clock=clock) as client, pytest.raises(RegistryError):
        client.get_manifest(REF)
    assert clock.sleeps == []
    assert len(fake.requests) == 1


def test_persistent_5xx_ends_in_a_clear_error() -> None:
    fake = served()
    fake.faults.append(lambda r: httpx.Response(502, text="<html>bad gateway</html>"))
    clock = FakeClock()
    with make_client(fake, clock=clock, retries=2) as client, pytest.raises(RegistryError) as info:
        client.get_manifest(REF)
    assert len(clock.sleeps) == 2 and len(fake.requests) == 3
    assert "failed with HTTP 502" in str(info.value) and "try again later" in str(info.value)


def test_connection_errors_are_retried_then_reported() -> None:
    fake = served()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    fake.faults.append(refuse)
    clock = FakeClock()
    with (
        make_client(fake, clock=clock, retries=3) as client,
        pytest.raises(RegistryUnavailableError) as info,
    ):
        client.get_manifest(REF)
    assert len(clock.sleeps) == 3
    text = str(info.value)
    assert text.startswith("cannot reach registry reg.test (after 4 attempts)")
    assert "Connection refused" in text and "is it running" in text


def test_connection_drop_on_a_get_is_retried() -> None:
    fake = served()

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    fake.faults.append(fail_first(1, drop))
    with make_client(fake) as client:
        client.get_manifest(REF)


def test_post_is_not_retried_unless_marked_safe() -> None:
    fake = served()
    fake.faults.append(lambda r: httpx.Response(500) if r.method == "POST" else None)
    clock = FakeClock()
    with make_client(fake, clock=clock) as client:
        response = client.session.send("POST", "https://reg.test/v2/x/blobs/uploads/")
        assert response.status_code == 500 and clock.sleeps == []
        response = client.session.send(
            "POST", "https://reg.test/v2/x/blobs/uploads/", retry_unsafe=True, retries=2
        )
        assert response.status_code == 500 and len(clock.sleeps) == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), (" 0 ", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert retry_after(value, 0.0) == expected


def test_retry_after_in_the_past_is_zero() -> None:
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 2_000_000_000.0) == 0.0


def test_unknown_host_is_not_retried() -> None:
    def unresolvable(request: httpx.Request) -> httpx.Response:
        cause = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        raise httpx.ConnectError(str(cause), request=request) from cause

    clock = FakeClock()
    with (
        make_client(httpx.MockTransport(unresolvable), clock=clock) as client,
        pytest.raises(RegistryUnavailableError) as info,
    ):
        client.get_manifest(Reference.parse("nosuch.example/x:1"))
    assert clock.sleeps == []
    text = str(info.value)
    assert text.startswith("cannot reach registry nosuch.example: the name nosuch.example does")
    assert "--registry-mirror" in text
