"""write_layer additions: per-entry mtime, FIFOs and device nodes."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockwright.errors import ImageFormatError
from dockwright.image.extract import extract_layer
from dockwright.image.layer import LayerEntry, write_layer


def _members(blob: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_per_entry_mtime_overrides_the_layer_mtime() -> None:
    out = io.BytesIO()
    write_layer(
        [LayerEntry("a", data=b"a", mtime=12345), LayerEntry("b", data=b"b")],
        out,
        compression="none",
        mtime=7,
    )
    members = _members(out.getvalue())
    assert members["a"].mtime == 12345
    assert members["b"].mtime == 7


def test_an_unset_mtime_leaves_the_bytes_as_before() -> None:
    entries = [LayerEntry("d", "dir", 0o755), LayerEntry("d/f", data=b"x")]
    explicit = [LayerEntry("d", "dir", 0o755, mtime=3), LayerEntry("d/f", data=b"x", mtime=3)]
    plain, pinned = io.BytesIO(), io.BytesIO()
    write_layer(entries, plain, compression="none", mtime=3)
    write_layer(explicit, pinned, compression="none", mtime=99)
    assert plain.getvalue() == pinned.getvalue()


def test_fifos_and_devices_round_trip(tmp_path: Path) -> None:
    out = io.BytesIO()
    info = write_layer(
        [
            LayerEntry("dev/null", "chardev", 0o666, devmajor=1, devminor=3),
            LayerEntry("dev/loop0", "blockdev", 0o660, gid=6, devmajor=7, devminor=0),
            LayerEntry("run/pipe", "fifo", 0o600),
        ],
        out,
        compression="none",
    )
    members = _members(out.getvalue())
    assert members["dev/null"].ischr() and (
        members["dev/null"].devmajor,
        members["dev/null"].devminor,
    ) == (1, 3)
    assert members["dev/loop0"].isblk() and members["dev/loop0"].devmajor == 7
    assert members["run/pipe"].isfifo() and members["run/pipe"].mode == 0o600
    assert (
        info.diff_id
        == write_layer(
            [
                LayerEntry("run/pipe", "fifo", 0o600),
                LayerEntry("dev/loop0", "blockdev", 0o660, gid=6, devmajor=7, devminor=0),
                LayerEntry("dev/null", "chardev", 0o666, devmajor=1, devminor=3),
            ],
            io.BytesIO(),
            compression="none",
        ).diff_id
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    extract_layer(io.BytesIO(out.getvalue()), dest, allow_devices=True)
    st = (dest / "dev/null").lstat()
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_ISBLK((dest / "dev/loop0").lstat().st_mode)
    assert stat.S_ISFIFO((dest / "run/pipe").lstat().st_mode)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LayerEntry("f", data=b"x", devmajor=1),
        lambda: LayerEntry("p", "fifo", devminor=2),
        lambda: LayerEntry("p", "fifo", linkname="x"),
        lambda: LayerEntry("p", "fifo", data=b"x"),
        lambda: LayerEntry("c", "chardev", devmajor=8**7),
        lambda: LayerEntry("c", "chardev", devminor=-1),
        lambda: LayerEntry("f", mtime=-1),
    ],
)
def test_bad_extra_fields_are_refused(make: object) -> None:
    with pytest.raises(ImageFormatError):
        make()  # type: ignore[operator]
