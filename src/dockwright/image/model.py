"""Immutable values for OCI/Docker image documents: descriptors, manifests, indexes, configs.

Each value parses from and serialises to the JSON the specs define. Serialisation is
canonical (sorted keys, no insignificant white space, UTF-8), so equal values always give
equal bytes and equal digests. Changing a value returns a new one (``dataclasses.replace``
or the ``with_*`` helpers), as go-containerregistry's ``mutate`` does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dockwright.errors import ImageFormatError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.platform import Platform

EPOCH_RFC3339 = "1970-01-01T00:00:00Z"


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` as canonical JSON: sorted keys, compact separators, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_json(data: bytes, what: str) -> dict[str, Any]:
    """Decode a JSON object or raise :class:`ImageFormatError` naming ``what`` it was."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageFormatError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ImageFormatError(f"{what} is not a JSON object")
    return obj


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ImageFormatError(f"{what} must be an object of strings")
    return dict(value)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A typed pointer to content: media type, digest and size (plus optional extras)."""

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    artifact_type: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Descriptor:
        """Parse a descriptor object."""
        if not isinstance(obj, dict):
            raise ImageFormatError("descriptor must be a JSON object")
        try:
            media_type = obj["mediaType"]
            digest = Digest.parse(obj["digest"])
            size = obj["size"]
        except KeyError as exc:
            raise ImageFormatError(f"descriptor lacks {exc.args[0]!r}") from exc
        if not isinstance(media_type, str) or not isinstance(size, int) or size < 0:
            raise ImageFormatError("descriptor has a malformed mediaType or size")
        plat = obj.get("platform")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            annotations=_str_map(obj.get("annotations"), "descriptor annotations"),
            platform=Platform.from_json(plat) if isinstance(plat, dict) else None,
            urls=tuple(obj.get("urls") or ()),
            artifact_type=str(obj.get("artifactType", "")),
        )

    def to_json(self) -> dict[str, Any]:
        """The descriptor as a JSON object."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.urls:
            out["urls"] = list(self.urls)
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    def with_annotations(self, extra: Mapping[str, str]) -> Descriptor:
        """A copy with ``extra`` merged into its annotations."""
        return replace(self, annotations={**self.annotations, **extra})

    @property
    def is_index(self) -> bool:
        """True for an OCI index or Docker manifest list."""
        return self.media_type in mt.INDEX_TYPES

    @property
    def is_manifest(self) -> bool:
        """True for an OCI or Docker image manifest."""
        return self.media_type in mt.MANIFEST_TYPES


def descriptor_for(media_type: str, data: bytes, **extra: Any) -> Descriptor:
    """A descriptor for ``data`` held in memory."""
    return Descriptor(media_type=media_type, digest=Digest.of(data), size=len(data), **extra)


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest (OCI or Docker schema 2, by ``media_type``)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = mt.OCI_MANIFEST
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str = ""

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> Manifest:
        """Parse manifest JSON; ``media_type`` is the one the content was fetched as."""
        obj = load_json(data, "image manifest")
        if obj.get("schemaVersion") != 2:
            raise ImageFormatError("image manifest must have schemaVersion 2")
        kind = obj.get("mediaType") or media_type or mt.OCI_MANIFEST
        if kind not in mt.MANIFEST_TYPES:
            raise ImageFormatError(f"not an image manifest: media type {kind!r}")
        if "config" not in obj or not isinstance(obj.get("layers", []), list):
            raise ImageFormatError("image manifest lacks config or layers")
        subject = obj.get("subject")
        return cls(
            config=Descriptor.from_json(obj["config"]),
            layers=tuple(Descriptor.from_json(layer) for layer in obj.get("layers", [])),
            media_type=kind,
            annotations=_str_map(obj.get("annotations"), "manifest annotations"),
            subject=Descriptor.from_json(subject) if subject else None,
            artifact_type=str(obj.get("artifactType", "")),
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest as a JSON object."""
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes; their sha256 is the manifest's digest."""
        return canonical_json(self.to_json())

    def descriptor(self, platform: Platform | None = None) -> Descriptor:
        """The descriptor that points at this manifest."""
        return descriptor_for(self.media_type, self.to_bytes(), platform=platform)


@dataclass(frozen=True, slots=True)
class Index:
    """An image index (OCI) or manifest list (Docker), by ``media_type``."""

    manifests: tuple[Descriptor, ...]
    media_type: str = mt.OCI_INDEX
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> Index:
        """Parse index JSON; ``media_type`` is the one the content was fetched as."""
        obj = load_json(data, "image index")
        if obj.get("schemaVersion") != 2:
            raise ImageFormatError("image index must have schemaVersion 2")
        kind = obj.get("mediaType") or media_type or mt.OCI_INDEX
        if kind not in mt.INDEX_TYPES:
            raise ImageFormatError(f"not an image index: media type {kind!r}")
        entries = obj.get("manifests")
        if not isinstance(entries, list):
            raise ImageFormatError("image index lacks a manifests list")
        return cls(
            manifests=tuple(Descriptor.from_json(e) for e in entries),
            media_type=kind,
            annotations=_str_map(obj.get("annotations"), "index annotations"),
        )

    def to_json(self) -> dict[str, Any]:
        """The index as a JSON object."""
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "manifests": [d.to_json() for d in self.manifests],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes; their sha256 is the index's digest."""
        return canonical_json(self.to_json())

    def descriptor(self) -> Descriptor:
        """The descriptor that points at this index."""
        return descriptor_for(self.media_type, self.to_bytes())


@dataclass(frozen=True, slots=True)
class History:
    """One entry of an image config's history."""

    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    @classmethod
    def from_json(cls, obj: Any) -> History:
        """Parse a history entry."""
        if not isinstance(obj, dict):
            raise ImageFormatError("history entry must be a JSON object")
        return cls(
            created=str(obj.get("created", "")),
            created_by=str(obj.get("created_by", "")),
            author=str(obj.get("author", "")),
            comment=str(obj.get("comment", "")),
            empty_layer=bool(obj.get("empty_layer", False)),
        )

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object (empty fields left out)."""
        out: dict[str, Any] = {}
        for key, value in (
            ("created", self.created),
            ("created_by", self.created_by),
            ("author", self.author),
            ("comment", self.comment),
        ):
            if value:
                out[key] = value
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True, slots=True)
class RunConfig:
    """The ``config`` object of an image config: how a container of the image runs."""

    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    healthcheck: Mapping[str, Any] | None = None
    shell: tuple[str, ...] | None = None
    on_build: tuple[str, ...] = ()
    args_escaped: bool = False

    @classmethod
    def from_json(cls, obj: Any) -> RunConfig:
        """Parse the ``config`` object (``None`` gives an empty one)."""
        if obj is None:
            return cls()
        if not isinstance(obj, dict):
            raise ImageFormatError("image config's config must be a JSON object")

        def strings(key: str) -> tuple[str, ...] | None:
            value = obj.get(key)
            if value is None:
                return None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ImageFormatError(f"image config field {key} must be a list of strings")
            return tuple(value)

        return cls(
            user=str(obj.get("User") or ""),
            env=strings("Env") or (),
            entrypoint=strings("Entrypoint"),
            cmd=strings("Cmd"),
            working_dir=str(obj.get("WorkingDir") or ""),
            labels=_str_map(obj.get("Labels"), "image labels"),
            exposed_ports=tuple(sorted((obj.get("ExposedPorts") or {}).keys())),
            volumes=tuple(sorted((obj.get("Volumes") or {}).keys())),
            stop_signal=str(obj.get("StopSignal") or ""),
            healthcheck=obj.get("Healthcheck"),
            shell=strings("Shell"),
            on_build=strings("OnBuild") or (),
            args_escaped=bool(obj.get("ArgsEscaped", False)),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``config`` object, with empty fields left out."""
        out: dict[str, Any] = {}
        if self.user:
            out["User"] = self.user
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.volumes:
            out["Volumes"] = {v: {} for v in self.volumes}
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.healthcheck is not None:
            out["Healthcheck"] = dict(self.healthcheck)
        if self.shell is not None:
            out["Shell"] = list(self.shell)
        if self.on_build:
            out["OnBuild"] = list(self.on_build)
        if self.args_escaped:
            out["ArgsEscaped"] = True
        return out

    def env_dict(self) -> dict[str, str]:
        """``Env`` as a mapping (later entries win)."""
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    def with_env(self, updates: Mapping[str, str]) -> RunConfig:
        """A copy with ``updates`` set in ``Env``, keeping the order of existing keys."""
        merged = self.env_dict()
        merged.update(updates)
        return replace(self, env=tuple(f"{k}={v}" for k, v in merged.items()))


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """An image configuration: platform, run config, layer diff IDs and history.

    Fields dockwright does not model are kept in ``extra`` and written back unchanged.
    """

    architecture: str
    os: str
    variant: str = ""
    os_version: str = ""
    created: str = ""
    author: str = ""
    config: RunConfig = field(default_factory=RunConfig)
    diff_ids: tuple[Digest, ...] = ()
    history: tuple[History, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset(
        {
            "architecture",
            "os",
            "variant",
            "os.version",
            "created",
            "author",
            "config",
            "rootfs",
            "history",
        }
    )

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageConfig:
        """Parse an image config blob."""
        obj = load_json(data, "image config")
        rootfs = obj.get("rootfs") or {}
        if not isinstance(rootfs, dict):
            raise ImageFormatError("image config rootfs must be an object")
        diff_ids = rootfs.get("diff_ids") or []
        if not isinstance(diff_ids, list):
            raise ImageFormatError("image config rootfs.diff_ids must be a list")
        history = obj.get("history") or []
        if not isinstance(history, list):
            raise ImageFormatError("image config history must be a list")
        return cls(
            architecture=str(obj.get("architecture", "")),
            os=str(obj.get("os", "")),
            variant=str(obj.get("variant", "")),
            os_version=str(obj.get("os.version", "")),
            created=str(obj.get("created", "")),
            author=str(obj.get("author", "")),
            config=RunConfig.from_json(obj.get("config")),
            diff_ids=tuple(Digest.parse(str(d)) for d in diff_ids),
            history=tuple(History.from_json(h) for h in history),
            extra={k: v for k, v in obj.items() if k not in cls._KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        """The config as a JSON object."""
        out: dict[str, Any] = dict(self.extra)
        out["architecture"] = self.architecture
        out["os"] = self.os
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        if self.created:
            out["created"] = self.created
        if self.author:
            out["author"] = self.author
        out["config"] = self.config.to_json()
        out["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in self.diff_ids]}
        if self.history:
            out["history"] = [h.to_json() for h in self.history]
        return out

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes; their sha256 is the image ID."""
        return canonical_json(self.to_json())

    @property
    def platform(self) -> Platform:
        """The platform the config declares."""
        return Platform(self.os, self.architecture, self.variant, self.os_version)

    def with_layer(self, diff_id: Digest, history: History) -> ImageConfig:
        """A copy with one more layer (and its history entry) on top."""
        return replace(self, diff_ids=(*self.diff_ids, diff_id), history=(*self.history, history))

    def with_history(self, entry: History) -> ImageConfig:
        """A copy with one more history entry (set ``empty_layer`` for metadata changes)."""
        return replace(self, history=(*self.history, entry))


def empty_config(platform: Platform, created: str = EPOCH_RFC3339) -> ImageConfig:
    """The config of ``scratch`` for ``platform``: no layers, no history."""
    return ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant,
        created=created,
        config=RunConfig(
            env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
        ),
    )


def parse_document(data: bytes, media_type: str) -> Manifest | Index:
    """Parse a manifest or an index according to ``media_type``."""
    if media_type in mt.INDEX_TYPES:
        return Index.from_bytes(data, media_type)
    if media_type in mt.MANIFEST_TYPES:
        return Manifest.from_bytes(data, media_type)
    raise ImageFormatError(f"unsupported manifest media type {media_type!r}")


def sniff_media_type(data: bytes) -> str:
    """The media type a manifest or index blob declares, or infers from its shape."""
    obj = load_json(data, "manifest")
    kind = obj.get("mediaType")
    if isinstance(kind, str) and kind:
        return kind
    if "manifests" in obj:
        return mt.OCI_INDEX
    if "config" in obj:
        return mt.OCI_MANIFEST
    raise ImageFormatError("document is neither an image manifest nor an index")


def layers_to_media_family(
    descriptors: Sequence[Descriptor], docker: bool
) -> tuple[Descriptor, ...]:
    """Layer descriptors re-typed into the Docker or OCI media-type family."""
    table = mt.TO_DOCKER if docker else mt.TO_OCI
    return tuple(replace(d, media_type=table.get(d.media_type, d.media_type)) for d in descriptors)
