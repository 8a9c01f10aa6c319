"""ARCHITECTURE.md's import direction, enforced by reading every module's imports (AST).

Every import counts: at module level, inside functions, under ``if TYPE_CHECKING``, relative
imports, and ``importlib.import_module("dockwright....")`` with a literal name. To change a
rule, change ARCHITECTURE.md and ``BUILDS_ON`` together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# "X builds on Y", as ARCHITECTURE.md draws it. A component may import what it builds on and,
# transitively, what those build on. `errors` is open to all and imports nothing of ours.
BUILDS_ON: Mapping[str, frozenset[str]] = {
    "errors": frozenset(),
    "image": frozenset(),
    "dockerfile": frozenset(),
    "registry": frozenset({"image"}),
    "store": frozenset({"image"}),
    "plan": frozenset({"dockerfile", "image"}),
    "sandbox": frozenset({"image"}),
    "snapshot": frozenset({"image"}),
    "solve": frozenset({"plan", "sandbox", "snapshot", "store"}),
    "prebuilt": frozenset({"image", "registry", "store"}),
    "publish": frozenset({"image", "registry", "store"}),
    "analysis": frozenset({"image"}),
    # Rules are stage-aware (final-image rules judge only the stages that become the image),
    # and the stage graph lives in plan/: lint builds on it rather than growing a second one.
    "lint": frozenset({"dockerfile", "plan"}),
}
# Only these may import everything (and the root package's public API).
FREE = frozenset({"cli", "__init__", "__main__"})
OPEN_TO_ALL = frozenset({"errors"})
# `from dockwright import __version__` is fine anywhere: the root package is imported first
# by any `import dockwright.x` anyway, and the name is defined in it.
ROOT_NAMES_OPEN_TO_ALL = frozenset({"__version__"})
ROOT = "dockwright"


def allowed_imports(
    component: str, builds_on: Mapping[str, frozenset[str]] = BUILDS_ON
) -> frozenset[str]:
    """Components ``component`` may import: itself, errors, and the closure of BUILDS_ON."""
    seen: set[str] = set()
    todo = [component]
    while todo:
        current = todo.pop()
        for dep in builds_on.get(current, frozenset()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return frozenset(seen | {component} | OPEN_TO_ALL)


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    importer: str
    imported: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def module_name(path: Path, src: Path) -> str:
    """``src/dockwright/image/model.py`` → ``dockwright.image.model`` (packages drop __init__)."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def component_of(module: str) -> str:
    """The component a dockwright module belongs to: its first name below ``dockwright``.

    The root package itself is ``__init__``.
    """
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        package = package[: len(package) - (level - 1)]
    return ".".join([*package, target] if target else package)


def imported_modules(path: Path, src: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every dockwright module that ``path`` imports, wherever it does."""
    module = module_name(path, src)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            if base == ROOT:
                # `from dockwright import image` imports the subpackage; other names are the
                # root package's own attributes.
                for alias in node.names:
                    sub = f"{ROOT}.{alias.name}"
                    if _is_subpackage_or_module(sub, src):
                        yield node.lineno, sub
                    elif alias.name not in ROOT_NAMES_OPEN_TO_ALL:
                        yield node.lineno, ROOT
            else:
                yield node.lineno, base
        elif isinstance(node, ast.Call) and _is_import_call(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value


def _is_import_call(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def _is_subpackage_or_module(module: str, src: Path) -> bool:
    base = src.joinpath(*module.split("."))
    return base.is_dir() or base.with_suffix(".py").is_file()


def check_imports(
    src: Path = SRC, builds_on: Mapping[str, frozenset[str]] = BUILDS_ON
) -> list[Violation]:
    """Every import under ``src/dockwright`` that ARCHITECTURE.md's direction forbids."""
    violations = []
    known = set(builds_on) | FREE
    for path in sorted((src / ROOT).rglob("*.py")):
        importer = module_name(path, src)
        component = component_of(importer)
        shown = path.relative_to(src.parent) if src.parent in path.parents else path
        if component not in known:
            violations.append(
                Violation(
                    shown,
                    1,
                    importer,
                    "",
                    f"{importer} belongs to {component!r}, which ARCHITECTURE.md does not "
                    "place: add it to the picture there and to BUILDS_ON in this test",
                )
            )
            continue
        if component in FREE:
            continue
        allowed = allowed_imports(component, builds_on)
        for line, imported in imported_modules(path, src):
            if imported != ROOT and not imported.startswith(ROOT + "."):
                continue
            target = component_of(imported) if imported != ROOT else "the root package"
            if target in allowed:
                continue
            violations.append(
                Violation(
                    shown,
                    line,
                    importer,
                    imported,
                    f"{component} imports {imported} ({target}); {component} may import only "
                    f"{', '.join(sorted(allowed - {component}))} (ARCHITECTURE.md)",
                )
            )
    return violations


def test_source_follows_the_dependency_direction() -> None:
    violations = check_imports()
    assert not violations, "import direction broken:\n" + "\n".join(map(str, violations))


def test_every_component_in_the_source_is_placed() -> None:
    on_disk = {
        p.name for p in (SRC / ROOT).iterdir() if (p.is_dir() and (p / "__init__.py").exists())
    }
    assert on_disk <= set(BUILDS_ON) | FREE


# --- the checker itself ----------------------------------------------------------------------


def _tree(root: Path, files: Mapping[str, str]) -> Path:
    src = root / "src"
    for rel, text in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for pkg in (src / ROOT).rglob("*"):
        if pkg.is_dir() and not (pkg / "__init__.py").exists():
            (pkg / "__init__.py").write_text("")
    if not (src / ROOT / "__init__.py").exists():
        (src / ROOT / "__init__.py").write_text("")
    return src


def test_transitive_closure() -> None:
    solve = {"solve", "plan", "sandbox", "snapshot", "store", "dockerfile", "image", "errors"}
    assert allowed_imports("solve") == solve
    assert allowed_imports("image") == {"image", "errors"}
    assert allowed_imports("lint") == {"lint", "plan", "dockerfile", "image", "errors"}
    assert allowed_imports("dockerfile") == {"dockerfile", "errors"}


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        ("import dockwright.store\n", "dockwright.store"),
        ("from dockwright.store.store import Store\n", "dockwright.store.store"),
        ("def f():\n    from dockwright.registry import pull\n", "dockwright.registry"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import dockwright.cli\n",
            "dockwright.cli",
        ),
        ("from .. import store\n", "dockwright.store"),
        ("from ..publish import sink\n", "dockwright.publish"),
        ("from dockwright import lint\n", "dockwright.lint"),
        ("from dockwright import build_image\n", "dockwright"),
        (
            "import importlib\nm = importlib.import_module('dockwright.solve')\n",
            "dockwright.solve",
        ),
    ],
)
def test_checker_catches_a_forbidden_import(tmp_path: Path, source: str, imported: str) -> None:
    src = _tree(
        tmp_path,
        {
            "dockwright/image/bad.py": source,
            "dockwright/store/__init__.py": "",
            "dockwright/store/store.py": "",
            "dockwright/registry/__init__.py": "",
            "dockwright/lint/__init__.py": "",
            "dockwright/publish/sink.py": "",
            "dockwright/solve/__init__.py": "",
            "dockwright/cli/__init__.py": "",
        },
    )
    violations = check_imports(src)
    assert [(v.importer, v.imported) for v in violations] == [("dockwright.image.bad", imported)]
    assert "image may import only errors" in violations[0].message
    assert str(violations[0]).startswith("src/dockwright/image/bad.py:")


def test_checker_accepts_allowed_imports(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "dockwright/errors.py": "import json\n",
            "dockwright/image/model.py": (
                "from dockwright.errors import ImageFormatError\nfrom . import digest\n"
                "from .digest import Digest\nfrom dockwright import __version__\n"
            ),
            "dockwright/image/digest.py": "",
            "dockwright/plan/graph.py": "from dockwright.dockerfile import parse\n",
            "dockwright/dockerfile/__init__.py": "",
            "dockwright/solve/run.py": (
                "import dockwright.image\nfrom dockwright.plan import graph\n"
                "from dockwright import store\n"
            ),
            "dockwright/store/__init__.py": "from dockwright.image.model import Manifest\n",
            "dockwright/cli/__init__.py": "import dockwright.solve, dockwright.lint\n",
            "dockwright/lint/__init__.py": "",
            "dockwright/__main__.py": "from dockwright.cli import main\n",
        },
    )
    assert check_imports(src) == []


def test_checker_flags_an_unplaced_component(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"dockwright/utils/__init__.py": "", "dockwright/helpers.py": ""})
    messages = [v.message for v in check_imports(src)]
    assert len(messages) == 2
    assert all("does not place" in m for m in messages)
