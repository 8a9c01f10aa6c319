"""A corpus of hostile layer tars, built in memory, for the extraction tests.

Each case is a function taking the absolute path of a directory *outside* the extraction
root (so absolute links can aim at something real to damage) and returning
``(name, tar bytes)``. ``LOWER`` maps some case names to a builder of a lower layer that is
extracted first, for attacks that go through what an earlier layer left in the root.

The test world (see ``test_extract.py``)::

    base/
      root_file
      world/
        sibling_file
        outside/{secret, sub/inner}
        dest/            <- extraction root; "../outside" from here is world/outside

Targets are only ever in that world, never in system directories, so a broken extractor
damages a temporary directory and not the machine running the tests.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Case = Callable[[str], tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Member:
    """One tar member as a hostile layer would carry it; names are written verbatim."""

    name: str
    kind: str = "file"  # file, dir, symlink, hardlink, chr, blk, fifo
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    devmajor: int = 0
    devminor: int = 0


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def build_tar(members: Sequence[Member]) -> bytes:
    """An uncompressed tar holding ``members`` in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = _TYPES[member.kind]
            info.mode = member.mode
            info.linkname = member.linkname
            info.devmajor = member.devmajor
            info.devminor = member.devminor
            info.mtime = 0
            if member.kind == "file":
                info.size = len(member.data)
                tar.addfile(info, io.BytesIO(member.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def _file(name: str, data: bytes = b"pwned", mode: int = 0o644) -> Member:
    return Member(name, "file", data, mode=mode)


def _dir(name: str, mode: int = 0o755) -> Member:
    return Member(name, "dir", mode=mode)


def _sym(name: str, target: str) -> Member:
    return Member(name, "symlink", linkname=target, mode=0o777)


def _hard(name: str, target: str) -> Member:
    return Member(name, "hardlink", linkname=target)


# -- names that climb -------------------------------------------------------------------


def dotdot_file(outside: str) -> tuple[str, bytes]:
    return "dotdot_file", build_tar([_file("../outside/pwned")])


def dotdot_nested(outside: str) -> tuple[str, bytes]:
    return "dotdot_nested", build_tar([_dir("a/"), _file("a/../../outside/pwned")])


def dotdot_inside(outside: str) -> tuple[str, bytes]:
    return "dotdot_inside", build_tar([_dir("a/"), _file("a/../b")])


def dotdot_dir(outside: str) -> tuple[str, bytes]:
    return "dotdot_dir", build_tar([_dir("../outside/newdir/", 0o777)])


def dotdot_symlink_name(outside: str) -> tuple[str, bytes]:
    return "dotdot_symlink_name", build_tar([_sym("../outside/link", "/")])


def absolute_name(outside: str) -> tuple[str, bytes]:
    return "absolute_name", build_tar([_file(f"{outside}/pwned"), _file(f"{outside}/secret")])


def root_as_file(outside: str) -> tuple[str, bytes]:
    return "root_as_file", build_tar([_file("./")])


def root_as_symlink(outside: str) -> tuple[str, bytes]:
    return "root_as_symlink", build_tar([_sym("/", outside)])


# -- writing through symlinks -----------------------------------------------------------


def symlink_abs_then_write(outside: str) -> tuple[str, bytes]:
    return "symlink_abs_then_write", build_tar(
        [_sym("evil", outside), _file("evil/pwned"), _file("evil/secret", b"overwritten")]
    )


def symlink_dotdot_then_write(outside: str) -> tuple[str, bytes]:
    return "symlink_dotdot_then_write", build_tar(
        [_sym("evil", "../.."), _file("evil/world/outside/pwned"), _file("evil/root_file")]
    )


def symlink_sibling_then_write(outside: str) -> tuple[str, bytes]:
    return "symlink_sibling_then_write", build_tar(
        [_sym("evil", "../outside"), _file("evil/secret", b"overwritten")]
    )


def symlink_chain(outside: str) -> tuple[str, bytes]:
    return "symlink_chain", build_tar(
        [
            _sym("l1", "l2"),
            _sym("l2", "d/l3"),
            _dir("d/"),
            _sym("d/l3", "../../outside"),
            _file("l1/pwned"),
        ]
    )


def symlink_deep_dotdot(outside: str) -> tuple[str, bytes]:
    return "symlink_deep_dotdot", build_tar(
        [_dir("d/"), _dir("d/e/"), _sym("d/e/up", "../../../../../outside"), _file("d/e/up/pwned")]
    )


def symlink_loop(outside: str) -> tuple[str, bytes]:
    return "symlink_loop", build_tar(
        [_sym("loop1", "loop2"), _sym("loop2", "loop1"), _file("loop1/pwned")]
    )


def symlink_too_many_hops(outside: str) -> tuple[str, bytes]:
    links = [_sym(f"l{i}", f"l{i + 1}") for i in range(45)]
    return "symlink_too_many_hops", build_tar([*links, _sym("l45", outside), _file("l0/pwned")])


def symlink_to_file_as_dir(outside: str) -> tuple[str, bytes]:
    return "symlink_to_file_as_dir", build_tar(
        [_sym("evil", f"{outside}/secret"), _file("evil/pwned")]
    )


def symlink_nested_link(outside: str) -> tuple[str, bytes]:
    return "symlink_nested_link", build_tar(
        [_sym("evil", outside), _sym("evil/inner", "/"), _dir("evil/inner/newdir/", 0o777)]
    )


def lower_symlink_write(outside: str) -> tuple[str, bytes]:
    return "lower_symlink_write", build_tar(
        [
            _file("lower/pwned"),
            _file("lower/secret", b"overwritten"),
            _dir("lower/sub/", 0o777),
            _file("lowerrel/secret", b"overwritten"),
            _file("lowerrel/sub/inner", b"overwritten"),
        ]
    )


def nul_in_name(outside: str) -> tuple[str, bytes]:
    # Non-ASCII, so the name goes into a PAX record, which can hold the NUL.
    return "nul_in_name", build_tar([_file("ünï/evil\x00name")])


def overlong_component(outside: str) -> tuple[str, bytes]:
    return "overlong_component", build_tar([_file("x" * 300)])


def symlink_empty_target(outside: str) -> tuple[str, bytes]:
    return "symlink_empty_target", build_tar([_sym("empty", "")])


# -- hard links -------------------------------------------------------------------------


def hardlink_dotdot(outside: str) -> tuple[str, bytes]:
    return "hardlink_dotdot", build_tar([_hard("x", "../outside/secret")])


def hardlink_absolute(outside: str) -> tuple[str, bytes]:
    return "hardlink_absolute", build_tar([_hard("x", f"{outside}/secret")])


def hardlink_via_symlink(outside: str) -> tuple[str, bytes]:
    return "hardlink_via_symlink", build_tar(
        [_sym("evil", outside), _file(f"{outside}/secret", b"decoy"), _hard("x", "evil/secret")]
    )


def hardlink_via_lower_symlink(outside: str) -> tuple[str, bytes]:
    return "hardlink_via_lower_symlink", build_tar([_hard("x", "lower/secret")])


def hardlink_name_via_symlink(outside: str) -> tuple[str, bytes]:
    return "hardlink_name_via_symlink", build_tar(
        [_sym("evil", "../outside"), _file("f", b"mine"), _hard("evil/secret", "f")]
    )


def hardlink_to_dir(outside: str) -> tuple[str, bytes]:
    return "hardlink_to_dir", build_tar([_dir("d/"), _hard("x", "d")])


def hardlink_over_lower_symlink(outside: str) -> tuple[str, bytes]:
    return "hardlink_over_lower_symlink", build_tar([_file("f", b"mine"), _hard("link", "f")])


# -- replacing symlinks -----------------------------------------------------------------


def file_replaces_symlink(outside: str) -> tuple[str, bytes]:
    return "file_replaces_symlink", build_tar(
        [_sym("link", f"{outside}/secret"), _file("link", b"overwritten", 0o4777)]
    )


def replace_lower_symlinks(outside: str) -> tuple[str, bytes]:
    return "replace_lower_symlinks", build_tar(
        [_file("link", b"overwritten", 0o6777), _dir("dirlink/", 0o777), _sym("lower", "/")]
    )


# -- devices ----------------------------------------------------------------------------


def char_device(outside: str) -> tuple[str, bytes]:
    return "char_device", build_tar(
        [_dir("dev/"), Member("dev/evil", "chr", mode=0o666, devmajor=1, devminor=3)]
    )


def block_device(outside: str) -> tuple[str, bytes]:
    return "block_device", build_tar([Member("sda", "blk", mode=0o666, devmajor=7, devminor=0)])


def fifo(outside: str) -> tuple[str, bytes]:
    return "fifo", build_tar([Member("run/fifo", "fifo", mode=0o666)])


def device_dotdot(outside: str) -> tuple[str, bytes]:
    return "device_dotdot", build_tar(
        [Member("../outside/null", "chr", mode=0o666, devmajor=1, devminor=3)]
    )


def device_through_symlink(outside: str) -> tuple[str, bytes]:
    return "device_through_symlink", build_tar(
        [_sym("evil", outside), Member("evil/null", "chr", mode=0o666, devmajor=1, devminor=3)]
    )


def device_replaces_symlink(outside: str) -> tuple[str, bytes]:
    return "device_replaces_symlink", build_tar(
        [_sym("evil", f"{outside}/secret"), Member("evil", "fifo", mode=0o666)]
    )


# -- whiteouts --------------------------------------------------------------------------


def whiteout_dotdot(outside: str) -> tuple[str, bytes]:
    return "whiteout_dotdot", build_tar([_file("../.wh.outside", b"")])


def whiteout_dotdot_inner(outside: str) -> tuple[str, bytes]:
    return "whiteout_dotdot_inner", build_tar([_file("a/../../outside/.wh.secret", b"")])


def whiteout_empty(outside: str) -> tuple[str, bytes]:
    return "whiteout_empty", build_tar([_file("lowerdir/.wh.", b"")])


def whiteout_self(outside: str) -> tuple[str, bytes]:
    return "whiteout_self", build_tar([_file("lowerdir/.wh..", b"")])


def whiteout_parent(outside: str) -> tuple[str, bytes]:
    return "whiteout_parent", build_tar([_file("lowerdir/.wh...", b"")])


def whiteout_through_symlink(outside: str) -> tuple[str, bytes]:
    return "whiteout_through_symlink", build_tar(
        [
            _sym("evil", outside),
            _file("evil/.wh.secret", b""),
            _sym("rel", "../outside"),
            _file("rel/.wh.secret", b""),
            _file("rel/.wh.sub", b""),
        ]
    )


def opaque_through_symlink(outside: str) -> tuple[str, bytes]:
    return "opaque_through_symlink", build_tar(
        [
            _sym("evil", outside),
            _file("evil/.wh..wh..opq", b""),
            _sym("rel", "../outside"),
            _file("rel/.wh..wh..opq", b""),
        ]
    )


def whiteout_through_lower_symlink(outside: str) -> tuple[str, bytes]:
    return "whiteout_through_lower_symlink", build_tar(
        [
            _file("lower/.wh.secret", b""),
            _file("lower/.wh..wh..opq", b""),
            _file("lowerrel/.wh.sub", b""),
            _file("lowerrel/.wh..wh..opq", b""),
        ]
    )


def whiteout_lower_symlink_itself(outside: str) -> tuple[str, bytes]:
    return "whiteout_lower_symlink_itself", build_tar(
        [_file(".wh.lower", b""), _file(".wh.lowerrel", b"")]
    )


def opaque_root(outside: str) -> tuple[str, bytes]:
    return "opaque_root", build_tar([_file(".wh..wh..opq", b"")])


def aufs_metadata(outside: str) -> tuple[str, bytes]:
    return "aufs_metadata", build_tar([_file(".wh..wh.aufs", b""), _dir(".wh..wh.plnk/")])


# -- modes ------------------------------------------------------------------------------


def setuid_kept(outside: str) -> tuple[str, bytes]:
    return "setuid_kept", build_tar(
        [_dir("bin/"), _file("bin/su", b"#!", 0o4755), _file("bin/wall", b"#!", 0o2755)]
    )


def mode_through_symlink(outside: str) -> tuple[str, bytes]:
    return "mode_through_symlink", build_tar(
        [_sym("evil", outside), _dir("evil/", 0o777), _sym("evil2", outside), _dir("evil2/sub/")]
    )


CASES: tuple[Case, ...] = (
    dotdot_file,
    dotdot_nested,
    dotdot_inside,
    dotdot_dir,
    dotdot_symlink_name,
    absolute_name,
    root_as_file,
    root_as_symlink,
    symlink_abs_then_write,
    symlink_dotdot_then_write,
    symlink_sibling_then_write,
    symlink_chain,
    symlink_deep_dotdot,
    symlink_loop,
    symlink_too_many_hops,
    symlink_to_file_as_dir,
    symlink_nested_link,
    lower_symlink_write,
    nul_in_name,
    overlong_component,
    symlink_empty_target,
    hardlink_dotdot,
    hardlink_absolute,
    hardlink_via_symlink,
    hardlink_via_lower_symlink,
    hardlink_name_via_symlink,
    hardlink_to_dir,
    hardlink_over_lower_symlink,
    file_replaces_symlink,
    replace_lower_symlinks,
    char_device,
    block_device,
    fifo,
    device_dotdot,
    device_through_symlink,
    device_replaces_symlink,
    whiteout_dotdot,
    whiteout_dotdot_inner,
    whiteout_empty,
    whiteout_self,
    whiteout_parent,
    whiteout_through_symlink,
    opaque_through_symlink,
    whiteout_through_lower_symlink,
    whiteout_lower_symlink_itself,
    opaque_root,
    aufs_metadata,
    setuid_kept,
    mode_through_symlink,
)


def _lower_links(outside: str) -> bytes:
    """A lower layer leaving links that point outside the root (legal in an image)."""
    return build_tar(
        [
            _sym("lower", outside),
            _sym("lowerrel", "../outside"),
            _sym("link", f"{outside}/secret"),
            _sym("dirlink", outside),
            _dir("lowerdir/"),
            _file("lowerdir/keep", b"keep"),
        ]
    )


LOWER: dict[str, Callable[[str], bytes]] = {
    name: _lower_links
    for name in (
        "lower_symlink_write",
        "hardlink_via_lower_symlink",
        "hardlink_over_lower_symlink",
        "replace_lower_symlinks",
        "whiteout_empty",
        "whiteout_self",
        "whiteout_parent",
        "whiteout_through_lower_symlink",
        "whiteout_lower_symlink_itself",
        "opaque_root",
    )
}
