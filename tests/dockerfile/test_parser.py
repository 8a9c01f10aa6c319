"""The parser: directives, escapes, continuations, exec/shell form, flags, ENV/LABEL/ARG
shapes, ONBUILD, HEALTHCHECK, errors with locations, and Go's quoting in the dump."""

from __future__ import annotations

import pytest

from dockwright.dockerfile import Node, dump, error_context, go_quote, parse
from dockwright.errors import DockerfileError


def dumps(text: str | bytes) -> list[str]:
    return dump(parse(text)).splitlines()


def only(text: str) -> Node:
    nodes = parse(text).nodes
    assert len(nodes) == 1
    return nodes[0]


# --- parser directives --------------------------------------------------------------------


def test_directives_are_read_until_the_first_other_line() -> None:
    result = parse(
        "# syntax=docker/dockerfile:1.7\n#CHECK = skip=all;error=true\n# escape=`\nFROM a\n"
    )
    assert [(d.name, d.value, d.line) for d in result.directives] == [
        ("syntax", "docker/dockerfile:1.7", 1),
        ("check", "skip=all;error=true", 2),
        ("escape", "`", 3),
    ]
    assert result.escape == "`"
    assert result.directive("SYNTAX") == "docker/dockerfile:1.7"
    assert result.directive("escape") == "`"


@pytest.mark.parametrize(
    "prefix",
    [
        "\n",  # a blank line ends the directives
        "# a comment\n",  # so does a comment
        "# unknown=directive\n",  # and a directive BuildKit does not know
        "FROM a\n",  # and an instruction
    ],
)
def test_escape_directive_after_other_content_is_a_comment(prefix: str) -> None:
    result = parse(prefix + "# escape=`\nFROM image\nENV A b`\n")
    assert result.escape == "\\"
    assert result.directive("escape") is None
    assert dump(result.nodes[-1]) == '(env "A" "b`" "")'


def test_directive_names_are_case_insensitive_and_spaces_are_allowed() -> None:
    result = parse("  #  ESCAPE  =  `  \nFROM `\n  x\n")
    assert result.escape == "`"
    assert dumps("  #  ESCAPE  =  `  \nFROM `\n  x\n") == ['(from "x")']


def test_a_directive_may_not_repeat() -> None:
    with pytest.raises(DockerfileError, match="only one escape parser directive") as caught:
        parse("# escape=`\n# escape=\\\nFROM a\n", "df")
    assert (caught.value.file, caught.value.line) == ("df", 2)


def test_escape_must_be_backslash_or_backtick() -> None:
    with pytest.raises(DockerfileError, match="invalid escape token '!'") as caught:
        parse("# escape=!\nFROM a\n")
    assert caught.value.line == 1
    assert caught.value.hint is not None


# --- escapes, continuations, comments -----------------------------------------------------


def test_backtick_escape_continues_lines_and_leaves_backslash_alone() -> None:
    text = "# escape=`\nFROM windows\nRUN dir c:\\ `\n  /s\nCOPY a\\b c:\\dest\\\n"
    assert dumps(text)[1:] == ['(run "dir c:\\\\   /s")', '(copy "a\\\\b" "c:\\\\dest\\\\")']


def test_comments_and_blank_lines_inside_a_continuation_are_skipped() -> None:
    result = parse("FROM a\nRUN one \\\n# comment\n   # indented comment\n\n  two\n")
    assert dump(result.nodes[1]) == '(run "one   two")'
    assert (result.nodes[1].start_line, result.nodes[1].end_line) == (2, 6)
    [warning] = result.warnings
    assert "Empty continuation line" in warning.message
    assert warning.line == 6


def test_escaped_escape_at_end_of_line_does_not_continue() -> None:
    assert dumps("FROM a\nENV C x\\\\\nENV D y\n")[1:] == [
        '(env "C" "x\\\\\\\\" "")',
        '(env "D" "y" "")',
    ]


def test_continuation_at_end_of_file_and_whitespace_after_the_escape() -> None:
    assert dumps("FROM a\nRUN x \\   \n y \\") == ['(from "a")', '(run "x  y")']


def test_crlf_line_endings_and_byte_order_mark() -> None:
    text = "\ufeffFROM a\r\nRUN b \\\r\n c\r\n"
    assert dumps(text) == ['(from "a")', '(run "b  c")']
    assert dumps(text.encode()) == ['(from "a")', '(run "b  c")']


def test_comment_lines_are_remembered_for_the_next_instruction() -> None:
    result = parse("# first\n# second\nFROM a\nRUN b\n")
    assert result.nodes[0].comments == ("first", "second")
    assert result.nodes[1].comments == ()


def test_leading_whitespace_and_keyword_case() -> None:
    node = only("   fRoM   alpine  \n")
    assert (node.keyword, node.values, node.original) == ("from", ("alpine",), "fRoM   alpine  ")


# --- exec form and shell form -------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected", "is_json"),
    [
        ('CMD ["a", "b"]', '(cmd "a" "b")', True),
        ("CMD []", "(cmd)", True),
        ('CMD ["a"] trailing', '(cmd "[\\"a\\"] trailing")', False),
        ("CMD [NaN]", '(cmd "[NaN]")', False),  # Python's json would accept NaN; Go's does not
        ("CMD [1e999]", '(cmd "[1e999]")', False),  # float64 overflow: not JSON to Go
        ('CMD ["\\ud800x"]', '(cmd "\ufffdx")', True),  # lone surrogate becomes U+FFFD
        ('CMD ["tab\\there"]', '(cmd "tab\\there")', True),
        ("CMD echo [x]", '(cmd "echo [x]")', False),
        ('ENTRYPOINT ["a"]', '(entrypoint "a")', True),
        ('SHELL ["/bin/bash", "-c"]', '(shell "/bin/bash" "-c")', True),
        ('VOLUME ["/a", "/b c"]', '(volume "/a" "/b c")', True),
        ("VOLUME /a  /b", '(volume "/a" "/b")', False),
        ("COPY [ a b", '(copy "[" "a" "b")', False),
    ],
)
def test_exec_form_and_shell_fallback(line: str, expected: str, is_json: bool) -> None:
    node = only(line)
    assert dump(node) == expected
    assert node.json is is_json


def test_deeply_nested_json_falls_back_without_a_traceback() -> None:
    node = only("CMD " + "[" * 5000 + "]" * 5000)
    assert node.json is False


@pytest.mark.parametrize(
    "line", ['CMD ["a", 1]', "RUN [null]", 'COPY ["a", ["b"]]', "VOLUME [true]"]
)
def test_json_arrays_of_non_strings_are_errors(line: str) -> None:
    with pytest.raises(DockerfileError, match="comprised of strings only") as caught:
        parse(f"FROM a\n{line}\n")
    assert caught.value.line == 2
    assert caught.value.column == line.index("[") + 1


# --- flags --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "flags", "values"),
    [
        ("COPY --from=build a b", ("--from=build",), ("a", "b")),
        ('COPY --chown="a b" x y', ("--chown=a b",), ("x", "y")),
        ("COPY --chown='a b' --link x y", ("--chown=a b", "--link"), ("x", "y")),
        ("COPY --x=a\\ b y z", ("--x=a b",), ("y", "z")),
        ("COPY -- --notaflag y", (), ("--notaflag", "y")),
        ("COPY --a -- --b y", ("--a",), ("--b", "y")),
        ("COPY -x a b", (), ("-x", "a", "b")),
        ("RUN --mount=type=cache,target=/x make", ("--mount=type=cache,target=/x",), ("make",)),
        ('COPY --empty="" a b', ("--empty=",), ("a", "b")),
        ("COPY --only", ("--only",), ()),
    ],
)
def test_flags_are_split_off_with_quotes_removed(
    line: str, flags: tuple[str, ...], values: tuple[str, ...]
) -> None:
    node = only(line)
    assert (node.flags, node.values) == (flags, values)


def test_dump_shows_flags_as_a_go_string_slice() -> None:
    assert dump(only("COPY --a=1 --b x y")) == '(copy ["--a=1" "--b"] "x" "y")'


# --- ENV, LABEL, ARG ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ENV a b c", '(env "a" "b c" "")'),
        ("ENV a=b c=d", '(env "a" "b" "=" "c" "d" "=")'),
        ('ENV a="b c" d=e\\ f', '(env "a" "\\"b c\\"" "=" "d" "e\\\\ f" "=")'),
        ("ENV a=", '(env "a" "" "=")'),
        ("ENV =x", '(env "" "x" "=")'),
        ("LABEL version=1 'a b'=c", '(label "version" "1" "=" "\'a b\'" "c" "=")'),
        ("ENV", "(env)"),
        ("ARG a b=c d='e f'", '(arg "a" "b=c" "d=\'e f\'")'),
        ("ARG", "(arg)"),
        ('ARG x="unterminated', '(arg "x=\\"unterminated")'),
    ],
)
def test_key_value_shapes(line: str, expected: str) -> None:
    assert dump(only(line)) == expected


def test_env_pairs_need_an_equals_sign_each() -> None:
    with pytest.raises(DockerfileError, match='can\'t find = in "c"') as caught:
        parse("FROM a\nENV a=b c\n")
    assert (caught.value.line, caught.value.column) == (2, 9)


def test_label_legacy_form_needs_a_value() -> None:
    with pytest.raises(DockerfileError, match="LABEL must have two arguments"):
        parse("FROM a\nLABEL only\n")


# --- HEALTHCHECK, ONBUILD, string instructions --------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("HEALTHCHECK NONE", '(healthcheck "NONE")'),
        (
            "HEALTHCHECK --retries=2 CMD  curl -f x",
            '(healthcheck ["--retries=2"] "CMD" "curl -f x")',
        ),
        ('HEALTHCHECK CMD ["a", "b"]', '(healthcheck "CMD" "a" "b")'),
        ("MAINTAINER  Jane <j@x>", '(maintainer "Jane <j@x>")'),
        ("WORKDIR /a b", '(workdir "/a b")'),
        ("USER 1000:1000", '(user "1000:1000")'),
        ("STOPSIGNAL SIGKILL", '(stopsignal "SIGKILL")'),
        ("EXPOSE 80/tcp\t443", '(expose "80/tcp" "443")'),
        ("FROM --platform=linux/arm64 a AS b", '(from ["--platform=linux/arm64"] "a" "AS" "b")'),
    ],
)
def test_other_shapes(line: str, expected: str) -> None:
    assert dump(only(line)) == expected


def test_onbuild_nests_the_trigger_with_its_own_flags() -> None:
    node = only("ONBUILD COPY --from=x a b")
    assert dump(node) == '(onbuild (copy ["--from=x"] "a" "b"))'
    assert node.child is not None
    assert (node.child.keyword, node.child.start_line, node.child.original) == (
        "copy",
        1,
        "COPY --from=x a b",
    )
    assert dump(only("ONBUILD")) == "(onbuild)"
    assert dump(only("ONBUILD ONBUILD RUN x")) == '(onbuild (onbuild (run "x")))'


# --- unknown instructions and errors ------------------------------------------------------


def test_unknown_instruction_suggests_a_close_spelling() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse("FROM a\n  RUNN make\n", "app/Dockerfile")
    error = caught.value
    assert (error.file, error.line, error.column) == ("app/Dockerfile", 2, 3)
    assert error.message.endswith("unknown instruction: RUNN")
    assert error.hint == "did you mean RUN?"
    assert str(error) == "app/Dockerfile:2:3: unknown instruction: RUNN (did you mean RUN?)"


def test_unknown_instruction_far_from_any_lists_them_all() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse("FROM a\nBANANA split\n")
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("valid instructions: ADD, ARG, CMD")


def test_unknown_onbuild_trigger_is_an_error_too() -> None:
    with pytest.raises(DockerfileError, match="unknown instruction: CPY") as caught:
        parse("FROM a\nONBUILD CPY a b\n")
    assert (caught.value.line, caught.value.column) == (2, 9)
    assert caught.value.hint == "did you mean COPY?"


def test_turkish_dotted_i_lowercases_as_in_go() -> None:
    assert only("ENTRYPO\u0130NT x").keyword == "entrypoint"


def test_error_context_draws_a_caret_under_the_column() -> None:
    text = "FROM a\n\tRUNN x\n"
    with pytest.raises(DockerfileError) as caught:
        parse(text)
    assert error_context(text, caught.value) == "2 | \tRUNN x\n  | \t^"
    assert error_context(text.encode(), caught.value) == "2 | \tRUNN x\n  | \t^"
    result = parse("FROM a\n")
    missing = DockerfileError("x", file="f", line=9)
    assert error_context(result, missing) == ""
    assert error_context(result, DockerfileError("x", file="f", line=1)) == "1 | FROM a"


def test_line_text_helper() -> None:
    result = parse("FROM a\nRUN b\n")
    assert result.line_text(2) == "RUN b"
    assert result.line_text(0) == result.line_text(3) == ""


# --- Go's quoting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ('q"b\\s', '"q\\"b\\\\s"'),
        ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
        ("\x00\x1b\x7f", '"\\x00\\x1b\\x7f"'),
        ("é ♥ ☃ 한국어 😀", '"é ♥ ☃ 한국어 😀"'),
        ("\u00a0\u2028\ufeff", '"\\u00a0\\u2028\\ufeff"'),
        ("\ue000\U0010ffff", '"\\ue000\\U0010ffff"'),
        ("\udcff\udc80", '"\\xff\\x80"'),  # invalid UTF-8 bytes (surrogateescape)
        ("\ud800", '"\\ufffd"'),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


def test_invalid_utf8_is_kept_and_dumped_as_go_does() -> None:
    assert dumps(b"FROM a\nRUN echo \xff\xfe\n")[1] == '(run "echo \\xff\\xfe")'
