"""The differential cases: one folder per case under ``tests/fixtures/build/``.

A case folder holds ``Dockerfile`` (or the file ``dockerfile`` names), ``context/`` (the build
context; may be absent = empty) and ``case.toml``:

```toml
description = "what the case covers"
dockerfile = "Dockerfile"            # path inside the case folder
target = "stage"                     # --target
platform = "linux/amd64"             # --platform
build_args = { K = "V" }             # --build-arg; "{http_url}" and "{http_port}" are filled in
labels = { K = "V" }                 # --label
no_cache = true                      # --no-cache
secrets = [{ id = "tok", src = "secret.txt" }, { id = "env", env = "DW_SECRET" }]
env = { DW_SECRET = "value" }        # environment of both builders (for secrets env=)
build_contexts = { extra = "extra" } # --build-context NAME=FOLDER (folder in the case)
modes = { "context/run.sh" = "4755" } # chmod after copying (git keeps only 644/755)
mkdirs = ["context/empty"]           # empty folders (git keeps none)
symlinks = { "context/out" = "../outside" }  # made after copying
prepare = "go_binary"                # a hook of harness.PREPARE_HOOKS
run = { args = ["/app"], stdout = "hi\n" }   # docker run the image; check stdout
slow = true                          # needs the Go image or the network

[[expected_differences]]
what = "/path" | "/dir/**" | "config:Env" | "history" | "platform:variant"
reason = "why this difference is deliberate"
```
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from build.flatten import Deliberate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "build"


@dataclass(frozen=True, slots=True)
class Secret:
    """A ``--secret``: from a file of the case folder (``src``) or an environment variable."""

    id: str
    src: str | None = None
    env: str | None = None


@dataclass(frozen=True, slots=True)
class RunCheck:
    """Run the built image with ``args`` (empty: its own CMD) and expect ``stdout``."""

    args: tuple[str, ...]
    stdout: str


@dataclass(frozen=True, slots=True)
class Case:
    """One differential case, as read from its folder."""

    name: str
    folder: Path
    description: str
    dockerfile: str = "Dockerfile"
    target: str | None = None
    platform: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    no_cache: bool = False
    secrets: tuple[Secret, ...] = ()
    ssh: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    build_contexts: Mapping[str, str] = field(default_factory=dict)
    modes: Mapping[str, int] = field(default_factory=dict)
    mkdirs: tuple[str, ...] = ()
    symlinks: Mapping[str, str] = field(default_factory=dict)
    prepare: str | None = None
    run: RunCheck | None = None
    slow: bool = False
    expected_differences: tuple[Deliberate, ...] = ()


def _strs(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a table")
    return {str(k): str(v) for k, v in value.items()}


def load_case(folder: Path) -> Case:
    """Read ``folder/case.toml`` into a :class:`Case`."""
    data = tomllib.loads((folder / "case.toml").read_text())
    known = {
        "description", "dockerfile", "target", "platform", "build_args", "labels", "secrets",
        "env", "build_contexts", "modes", "mkdirs", "symlinks", "prepare", "run", "slow",
        "expected_differences", "no_cache", "ssh",
    }  # fmt: skip
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{folder}/case.toml: unknown keys {sorted(unknown)}")
    run = data.get("run")
    deliberate = tuple(
        Deliberate(str(d["what"]), str(d["reason"])) for d in data.get("expected_differences", [])
    )
    for d in deliberate:
        if not d.reason.strip():
            raise ValueError(f"{folder}: expected difference {d.what} has no reason")
    return Case(
        name=folder.name,
        folder=folder,
        description=str(data.get("description", "")),
        dockerfile=str(data.get("dockerfile", "Dockerfile")),
        target=data.get("target"),
        platform=data.get("platform"),
        build_args=_strs(data.get("build_args", {}), "build_args"),
        labels=_strs(data.get("labels", {}), "labels"),
        no_cache=bool(data.get("no_cache", False)),
        ssh=bool(data.get("ssh", False)),
        secrets=tuple(
            Secret(str(s["id"]), s.get("src"), s.get("env")) for s in data.get("secrets", [])
        ),
        env=_strs(data.get("env", {}), "env"),
        build_contexts=_strs(data.get("build_contexts", {}), "build_contexts"),
        modes={k: int(str(v), 8) for k, v in data.get("modes", {}).items()},
        mkdirs=tuple(str(m) for m in data.get("mkdirs", [])),
        symlinks=_strs(data.get("symlinks", {}), "symlinks"),
        prepare=data.get("prepare"),
        run=None
        if run is None
        else RunCheck(tuple(str(a) for a in run.get("args", [])), str(run["stdout"])),
        slow=bool(data.get("slow", False)),
        expected_differences=deliberate,
    )


def all_cases(root: Path = FIXTURES) -> list[Case]:
    """Every case folder under ``root`` (folders starting with ``_`` are shared data)."""
    return [
        load_case(folder)
        for folder in sorted(root.iterdir())
        if folder.is_dir() and not folder.name.startswith("_") and (folder / "case.toml").exists()
    ]
