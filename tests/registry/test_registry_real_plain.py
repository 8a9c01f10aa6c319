"""Against the real distribution registry over plain http: round trips, interop with skopeo,
a two-platform index, cross-repository mounts, chunked uploads and the error lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockwright.errors import RegistryError
from dockwright.image.digest import Digest
from dockwright.image.platform import Platform
from dockwright.image.reference import Reference
from dockwright.registry import Client, RegistryOptions, pull, push
from dockwright.registry.credentials import StaticKeychain
from dockwright.store import Store
from dockwright.store.testing import add_image, add_index
from support import RegistryServer, layout_digest, make_test_image, skopeo_copy, skopeo_inspect

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


def client(**options: object) -> Client:
    """A client that never reads the developer's own credentials."""
    return Client(RegistryOptions(**options), keychain=StaticKeychain())  # type: ignore[arg-type]


def access_log(registry: RegistryServer, method: str, path: str) -> list[str]:
    """The registry's access-log lines for ``method`` on paths starting with ``path``."""
    text = registry.log_path.read_text(errors="replace")
    return [line for line in text.splitlines() if f'"{method} {path}' in line]


def test_push_then_pull_round_trip(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    source = Store.open(tmp_path / "src")
    root = add_image(source, layers=({"a.txt": b"a" * 10_000}, {"b.txt": b"b"}))
    ref = Reference.parse(f"{registry.host}/{repo}/app:v1")
    with client() as c:
        pushed = push(c, source, root, ref)
        assert pushed.digest == root.digest and pushed.blobs_uploaded == 3
        again = push(c, source, root, ref)
        assert again.blobs_existing == 3 and again.blobs_uploaded == 0
        dest = Store.open(tmp_path / "dest")
        pulled = pull(c, ref, dest)
    assert pulled.root.digest == root.digest
    dest.tag("app:v1", pulled.root)
    assert dest.verify() == []
    assert {d.digest for d in dest.walk(pulled.root)} == {d.digest for d in source.walk(root)}
    # skopeo reads what we pushed and finds the same digest.
    inspected = skopeo_inspect(registry.ref(f"{repo}/app:v1"), **registry.skopeo_access())
    assert inspected["Digest"] == str(root.digest)
    skopeo_copy(
        registry.ref(f"{repo}/app:v1"), f"oci:{tmp_path / 'out'}:v1", **registry.skopeo_access()
    )
    assert layout_digest(tmp_path / "out", "v1") == str(root.digest)


def test_pull_a_two_platform_index_pushed_by_skopeo(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    layout = make_test_image(tmp_path / "layout", ("linux/amd64", "linux/arm64/v8"), tag="multi")
    skopeo_copy(
        f"oci:{layout}:multi",
        registry.ref(f"{repo}/multi:1"),
        all_platforms=True,
        **registry.skopeo_access(),
    )
    expected = layout_digest(layout, "multi")
    ref = Reference.parse(f"{registry.host}/{repo}/multi:1")
    store = Store.open(tmp_path / "store")
    with client() as c:
        one = pull(c, ref, store, platforms=[Platform.parse("linux/arm64")])
        store.tag("multi:arm", one.root)
        assert str(one.root.digest) == expected
        assert one.platforms == (ARM64,)
        assert store.present_platforms(one.root) == [ARM64]
        every = pull(c, ref, store, all_platforms=True)
    assert every.blobs_skipped == 2 and every.blobs_fetched == 2
    store.tag("multi:all", every.root)
    layout_blobs = {f"sha256:{p.name}" for p in (layout / "blobs" / "sha256").iterdir()}
    assert {str(d.digest) for d in store.walk(every.root)} == layout_blobs
    assert store.verify() == []


def test_push_an_index_skopeo_reads_every_platform(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    source = Store.open(tmp_path / "src")
    root = add_index(source, (AMD64, ARM64))
    ref = Reference.parse(f"{registry.host}/{repo}/idx:2")
    with client(parallel=2) as c:
        result = push(c, source, root, ref)
    assert result.digest == root.digest and result.manifests == 3
    raw = skopeo_inspect(registry.ref(f"{repo}/idx:2"), raw=True, **registry.skopeo_access())
    assert Digest.of(json.dumps(raw, separators=(",", ":"), sort_keys=True).encode()) == root.digest
    skopeo_copy(
        registry.ref(f"{repo}/idx:2"),
        f"oci:{tmp_path / 'copy'}:2",
        all_platforms=True,
        **registry.skopeo_access(),
    )
    assert layout_digest(tmp_path / "copy", "2") == str(root.digest)


def test_cross_repository_mount(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    source = Store.open(tmp_path / "src")
    base = add_image(source, layers=({"base": b"x" * 50_000},))
    with client() as c:
        push(c, source, base, Reference.parse(f"{registry.host}/{repo}/base:1"))
        local = Store.open(tmp_path / "local")
        pulled = pull(c, Reference.parse(f"{registry.host}/{repo}/base:1"), local)
        result = push(c, local, pulled.root, Reference.parse(f"{registry.host}/{repo}/app:1"))
    assert result.blobs_mounted == 2 and result.blobs_uploaded == 0
    mounts = access_log(registry, "POST", f"/v2/{repo}/app/blobs/uploads/")
    assert len(mounts) == 2
    assert all("mount=sha256" in line and f"from={repo}%2Fbase" in line for line in mounts)
    assert all('" 201 ' in line for line in mounts)
    inspected = skopeo_inspect(registry.ref(f"{repo}/app:1"), **registry.skopeo_access())
    assert inspected["Digest"] == str(base.digest)


def test_chunked_upload(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    source = Store.open(tmp_path / "src")
    payload = bytes(range(256)) * 2000  # ~0.5 MB, stored uncompressed
    root = add_image(source, layers=({"payload": payload},), compress=False)
    ref = Reference.parse(f"{registry.host}/{repo}/chunked:1")
    with client(chunk_size=64 * 1024) as c:
        result = push(c, source, root, ref)
        dest = Store.open(tmp_path / "dest")
        pulled = pull(c, ref, dest)
    assert result.blobs_uploaded == 2
    patches = access_log(registry, "PATCH", f"/v2/{repo}/chunked/blobs/uploads/")
    assert len(patches) == 1 + -(-len(payload) // (64 * 1024))  # the config, the layer
    assert pulled.root.digest == root.digest
    dest.tag("c:1", pulled.root)
    assert dest.verify() == []


def test_unknown_repository_and_tag_are_one_clear_line(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    source = Store.open(tmp_path / "src")
    root = add_image(source)
    with client() as c:
        push(c, source, root, Reference.parse(f"{registry.host}/{repo}/app:1"))
        with pytest.raises(RegistryError) as tag:
            pull(c, Reference.parse(f"{registry.host}/{repo}/app:nope"), source)
        with pytest.raises(RegistryError) as name:
            pull(c, Reference.parse(f"{registry.host}/{repo}/ghost:1"), source)
    assert str(tag.value).startswith(f"tag nope not found in {registry.host}/{repo}/app")
    assert "available tags: 1" in str(tag.value)
    assert str(name.value).startswith(f"repository {registry.host}/{repo}/ghost not found")
    for err in (tag.value, name.value):
        assert "\n" not in str(err) and err.status == 404


def test_list_tags_and_resolve(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    source = Store.open(tmp_path / "src")
    root = add_image(source)
    with client() as c:
        for tag in ("b", "a", "c"):
            push(c, source, root, Reference.parse(f"{registry.host}/{repo}/t:{tag}"))
        ref = Reference.parse(f"{registry.host}/{repo}/t:a")
        assert sorted(c.list_tags(ref)) == ["a", "b", "c"]
        assert c.resolve(ref).digest == root.digest


def test_nothing_listens(tmp_path: Path) -> None:
    from support import free_port

    ref = Reference.parse(f"127.0.0.1:{free_port()}/x/y:1")
    with client(retries=1) as c, pytest.raises(RegistryError) as info:
        pull(c, ref, Store.open(tmp_path / "s"))
    text = str(info.value)
    assert text.startswith(f"cannot reach registry {ref.registry}")
    assert "is it running" in text and "\n" not in text


def test_pull_a_single_image_pushed_by_skopeo(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    layout = make_test_image(tmp_path / "layout", ("linux/arm64/v8",), payload_size=200_000)
    skopeo_copy(f"oci:{layout}:latest", registry.ref(f"{repo}/one:1"), **registry.skopeo_access())
    store = Store.open(tmp_path / "store")
    with client() as c:
        result = pull(c, Reference.parse(f"{registry.host}/{repo}/one:1"), store, platforms=[ARM64])
    assert str(result.root.digest) == layout_digest(layout)
    assert result.platforms == (ARM64,)
    store.tag("one:1", result.root)
    layout_blobs = {f"sha256:{p.name}" for p in (layout / "blobs" / "sha256").iterdir()}
    assert {str(d.digest) for d in store.walk(result.root)} == layout_blobs


def test_docker_hub_names_through_a_mirror(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    source = Store.open(tmp_path / "src")
    root = add_image(source)
    with client() as c:
        push(c, source, root, Reference.parse(f"{registry.host}/{repo}/hubby:1"))
    # No public registry is reachable here: only the mirror can answer.
    mirrors = {"docker.io": (registry.url,)}
    with client(mirrors=mirrors, retries=0) as c:
        result = pull(c, Reference.parse(f"{repo}/hubby:1"), Store.open(tmp_path / "dest"))
    assert result.root.digest == root.digest
    assert result.reference.familiar == f"{repo}/hubby:1"
