"""Heredocs: which words open one, their names, expansion and chomp flags, bodies and lines."""

from __future__ import annotations

import pytest

from dockwright.dockerfile import Heredoc, parse
from dockwright.dockerfile.heredoc import chomp, heredocs_in_line, parse_heredoc_word
from dockwright.errors import DockerfileError


def heredocs(instruction: str) -> tuple[Heredoc, ...]:
    result = parse("FROM a\n" + instruction)
    assert len(result.nodes) == 2, [n.keyword for n in result.nodes]
    return result.nodes[1].heredocs


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("RUN <<EMPTY\nEMPTY\n", [Heredoc(name="EMPTY")]),
        ("RUN 3<<EMPTY2\nEMPTY2\n", [Heredoc(name="EMPTY2", fd=3)]),
        ('RUN "<<NOHEREDOC"\n', []),
        ("RUN '<<NOHEREDOC'\n", []),
        (
            "RUN <<INDENT\n\tfoo\n\tbar\nINDENT\n",
            [Heredoc(name="INDENT", content="\tfoo\n\tbar\n")],
        ),
        (
            "RUN <<-UNINDENT\n\tbaz\n\tquux\n\tUNINDENT\n",
            [Heredoc(name="UNINDENT", content="\tbaz\n\tquux\n", chomp=True)],
        ),
        (
            "RUN <<-'NOEXPAND'\n\tdon't expand $NAME\nNOEXPAND\n",
            [Heredoc(name="NOEXPAND", content="\tdon't expand $NAME\n", expand=False, chomp=True)],
        ),
        (
            "RUN <<COMMENT\n# internal comment\necho x # trailing\nCOMMENT\n",
            [Heredoc(name="COMMENT", content="# internal comment\necho x # trailing\n")],
        ),
        (
            "RUN --mount=type=cache,target=/foo <<MOUNT\necho hello\nMOUNT\n",
            [Heredoc(name="MOUNT", content="echo hello\n")],
        ),
        (
            "COPY <<FILE1 <<FILE2 /dest\ncontent 1\nFILE1\ncontent 2\nFILE2\n",
            [
                Heredoc(name="FILE1", content="content 1\n"),
                Heredoc(name="FILE2", content="content 2\n"),
            ],
        ),
        (
            "COPY <<X <<Y /dest\nY\nX\nX\nY\n",
            [Heredoc(name="X", content="Y\n"), Heredoc(name="Y", content="X\n")],
        ),
        (
            "RUN <<COMPLEX python3\nprint(1)\nCOMPLEX\n",
            [Heredoc(name="COMPLEX", content="print(1)\n")],
        ),
        ("COPY <<file.txt /dest\nhi\nfile.txt\n", [Heredoc(name="file.txt", content="hi\n")]),
        ("RUN <<eo'f'\necho foo\neof\n", [Heredoc(name="eof", content="echo foo\n", expand=False)]),
        ("RUN <<eo\\'f\necho foo\neo'f\n", [Heredoc(name="eo'f", content="echo foo\n")]),
        (
            "RUN <<'e'o\\'f\necho foo\neo'f\n",
            [Heredoc(name="eo'f", content="echo foo\n", expand=False)],
        ),
        (
            "RUN <<'one two'\necho bar\none two\n",
            [Heredoc(name="one two", content="echo bar\n", expand=False)],
        ),
        ('RUN <<"EOF"\n$X\nEOF\n', [Heredoc(name="EOF", content="$X\n", expand=False)]),
        ("RUN <<$EOF\n$EOF\n", [Heredoc(name="$EOF")]),
        ("RUN <<  EOF\nEOF\n", [Heredoc(name="EOF")]),
        ("RUN <<  EOF  > foo\nEOF\n", [Heredoc(name="EOF")]),
        ("RUN << -EOF\n-EOF\n", [Heredoc(name="-EOF")]),
        ("RUN <<EOF\r\nline\r\nEOF\r\n", [Heredoc(name="EOF", content="line\r\n")]),
        (
            "RUN <<EOF\nlast line without newline\nEOF",
            [Heredoc(name="EOF", content="last line without newline\n")],
        ),
    ],
)
def test_heredocs_found_like_buildkit(source: str, expected: list[Heredoc]) -> None:
    assert list(heredocs(source)) == expected


@pytest.mark.parametrize("line", ['RUN ["<<EOF"]', "RUN [\"<<'EOF'\"]", 'COPY ["<<EOF", "/x"]'])
def test_exec_form_has_no_heredocs(line: str) -> None:
    result = parse(f"FROM a\n{line}\n")
    assert result.nodes[1].heredocs == ()


def test_only_run_copy_add_and_onbuild_of_them_read_heredocs() -> None:
    with pytest.raises(DockerfileError, match="unknown instruction: INVALID"):
        parse("FROM a\nUSER <<INVALID\nINVALID\n")
    result = parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n")
    [node] = result.nodes[1:]
    assert node.heredocs == (Heredoc(name="EOF", content="echo hi\n"),)
    assert node.child is not None
    assert node.child.heredocs == node.heredocs
    assert (node.start_line, node.end_line) == (2, 4)


def test_line_numbers_include_the_bodies() -> None:
    result = parse("FROM a\nCOPY <<A <<B /d\n1\nA\n2\n3\nB\nRUN x\n")
    assert [(n.start_line, n.end_line) for n in result.nodes] == [(1, 1), (2, 7), (8, 8)]


def test_a_heredoc_after_a_continuation() -> None:
    result = parse("FROM a\nRUN \\\n  <<EOF cat\nhello\nEOF\n")
    assert result.nodes[1].values == ("<<EOF cat",)
    assert result.nodes[1].heredocs == (Heredoc(name="EOF", content="hello\n"),)
    assert result.nodes[1].end_line == 5


def test_unterminated_heredoc_is_located_at_its_instruction() -> None:
    with pytest.raises(DockerfileError, match="unterminated heredoc EOF") as caught:
        parse("FROM a\nRUN cat <<EOF\nno end\n", "f")
    assert (caught.value.file, caught.value.line, caught.value.column) == ("f", 2, 9)
    assert caught.value.hint == "end the here-document with a line holding only EOF"


def test_unbalanced_quotes_on_the_line_mean_no_heredoc() -> None:
    result = parse("FROM a\nRUN echo 'x <<EOF\n")
    assert result.nodes[1].heredocs == ()


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("<<EOF", "EOF"),
        ("<<'EOF'", "EOF"),
        ('<<"EOF"', "EOF"),
        ("<<-EOF", "EOF"),
        ("<<-'EOF'", "EOF"),
        ('<<-"EOF"', "EOF"),
        ('<<EO"F"', "EOF"),
        ("<< EOF", "EOF"),
        ("<<- EOF", "EOF"),
        ("", None),
        ("EOF", None),
        ("<<", None),
        ("<<-", None),
        ("<EOF", None),
        ("<<<EOF", None),
        ("<<EOF sh", None),
        ("<<'EOF", None),
        ("<<EOF'", None),
        ("<<${X", None),
    ],
)
def test_parse_heredoc_word(word: str, name: str | None) -> None:
    heredoc = parse_heredoc_word(word)
    assert (heredoc.name if heredoc else None) == name


def test_heredocs_in_line() -> None:
    assert [h.name for h in heredocs_in_line("RUN <<EOF <<EOF2")] == ["EOF", "EOF2"]
    assert [h.name for h in heredocs_in_line("RUN 4<<EOF")] == ["EOF"]
    assert [h.fd for h in heredocs_in_line("RUN 4<<EOF")] == [4]
    assert heredocs_in_line("RUN ${X:-<<EOF}") == []
    assert heredocs_in_line('RUN "${X" <<EOF') == []


def test_chomp_removes_leading_tabs_per_line() -> None:
    assert chomp("\thello\n\t\tworld\n  kept\n") == "hello\nworld\n  kept\n"
    assert Heredoc(name="X", content="\ta\n", chomp=True).text == "a\n"
    assert Heredoc(name="X", content="\ta\n").text == "\ta\n"
