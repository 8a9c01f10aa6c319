"""Base images a packaged binary is appended to: ``scratch``, the built-in ``static`` base,
or any image readable through a :class:`~dockwright.store.BlobSource`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dockwright.errors import ImageFormatError, NotFoundError
from dockwright.image.digest import Digest
from dockwright.image.model import (
    EPOCH_RFC3339,
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    RunConfig,
    empty_config,
    parse_document,
)
from dockwright.image.platform import Platform, best_match
from dockwright.store import BlobSource, Store

if TYPE_CHECKING:
    from dockwright.image.layer import LayerEntry


@dataclass(frozen=True, slots=True)
class ResolvedBase:
    """A base image for one platform: its config, its layers and where their bytes are."""

    config: ImageConfig
    layers: tuple[Descriptor, ...]
    source: BlobSource | None
    manifest: Descriptor | None  # None for scratch and the built-in static base


class BaseImage(Protocol):
    """Something a binary can be appended to, for any requested platform."""

    @property
    def name(self) -> str:
        """How the user named the base (for messages and the base-name annotation)."""
        ...

    def resolve(self, platform: Platform) -> ResolvedBase:
        """The base for ``platform``; raise :class:`NotFoundError` when it has none."""
        ...


@dataclass(frozen=True, slots=True)
class ScratchBase:
    """The empty image."""

    name: str = "scratch"

    def resolve(self, platform: Platform) -> ResolvedBase:
        """An empty config for ``platform`` and no layers."""
        return ResolvedBase(empty_config(platform), (), None, None)


@dataclass(frozen=True, slots=True)
class SourceBase:
    """An image (manifest or index) read through a blob source: the store, an OCI layout,
    a docker-archive."""

    name: str
    source: BlobSource
    root: Descriptor

    def resolve(self, platform: Platform) -> ResolvedBase:
        """The manifest for ``platform`` (picked from an index like containerd does)."""
        desc = self.root
        if desc.is_index:
            index = Index.from_bytes(self.source.read(desc.digest), desc.media_type)
            images = [d for d in index.manifests if d.is_manifest and d.platform is not None]
            pick = best_match(platform, [d.platform for d in images if d.platform])
            if pick is None:
                offered = ", ".join(str(d.platform) for d in images) or "none"
                raise NotFoundError(
                    f"base image {self.name} has no {platform} image (it offers: {offered})",
                    hint="pick a base that covers every --platform, or drop that platform",
                )
            desc = images[pick]
            if not self.source.has(desc.digest):
                raise NotFoundError(
                    f"base image {self.name} has a {platform} image, but it was not pulled",
                    hint=f"pull it: dockwright pull --platform {platform} {self.name}",
                )
        doc = parse_document(self.source.read(desc.digest), desc.media_type)
        if not isinstance(doc, Manifest):
            raise ImageFormatError(f"base image {self.name}: nested index is not supported")
        config = ImageConfig.from_bytes(self.source.read(doc.config.digest))
        if config.os and config.architecture and not platform.matches(config.platform):
            raise NotFoundError(
                f"base image {self.name} is for {config.platform}, not {platform}",
                hint="use a multi-platform base, or build only for the base's platform",
            )
        return ResolvedBase(config, doc.layers, self.source, desc)


STATIC_NAME = "static"
_STATIC_FORMAT = "1"
ETC_PASSWD = "".join(
    f"{name}:x:{uid}:{uid}:{name}:{home}:/sbin/nologin\n"
    for name, uid, home in (
        ("root", 0, "/root"),
        ("nobody", 65534, "/nonexistent"),
        ("nonroot", 65532, "/home/nonroot"),
    )
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
NSSWITCH = "hosts: files dns\n"
CA_BUNDLE_PATH = "etc/ssl/certs/ca-certificates.crt"
ZONEINFO_PATH = "usr/share/zoneinfo"


def static_versions() -> dict[str, str]:
    """The versions of what the static base is made from; they name its layer."""
    import certifi  # noqa: PLC0415 - small packages; importlib.metadata would cost more
    import tzdata  # noqa: PLC0415

    return {
        "format": _STATIC_FORMAT,
        "certifi": str(certifi.__version__),
        "tzdata": str(tzdata.__version__),
    }


def _static_entries() -> list[LayerEntry]:
    import certifi  # noqa: PLC0415 - only needed the first time the base is made
    import tzdata  # noqa: PLC0415

    from dockwright.image.layer import LayerEntry  # noqa: PLC0415 - tar/gzip are heavy

    versions = static_versions()
    os_release = (
        'NAME="dockwright static"\nID=dockwright-static\n'
        f'VERSION_ID="{versions["certifi"]}-{versions["tzdata"]}"\n'
        'PRETTY_NAME="dockwright static base"\n'
    )
    entries: list[LayerEntry] = [
        LayerEntry("etc/passwd", data=ETC_PASSWD.encode()),
        LayerEntry("etc/group", data=GROUP.encode()),
        LayerEntry("etc/nsswitch.conf", data=NSSWITCH.encode()),
        LayerEntry("etc/os-release", data=os_release.encode()),
        LayerEntry(CA_BUNDLE_PATH, source=Path(certifi.where())),
        LayerEntry("tmp", kind="dir", mode=0o1777),
        LayerEntry("root", kind="dir", mode=0o700),
        LayerEntry("home/nonroot", kind="dir", mode=0o700, uid=65532, gid=65532),
    ]
    zoneinfo = Path(tzdata.__file__).parent / "zoneinfo"
    for path in sorted(zoneinfo.rglob("*")):
        if "__pycache__" in path.parts or path.suffix == ".py" or not path.is_file():
            continue
        rel = path.relative_to(zoneinfo).as_posix()
        entries.append(LayerEntry(f"{ZONEINFO_PATH}/{rel}", source=path))
    return entries


@dataclass(frozen=True, slots=True)
class StaticBase:
    """The built-in base: CA bundle (certifi), zoneinfo (tzdata), passwd/group with root and
    nonroot (65532), /tmp. Made locally, reproducibly: the same bytes on every host."""

    store: Store
    name: str = STATIC_NAME

    def _layer(self) -> tuple[Descriptor, Digest]:
        from dockwright.image.layer import write_layer  # noqa: PLC0415 - tar/gzip are heavy

        key = json.dumps(static_versions(), sort_keys=True)
        cached = self.store.cache_get("static-base", key)
        if cached:
            rec = json.loads(cached)
            desc = Descriptor(rec["media_type"], Digest.parse(rec["digest"]), rec["size"])
            if self.store.has(desc.digest):
                return desc, Digest.parse(rec["diff_id"])
        with self.store.ingest() as writer:
            info = write_layer(_static_entries(), writer, compression="gzip", level=9)
            writer.commit(info.digest)
        rec = {
            "media_type": info.media_type,
            "digest": str(info.digest),
            "size": info.size,
            "diff_id": str(info.diff_id),
        }
        self.store.cache_put("static-base", key, json.dumps(rec, sort_keys=True))
        return Descriptor(info.media_type, info.digest, info.size), info.diff_id

    def resolve(self, platform: Platform) -> ResolvedBase:
        """The static base for ``platform`` (one shared layer; the config names the
        platform)."""
        layer, diff_id = self._layer()
        versions = static_versions()
        config = ImageConfig(
            architecture=platform.architecture,
            os=platform.os,
            variant=platform.variant,
            created=EPOCH_RFC3339,
            config=RunConfig(
                env=(
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    f"SSL_CERT_FILE=/{CA_BUNDLE_PATH}",
                ),
            ),
            diff_ids=(diff_id,),
            history=(
                History(
                    created=EPOCH_RFC3339,
                    created_by=(
                        f"dockwright static base (certifi {versions['certifi']}, "
                        f"tzdata {versions['tzdata']})"
                    ),
                    comment="dockwright",
                ),
            ),
        )
        return ResolvedBase(config, (layer,), self.store, None)
