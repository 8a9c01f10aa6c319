"""Property tests: any .dockerignore either loads or raises IgnoreFileError, nothing else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dockwright.dockerfile.ignore import IgnoreFileError, IgnoreRules

# Pattern syntax (and what Go's regexp would read in it), plus ordinary characters.
PATTERN_ALPHABET = [*"*?[]^!\\/.-#: \tab1é{}()$|+", "**", "[[:alpha:]]", "[:", "\\d"]
PATTERN_PIECES = ["\\Q", "\\E", "\\x41", "\\101", "\\p{L}", "[^a-c]", "\ufeff", "\r", "\\é"]

lines = st.lists(
    st.one_of(st.sampled_from(PATTERN_ALPHABET), st.sampled_from(PATTERN_PIECES), st.characters()),
    max_size=12,
).map("".join)
ignore_files = st.lists(lines, max_size=6).map("\n".join)
paths = st.lists(
    st.sampled_from(["a", "b", "ab", ".a", "a.md", "[", "*", "é", "x y", "^", "\\", "$"]),
    min_size=1,
    max_size=4,
).map("/".join)


@settings(max_examples=1500, deadline=None)
@given(ignore_files, st.lists(paths, max_size=6))
def test_ignore_files_load_or_raise_ignore_file_error(text: str, candidates: list[str]) -> None:
    try:
        rules = IgnoreRules.parse(text, source="fuzz/.dockerignore")
    except IgnoreFileError as exc:
        assert exc.file == "fuzz/.dockerignore"
        assert exc.line is not None and 1 <= exc.line <= text.count("\n") + 1
        return
    for path in candidates:
        verdict = rules.matches(path)
        assert isinstance(verdict, bool)
        assert isinstance(rules.may_contain_included(path), bool)
        if not verdict:
            assert rules.may_contain_included(path)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(max_size=10), max_size=5))
def test_pattern_lists_load_or_raise_ignore_file_error(patterns: list[str]) -> None:
    try:
        rules = IgnoreRules.from_patterns(patterns)
    except IgnoreFileError:
        return
    assert rules.matches("a/b") in (True, False)
