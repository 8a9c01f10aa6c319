"""The stand-in base images and the Go program of bench/build.py, standard library only.

No public registry is reachable here, so ``golang`` and ``busybox`` are made on the spot and
written as docker-archive tars (what ``docker load``, ``buildah pull docker-archive:`` and
``dockwright copy docker-archive:`` all read):

  busybox   one layer: the host's static busybox, a symlink per applet in /bin, /etc/passwd,
            /etc/group, a 1777 /tmp, /root; PATH set, CMD sh.
  golang    the same busybox layer, then GOROOT (``go env GOROOT``) under /usr/local/go;
            PATH with /usr/local/go/bin, GOTOOLCHAIN=local, GOPROXY=off, GOFLAGS=-mod=mod
            (GOPATH left to its default $HOME/go = /root/go, where the Dockerfile's cache mount
            for the module cache is).

Layers are uncompressed tars, sorted, root-owned, dated 1970, so the same inputs give the same
diff IDs in every tool.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GO_PATH = "/usr/local/go/bin:" + DEFAULT_PATH
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"
_BUFFER = 1 << 20

DOCKERFILE = (
    """\
# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM golang AS build
WORKDIR /src
COPY go.mod ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/root/go/pkg/mod \\
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
"""
    + """go build -trimpath -ldflags="-s -w" -o /out/app .
FROM busybox
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
"""
)

GO_MOD = "module example.com/benchserver\n\ngo 1.21\n"

_MAIN_GO = """\
package main

import (
	"log"
	"net/http"
	"os"
)

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	mux := http.NewServeMux()
	routes(mux)
	log.Printf("listening on %s (%s)", addr, version)
	log.Fatal(http.ListenAndServe(addr, withLogging(mux)))
}
"""

_HANDLERS_GO = """\
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

func routes(mux *http.ServeMux) {
	mux.HandleFunc("/", hello)
	mux.HandleFunc("/healthz", healthz)
	mux.HandleFunc("/echo", echo)
}

func hello(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.URL.Query().Get("name"))
	if name == "" {
		name = "world"
	}
	fmt.Fprintf(w, "hello, %s\\n", name)
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	status := map[string]any{"ok": true, "version": version, "at": time.Now().UTC()}
	_ = json.NewEncoder(w).Encode(status)
}

func echo(w http.ResponseWriter, r *http.Request) {
	defer r.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}
"""

_MIDDLEWARE_GO = """\
package main

import (
	"log"
	"net/http"
	"time"
)

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func withLogging(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.Printf("%s %s %d %s", r.Method, r.URL.Path, sw.status, time.Since(start))
	})
}
"""

EDITED_FILE = "version.go"
_VERSION_GO = """\
package main

// version is rewritten by bench/build.py before each timed edit build, so the binary changes.
var version = "{serial}"
"""


def buildkit_dockerfile() -> str:
    """The Dockerfile without its ``# syntax=`` line: that line makes BuildKit fetch the
    docker/dockerfile frontend image from Docker Hub, unreachable here, so BuildKit uses the
    frontend built into dockerd (which knows RUN --mount) instead."""
    return "".join(
        line for line in DOCKERFILE.splitlines(keepends=True) if not line.startswith("# syntax=")
    )


def write_dockerfiles(folder: Path) -> tuple[Path, Path]:
    """Write ``Dockerfile`` (as the issue gives it) and ``Dockerfile.buildkit`` into ``folder``
    (outside the context, so ``COPY . .`` takes the Go files only)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "Dockerfile.buildkit").write_text(buildkit_dockerfile())
    return folder / "Dockerfile", folder / "Dockerfile.buildkit"


def write_program(context: Path, serial: str = "0") -> None:
    """Write the Go program (a small net/http server, stdlib only)."""
    context.mkdir(parents=True, exist_ok=True)
    (context / "go.mod").write_text(GO_MOD)
    (context / "main.go").write_text(_MAIN_GO)
    (context / "handlers.go").write_text(_HANDLERS_GO)
    (context / "middleware.go").write_text(_MIDDLEWARE_GO)
    edit_program(context, serial)


def edit_program(context: Path, serial: str) -> None:
    """Rewrite the one edited source file with a new ``version`` string."""
    (context / EDITED_FILE).write_text(_VERSION_GO.format(serial=serial))


# -- layers ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str  # no leading slash
    kind: bytes
    mode: int
    source: Path | None = None
    data: bytes = b""
    link: str = ""
    size: int = 0


def _busybox_entries(busybox: str) -> list[_Entry]:
    out = [
        _Entry(d, tarfile.DIRTYPE, 0o755)
        for d in ("bin", "etc", "home", "usr", "usr/bin", "var", "proc", "sys", "dev")
    ]
    out.append(_Entry("root", tarfile.DIRTYPE, 0o700))
    out.append(_Entry("tmp", tarfile.DIRTYPE, 0o1777))
    size = Path(busybox).stat().st_size
    out.append(_Entry("bin/busybox", tarfile.REGTYPE, 0o755, Path(busybox), size=size))
    applets = subprocess.run(
        [busybox, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in sorted(set(applets) - {"busybox"}):
        out.append(_Entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox"))
    for name, text in (("etc/passwd", _PASSWD), ("etc/group", _GROUP)):
        data = text.encode()
        out.append(_Entry(name, tarfile.REGTYPE, 0o644, data=data, size=len(data)))
    return out


def _tree_entries(root: Path, prefix: str) -> list[_Entry]:
    out: list[_Entry] = []
    parts = prefix.split("/")
    for depth in range(1, len(parts) + 1):
        out.append(_Entry("/".join(parts[:depth]), tarfile.DIRTYPE, 0o755))
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted([*dirs, *names]):
            path = Path(folder) / name
            image_name = f"{prefix}/{path.relative_to(root).as_posix()}"
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out.append(_Entry(image_name, tarfile.SYMTYPE, 0o777, link=os.readlink(path)))
            elif stat.S_ISDIR(st.st_mode):
                out.append(_Entry(image_name, tarfile.DIRTYPE, mode))
            elif stat.S_ISREG(st.st_mode):
                out.append(_Entry(image_name, tarfile.REGTYPE, mode, path, size=st.st_size))
    return out


class _HashingFile:
    """A write-only file that hashes what goes through it."""

    def __init__(self, path: Path) -> None:
        self.handle = path.open("wb")
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return self.handle.write(data)

    def close(self) -> None:
        self.handle.close()


def _write_layer(path: Path, entries: Sequence[_Entry]) -> str:
    """Write ``entries`` as an uncompressed tar at ``path``; return its diff ID."""
    sink = _HashingFile(path)
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_BUFFER) as tar:  # type: ignore[call-overload]
        for entry in sorted(entries, key=lambda e: e.name):
            info = tarfile.TarInfo(entry.name)
            info.type = entry.kind
            info.mode = entry.mode
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.linkname = entry.link
            if entry.kind == tarfile.REGTYPE:
                info.size = entry.size
                if entry.source is None:
                    tar.addfile(info, io.BytesIO(entry.data))
                else:
                    with entry.source.open("rb") as handle:
                        tar.addfile(info, handle)
            else:
                tar.addfile(info)
    sink.close()
    return "sha256:" + sink.hash.hexdigest()


@dataclass(frozen=True, slots=True)
class Archive:
    """A docker-archive tar holding one image tagged ``tag``."""

    path: Path
    tag: str
    layers: int
    size: int


def _write_archive(
    dest: Path, tag: str, layers: Sequence[Path], diff_ids: Sequence[str], env: Sequence[str]
) -> Archive:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Env": list(env), "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [
            {"created": "1970-01-01T00:00:00Z", "created_by": f"bench/build_images.py {p.name}"}
            for p in layers
        ],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_names = [f"{d.split(':', 1)[1]}/layer.tar" for d in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]

    def member(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        return info, io.BytesIO(data)

    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(*member(config_name, config_bytes))
        for name, layer in zip(layer_names, layers, strict=True):
            tar.add(layer, arcname=name)
        tar.addfile(*member("manifest.json", json.dumps(manifest).encode()))
    return Archive(dest, tag, len(layers), dest.stat().st_size)


def make_archives(work: Path, busybox: str, goroot: Path) -> tuple[Archive, Archive]:
    """Write ``busybox.tar`` and ``golang.tar`` (docker-archives) into ``work``."""
    layers = work / "layers"
    layers.mkdir(parents=True, exist_ok=True)
    bb_layer = layers / "busybox.tar"
    go_layer = layers / "goroot.tar"
    bb_id = _write_layer(bb_layer, _busybox_entries(busybox))
    go_id = _write_layer(go_layer, _tree_entries(goroot, "usr/local/go"))
    busybox_archive = _write_archive(
        work / "busybox.tar", "busybox:latest", [bb_layer], [bb_id], [f"PATH={DEFAULT_PATH}"]
    )
    golang_archive = _write_archive(
        work / "golang.tar",
        "golang:latest",
        [bb_layer, go_layer],
        [bb_id, go_id],
        [f"PATH={GO_PATH}", "GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=-mod=mod"],
    )
    for layer in (bb_layer, go_layer):
        layer.unlink()
    return busybox_archive, golang_archive


def iter_serials(start: int = 1) -> Iterator[str]:
    """``s000001``, ``s000002``, ...: a new version string per edit."""
    n = start
    while True:
        yield f"s{n:06d}"
        n += 1
