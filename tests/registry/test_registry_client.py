"""The client against an in-memory registry: manifests, blobs, resume, mirrors, tags, errors."""

from __future__ import annotations

import io
import ssl

import httpx
import pytest

from dockwright.errors import RegistryError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor
from dockwright.image.platform import Platform
from dockwright.image.reference import Reference
from dockwright.registry.errors import RegistryDigestError, RegistryUnavailableError
from dockwright.registry.progress import Progress
from dockwright.store import MemoryStore
from dockwright.store.testing import add_image, add_index
from registry.fakeregistry import BrokenStream, FakeRegistry, error, manifest_json
from registry.kit import make_client, serve_image

BLOB = bytes(range(256)) * 4096  # 1 MiB


def image_on(fake: FakeRegistry, repository: str = "team/app", tag: str = "1") -> Descriptor:
    store = MemoryStore()
    root = add_index(store, (Platform("linux", "amd64"), Platform("linux", "arm64", "v8")))
    serve_image(fake, repository, store, root, tag)
    return root


def test_get_manifest_negotiates_and_verifies() -> None:
    fake = FakeRegistry()
    root = image_on(fake)
    with make_client(fake) as client:
        desc, data = client.get_manifest(Reference.parse("reg.test/team/app:1"))
    assert desc == Descriptor(mt.OCI_INDEX, root.digest, root.size)
    assert Digest.of(data) == root.digest
    accept = fake.calls("GET", "/manifests/")[0].headers["accept"]
    for kind in (mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST):
        assert kind in accept


def test_resolve_uses_head() -> None:
    fake = FakeRegistry()
    root = image_on(fake)
    with make_client(fake) as client:
        desc = client.resolve(Reference.parse("reg.test/team/app:1"))
    assert desc.digest == root.digest and desc.media_type == mt.OCI_INDEX
    assert [r.method for r in fake.calls(path="/manifests/")] == ["HEAD"]


def test_manifest_with_altered_bytes_is_refused() -> None:
    fake = FakeRegistry()
    root = image_on(fake)

    def tamper(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and "/manifests/" in request.url.path:
            body = manifest_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []})
            return httpx.Response(
                200,
                content=body,
                headers={"Content-Type": mt.OCI_INDEX, "Docker-Content-Digest": str(root.digest)},
            )
        return None

    fake.faults.append(tamper)
    with make_client(fake) as client, pytest.raises(RegistryDigestError) as info:
        client.get_manifest(Reference.parse("reg.test/team/app:1"))
    assert str(root.digest) in str(info.value)
    with make_client(fake) as client, pytest.raises(RegistryDigestError):
        client.get_manifest(Reference.parse(f"reg.test/team/app@{root.digest}"))


def test_schema1_is_refused_clearly() -> None:
    fake = FakeRegistry()
    fake.add_manifest(
        "old/app",
        manifest_json({"schemaVersion": 1, "name": "old/app", "fsLayers": []}),
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        tag="1",
    )
    with make_client(fake) as client, pytest.raises(RegistryError) as info:
        client.get_manifest(Reference.parse("reg.test/old/app:1"))
    assert "schema 1" in str(info.value)


def test_missing_content_type_is_sniffed() -> None:
    fake = FakeRegistry()
    store = MemoryStore()
    single = add_image(store)
    data = store.read(single.digest)
    fake.add_manifest("x/y", data, "application/json", tag="t")
    with make_client(fake) as client:
        desc, _ = client.get_manifest(Reference.parse("reg.test/x/y:t"))
    assert desc.media_type == mt.OCI_MANIFEST


def test_unknown_tag_and_unknown_repository_are_told_apart() -> None:
    fake = FakeRegistry()
    image_on(fake, tag="1")
    with make_client(fake) as client:
        with pytest.raises(RegistryError) as tag_info:
            client.get_manifest(Reference.parse("reg.test/team/app:2"))
        with pytest.raises(RegistryError) as repo_info:
            client.resolve(Reference.parse("reg.test/team/nope:1"))
    assert str(tag_info.value).startswith("tag 2 not found in reg.test/team/app")
    assert "available tags: 1" in str(tag_info.value)
    assert tag_info.value.status == 404
    assert "repository reg.test/team/nope not found on reg.test" in str(repo_info.value)
    assert repo_info.value.codes == ("NAME_UNKNOWN",)


def test_fetch_blob_streams_and_reports_progress() -> None:
    fake = FakeRegistry()
    digest = fake.add_blob("a/b", BLOB)
    events: list[Progress] = []
    out = io.BytesIO()
    with make_client(fake) as client:
        client.fetch_blob(
            Reference.parse("reg.test/a/b"),
            Descriptor(mt.OCI_LAYER, digest, len(BLOB)),
            out,
            events.append,
        )
    assert out.getvalue() == BLOB
    assert events[-1].phase == "done" and events[-1].done == len(BLOB)
    assert all(e.total == len(BLOB) for e in events)


@pytest.mark.parametrize("honour_range", [True, False])
def test_fetch_blob_resumes_after_a_broken_transfer(honour_range: bool) -> None:
    fake = FakeRegistry(honour_range=honour_range)
    digest = fake.add_blob("a/b", BLOB)
    broken = {"left": 2}

    def drop(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and "/blobs/sha256" in request.url.path and broken["left"]:
            broken["left"] -= 1
            start = 0 if "range" not in request.headers else int(request.headers["range"][6:-1])
            cut = BLOB[start : start + 100_000] if honour_range or not start else BLOB[:250_000]
            status = 206 if start and honour_range else 200
            headers = {"Content-Length": str(len(BLOB) - (start if status == 206 else 0))}
            if status == 206:
                headers["Content-Range"] = f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"
            return httpx.Response(status, headers=headers, stream=BrokenStream(cut))
        return None

    fake.faults.append(drop)
    out = io.BytesIO()
    with make_client(fake) as client:
        client.fetch_blob(
            Reference.parse("reg.test/a/b"), Descriptor(mt.OCI_LAYER, digest, len(BLOB)), out
        )
    assert out.getvalue() == BLOB
    ranges = [r.headers.get("range") for r in fake.calls("GET", "/blobs/")]
    assert ranges[0] is None
    assert ranges[1] == "bytes=100000-"
    assert len(ranges) == 3


def test_fetch_blob_refuses_wrong_bytes() -> None:
    fake = FakeRegistry()
    digest = fake.add_blob("a/b", BLOB)
    fake.blobs["a/b"][str(digest)] = BLOB[:-1] + b"X"
    with make_client(fake) as client, pytest.raises(RegistryDigestError) as info:
        client.fetch_blob(
            Reference.parse("reg.test/a/b"),
            Descriptor(mt.OCI_LAYER, digest, len(BLOB)),
            io.BytesIO(),
        )
    assert "not kept" in str(info.value)
    fake.blobs["a/b"][str(digest)] = BLOB + b"extra"
    with make_client(fake) as client, pytest.raises(RegistryDigestError):
        client.fetch_blob(
            Reference.parse("reg.test/a/b"),
            Descriptor(mt.OCI_LAYER, digest, len(BLOB)),
            io.BytesIO(),
        )


def test_fetch_blob_gives_up_after_the_retries() -> None:
    fake = FakeRegistry()
    digest = fake.add_blob("a/b", BLOB)
    fake.faults.append(
        lambda r: (
            httpx.Response(200, stream=BrokenStream(b"")) if "/blobs/sha256" in r.url.path else None
        )
    )
    with make_client(fake, retries=2) as client, pytest.raises(RegistryUnavailableError) as info:
        client.fetch_blob(
            Reference.parse("reg.test/a/b"),
            Descriptor(mt.OCI_LAYER, digest, len(BLOB)),
            io.BytesIO(),
        )
    assert "broke" in str(info.value) and "reg.test" in str(info.value)


def test_mirrors_are_tried_first_and_never_pushed_to() -> None:
    mirror = FakeRegistry("mirror.test")
    origin = FakeRegistry("origin.test")
    store = MemoryStore()
    root = add_image(store)
    serve_image(mirror, "library/busybox", store, root, "latest")
    serve_image(origin, "library/busybox", store, root, "latest")

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "mirror.test":
            return mirror.handle(request)
        return origin.handle(request)

    client = make_client(
        httpx.MockTransport(route), mirrors={"docker.io": ("https://mirror.test",)}
    )
    ref = Reference.parse("busybox")
    with client:
        client.get_manifest(ref)
        assert mirror.calls("GET", "/manifests/latest") and not origin.requests
        # A tag the mirror lacks comes from the registry itself.
        origin.add_manifest("library/busybox", store.read(root.digest), root.media_type, "other")
        client.get_manifest(ref.with_tag("other"))
        assert origin.calls("GET", "/manifests/other")
        assert not client.blob_exists(ref, Digest.of(b"nothing"))
    assert all(r.url.host == "registry-1.docker.io" for r in origin.requests)
    assert not mirror.calls("HEAD", "/blobs/")
    assert origin.calls("HEAD", "/blobs/")


def test_unreachable_mirror_falls_back_and_is_remembered() -> None:
    origin = FakeRegistry("registry-1.docker.io")
    store = MemoryStore()
    root = add_image(store)
    serve_image(origin, "library/busybox", store, root, "latest")
    dead: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "mirror.test":
            dead.append(request)
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return origin.handle(request)

    with make_client(
        httpx.MockTransport(route), mirrors={"docker.io": ("http://mirror.test",)}, retries=1
    ) as client:
        client.get_manifest(Reference.parse("busybox"))
        tries = len(dead)
        client.get_manifest(Reference.parse("busybox"))
    assert tries == 2 and len(dead) == 2


def test_loopback_registry_falls_back_to_http() -> None:
    fake = FakeRegistry("127.0.0.1:5000")
    image_on(fake)

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            cause = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
            raise httpx.ConnectError(str(cause), request=request) from cause
        return fake.handle(request)

    with make_client(httpx.MockTransport(route)) as client:
        client.get_manifest(Reference.parse("127.0.0.1:5000/team/app:1"))
        client.get_manifest(Reference.parse("127.0.0.1:5000/team/app:1"))
    assert {r.url.scheme for r in fake.requests} == {"http"}


def test_loopback_registry_with_tls_stays_on_https() -> None:
    fake = FakeRegistry("localhost:5443")
    image_on(fake)
    with make_client(fake) as client:
        client.get_manifest(Reference.parse("localhost:5443/team/app:1"))
    assert {r.url.scheme for r in fake.requests} == {"https"}


def test_untrusted_certificate_is_a_clear_error_not_a_downgrade() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            cause = ssl.SSLCertVerificationError(
                1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
            )
            raise httpx.ConnectError(str(cause), request=request) from cause
        raise AssertionError("plain http must not be tried")

    with make_client(httpx.MockTransport(route)) as client, pytest.raises(RegistryError) as info:
        client.get_manifest(Reference.parse("127.0.0.1:5000/a:1"))
    text = str(info.value)
    assert "TLS certificate of registry 127.0.0.1:5000" in text
    assert "--ca-cert" in text and "--insecure-registry 127.0.0.1:5000" in text


def test_list_tags_follows_pagination() -> None:
    fake = FakeRegistry(page_size=2)
    store = MemoryStore()
    root = add_image(store)
    for tag in ("a", "b", "c", "d", "e"):
        serve_image(fake, "x/y", store, root, tag)
    with make_client(fake) as client:
        assert client.list_tags(Reference.parse("reg.test/x/y")) == ["a", "b", "c", "d", "e"]
    assert len(fake.calls("GET", "/tags/list")) == 3


def test_put_manifest_returns_the_digest_and_checks_the_registry() -> None:
    fake = FakeRegistry()
    store = MemoryStore()
    root = add_image(store)
    data = store.read(root.digest)
    with make_client(fake) as client:
        digest = client.put_manifest(Reference.parse("reg.test/x/y:v1"), data, root.media_type)
    assert digest == root.digest
    put = fake.calls("PUT", "/manifests/v1")[0]
    assert put.headers["content-type"] == mt.OCI_MANIFEST
    fake.faults.append(
        lambda r: (
            httpx.Response(201, headers={"Docker-Content-Digest": "sha256:" + "0" * 64})
            if r.method == "PUT"
            else None
        )
    )
    with make_client(fake) as client, pytest.raises(RegistryError, match="rewrote"):
        client.put_manifest(Reference.parse("reg.test/x/y:v1"), data, root.media_type)


def test_error_bodies_become_one_clear_line() -> None:
    fake = FakeRegistry()
    fake.faults.append(lambda r: error(403, "DENIED", "requested access to the resource is denied"))
    with make_client(fake) as client, pytest.raises(RegistryError) as info:
        client.get_manifest(Reference.parse("reg.test/x/y:1"))
    err = info.value
    assert err.status == 403 and err.codes == ("DENIED",)
    assert "reg.test denied pull access to reg.test/x/y:1" in str(err)
    assert "dockwright login reg.test" in str(err)
    assert "\n" not in str(err)
