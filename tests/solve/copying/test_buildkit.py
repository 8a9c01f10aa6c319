"""One BuildKit build (dockerd's builder) against apply_copy on the same inputs.

The unit tests state the facts this build showed; this test keeps them checkable. It
compares path, type, mode, owner, size, link target and, for regular files, mtime.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from dockwright.solve.copying import CopyRequest, apply_copy
from support.dockerd import DockerDaemon

from .helpers import context, make_context
from .test_add import _Server, _tar

_ROOTS = ("/e", "/exist", "/w")
_LINE = re.compile(r"^#\d+ [\d.]+ (/[^|]*)\|(\d+)\|(\d+):(\d+)\|(\d+)\|(\d+)\|([^|]+)\|(.*)$")


def _steps(url: str) -> list[tuple[str, CopyRequest | None]]:
    def req(*sources: str, dest: str, workdir: str = "/", **kw: object) -> CopyRequest:
        return CopyRequest(sources, dest, workdir, **kw)  # type: ignore[arg-type]

    return [
        ("COPY a.txt /e1/new/", req("a.txt", dest="/e1/new/")),
        ("COPY a.txt /e2/new", req("a.txt", dest="/e2/new")),
        ("COPY --chown=app a.txt /e3/p/q/", req("a.txt", dest="/e3/p/q/", chown="app")),
        ("COPY --chown=app:app dir /e4/p/", req("dir", dest="/e4/p/", chown="app:app")),
        ("COPY dir /exist/", req("dir", dest="/exist/")),
        ("COPY --chmod=600 dir /e5b", req("dir", dest="/e5b", chmod="600")),
        ("COPY *.txt /e6/", req("*.txt", dest="/e6/")),
        ("COPY *.nomatch a.txt /e7/", req("*.nomatch", "a.txt", dest="/e7/")),
        ("COPY a.txt b.txt /e8", req("a.txt", "b.txt", dest="/e8")),
        ("WORKDIR /w", None),
        ("COPY a.txt rel/", req("a.txt", dest="rel/", workdir="/w")),
        ("COPY a.txt .", req("a.txt", dest=".", workdir="/w")),
        ("ADD t.tar.gz /e9/", req("t.tar.gz", dest="/e9/", add=True)),
        ("ADD t.tar.gz /e14/renamed", req("t.tar.gz", dest="/e14/renamed", add=True)),
        ("ADD notar.gz /e13/", req("notar.gz", dest="/e13/", add=True)),
        (f"ADD {url}/hello.txt /e15/", req(f"{url}/hello.txt", dest="/e15/", add=True)),
        (f"ADD {url}/t.tar.gz /e16/", req(f"{url}/t.tar.gz", dest="/e16/", add=True)),
        ("COPY dir/link /e18/", req("dir/link", dest="/e18/")),
        ("COPY --chown=u2 dir /e20", req("dir", dest="/e20", chown="u2")),
        ("COPY di? /e22/", req("di?", dest="/e22/")),
    ]


_SETUP = (
    "RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd"
    " && echo 'u2:x:2000:3000::/home/u2:/bin/sh' >> /etc/passwd"
    " && echo 'app:x:1001:' >> /etc/group && mkdir -p /exist /e18 && chmod 700 /exist"
)


def _parse(output: str) -> dict[str, tuple[object, ...]]:
    found: dict[str, tuple[object, ...]] = {}
    for line in output.splitlines():
        match = _LINE.match(line)
        if match and not match.group(1).startswith("/etc"):
            path, mode, uid, gid, size, mtime, kind, target = match.groups()
            is_file = kind == "regular file"
            found[path] = (
                kind,
                int(mode, 8),
                int(uid),
                int(gid),
                int(size) if kind != "directory" else 0,
                int(mtime) if is_file else 0,
                target if kind == "symbolic link" else "",
            )
    return found


def _ours(root: Path) -> dict[str, tuple[object, ...]]:
    kinds = {0o040000: "directory", 0o100000: "regular file", 0o120000: "symbolic link"}
    found: dict[str, tuple[object, ...]] = {}
    for top in _ROOTS:
        for entry in sorted(root.iterdir()):
            if not ("/" + entry.name).startswith(top) or entry.name == "etc":
                continue
            paths = [entry]
            if entry.is_dir() and not entry.is_symlink():
                paths += [Path(d) / n for d, ds, fs in os.walk(entry) for n in ds + fs]
            for path in paths:
                info = os.lstat(path)
                kind = kinds[info.st_mode & 0o170000]
                found["/" + str(path.relative_to(root))] = (
                    kind,
                    info.st_mode & 0o7777,
                    info.st_uid,
                    info.st_gid,
                    info.st_size if kind != "directory" else 0,
                    int(info.st_mtime) if kind == "regular file" else 0,
                    f"'/{path.relative_to(root)}' -> '{os.readlink(path)}'"
                    if kind == "symbolic link"
                    else "",
                )
    return found


@pytest.mark.docker
@pytest.mark.slow
def test_copy_matches_buildkit(
    tmp_path: Path, dockerd: DockerDaemon, busybox_image: str, busybox_rootfs_dir: Path
) -> None:
    ctx = make_context(tmp_path)
    _tar(ctx / "t.tar.gz", "w:gz")
    (ctx / "notar.gz").write_bytes(b"\x1f\x8b" + b"not really gzip")
    served = tmp_path / "srv"
    served.mkdir()
    (served / "hello.txt").write_text("hello\n")
    os.utime(served / "hello.txt", (1_200_000_000, 1_200_000_000))
    _tar(served / "t.tar.gz", "w:gz")
    server = _Server(served)
    try:
        steps = _steps(server.url)
        lines = [f"FROM {busybox_image}", _SETUP, *(line for line, _ in steps)]
        lines.append(
            "RUN find " + " ".join(f"/{r.strip('/')}*" for r in _ROOTS) + " | sort"
            " | xargs stat -c '%n|%a|%u:%g|%s|%Y|%F|%N'"
        )
        (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
        build = dockerd.buildkit_build(ctx, "--no-cache", network="host")
        theirs = _parse(build.stdout + build.stderr)

        root = tmp_path / "ours"
        shutil.copytree(busybox_rootfs_dir, root, symlinks=True)
        with open(root / "etc/passwd", "a") as passwd:
            passwd.write("app:x:1000:1000::/home/app:/bin/sh\nu2:x:2000:3000::/home/u2:/bin/sh\n")
        with open(root / "etc/group", "a") as group:
            group.write("app:x:1001:\n")
        (root / "exist").mkdir(mode=0o700)
        (root / "exist").chmod(0o700)
        (root / "e18").mkdir()
        (root / "w").mkdir()
        tree = context(ctx)
        for _, request in steps:
            if request is not None:
                apply_copy(tree, request, root)
    finally:
        server.close()
    ours = _ours(root)
    assert theirs, build.stdout[-3000:] + build.stderr[-3000:]
    assert ours == theirs
