"""Image references: Docker's normalisation and clear errors."""

from __future__ import annotations

import pytest

from dockwright.errors import InvalidReferenceError
from dockwright.image.digest import Digest
from dockwright.image.reference import Reference

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("given", "full", "familiar"),
    [
        ("golang", "docker.io/library/golang:latest", "golang:latest"),
        ("golang:1.23", "docker.io/library/golang:1.23", "golang:1.23"),
        ("team/app", "docker.io/team/app:latest", "team/app:latest"),
        ("docker.io/golang", "docker.io/library/golang:latest", "golang:latest"),
        ("index.docker.io/library/golang:1", "docker.io/library/golang:1", "golang:1"),
        ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
        ("localhost/x:1", "localhost/x:1", "localhost/x:1"),
        ("127.0.0.1:5000/a/b:tag", "127.0.0.1:5000/a/b:tag", "127.0.0.1:5000/a/b:tag"),
        ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
        ("ghcr.io/o/r:v1", "ghcr.io/o/r:v1", "ghcr.io/o/r:v1"),
        (f"golang@{D}", f"docker.io/library/golang@{D}", f"golang@{D}"),
        (f"golang:1.23@{D}", f"docker.io/library/golang:1.23@{D}", f"golang:1.23@{D}"),
        ("host:5000", "docker.io/library/host:5000", "host:5000"),
    ],
)
def test_parse_normalises_like_docker(given: str, full: str, familiar: str) -> None:
    ref = Reference.parse(given)
    assert str(ref) == full
    assert ref.familiar == familiar
    assert Reference.parse(full) == ref


def test_fields_and_helpers() -> None:
    ref = Reference.parse("golang:1.23")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "docker.io",
        "library/golang",
        "1.23",
        None,
    )
    assert ref.name == "docker.io/library/golang"
    assert ref.api_host == "registry-1.docker.io"
    assert ref.identifier == "1.23"
    pinned = ref.with_digest(Digest.parse(D))
    assert pinned.identifier == D and pinned.tag is None
    assert str(pinned.with_tag("2")) == "docker.io/library/golang:2"
    both = Reference.parse(f"golang:1@{D}")
    assert both.tag == "1" and both.digest == Digest.parse(D) and both.identifier == D
    assert Reference.parse("127.0.0.1:5000/x").api_host == "127.0.0.1:5000"


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("", "empty"),
        ("Golang", "lowercase"),
        ("team/App:1", "lowercase"),
        ("golang:", "tag ''"),
        ("golang:-x", "tag '-x'"),
        ("golang@sha256:abc", "malformed sha256 digest"),
        ("golang@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("@" + D, "before '@'"),
        ("a//b", "empty path component"),
        ("bad_host.io/app", "registry 'bad_host.io'"),
        ("a" * 64, "image ID"),
        ("x" * 256, "longer than 255"),
    ],
)
def test_invalid_references(given: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        Reference.parse(given)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_with_tag_validates() -> None:
    with pytest.raises(InvalidReferenceError):
        Reference.parse("golang").with_tag("bad tag")
