"""The public API (``dockwright.__all__``) and the lightness of ``import dockwright``.

Fast start is checked by what gets imported, not by timing: a heavy module that appears at
``import dockwright`` or ``python -m dockwright --help`` means something is imported eagerly
that should be imported lazily (ARCHITECTURE.md, house rule 10).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dockwright
from support import run_dockwright

# The whole public API. Change it on purpose, here, when dockwright/__init__.py changes.
EXPECTED_PUBLIC_API: frozenset[str] = frozenset(
    {
        "__version__",
        "Descriptor",
        "Digest",
        "DockwrightError",
        "ImageConfig",
        "Index",
        "Manifest",
        "OutputSpec",
        "PackageOptions",
        "PackageResult",
        "Platform",
        "Store",
        "package",
        "parse_output",
        "publish",
    }
)

# Top-level modules that must not be loaded by `import dockwright` or by `--help`.
HEAVY_MODULES: frozenset[str] = frozenset(
    {"tarfile", "gzip", "zstandard", "http", "ssl", "_ssl", "concurrent"}
)

_REPORT_MODULES = """
import json, runpy, sys
out, argv = sys.argv[1], sys.argv[2:]
code = 0
if argv:
    sys.argv = ["dockwright", *argv]
    try:
        runpy.run_module("dockwright", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
else:
    import dockwright
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def _top_level_modules_loaded(tmp_path: Path, *argv: str) -> tuple[int, set[str], str]:
    """Exit code, loaded top-level module names and stdout of a fresh interpreter."""
    report = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", _REPORT_MODULES, str(report), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert report.exists(), f"interpreter failed:\n{proc.stdout}\n{proc.stderr}"
    data = json.loads(report.read_text())
    return data["code"], {m.split(".")[0] for m in data["modules"]}, proc.stdout


def _baseline(tmp_path: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {m.split(".")[0] for m in json.loads(proc.stdout)}


def test_all_is_the_expected_public_api() -> None:
    assert set(dockwright.__all__) == EXPECTED_PUBLIC_API, (
        "dockwright.__all__ changed; if on purpose, update EXPECTED_PUBLIC_API"
    )
    assert len(dockwright.__all__) == len(set(dockwright.__all__)), "duplicates in __all__"


def test_every_public_name_exists() -> None:
    missing = [name for name in dockwright.__all__ if not hasattr(dockwright, name)]
    assert not missing
    namespace: dict[str, object] = {}
    exec("from dockwright import *", namespace)
    assert set(EXPECTED_PUBLIC_API) <= set(namespace)


def test_package_is_typed() -> None:
    assert (Path(dockwright.__file__).parent / "py.typed").is_file()


def test_import_dockwright_is_light(tmp_path: Path) -> None:
    code, loaded, _ = _top_level_modules_loaded(tmp_path)
    assert code == 0
    heavy = (loaded & HEAVY_MODULES) - _baseline(tmp_path)
    assert not heavy, f"`import dockwright` loads {sorted(heavy)}; import them lazily"


def test_help_is_light(tmp_path: Path) -> None:
    code, loaded, stdout = _top_level_modules_loaded(tmp_path, "--help")
    assert code == 0
    assert "usage" in stdout.lower()
    heavy = (loaded & HEAVY_MODULES) - _baseline(tmp_path)
    assert not heavy, f"`python -m dockwright --help` loads {sorted(heavy)}; import them lazily"


def test_python_m_dockwright_help_runs() -> None:
    result = run_dockwright("--help")
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
