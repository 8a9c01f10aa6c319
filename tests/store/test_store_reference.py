from __future__ import annotations

import pytest

from dockwright.errors import InvalidReferenceError
from dockwright.store import normalize_tag, qualified_name, split_tag


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("hello", "hello:latest"),
        ("hello:1", "hello:1"),
        ("hello:latest", "hello:latest"),
        ("team/app", "team/app:latest"),
        ("localhost:5000/a/b", "localhost:5000/a/b:latest"),
        ("localhost:5000/a/b:v2.1", "localhost:5000/a/b:v2.1"),
        ("localhost/app:1", "localhost/app:1"),
        ("reg.example.com/x/y_z:tag", "reg.example.com/x/y_z:tag"),
        ("Reg.Example.com:443/x:T_1", "Reg.Example.com:443/x:T_1"),
        ("a__b/c-d/e.f:_x", "a__b/c-d/e.f:_x"),
        ("a---b", "a---b:latest"),
        ("[::1]:5000/app", "[::1]:5000/app:latest"),
        ("host:5000", "host:5000"),
        ("  hello:1 ", "hello:1"),
        ("x:" + "a" * 128, "x:" + "a" * 128),
    ],
)
def test_valid_names(given: str, expected: str) -> None:
    assert normalize_tag(given) == expected


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("", "empty"),
        ("reg.io/x@sha256:" + "a" * 64, "digest reference"),
        ("hello@sha256:" + "a" * 64, "digest reference"),
        ("Hello", "lowercase"),
        ("team/App:1", "lowercase"),
        ("hello:", "tag ''"),
        ("hello:-x", "tag '-x'"),
        ("hello:.x", "tag '.x'"),
        ("hello:a!b", "tag 'a!b'"),
        ("hello:" + "a" * 129, "1-128"),
        ("a//b", "empty path component"),
        ("/a", "empty path component"),
        ("a/", "empty path component"),
        ("-a", "path component '-a'"),
        ("a_", "path component 'a_'"),
        ("a___b", "path component"),
        ("a..b", "path component"),
        ("a b", "path component"),
        ("bad_host.io:x/app", "registry"),
        ("bad_host.io/app", "registry 'bad_host.io'"),
        ("-bad.io/app", "registry '-bad.io'"),
        ("x" * 256, "longer than 255"),
        (":1", "repository part"),
    ],
)
def test_invalid_names(given: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        normalize_tag(given)
    assert fragment in str(info.value)


def test_split_tag() -> None:
    assert split_tag("localhost:5000/a/b:1") == ("localhost:5000/a/b", "1")
    assert split_tag("hello") == ("hello", "latest")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("hello", "docker.io/library/hello:latest"),
        ("hello:1", "docker.io/library/hello:1"),
        ("team/app:2", "docker.io/team/app:2"),
        ("localhost:5000/a/b", "localhost:5000/a/b:latest"),
        ("localhost/a:1", "localhost/a:1"),
        ("ghcr.io/o/r:v1", "ghcr.io/o/r:v1"),
    ],
)
def test_qualified_name(given: str, expected: str) -> None:
    assert qualified_name(given) == expected
