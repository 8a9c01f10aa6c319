"""Fuzzing the front-end: no input may raise anything but a located DockerfileError.

Three sources of input, all derandomized so a failure reproduces:

- Dockerfiles generated from a grammar (directives, every instruction in odd spellings, flags
  with quotes and escapes, JSON arrays good and broken, continuations with comments and blank
  lines, heredocs terminated or not);
- BuildKit's conformance Dockerfiles with byte-level mutations (needs the shared folder);
- raw text over an alphabet of the characters the parser treats specially.

For each input, ``parse_dockerfile`` either returns (and then ``dump`` works and every line
range lies inside the file) or raises ``DockerfileError`` with a line ≥ 1 and a column ≥ 0.
The example counts keep the whole module around 20 s.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockwright.dockerfile import dump, error_context, parse_dockerfile
from dockwright.dockerfile.parser import INSTRUCTIONS
from dockwright.errors import DockerfileError
from support import conformance_dir

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check(text: str | bytes) -> None:
    """The property: a typed Dockerfile, or a located DockerfileError; never anything else."""
    lines = (text.decode("utf-8", "replace") if isinstance(text, bytes) else text).split("\n")
    try:
        dockerfile = parse_dockerfile(text, "fuzz/Dockerfile")
    except DockerfileError as exc:
        assert exc.file == "fuzz/Dockerfile"
        assert exc.line >= 1
        assert exc.column >= 0
        assert exc.line <= max(len(lines), 1)
        error_context(text, exc)
        return
    assert dockerfile.parsed is not None
    dump(dockerfile.parsed)
    for instruction in dockerfile.instructions:
        assert 1 <= instruction.start_line <= instruction.end_line <= len(lines)


# --- a grammar of Dockerfiles ---------------------------------------------------------------

_SPECIAL = " \t\\`'\"$={}[],:#<>-\x00\u00a0\u2028é😀"
_word_char = st.sampled_from("abcxyzAZ019./_-@+*?%" + _SPECIAL)
_TOKENS = (
    '"', "'", "\\", "`", "$", "${X}", "$X", '\\"', "\\$", "\\ ", " ", "a", "b1", "=", "[",
    "]", ",", "<<EOF", "é", "\t", "#", "--x",
)  # fmt: skip
tricky = st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=8).map("".join)
word = st.one_of(st.text(_word_char, min_size=1, max_size=12), tricky)
plain_word = st.text(st.sampled_from("abcdefxyz019./_-"), min_size=1, max_size=10)
name = st.text(st.sampled_from("abcXYZ_019"), min_size=1, max_size=6)

keyword = st.one_of(
    st.sampled_from(INSTRUCTIONS),
    st.sampled_from(INSTRUCTIONS).map(str.upper),
    st.sampled_from(("RUNN", "COPPY", "FRM", "HEALTHCHEK", "onbiuld", "X", "ENTRYPO\u0130NT")),
)
flag_name = st.sampled_from(
    (
        "from", "chown", "chmod", "link", "parents", "exclude", "checksum", "keep-git-dir",
        "unpack", "platform", "mount", "network", "security", "interval", "timeout",
        "start-period", "start-interval", "retries", "bogus",
    )
)  # fmt: skip
mount_option = st.one_of(
    st.builds(
        lambda k, v: f"{k}={v}",
        st.sampled_from(
            (
                "type",
                "target",
                "dst",
                "source",
                "from",
                "id",
                "sharing",
                "mode",
                "uid",
                "gid",
                "size",
                "required",
                "ro",
                "rw",
                "env",
                "tagret",
            )
        ),
        st.one_of(
            st.sampled_from(("bind", "cache", "tmpfs", "secret", "ssh", "locked", "0755", "1000")),
            st.sampled_from(("64m", "true", "/x", "$V", '"q,q"', "")),
            plain_word,
        ),
    ),
    st.sampled_from(("ro", "rw", "required", "readonly", '"')),
)
mount_type = st.sampled_from(("type=bind", "type=cache", "type=tmpfs", "type=secret", "type=ssh"))
mount_value = st.builds(
    lambda first, rest: ",".join([*first, *rest]),
    st.lists(mount_type, max_size=1),
    st.lists(mount_option, max_size=5),
)
good_mount = st.builds(
    lambda t, target, extra: f"type={t},target={target}{extra}",
    st.sampled_from(("bind", "cache", "tmpfs")),
    st.sampled_from(("/x", "/root/.cache", "$HOME/c")),
    st.sampled_from(("", ",ro", ",rw", ",from=build,source=/out")),
) | st.sampled_from(
    (
        "type=secret,id=tok",
        "type=secret,id=t,env=TOKEN,required",
        "type=ssh",
        "type=cache,target=/c,sharing=locked,uid=1,mode=0700",
        "type=tmpfs,target=/t,size=64m",
        "type=tmpfs,target=/t,size=1.5g",
    )
)
flag_value = st.one_of(
    word,
    mount_value,
    st.sampled_from(("0755", "u+x", "30s", "1m30s", "-1", "3", "sha256:" + "a" * 64, "true")),
)
flag = st.one_of(
    st.builds(lambda n, v: f"--{n}={v}", flag_name, flag_value),
    st.builds(lambda n: f"--{n}", flag_name),
    st.builds(lambda n, v: f'--{n}="{v}"', flag_name, word),
    st.just("--"),
)
json_array = st.one_of(
    st.lists(st.text(max_size=8), max_size=4).map(json.dumps),
    st.lists(st.one_of(st.text(max_size=4), st.integers(), st.none()), max_size=3).map(json.dumps),
    st.sampled_from(('["a"', '["a", ]', "[]", "[[]]", '["\\ud800"]', "[NaN]", "['a']", "[1e999]")),
)
heredoc_marker = st.builds(
    lambda fd, dash, quote, label: f"{fd}<<{dash}{quote}{label}{quote}",
    st.sampled_from(("", "3")),
    st.sampled_from(("", "-")),
    st.sampled_from(("", "'", '"')),
    st.sampled_from(("EOF", "END", "x")),
)
argument = st.one_of(word, plain_word, heredoc_marker, st.sampled_from(("AS", "NONE", "CMD", "=")))
arguments = st.one_of(
    st.lists(argument, max_size=6).map(" ".join),
    json_array,
    st.builds(lambda k, v: f"{k}={v}", plain_word, word),
)
shell_words = st.lists(st.one_of(plain_word, word, heredoc_marker), min_size=1, max_size=5).map(
    " ".join
)
command = st.one_of(
    shell_words, st.lists(st.text(max_size=6), min_size=1, max_size=3).map(json.dumps)
)
pairs = st.lists(
    st.builds(lambda k, v: f"{k}={v}", name, st.one_of(plain_word, word)), min_size=1, max_size=3
)

# Per-keyword templates that usually make a valid instruction, so the typed layer is reached.
_PLAUSIBLE = {
    "from": st.builds(
        lambda i, n: f"FROM {i}{n}", plain_word, st.sampled_from(("", " AS b", " as Build-2"))
    ),
    "run": st.builds(
        lambda f, c: f"RUN {f}{c}",
        st.lists(good_mount.map(lambda m: f"--mount={m} "), max_size=2).map("".join),
        command,
    ),
    "cmd": command.map(lambda c: f"CMD {c}"),
    "entrypoint": command.map(lambda c: f"ENTRYPOINT {c}"),
    "shell": st.lists(plain_word, min_size=1, max_size=3).map(lambda a: f"SHELL {json.dumps(a)}"),
    "copy": st.builds(
        lambda f, a: f"COPY {f}{a}",
        st.sampled_from(
            (
                "",
                "--from=build ",
                "--chmod=0644 ",
                "--link --parents ",
                "--exclude=*.md ",
                "--chown=1:1 ",
            )
        ),
        st.lists(st.one_of(plain_word, heredoc_marker), min_size=2, max_size=3).map(" ".join),
    ),
    "add": st.builds(
        lambda f, a: f"ADD {f}{a}",
        st.sampled_from(
            ("", "--checksum=sha256:" + "b" * 64 + " ", "--keep-git-dir ", "--unpack=true ")
        ),
        st.lists(plain_word, min_size=2, max_size=3).map(" ".join),
    ),
    "env": st.one_of(
        pairs.map(lambda p: "ENV " + " ".join(p)),
        st.builds(lambda k, v: f"ENV {k} {v}", name, word),
    ),
    "label": pairs.map(lambda p: "LABEL " + " ".join(p)),
    "arg": st.lists(
        st.one_of(name, st.builds(lambda k, v: f"{k}={v}", name, word)), min_size=1, max_size=3
    ).map(lambda a: "ARG " + " ".join(a)),
    "workdir": plain_word.map(lambda w: f"WORKDIR /{w}"),
    "user": st.sampled_from(("USER app", "USER 1000:1000", "USER $U")),
    "expose": st.lists(
        st.sampled_from(("80", "53/udp", "8000-8010/tcp", "$P", "99999")), min_size=1, max_size=3
    ).map(lambda p: "EXPOSE " + " ".join(p)),
    "volume": st.one_of(
        st.lists(plain_word, min_size=1, max_size=2).map(lambda v: "VOLUME " + json.dumps(v)),
        plain_word.map(lambda v: f"VOLUME /{v}"),
    ),
    "stopsignal": st.sampled_from(("STOPSIGNAL SIGTERM", "STOPSIGNAL 9", "STOPSIGNAL SIGFOO")),
    "healthcheck": st.one_of(
        st.just("HEALTHCHECK NONE"),
        st.builds(
            lambda f, c: f"HEALTHCHECK {f}CMD {c}",
            st.sampled_from(
                ("", "--interval=30s ", "--retries=3 --timeout=1m ", "--start-period=1ns ")
            ),
            command,
        ),
    ),
    "maintainer": st.just("MAINTAINER someone <a@b>"),
}
plausible = st.sampled_from(sorted(_PLAUSIBLE)).flatmap(lambda k: _PLAUSIBLE[k])
onbuild = plausible.filter(lambda line: not line.startswith("FROM")).map(
    lambda line: f"ONBUILD {line}"
)
random_instruction = st.builds(
    lambda k, flags, args: " ".join([k, *flags, args]),
    keyword,
    st.lists(flag, max_size=3),
    arguments,
)


@st.composite
def instruction(draw: st.DrawFn, escape: str) -> str:
    line = draw(st.one_of(plausible, plausible, onbuild, random_instruction))
    words = line.split(" ")
    joiners = (" ", " ", "\t", f" {escape}\n", f" {escape}\n# c\n  ", f" {escape}\n\n")
    text = words[0] + "".join(draw(st.sampled_from(joiners)) + w for w in words[1:]) + "\n"
    if "<<" in text and draw(st.integers(0, 4)):
        body = draw(
            st.lists(st.sampled_from(("echo hi", "\tEOF", "$X", "", "END", "x")), max_size=3)
        )
        terminator = draw(st.sampled_from(("EOF", "END", "x", "\tEOF", "\tx", "")))
        text += "".join(f"{line}\n" for line in body) + terminator + "\n"
    return text


@st.composite
def dockerfile(draw: st.DrawFn) -> str:
    escape = draw(st.sampled_from(("\\", "`")))
    directives = draw(
        st.lists(
            st.sampled_from(("# syntax=docker/dockerfile:1", "# check=skip=all", "#Syntax = x")),
            max_size=2,
            unique_by=lambda d: d.split("=")[0].replace(" ", "").lower(),
        )
    )
    if escape == "`":
        directives.append("# escape=`")
    if not draw(st.integers(0, 30)):
        directives.append(draw(st.sampled_from(("# escape=x", "# escape=\\", "", "# escape=`"))))
    start = draw(
        st.sampled_from(
            ("FROM alpine\n", "FROM a AS b\n", "ARG V=1\nFROM base:$V AS build\n", "", "RUN x\n")
        )
    )
    lines = st.one_of(instruction(escape), st.sampled_from(("# comment\n", "\n", "  \n")))
    body = draw(st.lists(lines, max_size=8))
    text = "".join(d + "\n" for d in directives) + start + "".join(body)
    if draw(st.integers(0, 4)) == 0:
        text = text.replace("\n", "\r\n")
    return text


@settings(FUZZ, max_examples=2500)
@given(dockerfile())
def test_generated_dockerfiles(text: str) -> None:
    check(text)


# --- mutations of BuildKit's conformance files -------------------------------------------

_INSERTS = (
    b"\\\n", b"`\n", b"\n", b"\r\n", b"#", b'"', b"'", b"[", b"]", b",", b"--", b"=", b"$",
    b"${", b"<<EOF", b"<<-'EOF'\n", b"\nEOF\n", b"\xff", b"\xc3", b"\x00", b" ", b"\t",
    b"ONBUILD ", b"HEALTHCHECK ", b"--mount=type=cache,", b"\xef\xbb\xbf",
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, sources: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(sources)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(("insert", "delete", "replace", "flip", "duplicate")))
        if operation == "insert":
            data[position:position] = draw(st.sampled_from(_INSERTS))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        elif operation == "replace" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif operation == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "duplicate":
            end = position + draw(st.integers(1, 40))
            data[position:position] = data[position:end]
    return bytes(data)


def test_mutated_conformance_files() -> None:
    root = conformance_dir()
    sources = sorted(
        path.read_bytes()
        for folder in ("testfiles", "testfiles-negative")
        for path in (root / folder).glob("*/Dockerfile")
    )
    sources.append((root / "testfile-line" / "Dockerfile").read_bytes())

    @settings(FUZZ, max_examples=2000)
    @given(mutated(sources))
    def mutate(data: bytes) -> None:
        check(data)

    mutate()


# --- raw text -------------------------------------------------------------------------------


@settings(FUZZ, max_examples=1500)
@given(
    st.text(st.sampled_from("FROMRUNCOPYENVARG aZ=\"'[]{}$\\`#<-\n\r\t\x0b\x1c\x85é"), max_size=120)
)
def test_raw_text(text: str) -> None:
    check("FROM a\n" + text)
    check(text)
