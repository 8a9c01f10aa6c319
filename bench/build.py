"""Benchmark ``dockwright build`` against Docker BuildKit and buildah on a multistage Go build.

    .venv/bin/python bench/build.py [--rounds 5] [--cold 1] [--json FILE] [--keep]

Everything lives in a fresh /tmp/dwbb-* directory: a small stdlib-only Go HTTP server (four
files) with the issue's multistage Dockerfile (bench/build_images.py), the stand-in base images
``golang`` (busybox + GOROOT) and ``busybox`` as docker-archives, a private dockerd (same flags
as scripts/start-dockerd.sh), a private buildah storage root and a private dockwright store:

  buildkit    DOCKER_BUILDKIT=1 /usr/bin/docker build --progress plain --network=host -t app:bench
              -f Dockerfile.buildkit CTX (the Dockerfile minus `# syntax=`, which would make
              BuildKit fetch docker/dockerfile:1 from Docker Hub; dockerd's built-in frontend
              knows RUN --mount; --network=host: the private dockerd has no bridge)
  buildah     buildah --root R --runroot R --storage-driver overlay build --layers --pull=never
              --isolation oci --network=host -t app:bench -f Dockerfile CTX (TMPDIR private
              too: buildah keeps cache mounts there; --layers: cache steps as BuildKit does;
              the bases are named localhost/golang and localhost/busybox by `buildah pull
              docker-archive:`, which `FROM golang` finds with --pull=never)
  dockwright  dockwright build CTX -f Dockerfile -t app:bench --progress plain (its default
              RUN network is the host's; no --iidfile, which would turn its no-change memo off:
              the image ID comes from its output)

The Dockerfiles live outside the context, so `COPY . .` takes the Go files only.

Scenarios, each the wall time of the whole command (fork to exit), tool order rotating:

  cold       every cache empty: dockerd `image rm` + `builder prune -af` (cache mounts too),
             a new buildah root, a new DOCKWRIGHT_HOME; the bases are loaded again, untimed
             (each tool keeps them the way it keeps pulled images). Median of --cold runs.
  no-change  the context as the last build saw it; median of --rounds.
  edit       version.go gets a new version string before *each* build (so the binary changes
             and the final COPY --from misses); one untimed warm-up each, median of --rounds.
  memory     one more cold build and one edit build of dockwright, untimed, its process tree
             sampled from /proc every 50 ms (see bench/build_tools.py).

Targets (issue 5, "Done when" 6): cold, no-change and edit each <= 1.0 x BuildKit (medians);
peak memory <= 300 MB: the summed RSS of dockwright's processes outside the build's sandbox
(the Python process, runc and helpers; the RUN commands themselves - the Go compiler - are
the build's own work and shown beside). Exit 0 when all are met, 1 when one is not, 2 when
the benchmark itself broke (the message names the command).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a script: its folder is sys.path[0]; make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _services, build_images
from bench._results import Build, Series, Target, fmt_s, print_header
from bench._tools import BenchError, tool_version
from bench.build_tools import Buildah, Builder, Docker, Dockwright, Memory, measure_memory
from bench.package import Cleanup, Phases, dockwright_command

TARGET_VS_BUILDKIT = 1.0
TARGET_MEMORY_MB = 300.0
REFERENCE = "buildkit"
TOOLS = ("buildkit", "buildah", "dockwright")


@dataclass
class Results:
    """Everything one run measured."""

    cold: dict[str, Series] = field(default_factory=dict)
    nochange: dict[str, Series] = field(default_factory=dict)
    edit: dict[str, Series] = field(default_factory=dict)
    memory: dict[str, Memory] = field(default_factory=dict)
    cpu: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # scenario, tool
    base_load: dict[str, list[float]] = field(default_factory=dict)  # untimed, for context
    versions: dict[str, str] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _env() -> dict[str, str]:
    """The host environment without settings that would change any tool's behaviour."""
    prefixes = ("GO", "DOCKWRIGHT_", "DOCKER_", "BUILDAH_", "CONTAINERS_", "STORAGE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("TMPDIR", None)
    return env


class _Stoppers:
    """Builders with state to remove at exit (besides the services in Cleanup)."""

    def __init__(self) -> None:
        self.items: list[Buildah | Dockwright] = []

    def __call__(self) -> None:
        for item in self.items:
            try:
                item.stop()
            except Exception as exc:  # cleanup must go on
                print(f"warning: removing {item.name}'s state: {exc}", file=sys.stderr)


def _check_digests(name: str, series: Series, *, same: bool, first: str) -> None:
    digests = [b.digest for b in series.builds]
    if not all(digests):
        raise BenchError(f"{name}: a build wrote no image ID (--iidfile)")
    if same and any(d != first for d in digests):
        raise BenchError(f"{name}: a no-change build gave another image ({digests} vs {first})")
    if not same:
        previous = first
        for d in digests:
            if d == previous:
                raise BenchError(f"{name}: an edit left the image unchanged ({d})")
            previous = d


def rotated(builders: Sequence[Builder], turn: int) -> list[Builder]:
    """``builders`` starting at a different one each turn, so none is always first."""
    k = turn % len(builders)
    return [*builders[k:], *builders[:k]]


def _build(results: Results, scenario: str, builder: Builder) -> Build:
    """One timed build, its CPU seconds recorded beside (they suffer less from a busy
    machine than wall time)."""
    before = builder.cpu()
    b = builder.build()
    used = builder.cpu() - before
    results.cpu.setdefault(scenario, {}).setdefault(builder.name, []).append(used)
    return b


def _log(label: str, b: Build) -> None:
    print(f"   {label:<10} {b.tool:<11} {fmt_s(b.seconds)} {b.note}", file=sys.stderr, flush=True)


def measure(
    args: argparse.Namespace, cleanup: Cleanup, stoppers: _Stoppers, phases: Phases
) -> Results:
    """Set up, run every scenario and return the figures."""
    work = Path(tempfile.mkdtemp(prefix="dwbb-", dir="/tmp"))
    cleanup.work = work
    cleanup.keep = args.keep
    env = _env()
    results = Results()
    wanted = list(args.tools)
    busybox = _services.find_tool("busybox", "apt-get install -y busybox-static")
    goroot = Path(args.goroot)
    context = work / "ctx"
    serials = build_images.iter_serials()

    with phases("setup: program, base images, dockerd, stores"):
        build_images.write_program(context, next(serials))
        dockerfile, bk_dockerfile = build_images.write_dockerfiles(work / "dockerfiles")
        archives = build_images.make_archives(work / "images", busybox, goroot)
        for archive in archives:
            print(
                f"   {archive.tag:<15} {archive.size / 1e6:8.1f} MB docker-archive", file=sys.stderr
            )
        builders: list[Builder] = []
        for name in wanted:
            if name == "buildkit":
                daemon = _services.Dockerd(work / "d")
                cleanup.services.append(daemon)
                daemon.start()
                builders.append(Docker(daemon, context, bk_dockerfile, archives, work))
                results.versions["docker client"] = tool_version(
                    [_services.DOCKER_CLIENT, "--version"]
                )
                results.versions["dockerd"] = (
                    daemon.run("version", "--format", "{{.Server.Version}}").strip()
                    + f" (storage driver {daemon.storage_driver})"
                )
            elif name == "buildah":
                bh = Buildah(
                    context,
                    dockerfile,
                    archives,
                    work,
                    env,
                    driver=args.buildah_driver,
                    isolation=args.buildah_isolation,
                )
                stoppers.items.append(bh)
                builders.append(bh)
                results.versions["buildah"] = (
                    tool_version([bh.binary, "--version"])
                    + f" (--storage-driver {bh.driver}, --isolation {bh.isolation})"
                )
            elif name == "dockwright":
                dw = Dockwright(
                    dockwright_command(args.dockwright),
                    context,
                    dockerfile,
                    archives,
                    work,
                    env,
                    work / "pyc",
                )
                stoppers.items.append(dw)
                builders.append(dw)
                dw.precompile()
                results.versions["dockwright"] = tool_version([*dw.command, "--version"], env)
        results.versions["go (in golang)"] = (goroot / "VERSION").read_text().splitlines()[0]
        results.versions["python"] = sys.version.split()[0]
        results.machine = {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "loadavg_start": os.getloadavg()[0],
        }

    results.cold = {b.name: Series() for b in builders}
    with phases(f"cold builds: {args.cold} per tool (state reset and bases loaded, untimed)"):
        for rnd in range(args.cold):
            for builder in rotated(builders, rnd):
                results.base_load.setdefault(builder.name, []).append(builder.reset())
                subprocess.run(["sync"], check=False)
                b = _build(results, "cold", builder)
                results.cold[builder.name].builds.append(b)
                _log(f"cold {rnd + 1}", b)

    last = {b.name: results.cold[b.name].builds[-1].digest for b in builders}
    results.nochange = {b.name: Series() for b in builders}
    with phases(f"no-change rebuilds: {args.rounds} per tool"):
        for rnd in range(args.rounds):
            for builder in rotated(builders, rnd):
                b = _build(results, "nochange", builder)
                results.nochange[builder.name].builds.append(b)
                _log("no-change", b)
    for name, series in results.nochange.items():
        _check_digests(name, series, same=True, first=last[name])

    results.edit = {b.name: Series() for b in builders}
    with phases(f"edit rebuilds: 1 warm-up + {args.rounds} per tool"):
        for builder in builders:
            build_images.edit_program(context, next(serials))
            last[builder.name] = builder.build().digest
        for rnd in range(args.rounds):
            for builder in rotated(builders, rnd):
                build_images.edit_program(context, next(serials))
                b = _build(results, "edit", builder)
                results.edit[builder.name].builds.append(b)
                _log(f"edit {rnd + 1}", b)
    for name, series in results.edit.items():
        _check_digests(name, series, same=False, first=last[name])

    dws = [b for b in builders if isinstance(b, Dockwright)]
    if dws and not args.no_memory:
        dw = dws[0]
        with phases("memory: one cold and one edit build of dockwright, sampled"):
            dw.reset()
            results.memory["cold"] = measure_memory(dw.argv(), dw.run_env())
            build_images.edit_program(context, next(serials))
            results.memory["edit"] = measure_memory(dw.argv(), dw.run_env())
    results.machine["loadavg_end"] = os.getloadavg()[0]
    return results


# -- report ------------------------------------------------------------------------------------


def _median(series: Mapping[str, Series], name: str) -> float | None:
    s = series.get(name)
    return s.median if s is not None and s.builds else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b is not None and b > 0 else None


def targets_for(results: Results) -> list[Target]:
    """The issue's four targets (None where not measured)."""
    targets = []
    for label, series in (
        ("cold build", results.cold),
        ("no-change rebuild", results.nochange),
        ("edit rebuild", results.edit),
    ):
        dw, ref = _median(series, "dockwright"), _median(series, REFERENCE)
        targets.append(
            Target(
                f"{label}: dockwright / buildkit",
                _ratio(dw, ref),
                TARGET_VS_BUILDKIT,
                "x",
                f"{dw or 0:.3f}s / {ref or 0:.3f}s, medians",
            )
        )
    peaks = [m.host_side_peak for m in results.memory.values()]
    targets.append(
        Target(
            "peak memory: dockwright's processes outside the sandbox (summed RSS)",
            max(peaks) / 1e6 if peaks else None,
            TARGET_MEMORY_MB,
            " MB",
            "cold and edit builds; the RUN commands' own memory is shown above",
        )
    )
    return targets


def _table(title: str, series: Mapping[str, Series], cpu: Mapping[str, Sequence[float]]) -> None:
    print(title)
    print(
        f"  {'tool':<11} {'median':>8} {'min':>8} {'max':>8}  {'/ buildkit':>10}"
        f"  {'CPU median':>10}  {'/ buildkit':>10}"
    )
    ref = _median(series, REFERENCE)
    ref_cpu = statistics.median(cpu[REFERENCE]) if cpu.get(REFERENCE) else None
    for name, s in series.items():
        r = _ratio(s.median, ref)
        ratio = f"{r:9.3f}x" if r is not None else ""
        mine = statistics.median(cpu[name]) if cpu.get(name) else None
        rc = _ratio(mine, ref_cpu)
        cpu_text = fmt_s(mine) if mine is not None else ""
        cpu_ratio = f"{rc:9.3f}x" if rc is not None else ""
        print(
            f"  {name:<11} {fmt_s(s.median)} {fmt_s(min(s.times))} {fmt_s(max(s.times))}  "
            f"{ratio:>10}  {cpu_text:>10}  {cpu_ratio:>10}"
        )
    for name, s in series.items():
        steps = s.step_medians()
        if steps:
            total = sum(steps.values())
            print(f"    {name} steps (medians; outside steps {s.median - total:.3f}s):")
            for step, secs in steps.items():
                print(f"      {secs:7.3f}s  {step}")


def _mb(n: int) -> str:
    return f"{n / 1e6:7.1f} MB"


def report(results: Results, phases: Mapping[str, float], total: float) -> list[Target]:
    """Print every figure and ratio, then PASS/FAIL per target."""
    print_header(
        "dockwright build benchmark (bench/build.py): multistage Go build",
        results.versions,
        results.machine,
        15,
    )
    print(
        "  notes           BuildKit reads Dockerfile.buildkit (the same without `# syntax=`: "
        "no Docker Hub here);\n"
        "                  RUN on the host network for all (dockerd has no bridge); buildah "
        "--layers (cache like BuildKit's)"
    )
    print()
    counts = max((len(s.builds) for s in results.cold.values()), default=0)
    _table(
        f"Cold build, every cache empty (median of {counts})",
        results.cold,
        results.cpu.get("cold", {}),
    )
    print(
        "  loading the two bases before it (untimed; docker load / buildah pull / dockwright "
        "copy --unpack: each loads and unpacks, medians):"
    )
    for name, seconds in results.base_load.items():
        cold = _median(results.cold, name) or 0.0
        load = statistics.median(seconds)
        print(f"    {name:<11} {fmt_s(load)}   cold + load {fmt_s(cold + load)}")
    print()
    counts = max((len(s.builds) for s in results.nochange.values()), default=0)
    _table(
        f"Rebuild with nothing changed (median of {counts})",
        results.nochange,
        results.cpu.get("nochange", {}),
    )
    print()
    counts = max((len(s.builds) for s in results.edit.values()), default=0)
    _table(
        f"Rebuild after editing {build_images.EDITED_FILE} (median of {counts})",
        results.edit,
        results.cpu.get("edit", {}),
    )
    print()
    if results.memory:
        print("Peak memory of dockwright build (process tree sampled every 50 ms, untimed runs)")
        for label, mem in results.memory.items():
            big = ", ".join(
                f"{c} {_mb(r).strip()}"
                for c, r in sorted(mem.biggest.items(), key=lambda kv: -kv[1])[:5]
            )
            print(
                f"  {label:<5} ({mem.seconds:.1f}s, {mem.samples} samples): "
                f"outside the sandbox {_mb(mem.host_side_peak)}, whole tree {_mb(mem.tree_peak)}, "
                f"dockwright process VmHWM {_mb(mem.main_hwm)}, largest single process "
                f"(wait4 maxrss) {_mb(mem.rusage_maxrss)}"
            )
            print(f"        largest per command: {big}")
        print()
    print("Where the benchmark's time went")
    for name, secs in phases.items():
        print(f"  {fmt_s(secs)}  {name}")
    print(f"  {fmt_s(total)}  total")
    print()
    targets = targets_for(results)
    for t in targets:
        if t.value is None:
            print(f"FAIL  {t.name}: not measured ({t.detail})")
            continue
        verdict = "PASS" if t.ok else "FAIL"
        print(f"{verdict}  {t.name}: {t.value:.3f}{t.unit} (limit {t.limit}{t.unit}; {t.detail})")
    return targets


def json_figures(results: Results, targets: Sequence[Target]) -> dict[str, object]:
    """The figures as JSON."""
    return {
        "versions": results.versions,
        "machine": results.machine,
        "cold": {k: v.as_json() for k, v in results.cold.items()},
        "nochange": {k: v.as_json() for k, v in results.nochange.items()},
        "edit": {k: v.as_json() for k, v in results.edit.items()},
        "memory": {k: vars(v) for k, v in results.memory.items()},
        "cpu_s": results.cpu,
        "base_load_s": results.base_load,
        "targets": [
            {"name": t.name, "value": t.value, "limit": t.limit, "ok": t.ok} for t in targets
        ],
    }


def _tool_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = set(names) - set(TOOLS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown tool(s) {sorted(unknown)}; know {TOOLS}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every target is met, 1 when one is not, 2 on error."""
    parser = argparse.ArgumentParser(
        description="Benchmark dockwright build against Docker BuildKit and buildah."
    )
    parser.add_argument("--rounds", type=int, default=5, help="no-change and edit rebuilds")
    parser.add_argument("--cold", type=int, default=1, help="cold builds per tool (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work dir in /tmp")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--dockwright", metavar="CMD", help="the dockwright command to time")
    parser.add_argument("--goroot", default=str(build_images_goroot()), help="GOROOT to image")
    parser.add_argument("--buildah-driver", default="overlay", help="overlay (default) or vfs")
    parser.add_argument("--buildah-isolation", default="oci", help="oci (default) or chroot")
    parser.add_argument(
        "--tools",
        type=_tool_list,
        default=list(TOOLS),
        help=f"comma-separated subset of {','.join(TOOLS)} (targets need buildkit and dockwright)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.cold < 1:
        parser.error("--rounds and --cold must be at least 1")
    cleanup = Cleanup()
    stoppers = _Stoppers()
    atexit.register(cleanup)
    if not args.keep:
        atexit.register(stoppers)

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    phases = Phases()
    start = time.perf_counter()
    try:
        try:
            results = measure(args, cleanup, stoppers, phases)
        finally:
            with phases("teardown: stores, dockerd, work dir"):
                if not args.keep:
                    stoppers()
                cleanup()
        targets = report(results, phases.seconds, time.perf_counter() - start)
    except (BenchError, _services.ServiceError, subprocess.TimeoutExpired) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(json_figures(results, targets), indent=2) + "\n")
    return 0 if all(t.ok for t in targets) else 1


def build_images_goroot() -> Path:
    """``go env GOROOT`` of the host's Go (PATH, then /usr/local/go), else /usr/local/go."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    try:
        out = subprocess.run(
            [go, "env", "GOROOT"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return Path("/usr/local/go")
    return Path(out) if out else Path("/usr/local/go")


if __name__ == "__main__":
    sys.exit(main())
