"""Safe layer extraction: hostile tars change nothing outside the root; good ones apply."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockwright.errors import ImageFormatError, UnsafeLayerError, UsageError
from dockwright.image.extract import ExtractReport, extract_layer
from dockwright.image.layer import LayerEntry, write_layer

from . import hostile
from .hostile import Member, build_tar

# -- the world around the root ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class World:
    base: Path
    dest: Path
    outside: Path

    def relocated(self, path: Path) -> Path:
        """Where an absolute path lands when it is resolved inside ``dest``."""
        return self.dest / str(path).lstrip("/")


@pytest.fixture
def world(tmp_path: Path) -> World:
    base = tmp_path
    (base / "root_file").write_bytes(b"root")
    top = base / "world"
    outside = top / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret").write_bytes(b"top secret")
    (outside / "sub" / "inner").write_bytes(b"inner")
    (top / "sibling_file").write_bytes(b"sibling")
    os.symlink("secret", outside / "link")
    dest = top / "dest"
    dest.mkdir()
    return World(base, dest, outside)


Snapshot = dict[str, tuple[object, ...]]


def snapshot(base: Path, exclude: Path) -> Snapshot:
    """Path → (type, mode, owner, size, nlink, mtime, ctime, content hash or link target)."""
    result: Snapshot = {}
    for root, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if Path(root, d) != exclude]
        for name in [".", *dirs, *files]:
            path = Path(root, name)
            st = path.lstat()
            if stat.S_ISREG(st.st_mode):
                extra: object = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(path)
            else:
                extra = None
            result[str(path.relative_to(base))] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_size if not stat.S_ISDIR(st.st_mode) else None,
                st.st_nlink,
                st.st_mtime_ns,
                st.st_ctime_ns,
                extra,
            )
    return result


# -- expectations per hostile case ------------------------------------------------------

Check = Callable[[World, ExtractReport, bool], None]


@dataclass(frozen=True, slots=True)
class Expect:
    outcome: str  # "reject": UnsafeLayerError; "malformed": other ImageFormatError; "contain"
    check: Check | None = None


REJECT = Expect("reject")
MALFORMED = Expect("malformed")


def contain(check: Check) -> Expect:
    return Expect("contain", check)


def _is_link(path: Path) -> bool:
    return path.is_symlink()


def _same_file(a: Path, b: Path) -> bool:
    sa, sb = a.lstat(), b.lstat()
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _check_absolute_name(w: World, r: ExtractReport, _: bool) -> None:
    assert (w.relocated(w.outside) / "pwned").read_bytes() == b"pwned"


def _check_abs_then_write(w: World, r: ExtractReport, _: bool) -> None:
    assert _is_link(w.dest / "evil")
    assert (w.relocated(w.outside) / "pwned").read_bytes() == b"pwned"
    assert (w.relocated(w.outside) / "secret").read_bytes() == b"overwritten"


def _check_dotdot_then_write(w: World, r: ExtractReport, _: bool) -> None:
    assert (w.dest / "world/outside/pwned").read_bytes() == b"pwned"
    assert (w.dest / "root_file").read_bytes() == b"pwned"


def _check_sibling_then_write(w: World, r: ExtractReport, _: bool) -> None:
    assert (w.dest / "outside/secret").read_bytes() == b"overwritten"


def _check_dest_outside_pwned(w: World, r: ExtractReport, _: bool) -> None:
    assert (w.dest / "outside/pwned").read_bytes() == b"pwned"


def _check_file_as_dir(w: World, r: ExtractReport, _: bool) -> None:
    # The dangling in-root target is made as directories, like `mkdir -p` through a link.
    assert (w.relocated(w.outside) / "secret/pwned").read_bytes() == b"pwned"


def _check_nested_link(w: World, r: ExtractReport, _: bool) -> None:
    assert _is_link(w.relocated(w.outside) / "inner")
    assert (w.dest / "newdir").is_dir()


def _check_lower_write(w: World, r: ExtractReport, _: bool) -> None:
    inside = w.relocated(w.outside)
    assert (inside / "pwned").read_bytes() == b"pwned"
    assert (inside / "secret").read_bytes() == b"overwritten"
    assert _mode(inside / "sub") == 0o777
    assert (w.dest / "outside/secret").read_bytes() == b"overwritten"
    assert (w.dest / "outside/sub/inner").read_bytes() == b"overwritten"
    assert _is_link(w.dest / "lower") and _is_link(w.dest / "lowerrel")


def _check_hardlink_via_symlink(w: World, r: ExtractReport, _: bool) -> None:
    decoy = w.relocated(w.outside) / "secret"
    assert (w.dest / "x").read_bytes() == b"decoy"
    assert _same_file(w.dest / "x", decoy)


def _check_hardlink_name_via_symlink(w: World, r: ExtractReport, _: bool) -> None:
    assert _same_file(w.dest / "outside/secret", w.dest / "f")


def _check_hardlink_over_symlink(w: World, r: ExtractReport, _: bool) -> None:
    assert not _is_link(w.dest / "link")
    assert _same_file(w.dest / "link", w.dest / "f")


def _check_file_replaces_symlink(w: World, r: ExtractReport, _: bool) -> None:
    link = w.dest / "link"
    assert not _is_link(link) and link.read_bytes() == b"overwritten"
    assert _mode(link) == 0o4777


def _check_replace_lower(w: World, r: ExtractReport, _: bool) -> None:
    assert not _is_link(w.dest / "link") and _mode(w.dest / "link") == 0o6777
    assert not _is_link(w.dest / "dirlink") and (w.dest / "dirlink").is_dir()
    assert _mode(w.dest / "dirlink") == 0o777
    assert os.readlink(w.dest / "lower") == "/"


def _node_check(rel: str | Callable[[World], Path], test: Callable[[int], bool]) -> Check:
    def check(w: World, r: ExtractReport, allow_devices: bool) -> None:
        path = w.dest / rel if isinstance(rel, str) else rel(w)
        if allow_devices and (os.geteuid() == 0 or test is stat.S_ISFIFO):
            assert test(path.lstat().st_mode)
            assert r.skipped == ()
        elif allow_devices:
            assert len(r.skipped) == 1 and "needs root" in r.skipped[0]
        else:
            assert _is_link(path) or not path.exists()
            assert len(r.skipped) == 1 and "allow_devices" in r.skipped[0]

    return check


def _check_whiteout_through(w: World, r: ExtractReport, _: bool) -> None:
    assert _is_link(w.dest / "evil") and _is_link(w.dest / "rel")


def _check_whiteout_lower(w: World, r: ExtractReport, _: bool) -> None:
    assert _is_link(w.dest / "lower") and _is_link(w.dest / "lowerrel")
    assert r.whiteouts == 4


def _check_whiteout_links_removed(w: World, r: ExtractReport, _: bool) -> None:
    assert not (w.dest / "lower").is_symlink() and not (w.dest / "lowerrel").is_symlink()
    assert (w.dest / "link").is_symlink()


def _check_dest_empty(w: World, r: ExtractReport, _: bool) -> None:
    assert list(w.dest.iterdir()) == []


def _check_aufs(w: World, r: ExtractReport, _: bool) -> None:
    assert list(w.dest.iterdir()) == []
    assert len(r.skipped) == 2


def _check_setuid(w: World, r: ExtractReport, _: bool) -> None:
    assert _mode(w.dest / "bin/su") == 0o4755
    assert _mode(w.dest / "bin/wall") == 0o2755


def _check_mode_through_symlink(w: World, r: ExtractReport, _: bool) -> None:
    assert not _is_link(w.dest / "evil") and _mode(w.dest / "evil") == 0o777
    assert _is_link(w.dest / "evil2")
    assert (w.relocated(w.outside) / "sub").is_dir()


EXPECT: dict[str, Expect] = {
    "dotdot_file": REJECT,
    "dotdot_nested": REJECT,
    "dotdot_inside": REJECT,
    "dotdot_dir": REJECT,
    "dotdot_symlink_name": REJECT,
    "absolute_name": contain(_check_absolute_name),
    "root_as_file": REJECT,
    "root_as_symlink": REJECT,
    "symlink_abs_then_write": contain(_check_abs_then_write),
    "symlink_dotdot_then_write": contain(_check_dotdot_then_write),
    "symlink_sibling_then_write": contain(_check_sibling_then_write),
    "symlink_chain": contain(_check_dest_outside_pwned),
    "symlink_deep_dotdot": contain(_check_dest_outside_pwned),
    "symlink_loop": REJECT,
    "symlink_too_many_hops": REJECT,
    "symlink_to_file_as_dir": contain(_check_file_as_dir),
    "symlink_nested_link": contain(_check_nested_link),
    "lower_symlink_write": contain(_check_lower_write),
    "nul_in_name": MALFORMED,
    "overlong_component": MALFORMED,
    "symlink_empty_target": MALFORMED,
    "hardlink_dotdot": REJECT,
    "hardlink_absolute": MALFORMED,
    "hardlink_via_symlink": contain(_check_hardlink_via_symlink),
    "hardlink_via_lower_symlink": MALFORMED,
    "hardlink_name_via_symlink": contain(_check_hardlink_name_via_symlink),
    "hardlink_to_dir": MALFORMED,
    "hardlink_over_lower_symlink": contain(_check_hardlink_over_symlink),
    "file_replaces_symlink": contain(_check_file_replaces_symlink),
    "replace_lower_symlinks": contain(_check_replace_lower),
    "char_device": contain(_node_check("dev/evil", stat.S_ISCHR)),
    "block_device": contain(_node_check("sda", stat.S_ISBLK)),
    "fifo": contain(_node_check("run/fifo", stat.S_ISFIFO)),
    "device_dotdot": REJECT,
    "device_through_symlink": contain(
        _node_check(lambda w: w.relocated(w.outside) / "null", stat.S_ISCHR)
    ),
    "device_replaces_symlink": contain(_node_check("evil", stat.S_ISFIFO)),
    "whiteout_dotdot": REJECT,
    "whiteout_dotdot_inner": REJECT,
    "whiteout_empty": REJECT,
    "whiteout_self": REJECT,
    "whiteout_parent": REJECT,
    "whiteout_through_symlink": contain(_check_whiteout_through),
    "opaque_through_symlink": contain(_check_whiteout_through),
    "whiteout_through_lower_symlink": contain(_check_whiteout_lower),
    "whiteout_lower_symlink_itself": contain(_check_whiteout_links_removed),
    "opaque_root": contain(_check_dest_empty),
    "aufs_metadata": contain(_check_aufs),
    "setuid_kept": contain(_check_setuid),
    "mode_through_symlink": contain(_check_mode_through_symlink),
}


def test_every_case_has_an_expectation() -> None:
    names = [case("/x")[0] for case in hostile.CASES]
    assert len(names) == len(set(names))
    assert set(names) == set(EXPECT)
    assert set(hostile.LOWER) <= set(names)
    assert [case.__name__ for case in hostile.CASES] == names


@pytest.mark.parametrize("allow_devices", [False, True], ids=["no-devices", "devices"])
@pytest.mark.parametrize("case", hostile.CASES, ids=lambda case: case.__name__)
def test_hostile_layer_changes_nothing_outside(
    world: World, case: hostile.Case, allow_devices: bool
) -> None:
    name, data = case(str(world.outside))
    lower = hostile.LOWER.get(name)
    if lower is not None:
        extract_layer(io.BytesIO(lower(str(world.outside))), world.dest)
    before = snapshot(world.base, exclude=world.dest)
    expect = EXPECT[name]

    def run() -> ExtractReport:
        return extract_layer(io.BytesIO(data), world.dest, allow_devices=allow_devices)

    if expect.outcome == "reject":
        with pytest.raises(UnsafeLayerError):
            run()
    elif expect.outcome == "malformed":
        with pytest.raises(ImageFormatError) as info:
            run()
        assert not isinstance(info.value, UnsafeLayerError)
    else:
        report = run()
        assert expect.check is not None
        expect.check(world, report, allow_devices)
    assert snapshot(world.base, exclude=world.dest) == before


def test_snapshot_notices_changes(world: World) -> None:
    """The guard itself: a change outside the root must show in the snapshot."""
    before = snapshot(world.base, exclude=world.dest)
    os.chmod(world.outside / "secret", 0o600)
    assert snapshot(world.base, exclude=world.dest) != before
    before = snapshot(world.base, exclude=world.dest)
    os.link(world.outside / "secret", world.dest / "hl")
    assert snapshot(world.base, exclude=world.dest) != before


# -- good layers ------------------------------------------------------------------------


def _layer(entries: list[LayerEntry], compression: str = "gzip", mtime: int = 0) -> bytes:
    out = io.BytesIO()
    write_layer(entries, out, compression=compression, mtime=mtime)  # type: ignore[arg-type]
    return out.getvalue()


def test_round_trip_of_a_written_layer(tmp_path: Path) -> None:
    source = tmp_path / "app.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    entries = [
        LayerEntry("usr/local/bin/app", mode=0o4755, source=source, uid=1000, gid=1001),
        LayerEntry("etc", "dir", 0o755),
        LayerEntry("etc/app.conf", data=b"debug = false\n", mode=0o640),
        LayerEntry("var/lib/app", "dir", 0o1777),
        LayerEntry("bin/app", "symlink", 0o777, linkname="/usr/local/bin/app"),
        LayerEntry("bin/app-hard", "hardlink", linkname="usr/local/bin/app"),
        LayerEntry("empty", data=b""),
        LayerEntry("d" * 120 + "/" + "f" * 200, data=b"long"),
    ]
    dest = tmp_path / "rootfs"
    dest.mkdir()
    report = extract_layer(io.BytesIO(_layer(entries, mtime=1_700_000_000)), dest)
    assert (report.files, report.symlinks, report.hardlinks, report.whiteouts) == (4, 1, 1, 0)
    assert report.dirs == 9 and report.skipped == ()
    app = dest / "usr/local/bin/app"
    assert app.read_bytes() == source.read_bytes()
    assert _mode(app) == 0o4755
    assert (app.stat().st_uid, app.stat().st_gid) == (
        (1000, 1001) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    )
    assert app.stat().st_mtime == 1_700_000_000
    assert _mode(dest / "etc/app.conf") == 0o640
    assert _mode(dest / "var/lib/app") == 0o1777
    assert (dest / "var/lib/app").stat().st_mtime == 1_700_000_000
    assert os.readlink(dest / "bin/app") == "/usr/local/bin/app"
    assert _same_file(dest / "bin/app-hard", app)
    assert (dest / "empty").read_bytes() == b""
    assert (dest / ("d" * 120) / ("f" * 200)).read_bytes() == b"long"


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_compression_is_sniffed(tmp_path: Path, compression: str) -> None:
    layer = tmp_path / "layer"
    layer.write_bytes(_layer([LayerEntry("a", data=b"A")], compression))
    extract_layer(layer, tmp_path)
    assert (tmp_path / "a").read_bytes() == b"A"


def test_explicit_compression_must_match(tmp_path: Path) -> None:
    plain = _layer([LayerEntry("a", data=b"A")], "none")
    with pytest.raises(ImageFormatError):
        extract_layer(io.BytesIO(plain), tmp_path, compression="gzip")
    extract_layer(io.BytesIO(plain), tmp_path, compression="none")
    assert (tmp_path / "a").read_bytes() == b"A"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a tar at all" * 100,
        gzip.compress(b"x" * 5000),
        _layer([LayerEntry("a", data=b"A" * 100_000)])[:-40],
        gzip.compress(_layer([LayerEntry("a", data=b"A" * 100_000)], "none")[:2048]),
    ],
    ids=["empty", "garbage", "gzip-garbage", "truncated-gzip", "truncated-tar"],
)
def test_corrupt_layers_raise_image_format_error(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ImageFormatError):
        extract_layer(io.BytesIO(data), tmp_path)


def test_dest_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        extract_layer(io.BytesIO(_layer([])), tmp_path / "missing")


def test_missing_layer_file(tmp_path: Path) -> None:
    with pytest.raises(ImageFormatError):
        extract_layer(tmp_path / "nope.tar.gz", tmp_path)


def _lower(dest: Path) -> None:
    layer = _layer(
        [
            LayerEntry("a/x", data=b"x"),
            LayerEntry("a/y", data=b"y"),
            LayerEntry("b/z", data=b"z"),
            LayerEntry("c/old", data=b"old"),
            LayerEntry("c/sub/deep", data=b"deep"),
            LayerEntry("c/kept/lower", data=b"lower"),
            LayerEntry("d/q", data=b"lower q"),
        ]
    )
    extract_layer(io.BytesIO(layer), dest)


def test_whiteouts_and_opaque_directories_over_a_lower_layer(tmp_path: Path) -> None:
    _lower(tmp_path)
    upper = build_tar(
        [
            Member("a/.wh.x"),
            Member(".wh.b"),
            # This layer's own entries around the opaque marker survive it.
            Member("c/", "dir", mode=0o755),
            Member("c/-own", data=b"own"),
            Member("c/kept/mine", data=b"mine"),
            Member("c/.wh..wh..opq"),
            Member("c/new", data=b"new"),
            # A whiteout never hides an entry of its own layer.
            Member("d/q", data=b"upper q"),
            Member("d/.wh.q"),
        ]
    )
    report = extract_layer(io.BytesIO(upper), tmp_path)
    assert report.whiteouts == 4
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["y"]
    assert not (tmp_path / "b").exists()
    assert sorted(str(p.relative_to(tmp_path / "c")) for p in (tmp_path / "c").rglob("*")) == [
        "-own",
        "kept",
        "kept/mine",
        "new",
    ]
    assert (tmp_path / "d/q").read_bytes() == b"upper q"


def test_whiteouts_kept_as_files_when_not_applied(tmp_path: Path) -> None:
    _lower(tmp_path)
    upper = build_tar([Member("a/.wh.x"), Member("c/.wh..wh..opq")])
    report = extract_layer(io.BytesIO(upper), tmp_path, apply_whiteouts=False)
    assert (report.files, report.whiteouts) == (2, 0)
    assert (tmp_path / "a/x").exists() and (tmp_path / "a/.wh.x").exists()
    assert (tmp_path / "c/.wh..wh..opq").exists() and (tmp_path / "c/old").exists()


def test_entries_replace_what_lower_layers_left(tmp_path: Path) -> None:
    _lower(tmp_path)
    upper = build_tar(
        [
            Member("a", data=b"a is a file now"),
            Member("b/z/", "dir", mode=0o700),
            Member("c/sub", "symlink", linkname="/elsewhere"),
        ]
    )
    extract_layer(io.BytesIO(upper), tmp_path)
    assert (tmp_path / "a").read_bytes() == b"a is a file now"
    assert (tmp_path / "b/z").is_dir() and _mode(tmp_path / "b/z") == 0o700
    assert os.readlink(tmp_path / "c/sub") == "/elsewhere"


def test_file_where_a_directory_is_needed(tmp_path: Path) -> None:
    _lower(tmp_path)
    with pytest.raises(ImageFormatError, match="not a directory"):
        extract_layer(io.BytesIO(build_tar([Member("a/x/inner")])), tmp_path)


def test_hardlink_to_a_lower_layer_file(tmp_path: Path) -> None:
    _lower(tmp_path)
    extract_layer(io.BytesIO(build_tar([Member("hl", "hardlink", linkname="a/x")])), tmp_path)
    assert _same_file(tmp_path / "hl", tmp_path / "a/x")


def test_read_only_directory_gets_its_contents_first(tmp_path: Path) -> None:
    layer = build_tar([Member("ro/", "dir", mode=0o555), Member("ro/f", data=b"f")])
    extract_layer(io.BytesIO(layer), tmp_path, preserve_owner=False)
    assert (tmp_path / "ro/f").read_bytes() == b"f"
    assert _mode(tmp_path / "ro") == 0o555


def test_deep_tree_is_whited_out_without_recursion(tmp_path: Path) -> None:
    deep = "/".join(["d"] * 400)
    _ = extract_layer(io.BytesIO(build_tar([Member(f"top/{deep}/f")])), tmp_path)
    extract_layer(io.BytesIO(build_tar([Member(".wh.top")])), tmp_path)
    assert not (tmp_path / "top").exists()


def test_preserve_owner_false_keeps_the_caller_as_owner(tmp_path: Path) -> None:
    layer = _layer([LayerEntry("f", data=b"f", uid=4242, gid=4243)])
    extract_layer(io.BytesIO(layer), tmp_path, preserve_owner=False)
    st = (tmp_path / "f").stat()
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
