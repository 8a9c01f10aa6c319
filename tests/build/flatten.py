"""Flatten a docker-archive image into comparable values, and compare two of them.

``flatten_archive(tar)`` applies the image's layers in order (whiteouts ``.wh.NAME`` and
opaque markers ``.wh..wh..opq`` included) into a map path -> :class:`Entry` (type, mode with
setuid/setgid/sticky bits, uid, gid, size, sha256 of the content, link target; never mtimes)
and normalises the config. ``compare(expected, actual, deliberate)`` lists the differences a
reader can act on; ``deliberate`` names documented differences to leave out.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

# Config fields compared, in the order a diff lists them (docker's capitalisation).
CONFIG_FIELDS: tuple[str, ...] = (
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
    "ArgsEscaped",
)
# Top-level config fields compared ("author" is what MAINTAINER sets).
PLATFORM_FIELDS: tuple[str, ...] = ("architecture", "os", "variant", "author")

_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True, slots=True)
class Entry:
    """One file system object of a flattened image (no mtime: builders may differ there)."""

    type: str
    mode: int  # permission bits incl. setuid, setgid, sticky
    uid: int
    gid: int
    size: int = 0
    sha256: str = ""
    link: str = ""
    device: tuple[int, int] = (0, 0)

    def describe(self) -> str:
        """A one-line summary for failure messages."""
        text = f"{self.type} {self.mode:04o} {self.uid}:{self.gid}"
        if self.type == "file":
            text += f" {self.size}B sha256:{self.sha256[:12]}"
        if self.link:
            text += f" -> {self.link}"
        if self.type in {"char", "block"}:
            text += f" dev {self.device[0]}:{self.device[1]}"
        return text


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One history entry as compared: what created it and whether it made a layer."""

    created_by: str
    empty_layer: bool


@dataclass(frozen=True, slots=True)
class FlatImage:
    """An image reduced to what the differential tests compare."""

    files: Mapping[str, Entry]
    config: Mapping[str, object]
    platform: Mapping[str, str]
    history: tuple[HistoryItem, ...]
    layer_count: int
    contents: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def read(self, path: str) -> bytes:
        """The bytes of regular file ``path`` (absolute, as in the image)."""
        entry = self.files.get(path)
        if entry is None or entry.type != "file":
            raise KeyError(f"{path} is not a regular file of the image")
        return self.contents[entry.sha256]


def _norm(name: str) -> str:
    parts = [p for p in name.split("/") if p not in {"", "."}]
    return "/" + "/".join(parts)


def _apply_layer(files: dict[str, Entry], contents: dict[str, bytes], layer: IO[bytes]) -> None:
    with tarfile.open(fileobj=layer, mode="r:*") as tar:
        members = tar.getmembers()
        # Whiteouts hide what lower layers had; apply them before this layer's own entries.
        for member in members:
            path = _norm(member.name)
            parent, _, base = path.rpartition("/")
            parent = parent or "/"
            if base == OPAQUE:
                prefix = parent.rstrip("/") + "/"
                for key in [k for k in files if k.startswith(prefix)]:
                    del files[key]
            elif base.startswith(WHITEOUT):
                gone = parent.rstrip("/") + "/" + base[len(WHITEOUT) :]
                files.pop(gone, None)
                for key in [k for k in files if k.startswith(gone + "/")]:
                    del files[key]
        for member in members:
            path = _norm(member.name)
            base = path.rpartition("/")[2]
            if base.startswith(WHITEOUT):
                continue
            if member.islnk():
                target = files.get(_norm(member.linkname))
                if target is None:
                    raise ValueError(f"hard link {path} to missing {member.linkname}")
                files[path] = replace(target, mode=member.mode & 0o7777)
                continue
            kind = _TYPES.get(member.type)
            if kind is None:
                raise ValueError(f"unsupported tar entry type {member.type!r} for {path}")
            if kind == "dir" and path in files and files[path].type != "dir":
                files.pop(path)
            elif kind != "dir" and path in files and files[path].type == "dir":
                # A non-directory replaces a directory and everything below it.
                for key in [k for k in files if k.startswith(path + "/")]:
                    del files[key]
            entry = Entry(kind, member.mode & 0o7777, member.uid, member.gid)
            if kind == "file":
                handle = tar.extractfile(member)
                data = handle.read() if handle is not None else b""
                digest = hashlib.sha256(data).hexdigest()
                contents[digest] = data
                entry = replace(entry, size=len(data), sha256=digest)
            elif kind == "symlink":
                entry = replace(entry, link=member.linkname)
            elif kind in {"char", "block"}:
                entry = replace(entry, device=(member.devmajor, member.devminor))
            files[path] = entry


def _config_values(config: Mapping[str, object]) -> dict[str, object]:
    inner = config.get("config") or {}
    assert isinstance(inner, dict)
    values: dict[str, object] = {}
    for name in CONFIG_FIELDS:
        value = inner.get(name)
        # Empty and absent mean the same to docker (e.g. Labels {} vs null).
        values[name] = value if value not in ({}, [], "") else None
    if values["ArgsEscaped"] is False:
        values["ArgsEscaped"] = None
    return values


def _history(config: Mapping[str, object]) -> tuple[HistoryItem, ...]:
    items = config.get("history") or []
    assert isinstance(items, list)
    return tuple(
        HistoryItem(str(item.get("created_by", "")), bool(item.get("empty_layer", False)))
        for item in items
    )


def flatten_archive(archive: Path) -> FlatImage:
    """Flatten the single image of the docker-archive tar ``archive``."""
    with tarfile.open(archive, mode="r:*") as outer:
        manifest_file = outer.extractfile("manifest.json")
        assert manifest_file is not None, f"{archive}: no manifest.json"
        manifest = json.loads(manifest_file.read())
        if len(manifest) != 1:
            raise ValueError(f"{archive}: expected one image, found {len(manifest)}")
        config_file = outer.extractfile(manifest[0]["Config"])
        assert config_file is not None
        config = json.loads(config_file.read())
        files: dict[str, Entry] = {}
        contents: dict[str, bytes] = {}
        for layer_name in manifest[0]["Layers"]:
            layer = outer.extractfile(layer_name)
            assert layer is not None, f"{archive}: missing layer {layer_name}"
            _apply_layer(files, contents, layer)
    files.pop("/", None)  # the root's own entry differs between archive writers
    platform = {k: str(config.get(k) or "") for k in PLATFORM_FIELDS}
    if not platform["author"]:
        del platform["author"]
    return FlatImage(
        files=files,
        config=_config_values(config),
        platform=platform,
        history=_history(config),
        layer_count=len(manifest[0]["Layers"]),
        contents=contents,
    )


@dataclass(frozen=True, slots=True)
class Deliberate:
    """A documented difference: ``what`` is a path (``/etc/x`` or ``/dir/**``), ``config:NAME``,
    ``history`` or ``platform:NAME``; ``reason`` says why it is deliberate."""

    what: str
    reason: str

    def covers(self, subject: str) -> bool:
        """Whether this entry excuses a difference about ``subject``."""
        if self.what.endswith("/**"):
            root = self.what[:-3]
            return subject == root or subject.startswith(root + "/")
        return subject == self.what


def _excused(subject: str, deliberate: Iterable[Deliberate]) -> bool:
    return any(d.covers(subject) for d in deliberate)


def _file_diffs(
    expected: Mapping[str, Entry], actual: Mapping[str, Entry], deliberate: list[Deliberate]
) -> list[str]:
    out: list[str] = []
    for path in sorted(set(expected) | set(actual)):
        if _excused(path, deliberate):
            continue
        want, got = expected.get(path), actual.get(path)
        if want == got:
            continue
        if got is None:
            assert want is not None
            out.append(f"missing   {path}  (BuildKit: {want.describe()})")
        elif want is None:
            out.append(f"extra     {path}  (dockwright: {got.describe()})")
        else:
            fields = [
                f"{name} {getattr(want, name)!r} != {getattr(got, name)!r}"
                for name in ("type", "mode", "uid", "gid", "size", "sha256", "link", "device")
                if getattr(want, name) != getattr(got, name)
            ]
            fields = [
                f.replace(
                    f"mode {want.mode!r} != {got.mode!r}", f"mode {want.mode:04o} != {got.mode:04o}"
                )
                for f in fields
            ]
            out.append(f"differs   {path}: " + "; ".join(fields) + " (BuildKit != dockwright)")
    return out


def _history_diffs(expected: FlatImage, actual: FlatImage) -> list[str]:
    if expected.history == actual.history and expected.layer_count == actual.layer_count:
        return []
    out = [
        f"history   differs (BuildKit {len(expected.history)} entries / {expected.layer_count} "
        f"layers, dockwright {len(actual.history)} / {actual.layer_count}):"
    ]
    width = max(len(expected.history), len(actual.history))
    for i in range(width):
        want = expected.history[i] if i < len(expected.history) else None
        got = actual.history[i] if i < len(actual.history) else None
        mark = "  " if want == got else "!="
        out.append(f"  {mark} [{i}] BuildKit:   {_show(want)}")
        if want != got:
            out.append(f"          dockwright: {_show(got)}")
    return out


def _show(item: HistoryItem | None) -> str:
    if item is None:
        return "(none)"
    return f"{item.created_by!r}" + (" (empty_layer)" if item.empty_layer else "")


def compare(
    expected: FlatImage, actual: FlatImage, deliberate: Iterable[Deliberate] = ()
) -> list[str]:
    """Differences from ``expected`` (BuildKit) to ``actual`` (dockwright), one line each
    (history as a block); empty when they match up to the ``deliberate`` differences."""
    excuses = list(deliberate)
    out = _file_diffs(expected.files, actual.files, excuses)
    for name in CONFIG_FIELDS:
        if _excused(f"config:{name}", excuses):
            continue
        want, got = expected.config.get(name), actual.config.get(name)
        if want != got:
            out.append(
                f"config    {name}: BuildKit {json.dumps(want)} != dockwright {json.dumps(got)}"
            )
    for name in PLATFORM_FIELDS:
        if not _excused(f"platform:{name}", excuses):
            want_p, got_p = expected.platform.get(name), actual.platform.get(name)
            if want_p != got_p:
                out.append(f"platform  {name}: BuildKit {want_p!r} != dockwright {got_p!r}")
    if not _excused("history", excuses):
        out.extend(_history_diffs(expected, actual))
    return out
