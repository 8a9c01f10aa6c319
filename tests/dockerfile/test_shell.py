"""Unit tests of the shell lexer: each operator, quoting, escapes, flags and BuildKit's quirks.

Expected values are BuildKit's (frontend/dockerfile/shell, v0.34): the cases of its
lex_test.go, and outputs of its lexer for the quirks noted below.
"""

from __future__ import annotations

import pytest

from dockwright.dockerfile.shell import (
    MAX_NESTING,
    ExpandResult,
    ExpansionError,
    Lexer,
    RequiredVariableError,
    ShellSyntaxError,
)
from dockwright.errors import DockwrightError

LEX = Lexer()


def expand(text: str, **env: str) -> str:
    return LEX.expand(text, env)


def words(text: str, **env: str) -> list[str]:
    return LEX.expand_words(text, env)


# --- plain references, quotes and escapes -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A", "a"),
        ("${A}", "a"),
        ("x${A}y", "xay"),
        ("$Ax", ""),  # the name is Ax
        ("$A-x", "a-x"),
        ("$UNSET", ""),
        ("${UNSET}", ""),
        ("$", "$"),
        ("a$", "a$"),
        ("$.", "$."),
        ("$ x", "$ x"),
        ("$1x", "x"),  # positional parameters are never set
        ("$@@", "@"),
        ("'$A'", "$A"),
        ('"$A"', "a"),
        ('"${A}b"', "ab"),
        ("\\$A", "$A"),
        ('"\\$A"', "$A"),
        ("'\\$A'", "\\$A"),
        ('"a\\tb"', "a\\tb"),  # only " $ and the escape character are escaped in "..."
        ("a\\tb", "atb"),
        ("a\\", "a"),  # a trailing escape is dropped
        ('"\\""', '"'),
        ("'\"'", '"'),
        ('"\'"', "'"),
        ("$ÄÖ_1", "u"),  # names are Unicode letters, digits and _
    ],
)
def test_plain_expansion(text: str, expected: str) -> None:
    assert expand(text, A="a", ÄÖ_1="u") == expected


@pytest.mark.parametrize(
    ("text", "a", "expected"),
    [
        ("${A:-w}", None, "w"),
        ("${A:-w}", "", "w"),
        ("${A:-w}", "v", "v"),
        ("${A-w}", None, "w"),
        ("${A-w}", "", ""),
        ("${A-w}", "v", "v"),
        ("${A:+w}", None, ""),
        ("${A:+w}", "", ""),
        ("${A:+w}", "v", "w"),
        ("${A+w}", None, ""),
        ("${A+w}", "", "w"),
        ("${A+w}", "v", "w"),
        ("${A?}", "", ""),
        ("${A?m}", "v", "v"),
        ("${A:?m}", "v", "v"),
        ("${A:-$B}", None, "b"),
        ("${A:-${B:+x${B}y}}", None, "xby"),
        ("${A:-'a b'}", None, "a b"),
        ('${A:-"}"}', None, "}"),
        ("${A:-\\}}", None, "}"),
        ("${A:-a}}", None, "a}"),
    ],
)
def test_default_and_alternative(text: str, a: str | None, expected: str) -> None:
    env = {"B": "b"} if a is None else {"A": a, "B": "b"}
    assert LEX.expand(text, env) == expected


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("${V#*/}", "/usr/local/bin/go", "usr/local/bin/go"),
        ("${V##*/}", "/usr/local/bin/go", "go"),
        ("${V%.*}", "app.tar.gz", "app.tar"),
        ("${V%%.*}", "app.tar.gz", "app"),
        ("${V#*x*y}", "xxyy", "y"),
        ("${V#*}", "xxyy", "xxyy"),
        ("${V##*x}", "xxyy", "yy"),
        ("${V#}", "xxyy", "xxyy"),
        ("${V##}", "xxyy", "xxyy"),
        ("${V%}", "xxyy", "xxyy"),
        ("${V#?\\?}", "???y", "?y"),
        ("${V%%\\**}", "xx**", "xx"),
        ("${V%%\\**\\*}", "a***yy*", "a"),
        ("${V#()[]{\\}^$.\\*\\?|\\\\}", "()[]{}^$.*?|\\x", "x"),
        ("${V#[ab]}", "[ab]c", "c"),  # no bracket classes: [ is literal
        ("${V#nomatch}", "abc", "abc"),
        ("${V#'a\\*'}", "a\\*b", "*b"),  # quoted escapes stay literal in the pattern
        ('${V#"a\\*"}', "a\\*b", "*b"),
        ("${V#*}", "a\nb", "a\nb"),
        ("${V##*}", "a\nb", "\nb"),  # * does not match a newline
        ("${V%%*}", "a\nb", "a\n"),
        ("${V%%*}", "한국어", ""),
        ("${V%?}", "한국어", "한국"),
    ],
)
def test_prefix_and_suffix_removal(text: str, value: str, expected: str) -> None:
    assert expand(text, V=value) == expected


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${V/o/0}", {"V": "foo"}, "f0o"),
        ("${V//o/0}", {"V": "foo"}, "f00"),
        (
            "${V/$N/.} - ${V//$N/.}",
            {"V": "/foo*/*/*.txt", "N": "\\*/"},
            "/foo.*/*.txt - /foo..*.txt",
        ),
        ("${V/$N/} - ${V//$N/}", {"V": "/tmp/tmp/bar.txt", "N": "/tmp"}, "/tmp/bar.txt - /bar.txt"),
        (
            "${V/$N/$R} - ${V//$N/$R}",
            {"V": "/a/foo/b/c.txt", "N": "/?/", "R": "/"},
            "/foo/b/c.txt - /foo/c.txt",
        ),
        ("${V/$N/$R}", {"V": "http://x.de", "N": "http://", "R": "https://"}, "https://x.de"),
        ("${V//\\//\\/}", {"V": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt"),
        ("${V/$N/ww}", {"V": "xxyy", "N": ""}, "wwxxyy"),
        ("${V///}", {"V": "xxyy"}, "xxyy"),
        ("${V///}", {}, ""),
        ("${V/b*/-}", {"V": "abc"}, "a-"),  # * is greedy here
        # Go's ReplaceAll: an empty match right after a match is not replaced.
        ("${V//*/-}", {"V": "ab"}, "-"),
        ("${V//?/-}", {"V": "ab\ncd"}, "--\n--"),
        # The replacement of // goes through Go's Regexp.Expand ($0 is the match, $$ is $),
        # that of / is inserted as is; $0 written in the Dockerfile is the (unset) parameter.
        ("${V//x*/<$R>}", {"V": "xab", "R": "$0$$${0}$1$x"}, "<xab$xab>"),
        ("${V/x*/<$R>}", {"V": "xab", "R": "$0$$"}, "<$0$$>"),
        ("${V//a*/[$0]}", {"V": "xaay"}, "x[]"),
    ],
)
def test_replacement(text: str, env: dict[str, str], expected: str) -> None:
    assert LEX.expand(text, env) == expected


def test_buildkit_release_file_name() -> None:
    text = "x-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz"
    env = {"VERSION": "v1", "TARGETOS": "linux", "TARGETARCH": "arm", "TARGETVARIANT": "v7"}
    assert LEX.expand(text, env) == "x-v1.linux-arm-v7.tar.gz"
    assert LEX.expand(text, {**env, "TARGETVARIANT": ""}) == "x-v1.linux-arm.tar.gz"


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("'abc", "matching single-quote"),
        ('"abc', "matching double-quote"),
        ('"abc\\"', "matching double-quote"),
        ("${A", "missing '}'"),
        ("${", "missing '}'"),
        ("${A:-x", "missing '}'"),
        ("${A:-${B}", "missing '}'"),
        ("${}", "bad substitution"),
        ("${:-x}", "bad substitution"),
        ("${{A}", "bad substitution"),
        ("${A.B}", "unsupported modifier (.)"),
        ("${A:=x}", "unsupported modifier (:=)"),
        ("${A=x}", "unsupported modifier (=)"),
        ("${A:#x}", "unsupported modifier (:#)"),
        ("${A:%x}", "unsupported modifier (:%)"),
        ("${A:x}", "unsupported modifier (:x)"),
        ("${A/x", "missing '/' in ${}"),
        ("${A//x}", "missing '/' in ${}"),
        ("${A/x/y", "missing '}'"),
        ("${A#a\\b}", "invalid escape '\\b'"),
        ("${A/a\\b/c}", "invalid escape '\\b'"),
    ],
)
def test_syntax_errors(text: str, reason: str) -> None:
    with pytest.raises(ShellSyntaxError) as info:
        LEX.expand(text, {"A": "abc"})
    assert reason in info.value.reason
    assert info.value.text == text
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    assert str(info.value).startswith(f'failed to process "{quoted}": ')
    assert isinstance(info.value, DockwrightError)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("${A?}", {}, "A: is not allowed to be unset"),
        ("${A:?}", {}, "A: is not allowed to be unset"),
        ("${A:?}", {"A": ""}, "A: is not allowed to be empty"),
        ("${A?set A$B}", {"B": "!"}, "A: set A!"),
        ("${A:?need it}", {"A": ""}, "A: need it"),
    ],
)
def test_required_variables(text: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(RequiredVariableError) as info:
        LEX.expand(text, env)
    assert info.value.reason == message
    assert info.value.name == "A"


def test_error_offsets_point_at_the_problem() -> None:
    with pytest.raises(ShellSyntaxError) as info:
        expand("abc ${X:=1}")
    assert info.value.offset == 4
    with pytest.raises(ShellSyntaxError) as info:
        expand("ab 'cd")
    assert info.value.offset == 3


def test_nesting_is_limited_cleanly() -> None:
    deep = "${A:-" * (MAX_NESTING + 1) + "x" + "}" * (MAX_NESTING + 1)
    with pytest.raises(ShellSyntaxError, match="nested"):
        expand(deep)
    ok = "${A:-" * MAX_NESTING + "x" + "}" * MAX_NESTING
    assert expand(ok) == "x"


def test_escape_character_must_be_backslash_or_backtick() -> None:
    with pytest.raises(ValueError, match="escape"):
        Lexer("^")


# --- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a b  c", ["a", "b", "c"]),
        ("  a\tb\n", ["a", "b"]),
        ("$S", ["x", "y"]),
        ('"$S"', [" x  y "]),
        ("'a b' c", ["a b", "c"]),
        ("a\\ b", ["a b"]),
        ('a "" b', ["a", "b"]),  # an empty quoted word is dropped
        ("a\u00a0b", ["a", "b"]),  # Go's unicode.IsSpace
        ("a\x1cb", ["a\x1cb"]),  # which, unlike str.isspace, does not split on U+001C
        ("", []),
        ("cat <<  EOF a", ["cat", "<<  EOF", "a"]),  # blanks after << stay in the word
        ("a<b <<<c", ["a<b", "<<<c"]),
        # BuildKit quirk: text before a ${x<op>word} in the same word is lost from the words.
        ("ab${X:-c}d e", ["cd", "e"]),
        ('ab"${X:-c}"d e', ["cd", "e"]),
        ("ab${X}d", ["abd"]),
    ],
)
def test_word_splitting(text: str, expected: list[str]) -> None:
    assert LEX.expand_words(text, {"S": " x  y "}) == expected


def test_quirky_words_leave_the_value_alone() -> None:
    result = LEX.process("ab${X:-c}d e", {})
    assert result.value == "abcd e"
    assert result.words == ("cd", "e")


# --- variables used ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "env", "used", "unset"),
    [
        ("x", {"D": "d"}, set(), set()),
        ("x ${U}", {"D": "d"}, set(), {"U"}),
        ("${F-a} ${B-b} ${Z-c}", {"F": "x", "B": ""}, {"F", "B"}, {"Z"}),
        ("${F:+a} ${B:+b} ${Z:+c}", {"F": "x", "B": ""}, {"F", "B"}, {"Z"}),
        ("${F#$B}", {"F": "xxyy", "B": "x"}, {"F", "B"}, set()),
        ("${A:-.}${F%x}${A:-.}", {"F": "xxyy"}, {"F"}, {"A"}),
        ("${F:-$G}", {"F": "x"}, {"F"}, {"G"}),  # the word is expanded even when unused
        ("$1 $@", {}, set(), {"1", "@"}),
        ("'$Q' \\$R", {}, set(), set()),
    ],
)
def test_used_variables(text: str, env: dict[str, str], used: set[str], unset: set[str]) -> None:
    result = LEX.process(text, env)
    assert result.used == used
    assert result.unset_used == unset


def test_result_is_immutable() -> None:
    result = LEX.process("$A", {"A": "a"})
    assert result == ExpandResult(
        value="a", words=("a",), used=frozenset({"A"}), unset_used=frozenset()
    )
    with pytest.raises(AttributeError):
        result.value = "b"  # type: ignore[misc]


# --- escape character, platforms and flags ----------------------------------------------------


def test_backtick_escape() -> None:
    lexer = Lexer("`")
    assert lexer.expand('a`$b`"c', {"b": "B"}) == 'a$b"c'
    assert lexer.expand("C:\\dir\\$b", {"b": "B"}) == "C:\\dir\\B"
    assert lexer.expand('"a``b`"c"', {}) == 'a`b"c'


def test_windows_names_ignore_case() -> None:
    env = {"Path": "C:\\bin"}
    assert Lexer(windows=True).expand("$PATH;$path", env) == "C:\\bin;C:\\bin"
    assert Lexer().expand("$PATH;$Path", env) == ";C:\\bin"
    assert Lexer(windows=True).process("$path", env).used == {"path"}


def test_byte_order_mark_at_the_start_is_skipped() -> None:
    assert expand("\ufeff$x", x="X") == "X"
    assert expand("a\ufeff", x="X") == "a\ufeff"


def test_raw_quotes() -> None:
    assert Lexer(raw_quotes=True).expand("a\"b\\x\"c'd'", {}) == "a\"b\\x\"c'd'"


def test_raw_escapes() -> None:
    lexer = Lexer(raw_escapes=True)
    assert lexer.expand_words('a\\b "c\\d\\$"', {}) == ["a\\b", "c\\\\d\\$"]


def test_skip_unset_env_keeps_references() -> None:
    lexer = Lexer(skip_unset_env=True)
    text = "$x ${x} ${x:-d} ${x/a/b} $y"
    assert lexer.expand(text, {"y": "Y"}) == "$x ${x} ${x:-d} ${x/a/b} Y"


def test_skip_process_quotes() -> None:
    lexer = Lexer(skip_process_quotes=True)
    assert lexer.expand_words("'a' \"$y\"", {"y": "Y"}) == ["'a'", '"Y"']


def test_expansion_error_is_the_documented_root() -> None:
    assert issubclass(ShellSyntaxError, ExpansionError)
    assert issubclass(RequiredVariableError, ExpansionError)
    assert issubclass(ExpansionError, DockwrightError)
