"""What a benchmark run measured, the issue's targets, and how the figures are printed."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench import _oci

TARGET_EDIT_VS_KO = 1.0
TARGET_EDIT_VS_DOCKER = 0.7
TARGET_NOCHANGE_SECONDS = 0.3
TARGET_SIZE_SLACK = 1.02


@dataclass(frozen=True, slots=True)
class Build:
    """One build by one tool: wall time, the image it produced and where its time went."""

    tool: str
    seconds: float
    digest: str
    steps: Mapping[str, float] = field(default_factory=dict)
    note: str = ""


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


def print_header(
    title: str, versions: Mapping[str, str], machine: Mapping[str, object], width: int
) -> None:
    """A report's first lines: the title, the tools' versions, the machine and its load (with
    a warning when the load exceeded the CPU count); labels padded to ``width``."""
    print(title)
    for key, value in versions.items():
        print(f"  {key:<{width}} {value}")
    m = machine
    print(
        f"  {'machine':<{width}} {m.get('cpus')} CPUs, kernel {m.get('kernel')}, 1-min load "
        f"{m.get('loadavg_start', 0.0):.2f} at start, {m.get('loadavg_end', 0.0):.2f} at end"
    )
    cpus = m.get("cpus")
    loads = [m.get("loadavg_start", 0.0), m.get("loadavg_end", 0.0)]
    if isinstance(cpus, int) and any(isinstance(x, float) and x > cpus for x in loads):
        indent = " " * (width + 3)
        print(
            f"  {'WARNING':<{width}} the 1-minute load exceeded the CPU count: other work "
            f"competed for the CPUs,\n{indent}so timings are noisy (rotation keeps the "
            "medians comparable, not exact)"
        )


def report(results: Results, phases: Mapping[str, float], total: float) -> list[Target]:
    """Print every figure, the ratios and a PASS/FAIL line per target."""
    print_header(
        "dockwright package benchmark (bench/package.py)", results.versions, results.machine, 14
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
    for name, secs in phases.items():
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


def json_figures(
    results: Results, phases: Mapping[str, float], targets: Sequence[Target]
) -> dict[str, object]:
    """The figures for --json."""
    return {
        "rounds": results.rounds,
        "versions": results.versions,
        "machine": results.machine,
        "edit": {name: s.as_json() for name, s in results.edit.items()},
        "nochange": {name: s.as_json() for name, s in results.nochange.items()},
        "sizes": results.sizes.as_json() if results.sizes is not None else None,
        "phases_s": dict(phases),
        "profile": _profile_json(results.profile),
        "targets": [
            {"name": t.name, "value": t.value, "limit": t.limit, "unit": t.unit, "pass": t.ok}
            for t in targets
        ],
        "pass": all(t.ok for t in targets),
    }
