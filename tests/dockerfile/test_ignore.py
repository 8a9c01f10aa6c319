""".dockerignore rules, loading and the context walker.

Expected results are Docker's: the examples of its documentation (build context page), and
outputs of moby/patternmatcher v0.6 and tonistiigi/fsutil (BuildKit's context walker) for the
less documented corners.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwright.dockerfile.ignore import (
    ContextWalkError,
    IgnoreFileError,
    IgnoreRules,
    load_ignore,
    walk_context,
)
from dockwright.dockerfile.ignore_patterns import go_clean, go_match, match_syntax_error
from dockwright.errors import DockwrightError


def excluded(text: str, *paths: str) -> list[bool]:
    rules = IgnoreRules.parse(text)
    return [rules.matches(path) for path in paths]


# --- Docker's documentation -------------------------------------------------------------------


def test_documentation_rules_table() -> None:
    rules = IgnoreRules.parse("# comment\n*/temp*\n*/*/temp*\ntemp?\n")
    assert [p.pattern for p in rules.patterns] == ["*/temp*", "*/*/temp*", "temp?"]
    # */temp*: names starting with temp in any immediate subdirectory of the root.
    assert rules.matches("somedir/temporary.txt")
    assert rules.matches("somedir/temp")
    # */*/temp*: the same two levels below the root.
    assert rules.matches("somedir/subdir/temporary.txt")
    # temp?: one more character after temp, in the root.
    assert rules.matches("tempa")
    assert rules.matches("tempb")
    # ... and nothing else.
    assert not rules.matches("temporary.txt")
    assert not rules.matches("temp")
    assert not rules.matches("tempab")
    assert not rules.matches("a/b/c/temporary.txt")
    assert not rules.matches("# comment")


def test_documentation_double_star() -> None:
    rules = IgnoreRules.parse("**/*.go")
    assert rules.matches("main.go")
    assert rules.matches("cmd/app/main.go")
    assert not rules.matches("main.go.txt")


def test_documentation_leading_slash_is_the_context_root() -> None:
    for text in ("/foo/bar", "foo/bar"):
        assert excluded(text, "foo/bar", "foo/bar/x", "bar", "foo", "a/foo/bar") == [
            True,
            True,
            False,
            False,
            False,
        ]


def test_documentation_exceptions() -> None:
    assert excluded("*.md\n!README.md", "CHANGES.md", "README.md") == [True, False]


def test_documentation_exception_placement_last_match_wins() -> None:
    first = "*.md\n!README*.md\nREADME-secret.md"
    assert excluded(first, "a.md", "README.md", "README-secret.md") == [True, False, True]
    second = "*.md\nREADME-secret.md\n!README*.md"
    assert excluded(second, "a.md", "README.md", "README-secret.md") == [True, False, False]


def test_documentation_include_list_style() -> None:
    text = "*\n!src\n!go.mod"
    assert excluded(text, "src/main.go", "go.mod", "go.sum", ".git/config") == [
        False,
        False,
        True,
        True,
    ]


# --- patterns ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*", "a", True),
        ("*", "a/b", True),  # the parent matched
        ("*.txt", "a/b.txt", False),  # * does not cross /
        ("a/*.txt", "a/b.txt", True),
        ("?", "a", True),
        ("?", "ab", False),
        ("[a-c]x", "bx", True),
        ("[^a-c]x", "bx", False),
        ("[^a-c]x", "dx", True),
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("**", "anything/at/all", True),
        ("**/x", "x", True),
        ("**/x", "a/b/x", True),
        ("**/x", "ax", False),
        ("**x", "ax", True),  # a leading ** is any suffix
        ("logs/**", "logs/a/b", True),
        ("logs/**", "logs", False),
        ("logs**", "logsa", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/xb", False),
        ("a/**/b/**", "a/q/b/r", True),
        ("build/", "build", True),  # a trailing / does not mean "directory only"
        ("./build", "build/x", True),
        ("a//b/../c", "a/c", True),
        ("node_modules", "node_modules/x/y", True),
        ("node_modules", "app/node_modules", False),  # not like .gitignore
        # Go's regexp reads what patternmatcher passes through:
        ("[[:alpha:]]", "q", True),
        ("[[:alpha:]]", "1", False),
        ("a\\d", "a1", True),
        ("a\\d", "ad", False),
        ("a^b*", "a^b", False),  # ^ is an anchor for Go's regexp: never matches
        ("a^b", "a^b", True),  # ... unless no wildcard makes it a regexp
        ("é*", "éa", True),
    ],
)
def test_pattern_matching(pattern: str, path: str, expected: bool) -> None:
    assert IgnoreRules.parse(pattern).matches(path) is expected


def test_context_root_is_never_excluded() -> None:
    rules = IgnoreRules.parse("*\n.")
    assert not rules.matches(".")
    assert not rules.matches("")


def test_paths_are_cleaned() -> None:
    rules = IgnoreRules.parse("a/b")
    assert rules.matches("./a/b")
    assert rules.matches("/a/b/")
    assert rules.matches("a//b")
    assert rules.matches("a/b", is_dir=True)


def test_exception_below_an_excluded_directory() -> None:
    text = "vendor\n!vendor/keep"
    assert excluded(text, "vendor", "vendor/x", "vendor/keep", "vendor/keep/deep") == [
        True,
        True,
        False,
        False,
    ]


def test_exception_then_exclusion_inside() -> None:
    text = "a\n!a/*\na/sub"
    assert excluded(text, "a", "a/x", "a/sub", "a/sub/y") == [True, False, True, True]


# --- reading the file -------------------------------------------------------------------------


def test_comments_only_in_column_one_and_whitespace_trimmed() -> None:
    rules = IgnoreRules.parse("#x\n  #y\n\t a b \t\n\n   \n")
    assert [p.pattern for p in rules.patterns] == ["#y", "a b"]
    assert [p.line for p in rules.patterns] == [2, 3]


def test_byte_order_mark_and_crlf() -> None:
    rules = IgnoreRules.parse("\ufeffa\r\n!b\r\n")
    assert [(p.pattern, p.exception) for p in rules.patterns] == [("a", False), ("b", True)]


def test_exception_spellings() -> None:
    rules = IgnoreRules.parse("! /x\n!./y/\n/!z\n!!w")
    assert [(p.pattern, p.exception) for p in rules.patterns] == [
        ("x", True),
        ("y", True),
        ("z", True),  # the "/" goes before "!" is looked at
        ("!w", True),
    ]


def test_from_patterns_reads_patterns_not_lines() -> None:
    rules = IgnoreRules.from_patterns(["*.tmp", "#x", "/abs", "!keep.tmp"], source="--exclude")
    assert [p.pattern for p in rules.patterns] == ["*.tmp", "#x", "/abs", "keep.tmp"]
    assert rules.matches("a.tmp") and not rules.matches("keep.tmp")
    assert not rules.matches("abs")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("ok\n[a", 2, "syntax error in pattern '[a'"),
        ("a[", 1, "syntax error"),
        ("[]", 1, "syntax error"),
        ("[a-]", 1, "syntax error"),
        ("x\\", 1, "syntax error"),
        ("!", 1, "illegal exclusion pattern"),
        ("a\n\n  !  ", 3, "illegal exclusion pattern"),
        ("a\\é", 1, "invalid escape"),  # Go's regexp refuses \é
        ("a*[[:foo:]]", 1, "invalid character class"),
        ("[z-a]*", 1, "syntax error"),
    ],
)
def test_malformed_patterns_name_file_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(IgnoreFileError) as info:
        IgnoreRules.parse(text, source="ctx/.dockerignore")
    assert info.value.file == "ctx/.dockerignore"
    assert info.value.line == line
    assert reason in str(info.value)
    assert str(info.value).startswith(f"ctx/.dockerignore:{line}: ")
    assert isinstance(info.value, DockwrightError)


def test_go_match_reports_bad_patterns_only_where_it_reads() -> None:
    # filepath.Match(p, ".") stops at the first chunk that cannot match "." and never reads
    # the rest; Docker accepts such patterns, and so do we.
    assert match_syntax_error("a[") is not None
    assert match_syntax_error("*[") is not None
    assert match_syntax_error("x*[") is None  # "x" already fails on "."
    # "x*\" passes that check; in Go's regexp the trailing \ then escapes the final $, so
    # the pattern matches x...$ anywhere after the start. Docker's behaviour, kept.
    rules = IgnoreRules.parse("x*\\")
    assert [rules.matches(p) for p in ("x", "xa$", "xa$b", "xa/$")] == [False, True, True, False]


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [
        ("", "."),
        ("a/./b/", "a/b"),
        ("a/../..", ".."),
        ("/../a", "/a"),
        ("//a//b", "/a/b"),
        ("./", "."),
    ],
)
def test_go_clean(path: str, cleaned: str) -> None:
    assert go_clean(path) == cleaned


def test_go_match() -> None:
    assert go_match("a*c", "abc")
    assert not go_match("a*c", "a/c")
    assert go_match("[^a]?", "bc")
    assert go_match("\\*", "*")


# --- choosing the file ------------------------------------------------------------------------


def test_no_ignore_file_excludes_nothing(tmp_path: Path) -> None:
    rules = load_ignore(tmp_path)
    assert rules.patterns == () and not rules.matches("anything")


def test_context_dockerignore(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("*.log\n")
    rules = load_ignore(tmp_path)
    assert rules.source == str(tmp_path / ".dockerignore")
    assert rules.matches("x.log")


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("*.log\n")
    build = tmp_path / "build"
    build.mkdir()
    (build / "app.Dockerfile").write_text("FROM scratch\n")
    (build / "app.Dockerfile.dockerignore").write_text("*.tmp\n")
    rules = load_ignore(tmp_path, build / "app.Dockerfile")
    assert rules.source == str(build / "app.Dockerfile.dockerignore")
    assert rules.matches("x.tmp")
    assert not rules.matches("x.log")  # the context's file is not read at all


def test_default_dockerfile_has_its_own_ignore_file(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("*.log\n")
    (tmp_path / "Dockerfile.dockerignore").write_text("")  # empty still wins
    rules = load_ignore(tmp_path)
    assert rules.patterns == ()
    assert rules.source == str(tmp_path / "Dockerfile.dockerignore")


def test_dockerfile_without_its_own_file_uses_the_context_one(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("*.log\n")
    other = tmp_path / "other"
    other.mkdir()
    rules = load_ignore(tmp_path, other / "Dockerfile.prod")
    assert rules.matches("a.log")


def test_unreadable_or_bad_ignore_file(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").mkdir()
    with pytest.raises(IgnoreFileError, match=r"\.dockerignore: cannot read"):
        load_ignore(tmp_path)
    (tmp_path / ".dockerignore").rmdir()
    (tmp_path / ".dockerignore").write_bytes(b"ok\n[\xff]\n")
    with pytest.raises(IgnoreFileError, match=r"\.dockerignore:2: "):
        load_ignore(tmp_path)


# --- walking the context ----------------------------------------------------------------------


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(name)


def test_walk_yields_included_files_in_order(tmp_path: Path) -> None:
    make_tree(tmp_path, ["b.txt", "a/x.go", "a/y.log", "a.txt", "empty/", ".git/config"])
    rules = IgnoreRules.parse(".git\n*/*.log")
    assert list(walk_context(tmp_path, rules)) == ["a/x.go", "a.txt", "b.txt"]
    assert list(walk_context(tmp_path, rules, include_dirs=True)) == [
        "a",
        "a/x.go",
        "a.txt",
        "b.txt",
        "empty",
    ]


def test_walk_enters_excluded_directory_for_an_exception(tmp_path: Path) -> None:
    make_tree(tmp_path, ["vendor/a/keep.txt", "vendor/a/drop.txt", "vendor/b/c.txt", "main.go"])
    rules = IgnoreRules.parse("vendor\n!vendor/a/keep.txt")
    assert list(walk_context(tmp_path, rules)) == ["main.go", "vendor/a/keep.txt"]
    # The excluded directories holding it come with it, as BuildKit sends them.
    assert list(walk_context(tmp_path, rules, include_dirs=True)) == [
        "main.go",
        "vendor",
        "vendor/a",
        "vendor/a/keep.txt",
    ]


def test_may_contain_included() -> None:
    rules = IgnoreRules.parse("vendor\nbuild\n!vendor/a/keep.txt\n!docs/**")
    assert rules.may_contain_included("src")  # not excluded
    assert rules.may_contain_included("vendor")
    assert rules.may_contain_included("vendor/a")
    assert not rules.may_contain_included("vendor/b")
    assert not rules.may_contain_included("build")
    assert not IgnoreRules.parse("build").may_contain_included("build")
    # An exception with a wildcard could match anywhere: BuildKit then walks everything.
    assert IgnoreRules.parse("build\n!**/*.keep").may_contain_included("build")


def test_walk_skips_excluded_directories_it_need_not_enter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, ["build/out.bin", "src/main.go"])
    real_scandir = os.scandir

    # Tests run as root, where chmod 000 does not stop reading: refuse it here instead.
    def scandir(path: str) -> Iterator[os.DirEntry[str]]:
        if os.path.basename(path) == "build":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr("dockwright.dockerfile.ignore.os.scandir", scandir)
    # Excluded, with no exception: never listed.
    assert list(walk_context(tmp_path, IgnoreRules.parse("build"))) == ["src/main.go"]
    # Excluded, but an exception makes BuildKit look inside: unreadable is then fine too.
    rules = IgnoreRules.parse("build\n!**/*.keep")
    assert list(walk_context(tmp_path, rules)) == ["src/main.go"]
    # Not excluded: an error naming the directory.
    with pytest.raises(ContextWalkError, match=r"cannot read .*build: Permission denied"):
        list(walk_context(tmp_path, IgnoreRules()))


def test_symlinks_are_entries_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make_tree(outside, ["secret.key", "dir/inner.txt"])
    context = tmp_path / "context"
    make_tree(context, ["app.go"])
    (context / "to_dir").symlink_to(outside)
    (context / "to_file").symlink_to(outside / "secret.key")
    (context / "dangling").symlink_to(tmp_path / "missing")
    (context / "loop").symlink_to(context)
    walked = list(walk_context(context, IgnoreRules(), include_dirs=True))
    assert walked == ["app.go", "dangling", "loop", "to_dir", "to_file"]
    assert not any("secret" in path or "inner" in path for path in walked)


def test_walk_of_a_missing_context(tmp_path: Path) -> None:
    with pytest.raises(ContextWalkError, match="not a directory"):
        list(walk_context(tmp_path / "nope", IgnoreRules()))
