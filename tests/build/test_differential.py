"""Issue 5, "Done when" 1 and 2: every case built by Docker's BuildKit and by ``dockwright
build`` gives the same flattened file tree, config and history (up to the case's documented
deliberate differences); cases with a ``run`` table also run and print what they must."""

from __future__ import annotations

import pytest

from build.cases import Case, all_cases
from build.flatten import compare
from build.harness import (
    BuildEnv,
    archive_mentions,
    buildkit_build,
    dockwright_build,
    flat,
    run_image,
    secret_values,
)

CASES = all_cases()


def _marks(case: Case) -> list[pytest.MarkDecorator]:
    marks = [pytest.mark.docker]
    if case.slow:
        marks.append(pytest.mark.slow)
    return marks


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=_marks(c)) for c in CASES])
def test_dockwright_matches_buildkit(build_env: BuildEnv, case: Case) -> None:
    expected = buildkit_build(build_env, case)
    if case.run is not None:
        assert run_image(build_env, expected, case.run.args) == case.run.stdout, (
            "the case itself is wrong: BuildKit's image does not print what case.toml says"
        )
    actual = dockwright_build(build_env, case)
    for value in secret_values(build_env, case):
        assert not archive_mentions(expected, value), "the case leaks its secret with BuildKit"
        leaks = archive_mentions(actual, value)
        assert not leaks, f"dockwright's image holds a secret's bytes in {leaks}"
    diffs = compare(flat(expected), flat(actual), case.expected_differences)
    assert not diffs, (
        f"case {case.name} ({case.description}): dockwright's image differs from BuildKit's\n"
        + "\n".join(diffs)
    )
    if case.run is not None:
        assert run_image(build_env, actual, case.run.args) == case.run.stdout


def test_enough_cases() -> None:
    """Issue 5 asks for 40+ cases."""
    assert len(CASES) >= 40, [c.name for c in CASES]
