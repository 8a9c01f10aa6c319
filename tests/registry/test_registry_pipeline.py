"""pull and push: platform choice, skipping, origins and mounts, verification, ordering."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from dockwright.errors import PlatformError, RegistryError
from dockwright.image import mediatypes as mt
from dockwright.image.model import Descriptor, Index
from dockwright.image.platform import Platform, host_platform
from dockwright.image.reference import Reference
from dockwright.registry import pull, push
from dockwright.registry.content import ORIGIN_NAMESPACE
from dockwright.registry.errors import RegistryDigestError
from dockwright.registry.progress import Progress
from dockwright.store import MemoryStore, Store
from dockwright.store.testing import add_image, add_index
from registry.fakeregistry import FakeRegistry
from registry.kit import make_client, serve_image

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")
ARM7 = Platform("linux", "arm", "v7")


def multi(fake: FakeRegistry, tag: str = "1") -> tuple[MemoryStore, Descriptor]:
    store = MemoryStore()
    root = add_index(store, (AMD64, ARM64, ARM7))
    serve_image(fake, "team/app", store, root, tag)
    return store, root


def test_pull_one_platform_keeps_the_index(tmp_path: Path) -> None:
    fake = FakeRegistry()
    _, root = multi(fake)
    store = Store.open(tmp_path / "store")
    ref = Reference.parse("reg.test/team/app:1")
    with make_client(fake) as client:
        result = pull(client, ref, store, platforms=[Platform.parse("linux/arm64")])
    assert result.root == Descriptor(mt.OCI_INDEX, root.digest, root.size)
    assert result.platforms == (ARM64,)
    assert result.available == (AMD64, ARM64, ARM7)
    assert result.blobs_fetched == 2 and result.blobs_skipped == 0
    store.tag("app:1", result.root)
    assert store.present_platforms(result.root) == [ARM64]
    assert store.verify() == []
    # Only arm64's blobs were fetched.
    fetched = {r.url.path.rsplit("/", 1)[1] for r in fake.calls("GET", "/blobs/")}
    assert len(fetched) == 2


def test_pull_default_is_the_host_platform_and_skips_present_blobs() -> None:
    fake = FakeRegistry()
    multi(fake)
    sink = MemoryStore()
    ref = Reference.parse("reg.test/team/app:1")
    with make_client(fake) as client:
        first = pull(client, ref, sink)
        second = pull(client, ref, sink)
    assert first.platforms == (host_platform(),) or first.platforms[0].matches(host_platform())
    assert second.blobs_fetched == 0 and second.blobs_skipped == first.blobs_fetched


def test_pull_all_platforms() -> None:
    fake = FakeRegistry()
    _, _root = multi(fake)
    sink = MemoryStore()
    events: list[Progress] = []
    lock = threading.Lock()

    def record(event: Progress) -> None:
        with lock:
            events.append(event)

    with make_client(fake, parallel=3) as client:
        result = pull(
            client,
            Reference.parse("reg.test/team/app:1"),
            sink,
            all_platforms=True,
            progress=record,
        )
    assert result.platforms == (AMD64, ARM64, ARM7)
    sink.tag("app:1", result.root)
    assert len(sink.walk(result.root)) == 1 + 3 * 3
    done = {e.digest for e in events if e.phase == "done"}
    assert len(done) == result.blobs_fetched == 6


def test_no_matching_platform_lists_what_there_is() -> None:
    fake = FakeRegistry()
    multi(fake)
    with make_client(fake) as client, pytest.raises(PlatformError) as info:
        pull(
            client,
            Reference.parse("reg.test/team/app:1"),
            MemoryStore(),
            platforms=[Platform.parse("linux/s390x")],
        )
    text = str(info.value)
    assert "has no image for linux/s390x" in text
    assert "linux/amd64, linux/arm64/v8, linux/arm/v7" in text


def test_single_image_for_another_platform_is_refused_when_asked() -> None:
    fake = FakeRegistry()
    store = MemoryStore()
    serve_image(fake, "x/y", store, add_image(store, platform=AMD64), "1")
    with make_client(fake) as client, pytest.raises(PlatformError, match="image for linux/amd64"):
        pull(client, Reference.parse("reg.test/x/y:1"), MemoryStore(), platforms=[ARM64])


def test_a_blob_that_never_verifies_is_not_stored(tmp_path: Path) -> None:
    fake = FakeRegistry()
    source = MemoryStore()
    root = add_image(source, layers=({"a": b"1" * 5000},))
    serve_image(fake, "x/y", source, root, "1")
    layer = source.walk(root)[-1]
    fake.blobs["x/y"][str(layer.digest)] = b"2" * layer.size
    store = Store.open(tmp_path / "store")
    with make_client(fake) as client, pytest.raises(RegistryDigestError):
        pull(client, Reference.parse("reg.test/x/y:1"), store)
    assert not store.has(layer.digest)
    assert not store.has(root.digest)
    assert store.verify() == []
    assert len(fake.calls("GET", str(layer.digest))) == 2  # one fresh try, then the error


def test_pull_records_origins_and_push_mounts_from_them() -> None:
    fake = FakeRegistry()
    source = MemoryStore()
    base = add_image(source, layers=({"base": b"b"},))
    serve_image(fake, "team/base", source, base, "1")
    local = MemoryStore()
    with make_client(fake) as client:
        pulled = pull(client, Reference.parse("reg.test/team/base:1"), local)
        layer = local.walk(pulled.root)[-1]
        origins = json.loads(local.cache[(ORIGIN_NAMESPACE, str(layer.digest))])
        assert origins == ["reg.test/team/base"]
        result = push(client, local, pulled.root, Reference.parse("reg.test/team/app:v1"))
    assert result.blobs_mounted == 2 and result.blobs_uploaded == 0
    assert result.digest == base.digest
    assert fake.manifests["team/app"]["v1"][1] == source.read(base.digest)
    assert json.loads(local.cache[(ORIGIN_NAMESPACE, str(layer.digest))]) == [
        "reg.test/team/app",
        "reg.test/team/base",
    ]


def test_push_an_index_children_first_index_last() -> None:
    fake = FakeRegistry()
    source = MemoryStore()
    root = add_index(source, (AMD64, ARM64))
    with make_client(fake, parallel=2) as client:
        result = push(client, source, root, Reference.parse("reg.test/team/app:2"))
        again = push(client, source, root, Reference.parse("reg.test/team/app:2"))
    assert result.digest == root.digest
    assert result.manifests == 3 and result.blobs_uploaded == 4
    assert again.blobs_existing == 4 and again.blobs_uploaded == 0
    puts = [r.url.path for r in fake.calls("PUT", "/manifests/")][:3]
    assert puts[-1].endswith("/manifests/2")
    assert all("/manifests/sha256:" in p for p in puts[:2])
    blob_puts = [r for r in fake.requests if r.method == "PUT" and "/uploads/" in r.url.path]
    first_manifest = fake.requests.index(fake.calls("PUT", "/manifests/")[0])
    assert all(fake.requests.index(r) < first_manifest for r in blob_puts)


def test_push_refuses_an_index_with_missing_platforms() -> None:
    fake = FakeRegistry()
    source = MemoryStore()
    other = MemoryStore()
    present = add_image(source, platform=AMD64)
    absent = add_image(other, platform=ARM64, layers=({"x": b"y"},))
    data = Index(manifests=(present, absent)).to_bytes()
    root = Descriptor(mt.OCI_INDEX, source.add(data), len(data))
    with make_client(fake) as client, pytest.raises(RegistryError) as info:
        push(client, source, root, Reference.parse("reg.test/team/app:3"))
    assert "not stored locally: linux/arm64/v8" in str(info.value)
    assert not fake.requests


def test_push_then_pull_round_trip_through_the_fake(tmp_path: Path) -> None:
    fake = FakeRegistry()
    source = Store.open(tmp_path / "a")
    root = add_index(source, (AMD64, ARM64))
    with make_client(fake, chunk_size=100) as client:
        push(client, source, root, Reference.parse("reg.test/rt/app:1"))
        dest = Store.open(tmp_path / "b")
        result = pull(client, Reference.parse("reg.test/rt/app:1"), dest, all_platforms=True)
    dest.tag("rt:1", result.root)
    assert {d.digest for d in dest.walk(result.root)} == {d.digest for d in source.walk(root)}


def test_unreachable_registry_during_pull(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    store = Store.open(tmp_path / "s")
    with (
        make_client(httpx.MockTransport(refuse), retries=1) as client,
        pytest.raises(RegistryError) as info,
    ):
        pull(client, Reference.parse("reg.test/x:1"), store)
    assert str(info.value).startswith("cannot reach registry reg.test")
