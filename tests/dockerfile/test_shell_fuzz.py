"""Property tests: any text either expands or raises ExpansionError, nothing else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dockwright.dockerfile.shell import ExpansionError, Lexer
from dockwright.dockerfile.shell_patterns import PatternError, replace, trim_prefix, trim_suffix

# Characters the lexer treats specially, plus a few ordinary, wide and space characters.
SHELL_ALPHABET = list("${}:-+?#%/\\'\"`<*@!0123abxAB_ .=[]\t\n\u00a0\ufeffé한")
SHELL_PIECES = ["${", "$A", "${A", ":-", ":+", "##", "%%", "//", "<<", "\\\\", "\\}", "\\/"]

shell_text = st.lists(
    st.one_of(st.sampled_from(SHELL_ALPHABET), st.sampled_from(SHELL_PIECES), st.characters()),
    max_size=40,
).map("".join)
env_values = st.one_of(st.text(max_size=12), st.sampled_from(["", "a b", "$0$$", "\\*", "*"]))
environments = st.dictionaries(st.sampled_from(["A", "B", "a", "x", "1"]), env_values, max_size=5)
lexers = st.builds(
    Lexer,
    st.sampled_from(["\\", "`"]),
    windows=st.booleans(),
    raw_quotes=st.booleans(),
    raw_escapes=st.booleans(),
    skip_process_quotes=st.booleans(),
    skip_unset_env=st.booleans(),
)


@settings(max_examples=1500, deadline=None)
@given(lexers, shell_text, environments)
def test_expansion_succeeds_or_raises_expansion_error(
    lexer: Lexer, text: str, env: dict[str, str]
) -> None:
    try:
        result = lexer.process(text, env)
    except ExpansionError as exc:
        assert exc.text == text
        assert exc.offset is None or 0 <= exc.offset <= len(text)
        return
    assert all(result.words), "no empty words"
    assert result.used.isdisjoint(result.unset_used) or lexer.windows
    assert lexer.expand(text, env) == result.value
    assert lexer.expand_words(text, env) == list(result.words)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="$'\"\\`<\ufeff")))
def test_text_without_special_characters_is_kept(text: str) -> None:
    assert Lexer().expand(text, {"A": "a"}) == text


@settings(max_examples=1500, deadline=None)
@given(
    st.text(alphabet=list("ab*?\\/}\n"), max_size=10),
    st.text(alphabet=list("ab*?\\\n$0"), max_size=20),
    st.booleans(),
)
def test_patterns_match_or_raise_pattern_error(pattern: str, value: str, flag: bool) -> None:
    try:
        prefix = trim_prefix(pattern, value, flag)
        suffix = trim_suffix(pattern, value, flag)
        replaced = replace(pattern, value, "<$0>", every=flag)
    except PatternError:
        return
    assert value.endswith(prefix)
    assert value.startswith(suffix)
    assert isinstance(replaced, str)
