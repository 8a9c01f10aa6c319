"""Go toolchain helpers that need no compiler: package discovery and platform variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwright.errors import UsageError
from dockwright.image.platform import Platform
from dockwright.prebuilt import gotool


def _module(root: Path, files: dict[str, str]) -> Path:
    (root / "go.mod").write_text("module example.com/app/v2 // a comment\n\ngo 1.22\n")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_locates_module_and_main_package(tmp_path: Path) -> None:
    _module(tmp_path, {"cmd/server/main.go": "/* x */\n// y\npackage main\nfunc main() {}\n"})
    pkg = gotool.locate_main_package(tmp_path / "cmd" / "server")
    assert pkg.module_root == tmp_path.resolve()
    assert pkg.import_path == "example.com/app/v2/cmd/server"
    assert pkg.build_target == "./cmd/server"
    assert pkg.binary_name == "server"
    gotool.check_main_package(pkg)


def test_major_version_suffix_is_not_the_binary_name(tmp_path: Path) -> None:
    _module(tmp_path, {"main.go": "package main\nfunc main() {}\n"})
    pkg = gotool.locate_main_package(tmp_path)
    assert pkg.build_target == "."
    assert pkg.binary_name == "app"


def test_library_package_is_refused(tmp_path: Path) -> None:
    _module(tmp_path, {"lib/lib.go": "package lib\n", "lib/lib_test.go": "package main\n"})
    pkg = gotool.locate_main_package(tmp_path / "lib")
    with pytest.raises(UsageError, match="is package lib, not a main package"):
        gotool.check_main_package(pkg)


def test_no_go_mod_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "main.go").write_text("package main\n")
    with pytest.raises(UsageError, match=r"no go\.mod found") as info:
        gotool.locate_main_package(tmp_path)
    assert info.value.hint is not None
    assert "go mod init" in info.value.hint


def test_folder_without_sources(tmp_path: Path) -> None:
    _module(tmp_path, {"docs/readme.txt": "x"})
    with pytest.raises(UsageError, match="no Go source files"):
        gotool.locate_main_package(tmp_path / "docs")
    with pytest.raises(UsageError, match="no such directory"):
        gotool.locate_main_package(tmp_path / "missing")


@pytest.mark.parametrize(
    ("platform", "env"),
    [
        ("linux/amd64", {"GOOS": "linux", "GOARCH": "amd64"}),
        ("linux/amd64/v3", {"GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v3"}),
        ("linux/arm64", {"GOOS": "linux", "GOARCH": "arm64"}),
        ("linux/arm64/v8", {"GOOS": "linux", "GOARCH": "arm64"}),
        ("linux/arm/v7", {"GOOS": "linux", "GOARCH": "arm", "GOARM": "7"}),
        ("linux/arm/v6", {"GOOS": "linux", "GOARCH": "arm", "GOARM": "6"}),
        ("linux/arm", {"GOOS": "linux", "GOARCH": "arm", "GOARM": "7"}),
        ("linux/386", {"GOOS": "linux", "GOARCH": "386"}),
    ],
)
def test_platform_env(platform: str, env: dict[str, str]) -> None:
    assert gotool.platform_env(Platform.parse(platform)) == env


def test_build_args_defaults_and_switches() -> None:
    assert gotool.GoOptions().build_args() == ["-trimpath", "-ldflags=-s -w"]
    opts = gotool.GoOptions(trimpath=False, strip=False, ldflags="-X main.v=1", tags="netgo")
    assert opts.build_args() == ["-ldflags=-X main.v=1", "-tags=netgo"]
