from __future__ import annotations

from pathlib import Path

import pytest

from dockwright.errors import UsageError
from dockwright.publish import OutputSpec, parse_output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type=oci,dest=hello.tar", OutputSpec("oci", Path("hello.tar"))),
        ("type=oci,dest=dir,tar=false", OutputSpec("oci", Path("dir"), tar=False)),
        ("type=oci,dest=dir,tar=0", OutputSpec("oci", Path("dir"), tar=False)),
        ("type=oci,tar=TRUE,dest=x.tar", OutputSpec("oci", Path("x.tar"))),
        ("type=docker,dest=x.tar", OutputSpec("docker", Path("x.tar"))),
        ("TYPE=docker,DEST=x.tar", OutputSpec("docker", Path("x.tar"))),
        (
            "type=docker,dest=x.tar,platform=linux/arm64",
            OutputSpec("docker", Path("x.tar"), extra={"platform": "linux/arm64"}),
        ),
        ("type=image", OutputSpec("store", None)),
        ("type=store", OutputSpec("store", None)),
        ("type=image,name=a:1", OutputSpec("store", None, extra={"name": "a:1"})),
        (
            'type=oci,dest=o.tar,"name=a:1,b:2"',
            OutputSpec("oci", Path("o.tar"), extra={"name": "a:1,b:2"}),
        ),
        (" type=oci , dest=with space.tar ", OutputSpec("oci", Path("with space.tar"))),
    ],
)
def test_valid_outputs(text: str, expected: OutputSpec) -> None:
    assert parse_output(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("-", "not supported"),
        ("", "empty"),
        ("out.tar", "not key=value"),
        ("dest=out.tar", "no type="),
        ("type=local,dest=out", "valid types: store (alias image), oci, docker"),
        ("type=registry", "unknown output type"),
        ("type=oci", "needs dest="),
        ("type=docker,dest=", "needs dest="),
        ("type=oci,dest=-", "standard output"),
        ("type=oci,dest=a,oci-mediatypes=true", "valid keys for type=oci: type, dest, tar, name"),
        ("type=oci,dest=a,compression=lz4", "valid: gzip, zstd, uncompressed"),
        ("type=oci,dest=a,compression-level=high", "must be a whole number"),
        ("type=store,dest=x", "does not take dest"),
        ("type=oci,dest=a,tar=maybe", "true or false"),
        ("type=docker,dest=a,tar=false", "tar=false is only for type=oci"),
        ("type=oci,dest=a,dest=b", "given twice"),
        ("type=oci,platform=linux/amd64,dest=x", "does not take platform"),
    ],
)
def test_invalid_outputs(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_output(text)
    assert fragment in str(info.value)


def test_compression_defaults_and_overrides() -> None:
    oci = parse_output("type=oci,dest=a.tar")
    assert (oci.layer_compression, oci.layer_compression_level) == ("gzip", 1)
    docker = parse_output("type=docker,dest=a.tar")
    assert (docker.layer_compression, docker.layer_compression_level) == ("uncompressed", None)
    zstd = parse_output("type=oci,dest=a.tar,compression=zstd,compression-level=9")
    assert (zstd.layer_compression, zstd.layer_compression_level) == ("zstd", 9)
