"""Digests and image documents: parsing, canonical bytes, immutability."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from dockwright.errors import ImageFormatError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import (
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    RunConfig,
    canonical_json,
    parse_document,
    sniff_media_type,
)
from dockwright.image.platform import Platform

EMPTY = Digest.of(b"")


def test_digest_parse_and_errors() -> None:
    assert Digest.parse(str(EMPTY)) == EMPTY
    assert EMPTY.hex == hashlib.sha256(b"").hexdigest()
    for bad in ["sha256", "md5:abc", "sha256:XYZ", "sha256:" + "a" * 63, ""]:
        with pytest.raises(ImageFormatError):
            Digest.parse(bad)


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": "é"}]}) == (
        '{"a":[1,{"c":"é","d":2}],"b":1}'.encode()
    )


def _docker_manifest() -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.DOCKER_MANIFEST,
            "config": {"mediaType": mt.DOCKER_CONFIG, "digest": str(EMPTY), "size": 0},
            "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "digest": str(EMPTY), "size": 0}],
        },
        indent=3,
    ).encode()


def test_docker_manifest_round_trip_keeps_media_types() -> None:
    data = _docker_manifest()
    manifest = Manifest.from_bytes(data)
    assert manifest.media_type == mt.DOCKER_MANIFEST
    assert manifest.layers[0].media_type == mt.DOCKER_LAYER_GZIP
    again = Manifest.from_bytes(manifest.to_bytes())
    assert again == manifest
    assert manifest.descriptor().digest == Digest.of(manifest.to_bytes())
    assert sniff_media_type(data) == mt.DOCKER_MANIFEST


def test_index_with_platforms() -> None:
    child = Descriptor(mt.OCI_MANIFEST, EMPTY, 0, platform=Platform("linux", "arm", "v7"))
    index = Index((child,), annotations={"a": "b"})
    parsed = parse_document(index.to_bytes(), mt.OCI_INDEX)
    assert parsed == index
    docker_list = json.dumps(
        {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": []}
    ).encode()
    assert Index.from_bytes(docker_list).media_type == mt.DOCKER_MANIFEST_LIST


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"schemaVersion": 1}',
        b'{"schemaVersion": 2, "layers": []}',
        b'{"schemaVersion": 2, "config": {"mediaType": "x", "size": 1}, "layers": []}',
    ],
)
def test_bad_manifests_raise_format_errors(data: bytes) -> None:
    with pytest.raises(ImageFormatError):
        Manifest.from_bytes(data)


def test_config_keeps_unknown_fields_and_history() -> None:
    raw = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "container": "abc",
        "config": {"Env": ["A=1"], "Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}}},
        "rootfs": {"type": "layers", "diff_ids": [str(EMPTY)]},
        "history": [{"created_by": "x"}, {"created_by": "y", "empty_layer": True}],
    }
    config = ImageConfig.from_bytes(json.dumps(raw).encode())
    assert config.extra == {"container": "abc"}
    assert config.config.exposed_ports == ("80/tcp",)
    assert config.history[1].empty_layer
    assert json.loads(config.to_bytes()) == raw
    grown = config.with_layer(EMPTY, History(created_by="z"))
    assert len(grown.diff_ids) == 2
    assert len(config.diff_ids) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.os = "windows"  # type: ignore[misc]


def test_run_config_env_updates_keep_order() -> None:
    run = RunConfig(env=("PATH=/bin", "A=1"))
    assert run.with_env({"A": "2", "B": "3"}).env == ("PATH=/bin", "A=2", "B=3")
