"""push_blob: HEAD, mounts, monolithic and chunked uploads, recovery from faults."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import BinaryIO

import httpx
import pytest

from dockwright.errors import RegistryError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor
from dockwright.image.reference import Reference
from dockwright.registry.fakes import FakeClock
from dockwright.registry.progress import Progress
from registry.fakeregistry import FakeRegistry, error
from registry.kit import make_client

DATA = bytes(range(251)) * 5000  # 1.2 MB, not a multiple of the chunk sizes used
DESC = Descriptor(mt.OCI_LAYER, Digest.of(DATA), len(DATA))
REF = Reference.parse("reg.test/team/app:1")


def opener(data: bytes = DATA) -> tuple[list[int], Callable[[], BinaryIO]]:
    opened: list[int] = []

    def open_blob() -> BinaryIO:
        opened.append(1)
        return io.BytesIO(data)

    return opened, open_blob


def test_existing_blob_is_not_uploaded() -> None:
    fake = FakeRegistry()
    fake.add_blob("team/app", DATA)
    events: list[Progress] = []
    with make_client(fake) as client:
        outcome = client.push_blob(
            REF, DESC, lambda: pytest.fail("must not read"), progress=events.append
        )
    assert outcome == "exists"
    assert [r.method for r in fake.requests] == ["HEAD"]
    assert [e.phase for e in events] == ["exists"]


def test_monolithic_upload() -> None:
    fake = FakeRegistry()
    opened, open_blob = opener()
    events: list[Progress] = []
    with make_client(fake) as client:
        outcome = client.push_blob(REF, DESC, open_blob, progress=events.append)
    assert outcome == "uploaded"
    assert fake.blobs["team/app"][str(DESC.digest)] == DATA
    assert [r.method for r in fake.requests] == ["HEAD", "POST", "PUT"]
    put = fake.requests[2]
    assert put.url.params["digest"] == str(DESC.digest)
    assert put.url.params["_state"].startswith("s")  # the Location's query is kept
    assert put.headers["content-length"] == str(len(DATA))
    assert "transfer-encoding" not in put.headers
    assert events[-1].phase == "done" and events[-1].done == len(DATA)
    assert opened == [1]


def test_chunked_upload_follows_the_spec() -> None:
    fake = FakeRegistry()
    _, open_blob = opener()
    with make_client(fake, chunk_size=500_000) as client:
        assert client.push_blob(REF, DESC, open_blob) == "uploaded"
    assert fake.blobs["team/app"][str(DESC.digest)] == DATA
    patches = fake.calls("PATCH")
    assert [p.headers["content-range"] for p in patches] == [
        "0-499999",
        "500000-999999",
        f"1000000-{len(DATA) - 1}",
    ]
    assert all(p.headers["content-type"] == "application/octet-stream" for p in patches)
    (put,) = fake.calls("PUT")
    assert put.content == b"" and put.url.params["digest"] == str(DESC.digest)
    # After the first PATCH the registry's absolute Location is used.
    assert str(patches[1].url).startswith("https://reg.test/v2/team/app/blobs/uploads/")


def test_cross_repository_mount() -> None:
    fake = FakeRegistry()
    fake.add_blob("team/base", DATA)
    with make_client(fake) as client:
        outcome = client.push_blob(
            REF, DESC, lambda: pytest.fail("must not read"), mount_from=["team/base"]
        )
    assert outcome == "mounted"
    post = fake.calls("POST")[0]
    assert post.url.params["mount"] == str(DESC.digest)
    assert post.url.params["from"] == "team/base"


def test_failed_mount_uploads_into_the_session_it_opened() -> None:
    fake = FakeRegistry()
    _, open_blob = opener()
    with make_client(fake) as client:
        outcome = client.push_blob(REF, DESC, open_blob, mount_from=["team/other"])
    assert outcome == "uploaded"
    assert [r.method for r in fake.requests] == ["HEAD", "POST", "PUT"]


def test_broken_monolithic_put_starts_over() -> None:
    fake = FakeRegistry()
    _, open_blob = opener()
    left = {"n": 1}

    def drop(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and left["n"]:
            left["n"] -= 1
            raise httpx.WriteError("Broken pipe", request=request)
        return None

    fake.faults.append(drop)
    clock = FakeClock()
    with make_client(fake, clock=clock) as client:
        assert client.push_blob(REF, DESC, open_blob) == "uploaded"
    assert [r.method for r in fake.requests] == ["HEAD", "POST", "PUT", "HEAD", "POST", "PUT"]
    assert len(clock.sleeps) == 1


def test_lost_answer_to_a_successful_put_is_noticed() -> None:
    fake = FakeRegistry()
    _, open_blob = opener()
    left = {"n": 1}

    def swallow(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and left["n"]:
            left["n"] -= 1
            fake.faults.remove(swallow)
            fake.handle(request)  # the registry stores it...
            raise httpx.ReadError(
                "Connection reset by peer", request=request
            )  # ...the answer is lost
        return None

    fake.faults.append(swallow)
    with make_client(fake) as client:
        assert client.push_blob(REF, DESC, open_blob) == "uploaded"
    assert [r.method for r in fake.requests][-2:] == ["PUT", "HEAD"]
    assert len(fake.calls("POST")) == 1


def test_chunked_upload_resumes_where_the_registry_stopped() -> None:
    fake = FakeRegistry()
    _, open_blob = opener()
    left = {"n": 1}

    def drop_second_patch(request: httpx.Request) -> httpx.Response | None:
        if (
            request.method == "PATCH"
            and request.headers["content-range"].startswith("500000")
            and left["n"]
        ):
            left["n"] -= 1
            raise httpx.WriteError("Broken pipe", request=request)
        return None

    fake.faults.append(drop_second_patch)
    with make_client(fake, chunk_size=500_000) as client:
        assert client.push_blob(REF, DESC, open_blob) == "uploaded"
    methods = [r.method for r in fake.requests]
    assert methods == ["HEAD", "POST", "PATCH", "PATCH", "GET", "PATCH", "PATCH", "PUT"]
    ranges = [r.headers["content-range"] for r in fake.calls("PATCH")]
    assert ranges[2] == "500000-999999"  # resumed after the 500000 bytes acknowledged
    assert fake.blobs["team/app"][str(DESC.digest)] == DATA


def test_altered_bytes_in_transit_are_uploaded_again() -> None:
    fake = FakeRegistry()
    _, open_blob = opener()
    left = {"n": 1}

    def alter(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and left["n"]:
            left["n"] -= 1
            return error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
        return None

    fake.faults.append(alter)
    with make_client(fake) as client:
        assert client.push_blob(REF, DESC, open_blob) == "uploaded"
    assert len(fake.calls("PUT")) == 2


def test_corrupt_local_blob_is_a_clear_error() -> None:
    fake = FakeRegistry()
    _, open_blob = opener(DATA[:-1] + b"!")
    with make_client(fake) as client, pytest.raises(RegistryError) as info:
        client.push_blob(REF, DESC, open_blob)
    assert "local copy" in str(info.value) and "corrupt" in str(info.value)
    assert "prune --repair" in str(info.value)


def test_short_local_blob_is_a_clear_error() -> None:
    fake = FakeRegistry()
    _, open_blob = opener(DATA[:1000])
    with make_client(fake) as client, pytest.raises(RegistryError) as info:
        client.push_blob(REF, DESC, open_blob)
    assert re.search(r"ends after \d+ bytes", str(info.value))


def test_push_denied_is_not_retried() -> None:
    fake = FakeRegistry()
    fake.faults.append(
        lambda r: (
            error(403, "DENIED", "requested access to the resource is denied")
            if r.method == "POST"
            else None
        )
    )
    clock = FakeClock()
    with make_client(fake, clock=clock) as client, pytest.raises(RegistryError) as info:
        client.push_blob(REF, DESC, lambda: io.BytesIO(DATA))
    assert clock.sleeps == []
    assert "denied push access" in str(info.value)
