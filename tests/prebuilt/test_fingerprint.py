"""The source fingerprint that lets an unchanged package skip `go build`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dockwright.prebuilt.fingerprint import fingerprint


def _tree(root: Path) -> Path:
    root.mkdir()
    (root / "go.mod").write_text("module example.com/x\n\ngo 1.22\n")
    (root / "main.go").write_text("package main\nfunc main() {}\n")
    (root / "web").mkdir()
    (root / "web" / "index.html").write_text("<p>hi</p>")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: x")
    return root


def test_content_not_mtime_decides(tmp_path: Path) -> None:
    root = _tree(tmp_path / "a")
    memo: dict[str, list[object]] = {}
    first = fingerprint(root, {}, memo)
    os.utime(root / "main.go", (1, 1))
    assert fingerprint(root, {}, memo) == first
    (root / ".git" / "HEAD").write_text("ref: y")
    assert fingerprint(root, {}, memo) == first
    (root / "web" / "index.html").write_text("<p>ho</p>")
    changed = fingerprint(root, {}, memo)
    assert changed != first
    assert fingerprint(root, {"flags": ["-race"]}, memo) != changed


def test_same_content_elsewhere_same_fingerprint(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    os.utime(b / "main.go", (5, 5))
    assert fingerprint(a, {}, {}) == fingerprint(b, {}, {})


def test_stale_memo_entries_dropped_and_new_files_count(tmp_path: Path) -> None:
    root = _tree(tmp_path / "a")
    memo: dict[str, list[object]] = {}
    first = fingerprint(root, {}, memo)
    (root / "extra.go").write_text("package main\n")
    second = fingerprint(root, {}, memo)
    assert second != first
    (root / "extra.go").unlink()
    assert fingerprint(root, {}, memo) == first
    assert "extra.go" not in memo


def test_outside_inputs_disable_the_fast_path(tmp_path: Path) -> None:
    root = _tree(tmp_path / "a")
    (root / "go.mod").write_text("module example.com/x\n\nreplace example.com/y => ../y\n")
    assert fingerprint(root, {}, {}) is None
    (root / "go.mod").write_text("module example.com/x\n")
    (tmp_path / "go.work").write_text("go 1.22\nuse ./a\n")
    assert fingerprint(root, {}, {}) is None
