"""Platform parsing, normalisation and containerd-like matching."""

from __future__ import annotations

import pytest

from dockwright.errors import PlatformError
from dockwright.image.platform import Platform, best_match, parse_platforms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("x86_64", "linux/amd64"),
        ("LINUX/AMD64", "linux/amd64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64/v8"),
        ("linux/arm64", "linux/arm64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/armel", "linux/arm/v6"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("linux/i386", "linux/386"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("linux/ppc64le", "linux/ppc64le"),
        ("linux/riscv64", "linux/riscv64"),
    ],
)
def test_parse_normalises(text: str, expected: str) -> None:
    assert str(Platform.parse(text)) == expected


@pytest.mark.parametrize(
    "text",
    ["", "linux/", "/amd64", "linux/amd64/v8/x", "plan9x/amd64", "linux/sparc", "linux/arm/v9"],
)
def test_parse_rejects_and_lists_valid_values(text: str) -> None:
    with pytest.raises(PlatformError) as info:
        Platform.parse(text)
    assert info.value.hint is not None
    assert "valid" in info.value.hint


def test_matching_treats_default_variants_as_equal() -> None:
    arm64 = Platform.parse("linux/arm64")
    assert arm64.matches(Platform("linux", "arm64", "v8"))
    assert arm64.matches(Platform("linux", "aarch64"))
    assert Platform.parse("linux/arm").matches(Platform("linux", "arm", ""))
    assert not Platform.parse("linux/arm/v6").matches(Platform("linux", "arm", "v7"))
    assert not arm64.matches(Platform("linux", "amd64"))
    assert not arm64.matches(Platform("windows", "arm64"))


def test_compatible_variants_pick_the_newest_that_runs() -> None:
    v7 = Platform.parse("linux/arm/v7")
    candidates = [
        Platform("linux", "amd64"),
        Platform("linux", "arm", "v5"),
        Platform("linux", "arm", "v6"),
    ]
    assert v7.compatible(candidates[2])
    assert not Platform.parse("linux/arm/v6").compatible(Platform("linux", "arm", "v7"))
    assert best_match(v7, candidates) == 2
    assert best_match(v7, [*candidates, Platform("linux", "arm", "v7")]) == 3
    assert best_match(Platform.parse("linux/s390x"), candidates) is None


def test_parse_platforms_list_drops_duplicates() -> None:
    plats = parse_platforms("linux/amd64, linux/arm64,linux/aarch64,linux/arm/v7")
    assert [str(p) for p in plats] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    with pytest.raises(PlatformError):
        parse_platforms(" , ")


def test_json_round_trip_keeps_fields() -> None:
    plat = Platform("windows", "amd64", "", "10.0.17763.1", ("win32k",))
    assert Platform.from_json(plat.to_json()) == plat
