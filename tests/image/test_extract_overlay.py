"""extract_layer(whiteouts="overlay"): whiteouts and opaque markers as overlayfs lowers hold."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockwright.errors import UnsafeLayerError, UsageError
from dockwright.image.extract import decompressed, extract_layer
from dockwright.image.layer import LayerEntry, write_layer


def _blob(entries: list[LayerEntry], compression: str = "gzip") -> bytes:
    out = io.BytesIO()
    write_layer(entries, out, compression=compression)  # type: ignore[arg-type]
    return out.getvalue()


def _is_whiteout(path: Path) -> bool:
    st = path.lstat()
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def test_whiteouts_become_devices_and_opaque_markers_xattrs(tmp_path: Path) -> None:
    blob = _blob(
        [
            LayerEntry(".wh.gone"),
            LayerEntry("etc/.wh.passwd"),
            LayerEntry("opq/.wh..wh..opq"),
            LayerEntry("opq/kept", data=b"k"),
            LayerEntry("mine", data=b"m"),
            LayerEntry(".wh.mine"),
        ]
    )
    report = extract_layer(io.BytesIO(blob), tmp_path, whiteouts="overlay")
    assert report.whiteouts == 4
    assert _is_whiteout(tmp_path / "gone")
    assert _is_whiteout(tmp_path / "etc/passwd")
    assert os.getxattr(tmp_path / "opq", "trusted.overlay.opaque") == b"y"
    assert (tmp_path / "opq/kept").read_bytes() == b"k"
    # A whiteout never removes what its own layer made.
    assert (tmp_path / "mine").read_bytes() == b"m"
    assert not (tmp_path / ".wh.gone").exists()


def test_the_default_and_keep_are_unchanged(tmp_path: Path) -> None:
    blob = _blob([LayerEntry(".wh.gone"), LayerEntry("d/.wh..wh..opq")])
    for name, kwargs in (("a", {}), ("b", {"whiteouts": "apply"})):
        dest = tmp_path / name
        dest.mkdir()
        (dest / "gone").write_bytes(b"g")
        extract_layer(io.BytesIO(blob), dest, **kwargs)  # type: ignore[arg-type]
        assert not (dest / "gone").exists()
    cases: tuple[tuple[str, dict[str, object]], ...] = (
        ("c", {"apply_whiteouts": False}),
        ("d", {"whiteouts": "keep"}),
    )
    for name, options in cases:
        dest = tmp_path / name
        dest.mkdir()
        extract_layer(io.BytesIO(blob), dest, **options)  # type: ignore[arg-type]
        assert (dest / ".wh.gone").is_file() and (dest / "d/.wh..wh..opq").is_file()
    with pytest.raises(UsageError):
        extract_layer(io.BytesIO(blob), tmp_path / "a", whiteouts="bogus")  # type: ignore[arg-type]


def test_overlay_whiteouts_stay_inside_dest(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"v")
    dest = tmp_path / "dest"
    dest.mkdir()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        link = tarfile.TarInfo("ln")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        tar.addfile(link)
        tar.addfile(tarfile.TarInfo("ln/.wh.victim"), io.BytesIO(b""))
    blob = out.getvalue()
    extract_layer(io.BytesIO(blob), dest, whiteouts="overlay")
    assert (outside / "victim").read_bytes() == b"v"
    assert _is_whiteout(dest / str(outside).lstrip("/") / "victim")
    with pytest.raises(UnsafeLayerError):
        extract_layer(io.BytesIO(_blob([LayerEntry("d/.wh..")])), dest, whiteouts="overlay")


def test_decompressed_reads_any_compression() -> None:
    entries = [LayerEntry("f", data=b"x" * 5000)]
    plain = _blob(entries, "none")
    for compression in ("gzip", "zstd", "none"):
        assert decompressed(io.BytesIO(_blob(entries, compression))).read() == plain
