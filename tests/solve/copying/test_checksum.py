"""cache_checksum: what a COPY would copy, and how; never mtimes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockwright.solve.copying import CopyRequest, CopySourceError, SourceTree, cache_checksum

from .helpers import context, make_context, write


def _sum(tree: SourceTree, *sources: str, **kw: object) -> str:
    dest = str(kw.pop("dest", "/app/"))
    return cache_checksum(tree, CopyRequest(sources, dest, "/", **kw))  # type: ignore[arg-type]


@pytest.fixture
def ctx_dir(tmp_path: Path) -> Path:
    return make_context(tmp_path)


def test_mtime_does_not_count_content_and_mode_do(ctx_dir: Path) -> None:
    tree = context(ctx_dir)
    first = _sum(tree, "a.txt", "dir")
    assert first.startswith("sha256:") and len(first) == 71
    os.utime(ctx_dir / "a.txt", (5, 5))
    os.utime(ctx_dir / "dir" / "sub", (5, 5))
    assert _sum(tree, "a.txt", "dir") == first
    (ctx_dir / "a.txt").chmod(0o600)
    changed_mode = _sum(tree, "a.txt", "dir")
    assert changed_mode != first
    write(ctx_dir / "dir" / "sub" / "c.txt", "D\n")
    assert _sum(tree, "a.txt", "dir") not in (first, changed_mode)


def test_same_size_same_mtime_rewrite_is_seen(ctx_dir: Path) -> None:
    """moby/buildkit#4817: a rewrite keeping size and mtime changes ctime, so it counts."""
    tree = context(ctx_dir)
    path = ctx_dir / "b.txt"
    before = _sum(tree, "b.txt")
    info = os.stat(path)
    path.write_text("XY\n")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert os.stat(path).st_size == info.st_size
    assert _sum(tree, "b.txt") != before


def test_context_owners_do_not_count_but_rootfs_owners_do(ctx_dir: Path) -> None:
    ctx = context(ctx_dir)
    rootfs = SourceTree(ctx_dir, "rootfs")
    before_ctx, before_rootfs = _sum(ctx, "a.txt"), _sum(rootfs, "a.txt")
    os.chown(ctx_dir / "a.txt", 4321, 4321)
    assert _sum(ctx, "a.txt") == before_ctx
    assert _sum(rootfs, "a.txt") != before_rootfs


def test_definition_counts(ctx_dir: Path) -> None:
    tree = context(ctx_dir)
    base = _sum(tree, "a.txt")
    variants = {
        _sum(tree, "a.txt", dest="/other/"),
        _sum(tree, "a.txt", chown="1:1"),
        _sum(tree, "a.txt", chmod="600"),
        _sum(tree, "a.txt", link=True),
        _sum(tree, "a.txt", heredocs=(("EOF", b"x"),)),
        _sum(tree, "a.txt", heredocs=(("EOF", b"y"),)),
        _sum(tree, "a.txt", mtime=0),
    }
    assert base not in variants and len(variants) == 7


def test_ignored_and_excluded_files_do_not_count(ctx_dir: Path) -> None:
    ignored = context(ctx_dir, "dir/sub/c.txt\n")
    before = _sum(ignored, ".")
    excluded = _sum(context(ctx_dir), ".", exclude=("b.txt",))
    write(ctx_dir / "dir" / "sub" / "c.txt", "changed, but ignored\n")
    write(ctx_dir / "b.txt", "changed, but excluded\n")
    assert _sum(ignored, ".") != before  # b.txt is not ignored here
    assert _sum(context(ctx_dir), ".", exclude=("b.txt",)) != excluded  # c.txt counts here
    both = context(ctx_dir, "dir/sub/c.txt\n")
    snapshot = _sum(both, ".", exclude=("b.txt",))
    write(ctx_dir / "dir" / "sub" / "c.txt", "again\n")
    write(ctx_dir / "b.txt", "again\n")
    assert _sum(both, ".", exclude=("b.txt",)) == snapshot


def test_url_counts_as_itself(tmp_path: Path) -> None:
    tree = SourceTree(tmp_path, "context")
    one = _sum(tree, "http://127.0.0.1:9/a.txt", add=True)
    assert one == _sum(tree, "http://127.0.0.1:9/a.txt", add=True)
    assert one != _sum(tree, "http://127.0.0.1:9/b.txt", add=True)
    assert one != _sum(tree, "http://127.0.0.1:9/a.txt", add=True, checksum="sha256:" + "1" * 64)


def test_missing_source_fails_like_the_copy(ctx_dir: Path) -> None:
    with pytest.raises(CopySourceError, match='"/nope" not found'):
        _sum(context(ctx_dir), "nope")
