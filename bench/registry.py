"""Benchmark ``dockwright push`` / ``pull`` against ``skopeo copy`` on a local registry.

    .venv/bin/python bench/registry.py [--rounds 7] [--repush 5] [--cache DIR] [--json FILE]

The image is the Go toolchain (/usr/local/go) made into an OCI layout by bench/_goimage.py: a
small base layer and the toolchain in four gzip layers (~245 MB of tar, ~67 MB compressed).
Both tools move exactly the same blobs (no recompression):

  push   dockwright: the layout is imported into a store once, untimed (`dockwright copy
         oci:LAYOUT:go store:go:1`), then `dockwright push go:1 HOST/dw/go:1 --insecure-registry
         HOST` is timed; skopeo: `skopeo copy --dest-tls-verify=false oci:LAYOUT:go
         docker://HOST/sk/go:1`. Each timed push goes to a registry started for it alone (empty
         storage), so no blob is already there and nothing can be mounted.
  pull   from one registry holding the image, into an empty destination each time: dockwright
         `pull HOST/src/go:1 --insecure-registry HOST` with a fresh DOCKWRIGHT_HOME; skopeo
         `copy --src-tls-verify=false docker://HOST/src/go:1 oci:EMPTYDIR:go`.
  re-push  the unchanged image again to the registry and repository that already hold it.

Every figure is the wall time of the whole command (fork to exit, Python start-up included),
after an untimed warm-up per tool, median of --rounds rounds whose tool order alternates;
`sync` runs before each timed command so nobody pays for the previous one's writeback. CPU
time (user + sys of the command, from getrusage) and the registry's own CPU are reported too.

Targets (issue 3, "Done when" 4): push and pull each ≤ 1.0 × skopeo's time (medians); a
re-push of the unchanged image ≤ 0.5 s (median). Exit status 0 when all are met, 1 when one
fails, 2 when the benchmark itself broke (the message says which command).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import json
import os
import platform
import pstats
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a script: its folder is sys.path[0]; make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _goimage, _services
from bench._results import Breakdown, Target, fmt_s, print_header
from bench._tools import BenchError, tool_version
from bench.package import Cleanup, Phases, dockwright_command

TARGET_PUSH_VS_SKOPEO = 1.0
TARGET_PULL_VS_SKOPEO = 1.0
TARGET_REPUSH_SECONDS = 0.5
TAG = "go:1"
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
TOOLS = ("dockwright", "skopeo")
_CLK_TCK = os.sysconf("SC_CLK_TCK")

# -- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed command."""

    seconds: float
    cpu_user: float
    cpu_sys: float
    registry_cpu: float  # the registry process's user + sys during the command
    digest: str

    @property
    def cpu(self) -> float:
        """User + system CPU seconds of the command (and its children)."""
        return self.cpu_user + self.cpu_sys


@dataclass
class Series:
    """The samples of one tool for one operation."""

    samples: list[Sample] = field(default_factory=list)

    def median(self, attr: str = "seconds") -> float:
        """Median of ``attr`` over the samples."""
        return statistics.median(float(getattr(s, attr)) for s in self.samples)

    @property
    def times(self) -> list[float]:
        """Wall times in seconds."""
        return [s.seconds for s in self.samples]

    def as_json(self, nbytes: int) -> dict[str, object]:
        """Figures for --json (``nbytes``: what one command moves, for MB/s)."""
        med = self.median()
        return {
            "median_s": med,
            "min_s": min(self.times),
            "max_s": max(self.times),
            "samples_s": self.times,
            "mb_per_s": nbytes / 1e6 / med if med > 0 else None,
            "cpu_median_s": self.median("cpu"),
            "cpu_user_median_s": self.median("cpu_user"),
            "cpu_sys_median_s": self.median("cpu_sys"),
            "registry_cpu_median_s": self.median("registry_cpu"),
            "digests": sorted({s.digest for s in self.samples}),
        }


def _proc_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a live process (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime (fields 14, 15)


def timed(
    cmd: Sequence[str],
    env: Mapping[str, str],
    registry: _services.Registry | None = None,
    timeout: float = 900,
) -> tuple[Sample, str]:
    """Run ``cmd`` after a ``sync``; return its wall/CPU figures and its stdout + stderr.

    The digest in the sample is the last one the command printed (empty when none)."""
    os.sync()
    pid = registry.process.pid if registry is not None and registry.process else None
    reg_before = _proc_cpu(pid)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        list(cmd), env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reg_cpu = _proc_cpu(pid) - reg_before
    if proc.returncode != 0:
        raise BenchError(
            f"`{' '.join(cmd)}` exited {proc.returncode} after {seconds:.2f}s\n"
            f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
        )
    found = DIGEST_RE.findall(proc.stdout)
    sample = Sample(
        seconds,
        after.ru_utime - before.ru_utime,
        after.ru_stime - before.ru_stime,
        reg_cpu,
        found[-1] if found else "",
    )
    return sample, proc.stdout + proc.stderr


def _tree_bytes(root: Path) -> int:
    total = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            with contextlib.suppress(OSError):
                total += (Path(folder) / name).lstat().st_size
    return total


def _layout_digest(layout: Path) -> str:
    index = json.loads((layout / "index.json").read_text())
    return str(index["manifests"][0]["digest"])


@dataclass
class Bench:
    """Everything one run needs: the work dir, the image, the commands and the services."""

    work: Path
    cleanup: Cleanup
    image: _goimage.GoImage
    dw: list[str]
    skopeo: str
    env: dict[str, str]  # both tools: hermetic credentials; dockwright's .pyc cache
    store: Path  # DOCKWRIGHT_HOME holding go:1 (imported from the layout)
    serial: int = 0

    def fresh(self, what: str) -> Path:
        """A new, not yet existing path in the work dir."""
        self.serial += 1
        return self.work / f"{what}-{self.serial}"

    @contextlib.contextmanager
    def registry(self, name: str) -> Iterator[_services.Registry]:
        """A registry with empty storage, stopped and deleted on exit."""
        reg = _services.Registry(self.fresh(f"reg-{name}"))
        self.cleanup.services.append(reg)
        try:
            reg.start()
            yield reg
        finally:
            reg.stop()
            self.cleanup.services.remove(reg)
            shutil.rmtree(reg.root, ignore_errors=True)

    def dw_env(self, home: Path) -> dict[str, str]:
        """dockwright's environment with ``home`` as its store."""
        return {**self.env, "DOCKWRIGHT_HOME": str(home)}

    def check(self, what: str, digest: str) -> None:
        """The command must have moved our image (same manifest digest)."""
        if digest != self.image.manifest_digest:
            raise BenchError(
                f"{what}: got manifest {digest or '(none printed)'}, expected "
                f"{self.image.manifest_digest}"
            )

    def push(self, tool: str, reg: _services.Registry, repo: str) -> Sample:
        """Push the image with ``tool`` to ``reg``/``repo``:1, timed."""
        dest = f"{reg.host}/{repo}:1"
        if tool == "dockwright":
            cmd = [*self.dw, "push", TAG, dest, "--insecure-registry", reg.host]
            sample, _ = timed(cmd, self.dw_env(self.store), reg)
            digest = sample.digest
        else:
            digest_file = self.fresh("digest")
            cmd = [
                self.skopeo,
                "copy",
                "--dest-tls-verify=false",
                f"--digestfile={digest_file}",
                f"oci:{self.image.layout}:{self.image.ref}",
                f"docker://{dest}",
            ]
            sample, _ = timed(cmd, self.env, reg)
            digest = digest_file.read_text().strip()
            digest_file.unlink()
        self.check(f"{tool} push to {dest}", digest)
        return Sample(sample.seconds, sample.cpu_user, sample.cpu_sys, sample.registry_cpu, digest)

    def pull(self, tool: str, reg: _services.Registry, repo: str) -> Sample:
        """Pull ``reg``/``repo``:1 with ``tool`` into an empty destination, timed; the
        destination is checked (manifest digest, bytes on disk) and deleted."""
        src = f"{reg.host}/{repo}:1"
        dest = self.fresh(f"pull-{tool}")
        try:
            if tool == "dockwright":
                cmd = [*self.dw, "pull", src, "--insecure-registry", reg.host]
                sample, _ = timed(cmd, self.dw_env(dest), reg)
                digest = sample.digest
            else:
                cmd = [
                    self.skopeo,
                    "copy",
                    "--src-tls-verify=false",
                    f"docker://{src}",
                    f"oci:{dest}:{self.image.ref}",
                ]
                sample, _ = timed(cmd, self.env, reg)
                digest = _layout_digest(dest)
            self.check(f"{tool} pull of {src}", digest)
            held = _tree_bytes(dest)
            if held < self.image.compressed:
                raise BenchError(
                    f"{tool} pull of {src}: {dest} holds {held} B, less than the image's "
                    f"{self.image.compressed} B"
                )
        finally:
            shutil.rmtree(dest, ignore_errors=True)
        return Sample(sample.seconds, sample.cpu_user, sample.cpu_sys, sample.registry_cpu, digest)


def alternated(turn: int) -> tuple[str, ...]:
    """The tools, first one way round, then the other."""
    return TOOLS if turn % 2 == 0 else TOOLS[::-1]


@dataclass
class Profile:
    """Where dockwright's time goes."""

    python_startup_s: float = 0.0
    import_total_ms: float = 0.0
    import_top: list[tuple[float, str]] = field(default_factory=list)
    import_by_package: list[tuple[float, str]] = field(default_factory=list)
    runs: dict[str, Breakdown] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class Results:
    """Everything one run measured."""

    rounds: int
    repush_rounds: int
    versions: dict[str, str] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=dict)
    image: _goimage.GoImage | None = None
    image_reused: bool = False
    ops: dict[str, dict[str, Series]] = field(default_factory=dict)  # op -> tool -> series
    warmup: dict[str, float] = field(default_factory=dict)
    profile: Profile | None = None


# -- the profile -------------------------------------------------------------------------------


def _venv_python() -> str:
    venv = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
    return str(venv) if venv.is_file() else sys.executable


def _breakdown(
    b: Bench,
    label: str,
    plain: tuple[Sequence[str], Path],
    profiled: tuple[Sequence[str], Path],
    errors: list[str],
) -> Breakdown | None:
    """Two in-process runs of ``dockwright ARGS`` (bench/_profile_registry.py), each given as
    (ARGS, DOCKWRIGHT_HOME): ``plain`` with wall timers only (figures not inflated by
    cProfile), ``profiled`` under cProfile (the table)."""
    driver = Path(__file__).resolve().parent / "_profile_registry.py"
    out = b.work / f"profile-{label}.json"
    pstats_file = b.work / f"profile-{label}.pstats"
    data: dict[str, object] = {}
    for (args, home), extra in ((plain, ()), (profiled, ("--cprofile", str(pstats_file)))):
        out.unlink(missing_ok=True)
        proc = subprocess.run(
            [_venv_python(), str(driver), str(out), *extra, "--", *args],
            env=b.dw_env(home),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            errors.append(
                f"{label}: profile driver exited {proc.returncode}: {proc.stderr[-1500:]}"
            )
            return None
        if not extra:
            data = json.loads(out.read_text())
    buf = io.StringIO()
    stats = pstats.Stats(str(pstats_file), stream=buf)
    stats.sort_stats("tottime").print_stats(14)
    text = buf.getvalue()
    table = text[text.find("   ncalls") :] if "   ncalls" in text else text
    spots = data.get("spots")
    assert isinstance(spots, list)
    return Breakdown(
        float(str(data["imports_s"])),
        float(str(data["main_s"])),
        [(str(s["label"]), float(s["wall_s"]), int(s["calls"])) for s in spots],
        table,
    )


def _importtime(lines: str) -> tuple[float, list[tuple[float, str]], list[tuple[float, str]]]:
    """From ``-X importtime`` output: the total (ms), the largest subtrees (cumulative ms,
    name indented by depth) and the self time per package (dockwright per subpackage)."""
    total_ms = 0.0
    nested: list[tuple[float, str]] = []
    by_package: dict[str, float] = {}
    for line in lines.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m is None:
            continue
        depth = (len(m.group(3)) - 1) // 2
        cumulative_ms = int(m.group(2)) / 1000
        if depth == 0:
            total_ms += cumulative_ms
        nested.append((cumulative_ms, "  " * depth + m.group(4)))
        parts = m.group(4).split(".")
        package = ".".join(parts[:2]) if parts[0] == "dockwright" else parts[0]
        by_package[package] = by_package.get(package, 0.0) + int(m.group(1)) / 1000
    grouped = sorted(((ms, name) for name, ms in by_package.items()), reverse=True)
    return total_ms, sorted(nested, reverse=True)[:12], grouped[:12]


def profile_dockwright(b: Bench) -> Profile:
    """Start-up, imports (-X importtime of a pull into an empty store), and in-process
    breakdowns of a push to an empty registry, a re-push and a pull into an empty store."""
    prof = Profile()
    python = _venv_python()
    env = b.dw_env(b.store)
    startups = [timed([python, "-c", "pass"], env)[0].seconds for _ in range(5)]
    prof.python_startup_s = statistics.median(startups)

    def push_args(reg: _services.Registry) -> list[str]:
        return ["push", TAG, f"{reg.host}/dw/go:1", "--insecure-registry", reg.host]

    with b.registry("profile-1") as first, b.registry("profile-2") as second:
        bd = _breakdown(
            b, "push", (push_args(first), b.store), (push_args(second), b.store), prof.errors
        )
        if bd is not None:
            prof.runs["push to an empty registry"] = bd
        if not prof.errors:  # `second` holds the image now: these are re-pushes
            again = (push_args(second), b.store)
            bd = _breakdown(b, "repush", again, again, prof.errors)
            if bd is not None:
                prof.runs["re-push (unchanged)"] = bd
            pull_args = ["pull", f"{second.host}/dw/go:1", "--insecure-registry", second.host]
            home = b.fresh("profile-home")
            proc = subprocess.run(
                [python, "-X", "importtime", "-m", "dockwright", *pull_args],
                env=b.dw_env(home),
                capture_output=True,
                text=True,
                check=False,
            )
            shutil.rmtree(home, ignore_errors=True)
            if proc.returncode != 0:
                prof.errors.append(f"importtime exited {proc.returncode}: {proc.stderr[-1500:]}")
            found = _importtime(proc.stderr)
            prof.import_total_ms, prof.import_top, prof.import_by_package = found
            homes = b.fresh("profile-home"), b.fresh("profile-home")
            bd = _breakdown(b, "pull", (pull_args, homes[0]), (pull_args, homes[1]), prof.errors)
            if bd is not None:
                prof.runs["pull into an empty store"] = bd
            for home in homes:
                shutil.rmtree(home, ignore_errors=True)
    return prof


# -- the run -----------------------------------------------------------------------------------


def hermetic_env(work: Path) -> dict[str, str]:
    """The environment of both tools: no user credentials or registry settings, and
    dockwright's bytecode cached in the work dir (an installed dockwright has .pyc files)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCKWRIGHT_", "REGISTRY_AUTH", "PYTHONPYCACHEPREFIX"))
        and k not in {"DOCKER_CONFIG", "PYTHONDONTWRITEBYTECODE"}
    }
    docker_config = work / "docker-config"
    docker_config.mkdir()
    (docker_config / "config.json").write_text("{}\n")
    registries = work / "registries.toml"
    registries.write_text("")
    env.update(
        {
            "DOCKER_CONFIG": str(docker_config),
            "REGISTRY_AUTH_FILE": str(docker_config / "config.json"),
            "DOCKWRIGHT_REGISTRIES_CONFIG": str(registries),
            "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        }
    )
    return env


REPO = {"dockwright": "dw/go", "skopeo": "sk/go"}


def record(ops: dict[str, dict[str, Series]], op: str, tool: str, rnd: int, s: Sample) -> None:
    """Keep a sample and show it on stderr."""
    ops[op][tool].samples.append(s)
    print(f"   {op:<7} round {rnd + 1:<3} {tool:<11} {fmt_s(s.seconds)}", file=sys.stderr)


def warm_up(b: Bench, warmup: dict[str, float]) -> None:
    """One untimed push (each to its own registry) and pull per tool: .pyc files, page cache."""
    for tool in TOOLS:
        with b.registry(f"warm-{tool}") as reg:
            warmup[f"{tool} push"] = b.push(tool, reg, REPO[tool]).seconds
            if tool == TOOLS[-1]:
                for puller in TOOLS:
                    warmup[f"{puller} pull"] = b.pull(puller, reg, REPO[tool]).seconds


def with_image(
    b: Bench,
    op: str,
    *,
    rounds: int,
    ops: dict[str, dict[str, Series]],
    seed: Sequence[tuple[str, str]],
    action: Callable[[str, _services.Registry], Sample],
) -> None:
    """Start a registry, push the image there untimed (``seed``: (tool, repository) pairs),
    then time ``rounds`` rounds of ``action(tool, registry)``, the tool order alternating."""
    with b.registry(op) as reg:
        for tool, repo in seed:
            b.push(tool, reg, repo)
        for rnd in range(rounds):
            for tool in alternated(rnd):
                record(ops, op, tool, rnd, action(tool, reg))


def measure(args: argparse.Namespace, cleanup: Cleanup, phases: Phases) -> Results:
    """Set everything up, run every scenario and return the figures."""
    work = Path(tempfile.mkdtemp(prefix="dwbr-", dir="/tmp"))
    cleanup.work = work
    cleanup.keep = args.keep
    results = Results(rounds=args.rounds, repush_rounds=args.repush)
    skopeo = _services.find_tool("skopeo", "apt-get install -y skopeo")
    registry_bin = _services.find_tool("docker-registry", "apt-get install -y docker-registry")
    env = hermetic_env(work)
    dw = dockwright_command(args.dockwright)

    with phases("setup: the Go toolchain image (OCI layout), imported into a dockwright store"):
        layout = Path(args.cache).resolve() / "go-layout" if args.cache else work / "go-layout"
        try:
            image, reused = _goimage.go_layout(
                layout, goroot=Path(args.goroot), parts=args.parts, reuse=bool(args.cache)
            )
        except OSError as exc:
            raise BenchError(f"making the Go image from {args.goroot}: {exc}") from exc
        results.image, results.image_reused = image, reused
        b = Bench(work, cleanup, image, dw, skopeo, env, work / "dw-store")
        imported, _ = timed(
            [*dw, "copy", f"oci:{layout}:{image.ref}", f"store:{TAG}"], b.dw_env(b.store)
        )
        b.check("dockwright copy oci:LAYOUT store:go:1", imported.digest)
        results.warmup["dockwright copy oci: -> store: (import, untimed)"] = imported.seconds
        results.versions = {
            "dockwright": tool_version([*dw, "--version"], env),
            "skopeo": tool_version([skopeo, "--version"]),
            "docker-registry": tool_version([registry_bin, "--version"]),
            "python": sys.version.split()[0],
            "image": f"{image.go_version} from {args.goroot}",
        }
        results.machine = {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "loadavg_start": os.getloadavg()[0],
        }

    ops = {op: {tool: Series() for tool in TOOLS} for op in ("push", "pull", "re-push")}
    results.ops = ops
    with phases("warm-up: one untimed push and pull per tool"):
        warm_up(b, results.warmup)
    with phases(f"push: {args.rounds} rounds x 2 tools, a fresh registry each"):
        for rnd in range(args.rounds):
            for tool in alternated(rnd):
                with b.registry(f"push-{tool}") as reg:
                    sample = b.push(tool, reg, REPO[tool])
                record(ops, "push", tool, rnd, sample)
    with phases(f"pull: {args.rounds} rounds x 2 tools, into an empty store / layout"):
        # The source holds the image as skopeo pushed it (the same bytes as dockwright's).
        seed = [("skopeo", "src/go")]
        with_image(
            b,
            "pull",
            rounds=args.rounds,
            ops=ops,
            seed=seed,
            action=lambda t, reg: b.pull(t, reg, "src/go"),
        )
    with phases(f"re-push: 1 untimed + {args.repush} per tool, unchanged image"):
        seed = list(REPO.items())
        with_image(
            b,
            "re-push",
            rounds=args.repush,
            ops=ops,
            seed=seed,
            action=lambda t, reg: b.push(t, reg, REPO[t]),
        )
    if not args.no_profile:
        with phases("profile of dockwright push, re-push and pull"):
            results.profile = profile_dockwright(b)
    results.machine["loadavg_end"] = os.getloadavg()[0]
    return results


# -- reporting ---------------------------------------------------------------------------------


def _median(results: Results, op: str, tool: str) -> float | None:
    series = results.ops.get(op, {}).get(tool)
    return series.median() if series is not None and series.samples else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b is not None and b > 0 else None


def targets_for(results: Results) -> list[Target]:
    """The issue's three targets (None where not measured)."""
    out = []
    for op, limit in (("push", TARGET_PUSH_VS_SKOPEO), ("pull", TARGET_PULL_VS_SKOPEO)):
        dw, sk = _median(results, op, "dockwright"), _median(results, op, "skopeo")
        out.append(
            Target(
                f"{op}: dockwright / skopeo",
                _ratio(dw, sk),
                limit,
                "x",
                f"{dw or 0:.3f}s / {sk or 0:.3f}s, medians of {results.rounds}",
            )
        )
    out.append(
        Target(
            "re-push of the unchanged image: dockwright",
            _median(results, "re-push", "dockwright"),
            TARGET_REPUSH_SECONDS,
            "s",
            f"median of {results.repush_rounds}, whole command",
        )
    )
    return out


def _print_image(image: _goimage.GoImage, reused: bool) -> None:
    origin = "reused from --cache" if reused else "made for this run"
    print(
        f"Image: {image.go_version} toolchain, {len(image.layers)} layers, {origin} "
        f"(MB = 10^6 B)\n"
        f"  compressed   {image.compressed / 1e6:8.2f} MB  ({image.compressed} B: layers + config "
        "+ manifest, what each push/pull moves)\n"
        f"  uncompressed {image.uncompressed / 1e6:8.2f} MB  ({image.uncompressed} B: the layers' "
        "tars)\n"
        f"  manifest     {image.manifest_digest}"
    )
    for layer in image.layers:
        print(
            f"    {layer.label:<12} {layer.size / 1e6:7.2f} MB gz  {layer.uncompressed / 1e6:7.2f} "
            f"MB tar  {layer.files:>5} files  {layer.digest[:19]}"
        )


def _print_ops(results: Results, nbytes: int) -> None:
    print(
        f"  {'':<8} {'tool':<11} {'median':>8} {'min':>8} {'max':>8} {'MB/s':>7} "
        f"{'CPU':>7} {'(user':>6} {'sys)':>6} {'registry CPU':>12}"
    )
    for op, by_tool in results.ops.items():
        for tool, s in by_tool.items():
            if not s.samples:
                continue
            med = s.median()
            rate = f"{nbytes / 1e6 / med:7.1f}" if op != "re-push" else f"{'-':>7}"
            print(
                f"  {op:<8} {tool:<11} {fmt_s(med)} {fmt_s(min(s.times))} {fmt_s(max(s.times))} "
                f"{rate} {s.median('cpu'):6.2f}s {s.median('cpu_user'):5.2f}s "
                f"{s.median('cpu_sys'):5.2f}s {s.median('registry_cpu'):11.2f}s"
            )
        dw, sk = _median(results, op, "dockwright"), _median(results, op, "skopeo")
        ratio = _ratio(dw, sk)
        if ratio is not None and dw is not None and sk is not None:
            print(
                f"  {op:<8} ratio dockwright / skopeo = {ratio:.3f}x (difference {dw - sk:+.3f} s)"
            )
    print("  samples (s, in run order):")
    for op, by_tool in results.ops.items():
        for tool, s in by_tool.items():
            print(f"    {op:<8} {tool:<11} " + " ".join(f"{t:.3f}" for t in s.times))


def _print_profile(prof: Profile, results: Results) -> None:
    print("Where dockwright's time goes (bench/_profile_registry.py: its CLI run in-process)")
    print(
        f"  python start-up (`python -c pass`, median of 5): {prof.python_startup_s * 1e3:.1f} ms"
    )
    print(
        f"  imports of a pull (-X importtime): {prof.import_total_ms:.1f} ms in all; largest "
        "subtrees (cumulative, indented by depth):"
    )
    for ms, name in prof.import_top:
        print(f"    {ms:7.1f} ms  {name}")
    print("  the same imports' own time, summed per package (dockwright per subpackage):")
    print("    " + ", ".join(f"{name} {ms:.1f}" for ms, name in prof.import_by_package) + " (ms)")
    for title, bd in prof.runs.items():
        print(
            f"  {title}: importing the CLI {bd.imports_s * 1e3:.1f} ms, then cli.main() "
            f"{bd.main_s * 1e3:.1f} ms; wall time in (nested by indent; [threads] = summed "
            "over the transfer threads):"
        )
        for label, secs, calls in bd.spots:
            if calls:
                print(
                    f"    {secs * 1e3:8.1f} ms  {label}"
                    + (f"  ({calls} calls)" if calls > 1 else "")
                )
        print("    cProfile of cli.main() (separate run), all threads, by own time:")
        for line in bd.cprofile.rstrip().splitlines():
            print(f"      {line}")
    for error in prof.errors:
        print(f"  profile error: {error}")
    imports = statistics.median(bd.imports_s for bd in prof.runs.values()) if prof.runs else 0.0
    print(
        f"  so every dockwright command starts with ~{(prof.python_startup_s + imports) * 1e3:.0f} "
        "ms of interpreter start-up and imports (in-process import of the CLI, median)"
    )


def _print_split(results: Results) -> None:
    """A rough split of each push into fixed costs and moving the bytes: the re-push time
    of the same tool stands for the fixed part (start-up, connections, HEADs, a manifest).
    Not for pull: dockwright's pull starts without httpx (its lean read path), so its
    fixed cost is well below a re-push's and the difference would not be the transfer."""
    fixed = {t: _median(results, "re-push", t) for t in TOOLS}
    if results.image is None or any(v is None for v in fixed.values()):
        return
    nbytes = results.image.compressed
    print(
        "Fixed cost vs moving the bytes (rough: a tool's re-push median stands for its fixed cost)"
    )
    for op in ("push",):
        for tool in TOOLS:
            med, base = _median(results, op, tool), fixed[tool]
            if med is None or base is None:
                continue
            moving = med - base
            rate = f"{nbytes / 1e6 / moving:6.1f} MB/s" if moving > 0 else "     - MB/s"
            print(
                f"  {op:<5} {tool:<11} {med:.3f} s = {base:.3f} s fixed + {moving:.3f} s moving "
                f"{nbytes / 1e6:.1f} MB ({rate})"
            )


def report(results: Results, phases: Mapping[str, float], total: float) -> list[Target]:
    """Print every figure, the ratios and a PASS/FAIL line per target."""
    print_header(
        "dockwright registry benchmark (bench/registry.py): push / pull vs skopeo copy",
        results.versions,
        results.machine,
        16,
    )
    print(
        "  notes            registry: docker-registry (filesystem storage) on 127.0.0.1, plain "
        "http;\n"
        "                   push: a fresh registry per timed push; pull: into an empty store / "
        "layout;\n"
        "                   wall time of the whole command, `sync` before each; dockwright "
        "with .pyc files"
    )
    print()
    if results.image is not None:
        _print_image(results.image, results.image_reused)
        print()
        print(
            f"Timed commands (median of {results.rounds} rounds for push/pull, "
            f"{results.repush_rounds} for re-push; order alternates; CPU = user + sys of the "
            "command)"
        )
        _print_ops(results, results.image.compressed)
        print()
        _print_split(results)
        print()
    print("Untimed warm-up / setup commands")
    for name, secs in results.warmup.items():
        print(f"  {fmt_s(secs)}  {name}")
    print("Where the benchmark's time went")
    for name, secs in phases.items():
        print(f"  {fmt_s(secs)}  {name}")
    print(f"  {fmt_s(total)}  total")
    if results.profile is not None:
        print()
        _print_profile(results.profile, results)
    print()
    targets = targets_for(results)
    for t in targets:
        if t.value is None:
            print(f"FAIL  {t.name}: not measured ({t.detail})")
            continue
        verdict = "PASS" if t.ok else "FAIL"
        print(f"{verdict}  {t.name}: {t.value:.3f}{t.unit} (limit {t.limit}{t.unit}; {t.detail})")
    return targets


def json_figures(
    results: Results, phases: Mapping[str, float], targets: Sequence[Target]
) -> dict[str, object]:
    """The figures for --json."""
    nbytes = results.image.compressed if results.image is not None else 0
    prof = results.profile
    return {
        "rounds": results.rounds,
        "repush_rounds": results.repush_rounds,
        "versions": results.versions,
        "machine": results.machine,
        "image": results.image.as_json() if results.image is not None else None,
        "ops": {
            op: {tool: s.as_json(nbytes) for tool, s in by_tool.items() if s.samples}
            for op, by_tool in results.ops.items()
        },
        "ratios": {
            op: _ratio(_median(results, op, "dockwright"), _median(results, op, "skopeo"))
            for op in results.ops
        },
        "warmup_s": results.warmup,
        "phases_s": dict(phases),
        "profile": None
        if prof is None
        else {
            "python_startup_s": prof.python_startup_s,
            "import_total_ms": prof.import_total_ms,
            "import_top": prof.import_top,
            "import_by_package": prof.import_by_package,
            "runs": {
                title: {
                    "imports_s": bd.imports_s,
                    "main_s": bd.main_s,
                    "spots": [
                        {"label": la.strip(), "wall_s": s, "calls": c} for la, s, c in bd.spots
                    ],
                }
                for title, bd in prof.runs.items()
            },
            "errors": prof.errors,
        },
        "targets": [
            {"name": t.name, "value": t.value, "limit": t.limit, "unit": t.unit, "pass": t.ok}
            for t in targets
        ],
        "pass": all(t.ok for t in targets),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every target is met, 1 when one is not, 2 on error."""
    parser = argparse.ArgumentParser(
        description="Benchmark dockwright push/pull against skopeo copy on a local registry."
    )
    parser.add_argument("--rounds", type=int, default=7, help="timed pushes/pulls per tool")
    parser.add_argument("--repush", type=int, default=5, help="timed re-pushes per tool")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--cache", metavar="DIR", help="keep the Go image layout here, reuse it")
    parser.add_argument("--goroot", default=str(_goimage.GOROOT), help="the Go toolchain to use")
    parser.add_argument(
        "--parts", type=int, default=3, help="layers for GOROOT minus bin+pkg (default 3)"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the dockwright profile")
    parser.add_argument("--keep", action="store_true", help="keep the work dir in /tmp")
    parser.add_argument("--dockwright", metavar="CMD", help="the dockwright command to time")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.repush < 1 or args.parts < 1:
        parser.error("--rounds, --repush and --parts must be at least 1")

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
            with phases("teardown: stop registries, remove the work dir"):
                cleanup()
        targets = report(results, phases.seconds, time.perf_counter() - start)
    except (BenchError, _services.ServiceError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        data = json_figures(results, phases.seconds, targets)
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    return 0 if all(t.ok for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
