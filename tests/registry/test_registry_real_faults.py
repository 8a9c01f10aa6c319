"""Faults between us and the real registry (through the tests' fault proxy): every pull and
push either completes with verified digests or fails with one clear line, and the store
never holds a blob whose bytes do not match its digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwright.errors import RegistryError
from dockwright.image.model import Descriptor
from dockwright.image.reference import Reference
from dockwright.registry import Client, RegistryOptions, pull, push
from dockwright.registry.credentials import StaticKeychain
from dockwright.registry.errors import RegistryDigestError
from dockwright.registry.fakes import FakeClock
from dockwright.store import Store
from dockwright.store.testing import add_image
from support import FaultProxy, RegistryServer

BLOBS = r"/v2/.*/blobs/sha256:"
UPLOADS = r"/v2/.*/blobs/uploads/"
MANIFESTS = r"/v2/.*/manifests/"


def client(clock: FakeClock | None = None, **options: object) -> Client:
    return Client(
        RegistryOptions(**options),  # type: ignore[arg-type]
        keychain=StaticKeychain(),
        clock=clock or FakeClock(),
    )


def seeded(registry: RegistryServer, repo: str, tmp_path: Path) -> tuple[Store, Descriptor, str]:
    """An image pushed straight to the registry; returns its source store, root and name."""
    source = Store.open(tmp_path / "seed")
    payload = bytes(range(256)) * 4096  # 1 MiB, stored uncompressed: no gzip shrinking
    root = add_image(source, layers=({"payload": payload}, {"small": b"s"}), compress=False)
    with client() as c:
        push(c, source, root, Reference.parse(f"{registry.host}/{repo}/app:1"))
    return source, root, f"{repo}/app:1"


def check_pulled(store: Store, root: Descriptor, source: Store) -> None:
    store.tag("pulled:1", root)
    assert store.verify() == []
    assert {d.digest for d in store.walk(root)} == {d.digest for d in source.walk(root)}


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("truncate", {"after_bytes": 300_000}),
        ("drop", {"after_bytes": 200_000}),
        ("drop", {}),
        ("status500", {}),
        ("status429", {}),
    ],
)
def test_pull_survives_blob_faults(
    *,
    registry: RegistryServer,
    fault_proxy: FaultProxy,
    repo: str,
    tmp_path: Path,
    kind: str,
    extra: dict[str, int],
) -> None:
    source, root, name = seeded(registry, repo, tmp_path)
    fault_proxy.add_fault(kind, method="GET", path_regex=BLOBS, times=2, **extra)  # type: ignore[arg-type]
    store = Store.open(tmp_path / "store")
    clock = FakeClock()
    with client(clock) as c:
        result = pull(c, Reference.parse(f"{fault_proxy.host}/{name}"), store)
    assert result.root.digest == root.digest
    check_pulled(store, result.root, source)
    if kind == "status429":
        assert 1.0 in clock.sleeps  # the proxy's Retry-After: 1
    if kind == "truncate" or extra:
        ranged = [p for p in fault_proxy.requests if p.method == "GET" and "blobs/sha256" in p.path]
        assert len(ranged) >= 3


def test_pull_survives_manifest_faults(
    registry: RegistryServer, fault_proxy: FaultProxy, repo: str, tmp_path: Path
) -> None:
    source, _, name = seeded(registry, repo, tmp_path)
    fault_proxy.add_fault("status500", path_regex=MANIFESTS, times=2)
    fault_proxy.add_fault("drop", path_regex=MANIFESTS, times=1)
    store = Store.open(tmp_path / "store")
    with client() as c:
        result = pull(c, Reference.parse(f"{fault_proxy.host}/{name}"), store)
    check_pulled(store, result.root, source)


def test_altered_blob_is_fetched_again(
    registry: RegistryServer, fault_proxy: FaultProxy, repo: str, tmp_path: Path
) -> None:
    source, _, name = seeded(registry, repo, tmp_path)
    fault_proxy.add_fault("corrupt", method="GET", path_regex=BLOBS, times=1)
    store = Store.open(tmp_path / "store")
    with client() as c:
        result = pull(c, Reference.parse(f"{fault_proxy.host}/{name}"), store)
    check_pulled(store, result.root, source)


def test_always_altered_blob_fails_and_stores_nothing_bad(
    registry: RegistryServer, fault_proxy: FaultProxy, repo: str, tmp_path: Path
) -> None:
    _, root, name = seeded(registry, repo, tmp_path)
    fault_proxy.add_fault("corrupt", method="GET", path_regex=BLOBS, times=None)
    store = Store.open(tmp_path / "store")
    with client() as c, pytest.raises(RegistryDigestError) as info:
        pull(c, Reference.parse(f"{fault_proxy.host}/{name}"), store)
    text = str(info.value)
    assert "hashes to" in text and "not kept" in text and "\n" not in text
    assert store.verify() == []
    blobs = {p.name for p in (store.root / "blobs" / "sha256").iterdir()}
    assert str(root.digest.hex) not in blobs


def test_altered_manifest_is_refused(
    registry: RegistryServer, fault_proxy: FaultProxy, repo: str, tmp_path: Path
) -> None:
    _, root, name = seeded(registry, repo, tmp_path)
    fault_proxy.add_fault("corrupt", method="GET", path_regex=MANIFESTS, times=None)
    store = Store.open(tmp_path / "store")
    with client() as c, pytest.raises(RegistryError) as info:
        pull(c, Reference.parse(f"{fault_proxy.host}/{name}"), store)
    assert "\n" not in str(info.value)
    assert not store.has(root.digest)
    assert store.verify() == []


@pytest.mark.parametrize(
    ("kind", "method", "chunk_size"),
    [
        ("drop", "PUT", None),
        ("status500", "PUT", None),
        ("status500", "POST", None),
        ("drop", "PATCH", 256 * 1024),
        ("status500", "PATCH", 256 * 1024),
        ("status429", "PATCH", 256 * 1024),
    ],
)
def test_push_survives_upload_faults(
    *,
    registry: RegistryServer,
    fault_proxy: FaultProxy,
    repo: str,
    tmp_path: Path,
    kind: str,
    method: str,
    chunk_size: int | None,
) -> None:
    source = Store.open(tmp_path / "src")
    payload = bytes(range(256)) * 4096
    root = add_image(source, layers=({"payload": payload},), compress=False)
    fault_proxy.add_fault(kind, method=method, path_regex=UPLOADS, times=2, skip=1)  # type: ignore[arg-type]
    ref = Reference.parse(f"{fault_proxy.host}/{repo}/pushed:1")
    with client(chunk_size=chunk_size) as c:
        result = push(c, source, root, ref)
        assert result.digest == root.digest
        dest = Store.open(tmp_path / "dest")
        pulled = pull(c, ref, dest)
    check_pulled(dest, pulled.root, source)
    assert any(f.hits for f in fault_proxy.faults)


def test_persistent_failure_is_one_clear_line(
    registry: RegistryServer, fault_proxy: FaultProxy, repo: str, tmp_path: Path
) -> None:
    source = Store.open(tmp_path / "src")
    root = add_image(source)
    fault_proxy.add_fault("status500", method="PUT", path_regex=UPLOADS, times=None)
    with client(retries=2) as c, pytest.raises(RegistryError) as info:
        push(c, source, root, Reference.parse(f"{fault_proxy.host}/{repo}/never:1"))
    text = str(info.value)
    assert f"{fault_proxy.host} failed with HTTP 500" in text
    assert "try again later" in text and "\n" not in text
