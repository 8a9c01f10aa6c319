"""The dataclass code cache: same classes, compiled once, untrusted files ignored."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from dockwright.cli import codecache


def _make() -> type:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: int
        y: int = 2

    return Point


def test_cached_code_builds_the_same_dataclasses(tmp_path: Path) -> None:
    cache = codecache.install(tmp_path)
    assert cache is not None
    try:
        first = _make()
    finally:
        codecache.uninstall()
    assert "exec" not in vars(dataclasses)
    assert cache.added > 0
    cache.save()
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == "0o600"

    again = codecache.install(tmp_path)
    assert again is not None
    try:
        second = _make()
    finally:
        codecache.uninstall()
    assert again.added == 0  # everything came from the file
    a, b = first(1), second(1)
    assert (a.x, a.y) == (b.x, b.y) == (1, 2)
    assert repr(b).endswith("Point(x=1, y=2)")
    assert second(1) == second(1) and hash(second(1)) == hash(second(1))
    try:
        b.x = 3
    except dataclasses.FrozenInstanceError:
        pass
    else:
        raise AssertionError("the cached __setattr__ did not keep the class frozen")


def test_unsafe_or_broken_files_are_ignored(tmp_path: Path) -> None:
    cache = codecache.install(tmp_path)
    assert cache is not None
    try:
        _make()
    finally:
        codecache.uninstall()
    cache.save()
    (path,) = tmp_path.iterdir()
    os.chmod(path, 0o666)  # writable by others: not trusted
    assert codecache.CodeCache(path).codes == {}
    os.chmod(path, 0o600)
    assert codecache.CodeCache(path).codes != {}
    path.write_bytes(b"\x00garbage")
    os.chmod(path, 0o600)
    assert codecache.CodeCache(path).codes == {}
