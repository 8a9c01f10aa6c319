"""The three tools the benchmark times, the Go source they build, and the dockwright profiler."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench import _oci, _services
from bench._results import Breakdown, Build, Profile

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
    extra: Sequence[str] = ()  # more `package` flags (--dockwright-flags), for what-if runs

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
        return [*cmd, *self.extra]

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


def layer_binary_sha(layout: Path, image: _oci.ImageSize) -> tuple[str, int]:
    """sha256 and size of the largest regular file in the image's last layer (the binary)."""
    last = image.layers[-1]
    algorithm, _, hexdigest = last.digest.partition(":")
    path = layout / "blobs" / algorithm / hexdigest
    with _oci.open_layer(path, last.media_type) as stream:
        data = stream.read()  # a few MB: simpler than a typed streaming tar reader
    best = ("", -1)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            if member.isreg() and member.size > best[1]:
                handle = tar.extractfile(member)
                assert handle is not None
                best = (hashlib.sha256(handle.read()).hexdigest(), member.size)
    return best


def file_sha(path: Path) -> str:
    """sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
