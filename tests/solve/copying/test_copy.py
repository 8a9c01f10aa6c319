"""COPY into a rootfs view: each expectation is what dockerd 20.10's BuildKit produced for
the same context (the experiment is recorded in each test's docstring)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockwright.solve.copying import CopyRequest, CopySourceError, SourceTree, selected_paths

from .helpers import NOW_FLOOR, context, copy, listing, make_context, make_rootfs, mtime, write


@pytest.fixture
def ctx(tmp_path: Path) -> SourceTree:
    return context(make_context(tmp_path))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_rootfs(tmp_path)


def test_file_into_new_directory_with_trailing_slash(ctx: SourceTree, root: Path) -> None:
    """``COPY a.txt /e1/new/``: parents made 0755 root:root, the file keeps mode and mtime."""
    copy(ctx, root, "a.txt", dest="/e1/new/")
    assert listing(root, "/e1") == {
        "/e1": ("dir", 0o755, 0, 0, ""),
        "/e1/new": ("dir", 0o755, 0, 0, ""),
        "/e1/new/a.txt": ("file", 0o640, 0, 0, "A\n"),
    }
    assert mtime(root / "e1/new/a.txt") == 1_000_000_000
    assert mtime(root / "e1/new") >= NOW_FLOOR


def test_file_to_a_name_without_slash_is_renamed(ctx: SourceTree, root: Path) -> None:
    """``COPY a.txt /e2/new``: /e2/new is the file."""
    copy(ctx, root, "a.txt", dest="/e2/new")
    assert listing(root, "/e2") == {
        "/e2": ("dir", 0o755, 0, 0, ""),
        "/e2/new": ("file", 0o640, 0, 0, "A\n"),
    }


def test_file_onto_an_existing_directory_lands_inside(ctx: SourceTree, root: Path) -> None:
    (root / "d").mkdir()
    copy(ctx, root, "a.txt", dest="/d")
    assert (root / "d/a.txt").read_text() == "A\n"


def test_chown_user_owns_made_parents_and_gid_defaults_to_uid(ctx: SourceTree, root: Path) -> None:
    """``COPY --chown=app a.txt /e3/p/q/`` (app is uid 1000): every made dir is 1000:1000."""
    copy(ctx, root, "a.txt", dest="/e3/p/q/", chown="app")
    assert listing(root, "/e3") == {
        "/e3": ("dir", 0o755, 1000, 1000, ""),
        "/e3/p": ("dir", 0o755, 1000, 1000, ""),
        "/e3/p/q": ("dir", 0o755, 1000, 1000, ""),
        "/e3/p/q/a.txt": ("file", 0o640, 1000, 1000, "A\n"),
    }


def test_chown_user_group_and_directory_contents(ctx: SourceTree, root: Path) -> None:
    """``COPY --chown=app:app dir /e4/p/``: group 'app' is gid 1001 in /etc/group; the
    directory's contents are copied, /e4/p is a made dir (0755, not dir's 0750); links are
    chowned too."""
    copy(ctx, root, "dir", dest="/e4/p/", chown="app:app")
    assert listing(root, "/e4") == {
        "/e4": ("dir", 0o755, 1000, 1001, ""),
        "/e4/p": ("dir", 0o755, 1000, 1001, ""),
        "/e4/p/link": ("link", 0o777, 1000, 1001, "../a.txt"),
        "/e4/p/sub": ("dir", 0o755, 1000, 1001, ""),
        "/e4/p/sub/c.txt": ("file", 0o644, 1000, 1001, "C\n"),
    }
    assert mtime(root / "e4/p/sub/c.txt") == 1_000_000_500


def test_chown_name_without_group_takes_the_primary_gid(ctx: SourceTree, root: Path) -> None:
    """``COPY --chown=u2 dir /o7`` with u2:x:2000:3000 in /etc/passwd: all 2000:3000."""
    copy(ctx, root, "dir", dest="/o7", chown="u2")
    copy(ctx, root, "a.txt", dest="/n/", chown="4000")
    assert {v[2:4] for v in listing(root, "/o7").values()} == {(2000, 3000)}
    assert listing(root, "/n/a.txt")["/n/a.txt"][2:4] == (4000, 4000)


def test_numeric_chown(ctx: SourceTree, root: Path) -> None:
    """``COPY --chown=1234:5678 dir /e20/x/``."""
    copy(ctx, root, "dir", dest="/e20/x/", chown="1234:5678")
    assert {v[2:4] for v in listing(root, "/e20").values()} == {(1234, 5678)}


def test_unknown_chown_name_is_an_error(ctx: SourceTree, root: Path) -> None:
    with pytest.raises(CopySourceError, match="nobody-here"):
        copy(ctx, root, "a.txt", dest="/x", chown="nobody-here")


def test_existing_destination_directory_keeps_its_metadata(ctx: SourceTree, root: Path) -> None:
    """``COPY dir /exist/`` onto a 0700 /exist: /exist stays 0700."""
    (root / "exist").mkdir(mode=0o700)
    copy(ctx, root, "dir", dest="/exist/")
    assert listing(root, "/exist")["/exist"] == ("dir", 0o700, 0, 0, "")
    assert (root / "exist/sub/c.txt").read_text() == "C\n"


def test_existing_subdirectories_take_the_source_metadata(ctx: SourceTree, root: Path) -> None:
    """``RUN mkdir -p /exist2/sub && chmod 700 /exist2/sub`` then ``COPY dir /exist2/``:
    /exist2/sub becomes 0755 like dir/sub (only the top destination keeps its metadata)."""
    (root / "exist2" / "sub").mkdir(parents=True)
    (root / "exist2" / "sub").chmod(0o700)
    copy(ctx, root, "dir", dest="/exist2/")
    assert listing(root, "/exist2/sub")["/exist2/sub"] == ("dir", 0o755, 0, 0, "")


def test_destination_through_a_symlinked_directory(ctx: SourceTree, root: Path) -> None:
    """``RUN ln -s /lnktarget /lnk`` then ``COPY a.txt /lnk/``: /lnktarget/a.txt."""
    (root / "lnktarget").mkdir()
    os.symlink("/lnktarget", root / "lnk")
    copy(ctx, root, "a.txt", dest="/lnk/")
    assert (root / "lnktarget/a.txt").read_text() == "A\n"
    assert os.readlink(root / "lnk") == "/lnktarget"


def test_chmod_applies_to_files_and_subdirectories_not_links(ctx: SourceTree, root: Path) -> None:
    """``COPY --chmod=600 dir /e5b``: sub and c.txt 0600, the link as is, /e5b made 0755."""
    copy(ctx, root, "dir", dest="/e5b", chmod="600")
    assert listing(root, "/e5b") == {
        "/e5b": ("dir", 0o755, 0, 0, ""),
        "/e5b/link": ("link", 0o777, 0, 0, "../a.txt"),
        "/e5b/sub": ("dir", 0o600, 0, 0, ""),
        "/e5b/sub/c.txt": ("file", 0o600, 0, 0, "C\n"),
    }


# BuildKit 0.17 (built with dfcopychmodnonoctal), a.txt 0640, dir/sub 0755, c.txt 0644.
SYMBOLIC = [
    ("a+X", 0o640, 0o755, 0o644),
    ("u=rwX", 0o640, 0o655, 0o644),
    ("+x", 0o751, 0o755, 0o755),
    ("o=u", 0o646, 0o757, 0o646),
    ("g+w,o-rwx", 0o660, 0o770, 0o660),
    ("=rw,+X", 0o666, 0o777, 0o666),
    ("u=rwx,go=rX", 0o744, 0o744, 0o744),
    ("go=rX", 0o644, 0o744, 0o644),
    ("u+s", 0o4640, 0o4755, 0o4644),
    ("a=rwx,g-w", 0o757, 0o757, 0o757),
]


@pytest.mark.parametrize("case", SYMBOLIC, ids=[c[0] for c in SYMBOLIC])
def test_symbolic_chmod(ctx: SourceTree, root: Path, case: tuple[str, int, int, int]) -> None:
    """``COPY --chmod=SPEC a.txt dir /m/``: X looks at the mode before any clause and is
    dropped under '=' (fsutil's mode sets); no who means all."""
    spec, file_mode, dir_mode, inner_mode = case
    copy(ctx, root, "a.txt", "dir", dest="/m/", chmod=spec)
    found = listing(root, "/m")
    assert (found["/m/a.txt"][1], found["/m/sub"][1], found["/m/sub/c.txt"][1]) == (
        file_mode,
        dir_mode,
        inner_mode,
    )
    assert found["/m"][1] == 0o755


def test_bad_chmod_is_an_error(ctx: SourceTree, root: Path) -> None:
    with pytest.raises(CopySourceError, match="chmod"):
        copy(ctx, root, "a.txt", dest="/x", chmod="9z")


def test_glob_and_wildcard_matching_nothing(ctx: SourceTree, root: Path) -> None:
    """``COPY *.txt /e6/`` takes both; ``COPY *.nomatch a.txt /e7/`` and even
    ``COPY *.nomatch /x/`` alone build (BuildKit allows an empty wildcard)."""
    copy(ctx, root, "*.txt", dest="/e6/")
    copy(ctx, root, "*.nomatch", "a.txt", dest="/e7/")
    copy(ctx, root, "*.nomatch", dest="/e8/")
    assert sorted(os.listdir(root / "e6")) == ["a.txt", "b.txt"]
    assert os.listdir(root / "e7") == ["a.txt"]


def test_wildcard_matching_a_directory_copies_its_contents(ctx: SourceTree, root: Path) -> None:
    """``COPY di? /e22/``: link and sub land in /e22."""
    copy(ctx, root, "di?", dest="/e22/")
    assert sorted(os.listdir(root / "e22")) == ["link", "sub"]


def test_missing_literal_source_is_an_error_naming_it(ctx: SourceTree, root: Path) -> None:
    """``COPY nofile /x``: BuildKit says '"/nofile" not found'."""
    with pytest.raises(CopySourceError, match='"/nofile" not found'):
        copy(ctx, root, "nofile", dest="/x")


def test_several_sources_to_a_name_without_slash_last_wins(ctx: SourceTree, root: Path) -> None:
    """``COPY a.txt b.txt /e8``: no error; /e8 is a file holding b.txt."""
    copy(ctx, root, "a.txt", "b.txt", dest="/e8")
    assert (root / "e8").read_text() == "BB\n"


def test_destination_relative_to_workdir(ctx: SourceTree, root: Path) -> None:
    """``WORKDIR /w`` then ``COPY a.txt rel/`` and ``COPY a.txt .``."""
    copy(ctx, root, "a.txt", dest="rel/", workdir="/w")
    copy(ctx, root, "a.txt", dest=".", workdir="/w")
    assert (root / "w/rel/a.txt").read_text() == "A\n"
    assert (root / "w/a.txt").read_text() == "A\n"


def test_top_level_symlink_is_followed_and_keeps_its_name(ctx: SourceTree, root: Path) -> None:
    """``COPY dir/link /e18/`` gives /e18/link, a regular file with a.txt's mode and bytes;
    ``COPY dir/link /e19`` gives the file /e19."""
    (root / "e18").mkdir()
    copy(ctx, root, "dir/link", dest="/e18/")
    copy(ctx, root, "dir/link", dest="/e19")
    assert listing(root, "/e18/link")["/e18/link"] == ("file", 0o640, 0, 0, "A\n")
    assert listing(root, "/e19")["/e19"] == ("file", 0o640, 0, 0, "A\n")


def test_symlink_out_of_the_context_stays_inside(tmp_path: Path, root: Path) -> None:
    """``COPY outlink /x`` with outlink -> ../../../../etc/hostname: BuildKit looks for
    /etc/hostname inside the context and says '"/etc/hostname" not found'."""
    ctx_dir = make_context(tmp_path)
    os.symlink("../../../../etc/hostname", ctx_dir / "outlink")
    os.symlink("/etc", ctx_dir / "abslink")
    with pytest.raises(CopySourceError, match='"/etc/hostname" not found'):
        copy(context(ctx_dir), root, "outlink", dest="/x")
    with pytest.raises(CopySourceError, match="not found"):
        copy(context(ctx_dir), root, "abslink/passwd", dest="/x")


def test_directory_onto_a_file_is_an_error(ctx: SourceTree, root: Path) -> None:
    """``RUN touch /f`` then ``COPY dir /f``: 'cannot copy to non-directory'."""
    write(root / "f", "")
    with pytest.raises(CopySourceError, match="cannot copy to non-directory"):
        copy(ctx, root, "dir", dest="/f")


def test_destination_symlink_resolves_inside_the_rootfs(
    tmp_path: Path, ctx: SourceTree, root: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), root / "escape")
    os.symlink("../../../..", root / "up")
    copy(ctx, root, "a.txt", dest="/escape/")
    copy(ctx, root, "b.txt", dest="/up/")
    assert list(outside.iterdir()) == []
    assert (root / str(outside).lstrip("/") / "a.txt").read_text() == "A\n"
    assert (root / "b.txt").read_text() == "BB\n"


def test_dangling_symlink_destination_is_made_inside(ctx: SourceTree, root: Path) -> None:
    os.symlink("/nowhere/file", root / "dangling")
    copy(ctx, root, "a.txt", dest="/dangling")
    assert (root / "nowhere/file").read_text() == "A\n"


def test_rootfs_source_keeps_owners(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "stage"
    write(src / "app" / "bin", "x", 0o4755)
    os.chown(src / "app" / "bin", 1234, 99)
    (src / "app" / "bin").chmod(0o4755)  # chown cleared the setuid bit
    os.chown(src / "app", 7, 8)
    copy(SourceTree(src, "rootfs"), root, "/app", dest="/opt/app")
    found = listing(root, "/opt/app")
    assert found["/opt/app/bin"] == ("file", 0o4755, 1234, 99, "x")
    assert found["/opt/app"][2:4] == (0, 0)  # made by MkdirAll, not the source dir


def test_mtime_is_clamped_by_source_date_epoch(ctx: SourceTree, root: Path) -> None:
    copy(ctx, root, "a.txt", "b.txt", "dir", dest="/m/n/", mtime=1_050_000_000)
    assert mtime(root / "m/n/a.txt") == 1_000_000_000
    assert mtime(root / "m/n/b.txt") == 1_050_000_000
    assert mtime(root / "m/n/sub") == 1_050_000_000
    assert mtime(root / "m") == 1_050_000_000


def test_hard_links_stay_linked(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "hl"
    write(src / "one", "same")
    os.link(src / "one", src / "two")
    copy(context(src), root, ".", dest="/h/")
    assert os.stat(root / "h/one").st_ino == os.stat(root / "h/two").st_ino


def test_copy_of_a_url_is_refused(ctx: SourceTree, root: Path) -> None:
    with pytest.raises(CopySourceError, match="URL"):
        copy(ctx, root, "http://127.0.0.1:9/x", dest="/x")


def test_heredoc_sources(ctx: SourceTree, root: Path) -> None:
    """BuildKit 0.17: ``COPY <<EOF /h/`` gives /h/EOF 0644 root; ``COPY <<EOF /h2`` names
    the file h2; ``--chmod=755`` applies."""
    copy(ctx, root, dest="/h/", heredocs=(("EOF", b"hello\n"),))
    copy(ctx, root, dest="/run.sh", heredocs=(("SCRIPT", b"#!/bin/sh\n"),), chmod="755")
    assert listing(root, "/h/EOF")["/h/EOF"] == ("file", 0o644, 0, 0, "hello\n")
    assert listing(root, "/run.sh")["/run.sh"] == ("file", 0o755, 0, 0, "#!/bin/sh\n")


def test_dockerignore_hides_paths(tmp_path: Path, root: Path) -> None:
    ctx_dir = make_context(tmp_path)
    write(ctx_dir / "logs" / "x.log", "1")
    write(ctx_dir / "logs" / "keep.log", "2")
    tree = context(ctx_dir, "*.txt\nlogs\n!logs/keep.log\n")
    with pytest.raises(CopySourceError, match=r"a\.txt"):
        copy(tree, root, "a.txt", dest="/x")
    copy(tree, root, "*.txt", ".", dest="/all/")
    assert sorted(os.listdir(root / "all")) == ["dir", "logs"]
    assert os.listdir(root / "all/logs") == ["keep.log"]


def test_plain_callable_ignore(tmp_path: Path, root: Path) -> None:
    """Any matcher works: an excluded directory still shows what it holds that is not."""
    ctx_dir = make_context(tmp_path)

    def ignore(path: str) -> bool:
        return path.startswith("dir") and path != "dir/sub/c.txt"

    copy(SourceTree(ctx_dir, "context", ignore), root, ".", dest="/all/")
    assert sorted(os.listdir(root / "all")) == ["a.txt", "b.txt", "dir"]
    assert os.listdir(root / "all/dir") == ["sub"]
    assert os.listdir(root / "all/dir/sub") == ["c.txt"]


def test_exclude(ctx: SourceTree, root: Path) -> None:
    """BuildKit 0.17 (dfexcludepatterns): patterns apply inside a copied directory, relative
    to it (``--exclude=sub/*.md dir``, ``--exclude=sub dir``; ``*.md`` does not reach
    sub/d.md, ``dir/sub`` matches nothing); a source's own matches are never excluded
    (``--exclude=b.txt *.txt`` copies b.txt)."""
    write(ctx.root / "dir" / "sub" / "d.md", "D\n")
    copy(ctx, root, "dir", dest="/ex2/", exclude=("*.md",))
    copy(ctx, root, "dir", dest="/ex3/", exclude=("sub/*.md",))
    copy(ctx, root, "dir", dest="/ex4/", exclude=("dir/sub",))
    copy(ctx, root, "*.txt", dest="/ex5/", exclude=("b.txt",))
    copy(ctx, root, "dir", dest="/x1/", exclude=("sub",))
    copy(ctx, root, ".", dest="/x3/", exclude=("**/*.md",))
    assert sorted(os.listdir(root / "ex2/sub")) == ["c.txt", "d.md"]
    assert os.listdir(root / "ex3/sub") == ["c.txt"]
    assert sorted(os.listdir(root / "ex4/sub")) == ["c.txt", "d.md"]
    assert sorted(os.listdir(root / "ex5")) == ["a.txt", "b.txt"]
    assert os.listdir(root / "x1") == ["link"]
    assert os.listdir(root / "x3/dir/sub") == ["c.txt"]
    copy(ctx, root, "dir", dest="/x4/", exclude=("sub", "!sub/c.txt"))
    assert os.listdir(root / "x4/sub") == ["c.txt"]


def test_parents(tmp_path: Path, root: Path) -> None:
    """BuildKit 0.17 (dfparents): ``COPY --parents x/./a/one.txt y/a /p2/`` gives
    /p2/a/one.txt (after the pivot) and /p2/y/a/two.txt (a directory keeps its own path);
    directories on the kept path take their source's mode (dir/ is 0750), the --chmod and
    the --chown; ``COPY --parents *.nomatch /p4/`` still makes /p4."""
    ctx_dir = tmp_path / "p"
    write(ctx_dir / "x" / "a" / "one.txt", "1")
    write(ctx_dir / "y" / "a" / "two.txt", "2")
    write(ctx_dir / "dir" / "sub" / "c.txt", "C")
    (ctx_dir / "dir").chmod(0o750)
    tree = context(ctx_dir)
    copy(tree, root, "*/a/*.txt", dest="/keep/", parents=True)
    copy(tree, root, "x/./a/one.txt", "y/a", dest="/p2/", parents=True)
    copy(tree, root, "./x/./a/./one.txt", dest="/first/", parents=True)
    copy(tree, root, "dir/sub/c.txt", dest="/p5/", parents=True)
    copy(tree, root, "dir/sub/c.txt", dest="/p3/", parents=True, chmod="700")
    copy(tree, root, "dir/sub/c.txt", dest="/p6/", parents=True, chown="1234")
    copy(tree, root, "*.nomatch", dest="/p4/", parents=True)
    assert (root / "keep/x/a/one.txt").read_text() == "1"
    assert (root / "keep/y/a/two.txt").read_text() == "2"
    assert sorted(listing(root, "/p2")) == [
        "/p2",
        "/p2/a",
        "/p2/a/one.txt",
        "/p2/y",
        "/p2/y/a",
        "/p2/y/a/two.txt",
    ]
    assert (root / "first/a/one.txt").read_text() == "1"  # the first /./ is the pivot
    assert [v[1] for _, v in sorted(listing(root, "/p5").items())] == [0o755, 0o750, 0o755, 0o644]
    assert {v[1] for v in listing(root, "/p3/dir").values()} == {0o700}
    assert {v[2:4] for v in listing(root, "/p6").values()} == {(1234, 1234)}
    assert os.listdir(root / "p4") == []
    request = CopyRequest(("*/a/*.txt",), "/keep/", "/", parents=True)
    assert selected_paths(tree, request) == ["x/a/one.txt", "y/a/two.txt"]
