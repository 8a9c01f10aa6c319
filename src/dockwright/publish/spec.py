"""``--output`` specs in buildx spelling: ``type=oci,dest=hello.tar``."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dockwright.errors import UsageError
from dockwright.publish.convert import LayerCompression, parse_compression

OutputKind = Literal["store", "oci", "docker"]

_KINDS: Mapping[str, OutputKind] = {
    "store": "store",
    "image": "store",
    "oci": "oci",
    "docker": "docker",
}
_KEYS: Mapping[OutputKind, tuple[str, ...]] = {
    "store": ("type", "name"),
    "oci": ("type", "dest", "tar", "name", "compression", "compression-level"),
    "docker": ("type", "dest", "tar", "name", "platform", "compression", "compression-level"),
}
_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"0", "f", "false"})
_EXAMPLES = "e.g. type=oci,dest=hello.tar  type=oci,dest=out,tar=false  type=docker,dest=x.tar"


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """Where an image goes: the local store, an OCI layout, or a docker-archive.

    ``dest`` is the file (or, with ``tar=False``, folder) to write; ``extra`` keeps other
    accepted keys: ``name`` (comma-separated image names) and ``platform`` (docker only).
    ``compression`` is what uncompressed layers become: ``gzip`` by default for OCI output
    (as buildx does), ``uncompressed`` for docker-archives (as ``docker save`` writes them).
    """

    kind: OutputKind
    dest: Path | None
    tar: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)
    compression: LayerCompression | None = None
    compression_level: int | None = None

    @property
    def layer_compression(self) -> LayerCompression:
        """The compression to apply, with the kind's default filled in."""
        if self.compression is not None:
            return self.compression
        return "uncompressed" if self.kind == "docker" else "gzip"

    @property
    def layer_compression_level(self) -> int | None:
        """The level to compress at: as given, else 1 for gzip (the fastest, as ko and
        go-containerregistry do: ~10% larger than level 6 at under half the time)."""
        if self.compression_level is not None:
            return self.compression_level
        return 1 if self.layer_compression == "gzip" else None


def _bool(key: str, value: str) -> bool:
    # Go's strconv.ParseBool, which buildx uses.
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UsageError(f"output key {key}={value!r} must be true or false")


def parse_output(text: str) -> OutputSpec:
    """Parse an ``--output`` value as buildx does: comma-separated ``key=value`` pairs.

    ``type`` is ``store`` (alias ``image``), ``oci`` or ``docker``; ``oci`` and ``docker``
    need ``dest``. Anything else raises :class:`UsageError` listing what is valid.
    """
    stripped = text.strip()
    if stripped == "-":
        raise UsageError(
            "output '-' (a tar on standard output) is not supported",
            hint="write to a file instead, " + _EXAMPLES,
        )
    if not stripped:
        raise UsageError("empty --output", hint=_EXAMPLES)
    try:
        fields = next(csv.reader([stripped]))
    except csv.Error as exc:
        raise UsageError(f"cannot parse output {text!r}: {exc}", hint=_EXAMPLES) from exc
    pairs: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise UsageError(
                f"output {text!r}: {item!r} is not key=value",
                hint="a bare path is not supported; " + _EXAMPLES,
            )
        if key in pairs:
            raise UsageError(f"output {text!r}: key {key!r} is given twice")
        pairs[key] = value.strip()
    if "type" not in pairs:
        raise UsageError(f"output {text!r} has no type=", hint=_EXAMPLES)
    kind = _KINDS.get(pairs["type"].lower())
    if kind is None:
        raise UsageError(
            f"unknown output type {pairs['type']!r}",
            hint="valid types: store (alias image), oci, docker",
        )
    unknown = sorted(set(pairs) - set(_KEYS[kind]))
    if unknown:
        raise UsageError(
            f"output type={pairs['type']} does not take {', '.join(unknown)}",
            hint=f"valid keys for type={pairs['type']}: {', '.join(_KEYS[kind])}",
        )
    tar = _bool("tar", pairs["tar"]) if "tar" in pairs else True
    dest: Path | None = None
    if kind != "store":
        raw = pairs.get("dest", "")
        if not raw:
            raise UsageError(
                f"output type={pairs['type']} needs dest=", hint=f"e.g. type={kind},dest=image.tar"
            )
        if raw == "-":
            raise UsageError("dest=- (standard output) is not supported", hint="give a file name")
        dest = Path(raw).expanduser()
    if kind == "docker" and not tar:
        raise UsageError("type=docker writes a tar file; tar=false is only for type=oci")
    extra = {k: v for k, v in pairs.items() if k in ("name", "platform")}
    compression = parse_compression(pairs["compression"]) if "compression" in pairs else None
    level: int | None = None
    if "compression-level" in pairs:
        raw_level = pairs["compression-level"]
        if not raw_level.isdigit():
            raise UsageError(f"compression-level={raw_level!r} must be a whole number")
        level = int(raw_level)
    return OutputSpec(
        kind=kind,
        dest=dest,
        tar=tar,
        extra=extra,
        compression=compression,
        compression_level=level,
    )
