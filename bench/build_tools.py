"""The three builders bench/build.py times, and the memory monitor for dockwright's runs.

Each builder has its own, private state (dockerd data-root, buildah storage root, dockwright
store) that ``reset`` empties and re-seeds with the two base images (untimed), and a ``build``
that times one command line from fork to exit.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench import _services
from bench._results import Build
from bench._tools import BenchError, run
from bench.build_images import Archive

TAG = "app:bench"
_STEP_START = re.compile(r"^#(\d+) \[([^\]]+)\] (.*)$")
_STEP_DONE = re.compile(r"^#(\d+) (?:DONE|CACHED)(?: ([0-9.]+)s)?")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds of the live process tree under ``root``: each process's user + system time
    plus what its children that it reaped used (so nothing is counted twice)."""
    total = 0
    for pid in _tree(root):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / _CLK_TCK


def children_cpu() -> float:
    """User + system CPU seconds of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _read_iid(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def plain_steps(output: str) -> dict[str, float]:
    """Seconds per step from BuildKit-style ``--progress plain`` output (``#N [name] ...`` then
    ``#N DONE 1.2s``); step names are shortened to ``[name] INSTRUCTION``."""
    names: dict[str, str] = {}
    steps: dict[str, float] = {}
    for line in output.splitlines():
        start = _STEP_START.match(line)
        if start is not None:
            names[start.group(1)] = f"[{start.group(2)}] {start.group(3).split()[0]}"
            continue
        done = _STEP_DONE.match(line)
        if done is not None and done.group(2) is not None and done.group(1) in names:
            name = names[done.group(1)]
            steps[name] = steps.get(name, 0.0) + float(done.group(2))
    return steps


class Builder(Protocol):
    """One tool: fresh state on demand, and a timed build of the bench context."""

    name: str

    def reset(self) -> float:
        """Empty every cache and store of this tool, then load the two base images; return
        the seconds the loads took (not part of the cold build's time; printed beside it)."""

    def build(self) -> Build:
        """Build the context once, timed; the Build's digest is the image ID."""

    def cpu(self) -> float:
        """CPU seconds used so far by the command lines this builder runs and by any daemon
        doing the work for them (for a delta around one build)."""


@dataclass
class Docker:
    """``DOCKER_BUILDKIT=1 docker build`` against the benchmark's private dockerd."""

    daemon: _services.Dockerd
    context: Path
    dockerfile: Path
    archives: Sequence[Archive]
    work: Path
    name: str = "buildkit"

    def reset(self) -> float:
        """Remove the result image and prune the whole build cache (cache mounts included);
        (re)load the bases, which stay unpacked in dockerd's image store like the other
        tools' bases stay in theirs."""
        self.daemon.run("image", "rm", "-f", TAG, check=False)
        self.daemon.run("builder", "prune", "-af")
        self.daemon.run("image", "rm", "-f", *(a.tag for a in self.archives), check=False)
        start = time.perf_counter()
        for archive in self.archives:
            self.daemon.run("load", "-i", str(archive.path))
        return time.perf_counter() - start

    def build(self) -> Build:
        iid = self.work / "docker.iid"
        iid.unlink(missing_ok=True)
        cmd = [
            _services.DOCKER_CLIENT,
            "build",
            "--progress",
            "plain",
            "--network=host",  # dockerd runs without a bridge; dockwright's default is host too
            "--iidfile",
            str(iid),
            "-t",
            TAG,
            "-f",
            str(self.dockerfile),
            str(self.context),
        ]
        ran = run(cmd, env=self.daemon.env(DOCKER_BUILDKIT="1"))
        return Build(self.name, ran.seconds, _read_iid(iid), plain_steps(ran.stderr))

    def cpu(self) -> float:
        """The client's, plus dockerd's tree (containerd, BuildKit's runc and RUN commands)."""
        pid = self.daemon.process.pid if self.daemon.process is not None else None
        return children_cpu() + (tree_cpu(pid) if pid is not None else 0.0)


@dataclass
class Buildah:
    """``buildah build --layers --pull=never`` with a private storage root per reset."""

    context: Path
    dockerfile: Path
    archives: Sequence[Archive]
    work: Path
    env: Mapping[str, str]
    driver: str = "overlay"
    isolation: str = "oci"
    name: str = "buildah"
    generation: int = 0
    binary: str = "/usr/bin/buildah"

    @property
    def base(self) -> Path:
        """This generation's folder: storage root, run root and TMPDIR (cache mounts)."""
        return self.work / f"bh{self.generation}"

    def _global(self) -> list[str]:
        return [
            self.binary,
            "--root",
            str(self.base / "root"),
            "--runroot",
            str(self.base / "run"),
            "--storage-driver",
            self.driver,
        ]

    def run_env(self) -> dict[str, str]:
        """buildah keeps RUN --mount=type=cache folders under $TMPDIR: a private one."""
        env = dict(self.env)
        env["TMPDIR"] = str(self.base / "tmp")
        return env

    def _drop(self) -> None:
        if self.base.exists():
            subprocess.run(
                [*self._global(), "rm", "--all"],
                env=self.run_env(),
                capture_output=True,
                check=False,
            )
            subprocess.run(
                [*self._global(), "rmi", "--all", "--force"],
                env=self.run_env(),
                capture_output=True,
                check=False,
            )
            _services._unmount_under(self.base)
            shutil.rmtree(self.base, ignore_errors=True)

    def reset(self) -> float:
        """A new storage root (and TMPDIR), then ``buildah pull docker-archive:`` the bases:
        they are named localhost/golang and localhost/busybox, which is what ``FROM golang``
        resolves to with --pull=never."""
        self._drop()
        self.generation += 1
        (self.base / "tmp").mkdir(parents=True)
        start = time.perf_counter()
        for archive in self.archives:
            run(
                [*self._global(), "pull", "--quiet", f"docker-archive:{archive.path}"],
                env=self.run_env(),
            )
        return time.perf_counter() - start

    def stop(self) -> None:
        """Remove the storage root (mounts first)."""
        self._drop()

    def build(self) -> Build:
        iid = self.work / "buildah.iid"
        iid.unlink(missing_ok=True)
        cmd = [
            *self._global(),
            "build",
            "--layers",
            "--pull=never",
            f"--isolation={self.isolation}",
            "--network=host",  # as the other two tools' RUN steps
            "--iidfile",
            str(iid),
            "-t",
            TAG,
            "-f",
            str(self.dockerfile),
            str(self.context),
        ]
        ran = run(cmd, env=self.run_env())
        return Build(self.name, ran.seconds, _read_iid(iid))

    def cpu(self) -> float:
        """buildah runs everything as its own descendants."""
        return children_cpu()


@dataclass
class Dockwright:
    """``dockwright build CONTEXT -f FILE -t TAG --progress plain`` with a private store."""

    command: Sequence[str]
    context: Path
    dockerfile: Path
    archives: Sequence[Archive]
    work: Path
    env: Mapping[str, str]
    pycache: Path
    name: str = "dockwright"
    generation: int = 0

    @property
    def home(self) -> Path:
        """This generation's DOCKWRIGHT_HOME."""
        return self.work / f"dw{self.generation}"

    def run_env(self) -> dict[str, str]:
        """The store, and .pyc files kept under the work dir (as an installed dockwright has
        them; this checkout may run with PYTHONDONTWRITEBYTECODE=1)."""
        env = {k: v for k, v in self.env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["DOCKWRIGHT_HOME"] = str(self.home)
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        return env

    def interpreter(self) -> str:
        """The Python that runs ``command``: a script's ``#!`` line, else the command itself."""
        first = Path(self.command[0])
        if first.is_file():
            with first.open("rb") as handle:
                line = handle.readline().decode("utf-8", "replace")
            if line.startswith("#!") and "python" in line:
                return line[2:].split()[0]
        return self.command[0]

    def precompile(self) -> float:
        """Write the .pyc files of the whole dockwright package into the pycache folder, as
        ``pip install`` does at install time (untimed): without it the first timed build
        would compile the build modules' bytecode, a cost no installed dockwright pays."""
        code = (
            "import compileall, os, dockwright; "
            "compileall.compile_dir(os.path.dirname(dockwright.__file__), quiet=1)"
        )
        start = time.perf_counter()
        run([self.interpreter(), "-c", code], env=self.run_env())
        return time.perf_counter() - start

    def _drop(self) -> None:
        if self.home.exists():
            _services._unmount_under(self.home)
            shutil.rmtree(self.home, ignore_errors=True)

    def reset(self) -> float:
        """A new DOCKWRIGHT_HOME, then ``dockwright copy --unpack docker-archive:F store:NAME``.

        ``--unpack`` lays the layers out for builds now, as ``docker load`` does into its graph
        driver and ``buildah pull`` into its storage: all three tools then start the cold build
        from an image that is loaded and unpacked (the load itself is timed apart).
        """
        self._drop()
        self.generation += 1
        start = time.perf_counter()
        for archive in self.archives:
            run(
                [
                    *self.command,
                    "copy",
                    "--unpack",
                    f"docker-archive:{archive.path}",
                    f"store:{archive.tag}",
                ],
                env=self.run_env(),
            )
        return time.perf_counter() - start

    def stop(self) -> None:
        """Remove the store."""
        self._drop()

    def argv(self) -> list[str]:
        """The timed command line. No --iidfile: dockwright answers an unchanged rebuild from
        its memo only when no output file is asked for, so the image ID is read from the
        ``image sha256:...`` line it prints instead."""
        return [
            *self.command,
            "build",
            str(self.context),
            "-f",
            str(self.dockerfile),
            "-t",
            TAG,
            "--progress",
            "plain",
        ]

    def build(self) -> Build:
        ran = run(self.argv(), env=self.run_env())
        image = re.search(r"^(?:image|index) (sha256:[0-9a-f]{64})", ran.stdout, re.MULTILINE)
        steps = plain_steps(ran.stderr + ran.stdout)
        note = ""
        cached = re.search(r"\((\d+)/(\d+) steps cached\)", ran.stdout + ran.stderr)
        if cached:
            note = f"{cached.group(1)}/{cached.group(2)} cached"
        return Build(self.name, ran.seconds, image.group(1) if image else "", steps, note)

    def cpu(self) -> float:
        """dockwright runs everything (runc, the RUN commands) as its own descendants."""
        return children_cpu()


# -- memory ------------------------------------------------------------------------------------


@dataclass
class Memory:
    """Peak memory of one command's process tree, sampled from /proc."""

    seconds: float = 0.0
    tree_peak: int = 0  # max over samples of the summed RSS of every process in the tree
    host_side_peak: int = 0  # the same, only processes in dockwright's pid namespace
    main_hwm: int = 0  # VmHWM of the dockwright process itself
    rusage_maxrss: int = 0  # wait4: the largest single process of the tree (bytes)
    samples: int = 0
    biggest: dict[str, int] = field(default_factory=dict)  # comm -> peak RSS of one process


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _tree(root: int) -> list[int]:
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _rss_comm_ns(pid: int) -> tuple[int, str, str] | None:
    try:
        with open(f"/proc/{pid}/statm", encoding="utf-8") as f:
            rss = int(f.read().split()[1]) * _PAGE
        with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
            comm = f.read().strip()
        ns = os.readlink(f"/proc/{pid}/ns/pid")
    except (OSError, ValueError, IndexError):
        return None
    return rss, comm, ns


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def measure_memory(
    cmd: Sequence[str], env: Mapping[str, str], interval: float = 0.05, timeout: float = 1800
) -> Memory:
    """Run ``cmd`` and sample its process tree every ``interval`` seconds (untimed runs only:
    the sampling costs some CPU)."""
    mem = Memory()
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    own_ns = os.readlink(f"/proc/{proc.pid}/ns/pid")
    output: list[bytes] = []
    reader = threading.Thread(
        target=lambda: output.append(proc.stdout.read() if proc.stdout else b"")
    )
    reader.start()
    status = None
    while status is None:
        total = host = 0
        for pid in _tree(proc.pid):
            got = _rss_comm_ns(pid)
            if got is None:
                continue
            rss, comm, ns = got
            total += rss
            if ns == own_ns:
                host += rss
            if rss > mem.biggest.get(comm, 0):
                mem.biggest[comm] = rss
        mem.main_hwm = max(mem.main_hwm, _hwm(proc.pid))
        mem.tree_peak = max(mem.tree_peak, total)
        mem.host_side_peak = max(mem.host_side_peak, host)
        mem.samples += 1
        if time.perf_counter() - start > timeout:
            proc.kill()
        time.sleep(interval)
        pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status = code
            mem.rusage_maxrss = usage.ru_maxrss * 1024
    mem.seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    if proc.returncode != 0:
        text = b"".join(output).decode(errors="replace")[-3000:]
        raise BenchError(f"{' '.join(cmd)} exited {proc.returncode}:\n{text}")
    return mem
