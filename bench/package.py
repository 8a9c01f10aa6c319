"""Benchmark ``dockwright package`` against ko and against Docker BuildKit (pre-compiled binary).

    .venv/bin/python bench/package.py [--rounds 7] [--nochange 5] [--json FILE] [--profile]

Everything happens in a fresh directory under /tmp: a copy of examples/hello (a stdlib-only Go
HTTP server), a small base image made by hand (bench/_oci.py), a private registry (for ko's
base), a private dockerd (for BuildKit) and private Go/dockwright caches. All three tools build
that copy, with the same Go flags (-trimpath, -ldflags "-s -w", CGO_ENABLED=0) and onto the
same base:

  ko            ko build --push=false --oci-layout-path DIR --sbom=none (base pulled from the
                local registry, as ko always does)
  docker        go build on the host + DOCKER_BUILDKIT=1 docker build of a FROM base / COPY hello
                / ENTRYPOINT Dockerfile (the "pre-compiled binary" approach)
  dockwright    dockwright package --base oci:BASE -t hello:bench  (result in its local store)
  dockwright-oci   the same plus --output type=oci,dest=DIR,tar=false (what ko writes)

"Edit" builds: before *each* timed build the file main.go gets a new ``buildSerial`` string, so
every tool compiles package main and links a new binary (a comment would leave the binary
alone; a shared edit would let the second tool reuse the first one's compile). Each tool gets
one untimed warm-up build, then the tools take turns in an order that rotates every round.
"No change" builds: each tool builds once untimed, then again without any edit.

Targets (from the issue): edit rebuild dockwright-oci ≤ 1.0 × ko and dockwright ≤ 0.7 ×
docker (medians); no-change dockwright ≤ 0.3 s; dockwright image ≤ 1.02 × (stripped binary +
base), uncompressed. Exit status 1 when a target fails, 2 when the benchmark itself fails.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING or __package__:
    from bench import _oci, _services
else:  # run as a script (python bench/package.py): its folder is sys.path[0]
    import _oci
    import _services

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "hello"
BASE_REF = "base"
TAG = "hello:bench"
GO_LDFLAGS = "-s -w"
DOCKERFILE = """\
FROM base:latest
COPY hello /usr/local/bin/hello
ENTRYPOINT ["/usr/local/bin/hello"]
"""
SERIAL_CODE = """
// buildSerial is rewritten by bench/package.py before each timed build, so the binary changes.
var buildSerial = "{serial}"

func init() {{
	if os.Getenv("HELLO_PRINT_SERIAL") != "" {{
		fmt.Println("build", buildSerial)
	}}
}}
"""
SERIAL_RE = re.compile(r'var buildSerial = "[0-9A-Za-z-]*"')
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")

TARGET_EDIT_VS_KO = 1.0
TARGET_EDIT_VS_DOCKER = 0.7
TARGET_NOCHANGE_SECONDS = 0.3
TARGET_SIZE_SLACK = 1.02


class BenchError(RuntimeError):
    """The benchmark could not measure something (a tool failed, a service did not start)."""


# -- running things ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ran:
    """A finished command: wall time and output."""

    seconds: float
    stdout: str
    stderr: str


def run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 900,
) -> Ran:
    """Run ``cmd``, timing its wall clock from fork to exit; raise on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.run(
        list(cmd),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(
            f"`{' '.join(cmd)}` exited {proc.returncode} after {seconds:.2f}s\n"
            f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
        )
    return Ran(seconds, proc.stdout, proc.stderr)


def tool_version(cmd: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """First line of a ``--version``-like command, or why it failed."""
    try:
        proc = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=60, check=False, env=env
        )
    except OSError as exc:
        return f"unavailable ({exc})"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0] if lines else f"exit {proc.returncode}"


# -- the source copy ---------------------------------------------------------------------------


class Source:
    """The copy of examples/hello the tools build; :meth:`edit` changes main.go's serial."""

    def __init__(self, root: Path) -> None:
        shutil.copytree(EXAMPLE, root)
        self.root = root
        self.main_go = root / "main.go"
        self.count = 0
        text = self.main_go.read_text()
        if SERIAL_RE.search(text) is None:
            text = text.rstrip("\n") + "\n" + SERIAL_CODE.format(serial="000000")
        self.main_go.write_text(text)

    @property
    def serial(self) -> str:
        """The serial now in main.go (fixed width, so every binary has the same size)."""
        return f"{self.count:06d}"

    def edit(self) -> str:
        """Give main.go a new ``buildSerial``; return it."""
        self.count += 1
        text = self.main_go.read_text()
        new, n = SERIAL_RE.subn(f'var buildSerial = "{self.serial}"', text)
        if n != 1:
            raise BenchError(f"{self.main_go}: buildSerial line not found")
        self.main_go.write_text(new)
        return self.serial


# -- the tools ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Build:
    """One build by one tool: wall time, the image it produced and where its time went."""

    tool: str
    seconds: float
    digest: str
    steps: Mapping[str, float] = field(default_factory=dict)
    note: str = ""


class Tool(Protocol):
    """Something that turns the current source into an image."""

    @property
    def name(self) -> str:
        """Short name for tables."""
        ...

    def build(self) -> Build:
        """Build once; the returned seconds are the wall time of the whole user-visible step."""
        ...


@dataclass
class Ko:
    """``ko build`` writing an OCI layout (no push), base pulled from the local registry."""

    ko: str
    src: Path
    layout: Path
    env: Mapping[str, str]
    name: str = "ko"

    def build(self) -> Build:
        """Run ko once."""
        cmd = [
            self.ko,
            "build",
            "./",
            "--bare",
            "--push=false",
            f"--oci-layout-path={self.layout}",
            "--platform=linux/amd64",
            "--sbom=none",
            f"--ldflags={GO_LDFLAGS}",
        ]
        ran = run(cmd, env=self.env, cwd=self.src)
        found = DIGEST_RE.findall(ran.stdout)
        if not found:
            raise BenchError(f"ko printed no digest:\n{ran.stdout}\n{ran.stderr[-2000:]}")
        return Build(self.name, ran.seconds, found[-1])


@dataclass
class Docker:
    """``go build`` on the host, then BuildKit copies the binary onto the base."""

    go: str
    daemon: _services.Dockerd
    src: Path
    context: Path
    env: Mapping[str, str]
    name: str = "docker"

    def build(self) -> Build:
        """Compile, then ``docker build``; both are timed, the sum is the figure."""
        binary = self.context / "hello"
        go = run(
            [self.go, "build", "-trimpath", f"-ldflags={GO_LDFLAGS}", "-o", str(binary), "."],
            env=self.env,
            cwd=self.src,
        )
        iidfile = self.context.parent / "docker.iid"
        docker_env = self.daemon.env(DOCKER_BUILDKIT="1")
        built = run(
            self.daemon.command(
                "build", "--progress=plain", "-t", TAG, "--iidfile", str(iidfile), str(self.context)
            ),
            env=docker_env,
        )
        digest = iidfile.read_text().strip()
        return Build(
            self.name,
            go.seconds + built.seconds,
            digest,
            {"go build": go.seconds, "docker build": built.seconds},
        )


_EVENT_SECONDS = re.compile(r"\(([0-9.]+)s\)\s*$")


@dataclass
class Dockwright:
    """``dockwright package``, timed as a subprocess's wall time (Python start-up included)."""

    command: Sequence[str]
    src: Path
    home: Path
    env: Mapping[str, str]
    output: Path | None = None
    name: str = "dockwright"
    base_layout: Path = field(default_factory=Path)
    # Bytecode: an installed dockwright has .pyc files (pip compiles them); this source checkout
    # may run with PYTHONDONTWRITEBYTECODE=1, so the benchmark keeps them under pycache instead.
    pycache: Path | None = None

    def argv(self, base_layout: Path) -> list[str]:
        """The command line (the base is the benchmark's OCI layout)."""
        cmd = [
            *self.command,
            "package",
            str(self.src),
            "--base",
            f"oci:{base_layout}:{BASE_REF}",
            "-t",
            TAG,
        ]
        if self.output is not None:
            cmd += ["--output", f"type=oci,dest={self.output},tar=false"]
        return cmd

    def run_env(self) -> dict[str, str]:
        """The environment: the benchmark's Go settings, a private store, and bytecode caching
        in ``pycache`` (or none at all when ``pycache`` is None)."""
        env = {k: v for k, v in self.env.items() if not k.startswith("PYTHONPYCACHEPREFIX")}
        env["DOCKWRIGHT_HOME"] = str(self.home)
        if self.pycache is None:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        return env

    def build(self) -> Build:
        """Run dockwright once; split its time using the progress events it prints."""
        ran = run(self.argv(self.base_layout), env=self.run_env())
        match = re.search(r"\b(?:image|index) (sha256:[0-9a-f]{64})", ran.stdout)
        digest = match.group(1) if match else ""
        if not digest:
            found = DIGEST_RE.findall(ran.stdout + ran.stderr)
            digest = found[-1] if found else ""
        steps: dict[str, float] = {}
        for line in ran.stderr.splitlines():
            seconds = _EVENT_SECONDS.search(line)
            if seconds is None:
                continue
            if "compiled" in line:
                steps["go build"] = float(seconds.group(1))
            elif "image sha256:" in line or "index sha256:" in line:
                steps["package()"] = float(seconds.group(1))
        if "package()" in steps:
            steps["outside package()"] = ran.seconds - steps["package()"]
        note = "unchanged" if "(unchanged)" in ran.stdout else ""
        if "(compiled)" in ran.stdout:
            note = "compiled"
        return Build(self.name, ran.seconds, digest, steps, note)


# -- bookkeeping -------------------------------------------------------------------------------


@dataclass
class Phases:
    """Wall time per phase of the benchmark, for "where the time went"."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        print(f"-- {name} ...", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


@dataclass
class Series:
    """Builds of one tool in one scenario."""

    builds: list[Build] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        """Wall times in seconds."""
        return [b.seconds for b in self.builds]

    @property
    def median(self) -> float:
        """Median wall time."""
        return statistics.median(self.times)

    def step_medians(self) -> dict[str, float]:
        """Median of each named step over the builds that report it."""
        names: dict[str, list[float]] = {}
        for b in self.builds:
            for step, secs in b.steps.items():
                names.setdefault(step, []).append(secs)
        return {step: statistics.median(vals) for step, vals in names.items()}

    def as_json(self) -> dict[str, object]:
        """Figures for --json."""
        return {
            "median_s": self.median,
            "min_s": min(self.times),
            "max_s": max(self.times),
            "samples_s": self.times,
            "steps_median_s": self.step_medians(),
            "digests": [b.digest for b in self.builds],
        }


@dataclass(frozen=True, slots=True)
class Target:
    """One line of the issue's "Done when"."""

    name: str
    value: float | None  # None: not measured (counts as a failure)
    limit: float
    unit: str
    detail: str

    @property
    def ok(self) -> bool:
        """Whether the figure was measured and is within the limit."""
        return self.value is not None and self.value <= self.limit


class Cleanup:
    """Stops services and removes the work dir once, from ``finally``, atexit or a signal."""

    def __init__(self) -> None:
        self.services: list[_services.Registry | _services.Dockerd] = []
        self.work: Path | None = None
        self.keep = False
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception as exc:  # cleanup must go on
                print(f"warning: stopping {type(service).__name__}: {exc}", file=sys.stderr)
        if self.work is not None and self.work.exists():
            if self.keep:
                print(f"kept {self.work}", file=sys.stderr)
            else:
                shutil.rmtree(self.work, ignore_errors=True)


# -- measuring ---------------------------------------------------------------------------------


def base_env(work: Path, gocache: Path) -> dict[str, str]:
    """Environment shared by every tool: a hermetic Go setup with the benchmark's caches."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GO", "KO_", "DOCKWRIGHT_", "DOCKER_")) and k != "CGO_ENABLED"
    }
    extra_path = ["/usr/local/go/bin", str(Path.home() / "go" / "bin")]
    env["PATH"] = os.pathsep.join([env.get("PATH", ""), *extra_path]).strip(os.pathsep)
    env.update(
        {
            "GOCACHE": str(gocache),
            "GOPATH": str(work / "gopath"),
            "GOTOOLCHAIN": "local",
            "GOPROXY": "off",
            "GOFLAGS": "",
            "CGO_ENABLED": "0",
        }
    )
    return env


def check_changed(series: Series, first: str) -> None:
    """Every edit build must give a new image: else the edit did not reach the binary."""
    previous = first
    for b in series.builds:
        if b.digest and b.digest == previous:
            raise BenchError(f"{b.tool}: an edit left the image unchanged ({b.digest})")
        previous = b.digest or previous


def layer_binary_sha(layout: Path, image: _oci.ImageSize) -> tuple[str, int]:
    """sha256 and size of the largest regular file in the image's last layer (the binary)."""
    last = image.layers[-1]
    algorithm, _, hexdigest = last.digest.partition(":")
    with tarfile.open(layout / "blobs" / algorithm / hexdigest) as tar:
        members = [m for m in tar.getmembers() if m.isreg()]
        if not members:
            return "", 0
        biggest = max(members, key=lambda m: m.size)
        handle = tar.extractfile(biggest)
        assert handle is not None
        return hashlib.sha256(handle.read()).hexdigest(), biggest.size


def file_sha(path: Path) -> str:
    """sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fmt_s(seconds: float) -> str:
    """Seconds, 3 decimals."""
    return f"{seconds:7.3f}s"


def mb(size: int) -> str:
    """Bytes as decimal MB with the exact count."""
    return f"{size / 1e6:8.3f} MB ({size} B)"


@dataclass(frozen=True, slots=True)
class Breakdown:
    """One in-process ``dockwright package`` run (bench/_profile_dw.py): where it spent time."""

    imports_s: float
    main_s: float
    spots: list[tuple[str, float, int]]  # label, wall seconds, calls
    cprofile: str


@dataclass(frozen=True, slots=True)
class Profile:
    """Where ``dockwright package`` spends its time, edited and unchanged."""

    python_startup_s: float  # median wall time of `python -c pass`
    import_total_ms: float
    import_top: list[tuple[float, str]]  # cumulative ms and name ("  "-indented by depth)
    nochange: Breakdown | None
    edit: Breakdown | None
    errors: list[str]


def _python_for(tool: Dockwright) -> str:
    venv_python = REPO / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.is_file() else sys.executable


def _breakdown(tool: Dockwright, work: Path, label: str, errors: list[str]) -> Breakdown | None:
    import io
    import pstats

    out = work / f"profile-{label}.json"
    pstats_file = work / f"profile-{label}.pstats"
    driver = Path(__file__).resolve().parent / "_profile_dw.py"
    module_args = tool.argv(tool.base_layout)[len(tool.command) :]
    proc = subprocess.run(
        [
            _python_for(tool),
            str(driver),
            str(out),
            "--cprofile",
            str(pstats_file),
            "--",
            *module_args,
        ],
        env=tool.run_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not out.exists():
        errors.append(f"{label}: profile driver exited {proc.returncode}: {proc.stderr[-1500:]}")
        return None
    data = json.loads(out.read_text())
    buf = io.StringIO()
    stats = pstats.Stats(str(pstats_file), stream=buf)
    stats.sort_stats("tottime").print_stats(12)
    text = buf.getvalue()
    # Keep the table, drop pstats' preamble (date, file name).
    table = text[text.find("   ncalls") :] if "   ncalls" in text else text
    return Breakdown(
        float(data["imports_s"]),
        float(data["main_s"]),
        [(str(s["label"]), float(s["wall_s"]), int(s["calls"])) for s in data["spots"]],
        table,
    )


def profile_dockwright(tool: Dockwright, work: Path, src: Source) -> Profile:
    """Profile ``dockwright package``: interpreter start-up, imports (-X importtime, no-change
    run), and in-process breakdowns of a no-change run and of a run after an edit."""
    python = _python_for(tool)
    env = tool.run_env()
    startups = []
    for _ in range(5):
        startups.append(run([python, "-c", "pass"], env=env).seconds)
    module_args = tool.argv(tool.base_layout)[len(tool.command) :]
    tool.build()  # the source may have changed since this tool last built it
    proc = subprocess.run(
        [python, "-X", "importtime", "-m", "dockwright", *module_args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    total_ms = 0.0
    nested: list[tuple[float, str]] = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m is None:
            continue
        depth = (len(m.group(3)) - 1) // 2
        cumulative_ms = int(m.group(2)) / 1000
        if depth == 0:
            total_ms += cumulative_ms
        nested.append((cumulative_ms, "  " * depth + m.group(4)))
    errors: list[str] = []
    nochange = _breakdown(tool, work, "nochange", errors)
    src.edit()
    edit = _breakdown(tool, work, "edit", errors)
    return Profile(
        statistics.median(startups),
        total_ms,
        sorted(nested, reverse=True)[:14],
        nochange,
        edit,
        errors,
    )


@dataclass
class Sizes:
    """The size figures: the stripped binary, the base and the images."""

    binary: int
    binary_sha256: str
    base: _oci.ImageSize
    dockwright: _oci.ImageSize | None = None
    dockwright_binary_sha256: str = ""
    ko: _oci.ImageSize | None = None
    ko_binary_sha256: str = ""
    docker_inspect_size: int | None = None

    def as_json(self) -> dict[str, object]:
        """Figures for --json."""

        def image(img: _oci.ImageSize | None) -> dict[str, object] | None:
            if img is None:
                return None
            return {
                "manifest": img.manifest_digest,
                "config": img.config_size,
                "layers_compressed": img.layers_compressed,
                "layers_uncompressed": img.layers_uncompressed,
                "layers": [
                    {"digest": la.digest, "size": la.size, "uncompressed": la.uncompressed}
                    for la in img.layers
                ],
            }

        return {
            "binary": self.binary,
            "binary_sha256": self.binary_sha256,
            "base": image(self.base),
            "dockwright": image(self.dockwright),
            "dockwright_binary_sha256": self.dockwright_binary_sha256,
            "ko": image(self.ko),
            "ko_binary_sha256": self.ko_binary_sha256,
            "docker_image_inspect_size": self.docker_inspect_size,
        }


@dataclass
class Results:
    """Everything one run measured."""

    rounds: int
    versions: dict[str, str] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=dict)
    edit: dict[str, Series] = field(default_factory=dict)
    nochange: dict[str, Series] = field(default_factory=dict)
    sizes: Sizes | None = None
    profile: Profile | None = None


TOOL_NAMES = ("docker", "ko", "dockwright", "dockwright-oci")


def dockwright_command(explicit: str | None) -> list[str]:
    """How to run dockwright: --dockwright, the venv's script, or ``python -m dockwright``."""
    if explicit:
        return explicit.split()
    script = REPO / ".venv" / "bin" / "dockwright"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "dockwright"]


def rotated(tools: Sequence[Tool], turn: int) -> list[Tool]:
    """``tools`` starting at a different one each turn, so none is always first."""
    k = turn % len(tools)
    return [*tools[k:], *tools[:k]]


def measure(args: argparse.Namespace, cleanup: Cleanup, phases: Phases) -> Results:
    """Set everything up, run every scenario and return the figures."""
    wanted = set(args.tools)
    work = Path(tempfile.mkdtemp(prefix="dwb-", dir="/tmp"))
    cleanup.work = work
    cleanup.keep = args.keep
    gocache = Path(args.gocache).resolve() if args.gocache else work / "gocache"
    env = base_env(work, gocache)
    go = shutil.which("go", path=env["PATH"])
    if go is None:
        raise BenchError("go not found on PATH or in /usr/local/go/bin")
    ko = shutil.which("ko", path=env["PATH"])
    if ko is None and "ko" in wanted:
        raise BenchError("ko not found: GOBIN=/root/go/bin go install github.com/google/ko@latest")
    skopeo = _services.find_tool("skopeo", "apt-get install -y skopeo")
    dw_cmd = dockwright_command(args.dockwright)
    results = Results(rounds=args.rounds)

    with phases("setup: source copy, base image, registry, dockerd"):
        src = Source(work / "src" / "hello")
        base_layout = work / "base"
        base = _oci.make_base_layout(base_layout, BASE_REF)
        context = work / "docker-ctx"
        context.mkdir()
        (context / "Dockerfile").write_text(DOCKERFILE)
        tools: list[Tool] = []
        if "docker" in wanted:
            daemon = _services.Dockerd(work / "d")
            cleanup.services.append(daemon)
            daemon.start()
            archive = work / "base.tar"
            run(
                [
                    skopeo,
                    "copy",
                    "--quiet",
                    f"oci:{base_layout}:{BASE_REF}",
                    f"docker-archive:{archive}:base:latest",
                ],
                env=env,
            )
            daemon.run("load", "-i", str(archive))
            tools.append(Docker(go, daemon, src.root, context, env))
            results.versions["docker client"] = tool_version([_services.DOCKER_CLIENT, "--version"])
            results.versions["dockerd"] = (
                daemon.run("version", "--format", "{{.Server.Version}}").strip()
                + f" (storage driver {daemon.storage_driver})"
            )
        if "ko" in wanted and ko is not None:
            registry = _services.Registry(work / "reg")
            cleanup.services.append(registry)
            registry.start()
            run(
                [
                    skopeo,
                    "copy",
                    "--quiet",
                    "--dest-tls-verify=false",
                    f"oci:{base_layout}:{BASE_REF}",
                    f"docker://{registry.host}/base:latest",
                ],
                env=env,
            )
            ko_env = {
                **env,
                "KO_DOCKER_REPO": f"{registry.host}/hello",
                "KO_DEFAULTBASEIMAGE": f"{registry.host}/base:latest",
            }
            tools.append(Ko(ko, src.root, work / "ko-layout", ko_env))
            results.versions["ko"] = tool_version([ko, "version"], env)
        pycache = work / "pycache"
        dw = Dockwright(
            dw_cmd, src.root, work / "dw-home", env, base_layout=base_layout, pycache=pycache
        )
        dw_oci = Dockwright(
            dw_cmd,
            src.root,
            work / "dw-oci-home",
            env,
            output=work / "dw-layout",
            name="dockwright-oci",
            base_layout=base_layout,
            pycache=pycache,
        )
        # Context only: the no-change run without any .pyc (every module compiled each run).
        dw_nopyc = Dockwright(
            dw_cmd,
            src.root,
            work / "dw-home",
            env,
            name="dockwright-nopyc",
            base_layout=base_layout,
            pycache=None,
        )
        if "dockwright" in wanted:
            tools.append(dw)
        if "dockwright-oci" in wanted:
            tools.append(dw_oci)
        if {"dockwright", "dockwright-oci"} & wanted:
            results.versions["dockwright"] = tool_version([*dw_cmd, "--version"], env)
        results.versions["go"] = tool_version([go, "version"], env)
        results.versions["python"] = sys.version.split()[0]
        results.machine = {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "loadavg_start": os.getloadavg()[0],
        }
    if not tools:
        raise BenchError("no tool selected")

    first_digest: dict[str, str] = {}
    with phases(f"warm-up: {args.warmup} untimed edit build(s) per tool"):
        for _ in range(args.warmup):
            for tool in tools:
                src.edit()
                b = tool.build()
                first_digest[tool.name] = b.digest
                print(f"   warm-up   {tool.name:<15} {fmt_s(b.seconds)}", file=sys.stderr)

    results.edit = {t.name: Series() for t in tools}
    with phases(f"edit rebuilds: {args.rounds} rounds x {len(tools)} tools"):
        for rnd in range(args.rounds):
            for tool in rotated(tools, rnd):
                serial = src.edit()
                b = tool.build()
                results.edit[tool.name].builds.append(b)
                print(
                    f"   round {rnd + 1:<3} {tool.name:<15} {fmt_s(b.seconds)}  "
                    f"serial {serial} {b.note}",
                    file=sys.stderr,
                )
    for name, series in results.edit.items():
        check_changed(series, first_digest.get(name, ""))

    nochange_tools = [*tools, dw_nopyc] if dw in tools else tools
    results.nochange = {t.name: Series() for t in nochange_tools}
    with phases(f"no-change rebuilds: 1 untimed + {args.nochange} per tool"):
        primed = {tool.name: tool.build().digest for tool in nochange_tools}
        for i in range(args.nochange):
            for tool in rotated(nochange_tools, i):
                b = tool.build()
                results.nochange[tool.name].builds.append(b)
                if b.digest != primed[tool.name]:
                    raise BenchError(
                        f"{tool.name}: a no-change build gave another image "
                        f"({b.digest or '?'} after {primed[tool.name] or '?'})"
                    )
                print(f"   no-change {tool.name:<15} {fmt_s(b.seconds)} {b.note}", file=sys.stderr)

    with phases("sizes"):
        binary = context / "hello"
        if not binary.exists():
            # No docker tool: make the reference binary exactly as the docker path would.
            run(
                [go, "build", "-trimpath", f"-ldflags={GO_LDFLAGS}", "-o", str(binary), "."],
                env=env,
                cwd=src.root,
            )
        sizes = Sizes(binary.stat().st_size, file_sha(binary), base)
        if "dockwright-oci" in wanted and dw_oci.output is not None:
            sizes.dockwright = _oci.layout_image_size(dw_oci.output, digest=primed[dw_oci.name])
            sizes.dockwright_binary_sha256 = layer_binary_sha(dw_oci.output, sizes.dockwright)[0]
        if "ko" in wanted:
            sizes.ko = _oci.layout_image_size(work / "ko-layout", digest=primed["ko"])
            sizes.ko_binary_sha256 = layer_binary_sha(work / "ko-layout", sizes.ko)[0]
        for service in cleanup.services:
            if isinstance(service, _services.Dockerd):
                inspect = service.run("image", "inspect", "--format", "{{.Size}}", TAG)
                sizes.docker_inspect_size = int(inspect.strip())
        results.sizes = sizes

    if args.profile and "dockwright" in wanted:
        with phases("profile of dockwright package (no-change and edit)"):
            results.profile = profile_dockwright(dw, work, src)

    results.machine["loadavg_end"] = os.getloadavg()[0]
    return results


# -- reporting ---------------------------------------------------------------------------------


def _median(series: Mapping[str, Series], name: str) -> float | None:
    found = series.get(name)
    return found.median if found is not None and found.builds else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b is not None and b > 0 else None


def targets_for(results: Results) -> list[Target]:
    """The issue's four targets, from the measured figures (None where not measured)."""
    ko = _median(results.edit, "ko")
    docker = _median(results.edit, "docker")
    dw = _median(results.edit, "dockwright")
    dw_oci = _median(results.edit, "dockwright-oci")
    targets = [
        Target(
            "edit rebuild: dockwright-oci / ko",
            _ratio(dw_oci, ko),
            TARGET_EDIT_VS_KO,
            "x",
            f"{dw_oci or 0:.3f}s / {ko or 0:.3f}s, medians",
        ),
        Target(
            "edit rebuild: dockwright / docker",
            _ratio(dw, docker),
            TARGET_EDIT_VS_DOCKER,
            "x",
            f"{dw or 0:.3f}s / {docker or 0:.3f}s, medians",
        ),
        Target(
            "no-change rebuild: dockwright",
            _median(results.nochange, "dockwright"),
            TARGET_NOCHANGE_SECONDS,
            "s",
            "median wall time of the whole command",
        ),
    ]
    sizes = results.sizes
    if sizes is not None and sizes.dockwright is not None:
        image_u = sizes.dockwright.layers_uncompressed + sizes.dockwright.config_size
        budget = sizes.binary + sizes.base.layers_uncompressed
        detail = (
            f"{image_u} B vs {budget} B, limit {budget * TARGET_SIZE_SLACK:.0f} B; "
            "image = layers + config"
        )
        targets.append(
            Target(
                "image size, uncompressed: image / (binary + base)",
                image_u / budget,
                TARGET_SIZE_SLACK,
                "x",
                detail,
            )
        )
    else:
        targets.append(
            Target("image size, uncompressed", None, TARGET_SIZE_SLACK, "x", "not measured")
        )
    return targets


def _series_table(title: str, series: Mapping[str, Series]) -> None:
    print(title)
    print(f"  {'tool':<17} {'median':>8} {'min':>8} {'max':>8}   steps (medians)")
    for name, s in series.items():
        steps = ", ".join(f"{k} {v:.3f}s" for k, v in s.step_medians().items())
        print(
            f"  {name:<17} {fmt_s(s.median)} {fmt_s(min(s.times))} {fmt_s(max(s.times))}   {steps}"
        )


def _print_sizes(sizes: Sizes) -> None:
    def row(label: str, size: int) -> None:
        print(f"  {label:<54} {mb(size)}")

    print("Sizes (bytes; MB = 10^6 B)")
    row("stripped binary (go build -trimpath -ldflags='-s -w')", sizes.binary)
    base = sizes.base
    row("base: layers, compressed", base.layers_compressed)
    row("base: layers, uncompressed (gunzipped tar)", base.layers_uncompressed)
    for name, img, sha in (
        ("dockwright", sizes.dockwright, sizes.dockwright_binary_sha256),
        ("ko", sizes.ko, sizes.ko_binary_sha256),
    ):
        if img is None:
            continue
        comp = img.layers_compressed + img.config_size
        unc = img.layers_uncompressed + img.config_size
        row(f"{name}: image, compressed (layers + config)", comp)
        row(f"{name}: image, uncompressed (layers + config)", unc)
        for i, layer in enumerate(img.layers):
            print(
                f"      layer {i}: {layer.size:>9} B gz, {layer.uncompressed:>9} B tar  "
                f"{layer.digest[:19]}"
            )
        print(f"      config {img.config_size} B; manifest {img.manifest_digest}")
        same = "yes" if sha == sizes.binary_sha256 else "NO"
        print(f"      binary in its last layer byte-identical to the stripped binary: {same}")
        budget_u = sizes.binary + base.layers_uncompressed
        budget_c = sizes.binary + base.layers_compressed
        print(
            f"      image / (binary + base): uncompressed {unc / budget_u:.4f}x, "
            f"compressed {comp / budget_c:.4f}x"
        )
    if sizes.docker_inspect_size is not None:
        row("docker: `image inspect` .Size (sum of file sizes)", sizes.docker_inspect_size)


def _print_profile(prof: Profile) -> None:
    print("Where dockwright's own time goes (bench/_profile_dw.py runs its CLI in-process)")
    print(
        f"  python start-up (`python -c pass`, median of 5): {prof.python_startup_s * 1e3:.1f} ms"
    )
    print(
        f"  imports of a no-change run (-X importtime): {prof.import_total_ms:.1f} ms in all; "
        "largest subtrees (cumulative, indented by depth):"
    )
    for ms, name in prof.import_top:
        print(f"    {ms:7.1f} ms  {name}")
    for title, bd in (("no-change run", prof.nochange), ("run after an edit", prof.edit)):
        if bd is None:
            continue
        print(
            f"  {title}: importing the CLI {bd.imports_s * 1e3:.1f} ms, then cli.main() "
            f"{bd.main_s * 1e3:.1f} ms, of which (wall, nested by indent):"
        )
        for label, secs, calls in bd.spots:
            if calls:
                print(
                    f"    {secs * 1e3:8.1f} ms  {label}"
                    + (f"  ({calls} calls)" if calls > 1 else "")
                )
        print("    cProfile of cli.main(), all threads, by own time:")
        for line in bd.cprofile.rstrip().splitlines():
            print(f"      {line}")
    for error in prof.errors:
        print(f"  profile error: {error}")


def report(results: Results, phases: Phases, total: float) -> list[Target]:
    """Print every figure, the ratios and a PASS/FAIL line per target."""
    print("dockwright package benchmark (bench/package.py)")
    for key, value in results.versions.items():
        print(f"  {key:<14} {value}")
    m = results.machine
    print(
        f"  machine        {m.get('cpus')} CPUs, kernel {m.get('kernel')}, 1-min load "
        f"{m.get('loadavg_start', 0.0):.2f} at start, {m.get('loadavg_end', 0.0):.2f} at end"
    )
    print(
        "  notes          one base and one set of Go flags (-trimpath -ldflags='-s -w', "
        "CGO_ENABLED=0) for all;\n"
        "                 ko: --sbom=none (dockwright makes no SBOM), base pulled from a "
        "registry on 127.0.0.1;\n"
        "                 docker: host go build + DOCKER_BUILDKIT=1 docker build (COPY of the "
        "binary), both timed"
    )
    print()
    _series_table(
        f"Rebuild after editing main.go (median of {results.rounds} rounds, order rotated)",
        results.edit,
    )
    for name in ("dockwright", "dockwright-oci"):
        mine = _median(results.edit, name)
        ratios = []
        for other in ("ko", "docker"):
            r = _ratio(mine, _median(results.edit, other))
            if r is not None:
                ratios.append(f"{name} / {other} = {r:.3f}x")
        if ratios:
            print("  " + "   ".join(ratios))
    print()
    counts = {len(s.builds) for s in results.nochange.values()}
    _series_table(f"Rebuild with nothing changed (median of {max(counts)})", results.nochange)
    print()
    if results.sizes is not None:
        _print_sizes(results.sizes)
        print()
    print("Where the benchmark's time went")
    for name, secs in phases.seconds.items():
        print(f"  {fmt_s(secs)}  {name}")
    print(f"  {fmt_s(total)}  total")
    if results.profile is not None:
        print()
        _print_profile(results.profile)
    print()
    targets = targets_for(results)
    for t in targets:
        if t.value is None:
            print(f"FAIL  {t.name}: not measured ({t.detail})")
            continue
        verdict = "PASS" if t.ok else "FAIL"
        print(f"{verdict}  {t.name}: {t.value:.3f}{t.unit} (limit {t.limit}{t.unit}; {t.detail})")
    return targets


def _profile_json(prof: Profile | None) -> dict[str, object] | None:
    if prof is None:
        return None

    def bd(b: Breakdown | None) -> dict[str, object] | None:
        if b is None:
            return None
        return {
            "imports_s": b.imports_s,
            "main_s": b.main_s,
            "spots": [{"label": la.strip(), "wall_s": s, "calls": c} for la, s, c in b.spots],
        }

    return {
        "python_startup_s": prof.python_startup_s,
        "import_total_ms": prof.import_total_ms,
        "import_top": prof.import_top,
        "nochange": bd(prof.nochange),
        "edit": bd(prof.edit),
        "errors": prof.errors,
    }


def json_figures(results: Results, phases: Phases, targets: Sequence[Target]) -> dict[str, object]:
    """The figures for --json."""
    return {
        "rounds": results.rounds,
        "versions": results.versions,
        "machine": results.machine,
        "edit": {name: s.as_json() for name, s in results.edit.items()},
        "nochange": {name: s.as_json() for name, s in results.nochange.items()},
        "sizes": results.sizes.as_json() if results.sizes is not None else None,
        "phases_s": phases.seconds,
        "profile": _profile_json(results.profile),
        "targets": [
            {"name": t.name, "value": t.value, "limit": t.limit, "unit": t.unit, "pass": t.ok}
            for t in targets
        ],
        "pass": all(t.ok for t in targets),
    }


def _tool_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = set(names) - set(TOOL_NAMES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown tool(s) {sorted(unknown)}; know {TOOL_NAMES}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every target is met, 1 when one is not, 2 on error."""
    parser = argparse.ArgumentParser(
        description="Benchmark dockwright package against ko and Docker BuildKit."
    )
    parser.add_argument("--rounds", type=int, default=7, help="edit rebuilds per tool (default 7)")
    parser.add_argument("--nochange", type=int, default=5, help="no-change rebuilds per tool")
    parser.add_argument("--warmup", type=int, default=1, help="untimed edit builds per tool")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--profile", action="store_true", help="profile a no-change dockwright")
    parser.add_argument("--keep", action="store_true", help="keep the work dir in /tmp")
    parser.add_argument("--gocache", metavar="DIR", help="use this GOCACHE (default: a fresh one)")
    parser.add_argument("--dockwright", metavar="CMD", help="the dockwright command to time")
    parser.add_argument(
        "--tools",
        type=_tool_list,
        default=list(TOOL_NAMES),
        help=f"comma-separated subset of {','.join(TOOL_NAMES)} (targets need all)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.nochange < 1 or args.warmup < 1:
        parser.error("--rounds, --nochange and --warmup must be at least 1")

    cleanup = Cleanup()
    atexit.register(cleanup)

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    phases = Phases()
    start = time.perf_counter()
    try:
        try:
            results = measure(args, cleanup, phases)
        finally:
            with phases("teardown: stop dockerd and registry, remove the work dir"):
                cleanup()
        targets = report(results, phases, time.perf_counter() - start)
    except (BenchError, _services.ServiceError, subprocess.TimeoutExpired) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        data = json_figures(results, phases, targets)
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    return 0 if all(t.ok for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
