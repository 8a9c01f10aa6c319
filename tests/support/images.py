"""Put a root filesystem folder into a dockwright store as a one-layer image."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from dockwright.image import mediatypes as mt
from dockwright.image.layer import LayerEntry, write_layer
from dockwright.image.model import (
    Descriptor,
    ImageConfig,
    Manifest,
    RunConfig,
    descriptor_for,
)
from dockwright.image.platform import host_platform
from dockwright.store import Store

DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)


def rootfs_entries(rootfs: Path) -> list[LayerEntry]:
    """Every file, directory and symlink under ``rootfs`` as layer entries (owners kept)."""
    entries: list[LayerEntry] = []
    for dirpath, dirs, files in os.walk(rootfs):
        for name in sorted(dirs + files):
            path = Path(dirpath) / name
            rel = str(path.relative_to(rootfs))
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                link = os.readlink(path)
                entries.append(
                    LayerEntry(rel, "symlink", 0o777, st.st_uid, st.st_gid, linkname=link)
                )
            elif stat.S_ISDIR(st.st_mode):
                entries.append(LayerEntry(rel, "dir", mode, st.st_uid, st.st_gid))
            elif stat.S_ISREG(st.st_mode):
                entries.append(LayerEntry(rel, "file", mode, st.st_uid, st.st_gid, source=path))
    return entries


def store_rootfs_image(
    home: Path,
    rootfs: Path,
    name: str,
    *,
    env: Sequence[str] = DEFAULT_ENV,
    cmd: Sequence[str] | None = ("sh",),
) -> Descriptor:
    """Write ``rootfs`` as a gzip layer image for the host platform, tagged ``name``."""
    store = Store.open(home)
    with store.ingest() as writer:
        info = write_layer(rootfs_entries(rootfs), writer, compression="gzip")
        digest, size = writer.commit(info.digest)
    plat = host_platform()
    config = ImageConfig(
        architecture=plat.architecture,
        os=plat.os,
        variant=plat.variant,
        created="2024-01-01T00:00:00Z",
        config=RunConfig(env=tuple(env), cmd=tuple(cmd) if cmd is not None else None),
        diff_ids=(info.diff_id,),
    )
    config_bytes = config.to_bytes()
    config_digest = store.put_bytes(config_bytes)
    manifest = Manifest(
        config=Descriptor(mt.OCI_CONFIG, config_digest, len(config_bytes)),
        layers=(Descriptor(mt.OCI_LAYER_GZIP, digest, size),),
    )
    data = manifest.to_bytes()
    store.put_bytes(data)
    desc = descriptor_for(mt.OCI_MANIFEST, data)
    store.tag(name, desc)
    return desc
