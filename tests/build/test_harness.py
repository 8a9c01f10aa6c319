"""The differential harness checks itself: flattening follows the layer rules, BuildKit
compared with itself is identical, and compare() catches each kind of corruption."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from build.cases import FIXTURES, Case, all_cases, load_case
from build.flatten import Deliberate, Entry, FlatImage, compare, flatten_archive
from build.harness import BuildEnv, archive_mentions, buildkit_build, flat

# --- flattening, on archives written here ---------------------------------------------------


def _layer(entries: list[tuple[str, bytes | str | None, int]]) -> bytes:
    """A layer tar: (name, content, mode); content bytes = file, None = dir, str = symlink,
    ``"=>TARGET"`` = hard link."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, str) and content.startswith("=>"):
                info.type = tarfile.LNKTYPE
                info.linkname = content[2:]
                tar.addfile(info)
            elif isinstance(content, str):
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _archive(path: Path, layers: list[bytes], config: Mapping[str, object]) -> Path:
    with tarfile.open(path, "w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        names = []
        for i, layer in enumerate(layers):
            add(f"l{i}/layer.tar", layer)
            names.append(f"l{i}/layer.tar")
        add("config.json", json.dumps(config).encode())
        manifest = [{"Config": "config.json", "RepoTags": ["t:1"], "Layers": names}]
        add("manifest.json", json.dumps(manifest).encode())
    return path


def test_flatten_applies_whiteouts_opaque_dirs_links_and_modes(tmp_path: Path) -> None:
    base = _layer(
        [
            ("etc", None, 0o755),
            ("etc/gone", b"x", 0o644),
            ("opq", None, 0o755),
            ("opq/old", b"old", 0o644),
            ("opq/olddir", None, 0o755),
            ("opq/olddir/f", b"f", 0o644),
            ("tree", None, 0o755),
            ("tree/f", b"f", 0o644),
            ("suid", b"s", 0o4755),
        ]
    )
    top = _layer(
        [
            ("etc/.wh.gone", b"", 0o644),
            ("opq/.wh..wh..opq", b"", 0o644),
            ("opq/new", b"new", 0o600),
            ("./tree", b"now a file", 0o644),
            ("link", "suid", 0o777),
            ("hard", "=>suid", 0o4755),
        ]
    )
    config = {"architecture": "amd64", "os": "linux", "config": {"Env": ["A=b"], "Labels": {}}}
    image = flatten_archive(_archive(tmp_path / "a.tar", [base, top], config))
    assert "/etc/gone" not in image.files
    assert "/etc" in image.files
    assert sorted(p for p in image.files if p.startswith("/opq/")) == ["/opq/new"]
    assert image.files["/opq/new"].mode == 0o600
    assert image.files["/tree"].type == "file" and "/tree/f" not in image.files
    assert image.files["/suid"].mode == 0o4755
    assert image.files["/link"] == Entry("symlink", 0o777, 0, 0, link="suid")
    assert image.files["/hard"].sha256 == image.files["/suid"].sha256
    assert image.read("/opq/new") == b"new"
    assert image.config["Env"] == ["A=b"] and image.config["Labels"] is None
    assert image.platform == {"architecture": "amd64", "os": "linux", "variant": ""}
    assert image.layer_count == 2


def test_cases_are_well_formed() -> None:
    cases = all_cases()
    names = [c.name for c in cases]
    assert len(set(names)) == len(names)
    for case in cases:
        assert case.description, case.name
        assert (case.folder / case.dockerfile).is_file(), case.name


def test_unknown_case_keys_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "case.toml").write_text('description = "x"\ntypo = 1\n')
    with pytest.raises(ValueError, match="unknown keys"):
        load_case(tmp_path)


# --- BuildKit against itself, and deliberate corruption --------------------------------------

SELF_CHECK_CASES = ("copy-chmod", "meta-healthcheck", "whiteout")


def _case(name: str) -> Case:
    return load_case(FIXTURES / name)


def _rebuild(env: BuildEnv, case: Case) -> FlatImage:
    """BuildKit again, from scratch (--no-cache), under another name."""
    again = dataclasses.replace(case, name=case.name + "-again")
    env.daemon.run("builder", "prune", "-af")
    return flat(buildkit_build(env, again))


@pytest.mark.docker
@pytest.mark.parametrize("name", SELF_CHECK_CASES)
def test_buildkit_matches_itself(build_env: BuildEnv, name: str) -> None:
    case = _case(name)
    first = flat(buildkit_build(build_env, case))
    second = _rebuild(build_env, case)
    assert compare(first, second) == []
    assert compare(first, second, case.expected_differences) == []


@pytest.fixture(scope="module")
def reference(build_env: BuildEnv) -> FlatImage:
    """One BuildKit result the corruption checks reuse."""
    return flat(buildkit_build(build_env, _case("copy-chmod")))


def _with_files(image: FlatImage, files: dict[str, Entry]) -> FlatImage:
    return dataclasses.replace(image, files=files)


@pytest.mark.docker
def test_compare_catches_a_missing_and_an_extra_file(reference: FlatImage) -> None:
    files = dict(reference.files)
    del files["/script.sh"]
    files["/surprise"] = Entry("file", 0o644, 0, 0, 1, "00")
    diffs = compare(reference, _with_files(reference, files))
    assert any(d.startswith("missing   /script.sh") for d in diffs), diffs
    assert any(d.startswith("extra     /surprise") for d in diffs), diffs
    assert len(diffs) == 2


@pytest.mark.docker
@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("mode", 0o700, "mode 0755 != 0700"),
        ("uid", 7, "uid 1 != 7"),
        ("gid", 7, "gid 1 != 7"),
        ("sha256", "f" * 64, "sha256"),
        ("size", 1, "size"),
        ("type", "dir", "type 'file' != 'dir'"),
    ],
)
def test_compare_catches_each_entry_field(
    reference: FlatImage, field: str, value: Any, shown: str
) -> None:
    files = dict(reference.files)
    files["/setuid"] = dataclasses.replace(files["/setuid"], **{field: value})
    diffs = compare(reference, _with_files(reference, files))
    assert len(diffs) == 1 and diffs[0].startswith("differs   /setuid"), diffs
    assert shown in diffs[0], diffs


@pytest.mark.docker
def test_compare_catches_config_platform_and_history(reference: FlatImage) -> None:
    config = dict(reference.config)
    env = list(config["Env"])  # type: ignore[call-overload]
    config["Env"] = [*env, "EXTRA=1"]
    config["User"] = "nobody"
    history = reference.history[:-1]
    changed = dataclasses.replace(
        reference, config=config, platform={**reference.platform, "os": "windows"}, history=history
    )
    diffs = compare(reference, changed)
    assert any(d.startswith("config    Env:") and "EXTRA=1" in d for d in diffs), diffs
    assert any(d.startswith("config    User:") for d in diffs), diffs
    assert any(d.startswith("platform  os:") for d in diffs), diffs
    assert any(d.startswith("history   differs") for d in diffs), diffs


@pytest.mark.docker
def test_deliberate_differences_excuse_only_what_they_name(reference: FlatImage) -> None:
    files = dict(reference.files)
    del files["/dir/f"]
    del files["/private"]
    config = {**reference.config, "Env": None}
    changed = dataclasses.replace(reference, files=files, config=config)
    excuses = [
        Deliberate("/dir/**", "test: a whole tree"),
        Deliberate("config:Env", "test: the Env"),
    ]
    diffs = compare(reference, changed, excuses)
    assert diffs == [d for d in diffs if d.startswith("missing   /private")], diffs
    assert len(diffs) == 1


def test_secret_scan_finds_bytes_in_gzip_layers_and_configs(tmp_path: Path) -> None:
    layer = gzip.compress(_layer([("leak", b"prefix s3cret-token-bytes suffix", 0o644)]), mtime=0)
    archive = _archive(tmp_path / "leak.tar", [layer], {"config": {"Env": ["X=s3cret-env"]}})
    assert archive_mentions(archive, b"s3cret-token-bytes") == ["l0/layer.tar"]
    assert archive_mentions(archive, b"s3cret-env") == ["config.json"]
    assert archive_mentions(archive, b"not-there") == []
