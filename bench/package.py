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
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a script: its folder is sys.path[0]; make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _oci, _services
from bench._results import (
    Results,
    Series,
    Sizes,
    fmt_s,
    json_figures,
    report,
)
from bench._tools import (
    BASE_REF,
    DOCKERFILE,
    GO_LDFLAGS,
    REPO,
    TAG,
    BenchError,
    Docker,
    Dockwright,
    Ko,
    Source,
    Tool,
    file_sha,
    layer_binary_sha,
    profile_dockwright,
    run,
    tool_version,
)

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
    dw_extra = tuple(shlex.split(args.dockwright_flags))
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
            dw_cmd,
            src.root,
            work / "dw-home",
            env,
            base_layout=base_layout,
            pycache=pycache,
            extra=dw_extra,
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
            extra=dw_extra,
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
            extra=dw_extra,
        )
        if "dockwright" in wanted:
            tools.append(dw)
        if "dockwright-oci" in wanted:
            tools.append(dw_oci)
        if {"dockwright", "dockwright-oci"} & wanted:
            results.versions["dockwright"] = tool_version([*dw_cmd, "--version"], env)
            if dw_extra:
                results.versions["dockwright flags"] = shlex.join(dw_extra)
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
        "--dockwright-flags",
        default="",
        metavar="FLAGS",
        help="extra `dockwright package` flags, e.g. '--compression-level 1' (what-if runs)",
    )
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
        targets = report(results, phases.seconds, time.perf_counter() - start)
    except (BenchError, _services.ServiceError, subprocess.TimeoutExpired) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        data = json_figures(results, phases.seconds, targets)
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    return 0 if all(t.ok for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
