"""Every fixture Dockerfile under tests/fixtures/dockerfiles, linted: rule ids at exact lines.

Each fixture is a folder with a Dockerfile and, for some, a build context. ``EXPECTED``
lists every finding (rule, line) a fixture must produce, and nothing else may appear: the
negative fixtures (a builder stage with apt, go build, chmod and late cleanups) must stay
silent, which is what "stage-aware" means.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dockwright.lint.engine import lint
from dockwright.lint.findings import Finding, Severity

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dockerfiles"

# fixture -> (with the build context?, every (rule, line) expected)
EXPECTED: dict[str, tuple[bool, set[tuple[str, int]]]] = {
    "cleanup-later-layer": (
        False,
        {
            ("DW131", 2),  # apt lists left by the RUN that made them
            ("DW005", 4),  # make in the final image
            ("DW001", 5),  # apt-get purge / autoremove of line 2's packages
            ("DW001", 6),  # rm -rf /var/lib/apt/lists/* after line 2
            ("DW001", 7),  # rm -rf /src/.git of what COPY on line 3 brought
        },
    ),
    "chmod-after-copy": (True, {("DW002", 5), ("DW002", 6)}),
    "source-outside-context": (False, {("DW003", 2)}),
    "hard-coded-platform": (False, {("DW004", 1), ("DW004", 6), ("DW004", 7)}),
    "toolchain-single-stage": (False, {("DW005", 6)}),
    "source-before-deps": (False, {("DW006", 4), ("DW006", 10)}),
    "copy-all-no-dockerignore": (True, {("DW007", 5)}),
    "copy-all-leaky-dockerignore": (True, {("DW007", 5)}),
    "download-no-checksum": (
        False,
        {("DW008", 5), ("DW008", 7), ("DW008", 8), ("DW008", 12)},
    ),
    "go-single-stage": (True, {("DW006", 4), ("DW005", 5)}),
    "go-multistage": (True, set()),
    "node": (True, {("DW006", 4), ("DW001", 6), ("DW105", 9)}),
    "python": (
        True,
        {
            ("DW130", 2),
            ("DW131", 2),
            ("DW007", 4),
            ("DW006", 5),
            ("DW133", 5),
            ("DW001", 6),
            ("DW119", 7),
        },
    ),
    "builder-only-hygiene": (False, set()),
}


def _lint(folder: Path, with_context: bool) -> list[Finding]:
    path = folder / "Dockerfile"
    return lint(
        path.read_text(),
        "Dockerfile",
        context_dir=folder if with_context else None,
        dockerfile_path=path,
    )


def test_every_fixture_has_expectations() -> None:
    on_disk = {p.name for p in FIXTURES.iterdir() if (p / "Dockerfile").is_file()}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_findings(name: str) -> None:
    with_context, expected = EXPECTED[name]
    found = {(f.rule, f.line) for f in _lint(FIXTURES / name, with_context)}
    assert found == expected


def test_mistakes_name_the_instruction_that_holds_the_bytes() -> None:
    findings = _lint(FIXTURES / "cleanup-later-layer", False)
    by_line = {(f.rule, f.line): f for f in findings}
    lists = by_line[("DW001", 6)]
    assert "RUN on line 2" in lists.message
    assert "apt-get update" in lists.message
    assert lists.fix is not None and "same RUN" in lists.fix
    copied = by_line[("DW001", 7)]
    assert "COPY on line 3" in copied.message
    purge = [f for f in findings if f.line == 5]
    assert any("build-essential was installed by RUN on line 2" in f.message for f in purge)


def test_chmod_fix_suggests_copy_flags() -> None:
    findings = _lint(FIXTURES / "chmod-after-copy", True)
    chmod, chown = sorted(findings, key=lambda f: f.line)
    assert "COPY on line 3" in chmod.message
    assert chmod.fix is not None and "COPY --chmod=+x" in chmod.fix
    assert chown.fix is not None and "COPY --chown=65532:65532" in chown.fix


def test_sensitive_files_are_named(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    shutil.copytree(FIXTURES / "copy-all-no-dockerignore", context)
    (context / ".git").mkdir()
    (context / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (context / ".ssh").mkdir()
    (context / ".ssh" / "id_rsa").write_text("not a key\n")
    (context / "id_ed25519.pub").write_text("public keys are fine\n")
    (finding,) = _lint(context, True)
    assert finding.rule == "DW007"
    assert finding.severity is Severity.ERROR
    assert "no .dockerignore" in finding.message
    for name in (".git/", ".ssh/", ".env", "certs/server.pem"):
        assert name in finding.message
    assert ".env.example" not in finding.message
    assert "id_ed25519.pub" not in finding.message
    # a .dockerignore that keeps them all out ends the finding
    (context / ".dockerignore").write_text(".git\n.ssh\n.env\n*.pem\ncerts\n")
    assert _lint(context, True) == []


def test_leaky_dockerignore_is_respected() -> None:
    (finding,) = _lint(FIXTURES / "copy-all-leaky-dockerignore", True)
    assert "no .dockerignore" not in finding.message
    assert ".env" in finding.message and "certs/server.pem" in finding.message
    assert finding.fix is not None and ".dockerignore" in finding.fix


def test_target_changes_what_the_final_image_is() -> None:
    text = (FIXTURES / "builder-only-hygiene" / "Dockerfile").read_text()
    as_build = {(f.rule, f.line) for f in lint(text, target="build")}
    assert ("DW131", 2) in as_build  # apt lists now stay in the image
    assert ("DW002", 4) in as_build  # chmod -R of what COPY brought
    assert ("DW005", 5) in as_build  # make in the final image
    assert ("DW107", 8) in as_build  # and it runs as root
    assert ("DW001", 6) in as_build  # purge after the install
