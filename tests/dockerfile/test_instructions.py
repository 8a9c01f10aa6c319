"""Typed instructions: every instruction, its flags, and located errors for bad input."""

from __future__ import annotations

import pytest

from dockwright.dockerfile import (
    PARSERS,
    Add,
    Arg,
    ArgDecl,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Heredoc,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    ShellOrExec,
    Stopsignal,
    User,
    Volume,
    Workdir,
    parse_dockerfile,
)
from dockwright.dockerfile.parser import INSTRUCTIONS
from dockwright.errors import DockerfileError


def one(line: str) -> Instruction:
    """The typed instruction of ``line`` (after a FROM)."""
    dockerfile = parse_dockerfile(f"FROM base\n{line}\n")
    return dockerfile.instructions[1]


def error(line: str) -> DockerfileError:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile(f"FROM base\n{line}\n", "Dockerfile")
    return caught.value


def test_every_keyword_has_a_parse_function() -> None:
    assert sorted(PARSERS) == sorted(INSTRUCTIONS)


# --- FROM ---------------------------------------------------------------------------------


def test_from() -> None:
    dockerfile = parse_dockerfile("FROM --platform=$BUILDPLATFORM golang:1.22 AS Build-1.x\n")
    instruction = dockerfile.instructions[0]
    assert instruction == From(
        start_line=1,
        end_line=1,
        original="FROM --platform=$BUILDPLATFORM golang:1.22 AS Build-1.x",
        image="golang:1.22",
        platform="$BUILDPLATFORM",
        stage_name="build-1.x",
    )
    assert instruction.keyword == "FROM"
    assert parse_dockerfile("FROM scratch").instructions[0] == From(
        start_line=1, end_line=1, original="FROM scratch", image="scratch"
    )
    assert isinstance(one("FROM a as b"), From)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("FROM", "FROM requires either one or three arguments", 1),
        ("FROM a b", "FROM requires either one or three arguments", 1),
        ("FROM a AS 1st", 'invalid name for build stage: "1st"', 11),
        ("FROM a AS b$c", 'invalid name for build stage: "b$c"', 11),
        ("FROM a TO b", "FROM requires either one or three arguments", 1),
        ("FROM --platform a", "Missing a value on flag: platform", 6),
        ("FROM --platform linux/amd64 a", "FROM requires either one or three arguments", 1),
        ("FROM --plat=x a", "unknown flag: plat", 6),
    ],
)
def test_from_errors(text: str, message: str, column: int) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile(text + "\n")
    assert message in str(caught.value)
    assert (caught.value.line, caught.value.column) == (1, column)


# --- RUN ----------------------------------------------------------------------------------


def test_run_shell_and_exec_form() -> None:
    shell = one("RUN echo $HOME && make")
    assert isinstance(shell, Run)
    assert shell.command == ShellOrExec(args=("echo $HOME && make",), exec_form=False)
    assert shell.command.shell == "echo $HOME && make"
    assert (shell.network, shell.security, shell.mounts, shell.heredocs) == (
        "default",
        "sandbox",
        (),
        (),
    )
    exec_form = one('RUN ["go", "build", "./..."]')
    assert isinstance(exec_form, Run)
    assert exec_form.command == ShellOrExec(args=("go", "build", "./..."), exec_form=True)
    assert exec_form.command.shell is None


def test_run_flags_and_heredoc() -> None:
    run = one(
        "RUN --network=none --security=insecure --mount=type=cache,target=/c "
        "--mount=type=tmpfs,target=/t <<EOF\nset -e\nEOF"
    )
    assert isinstance(run, Run)
    assert (run.network, run.security) == ("none", "insecure")
    assert [m.type for m in run.mounts] == ["cache", "tmpfs"]
    assert run.heredocs == (Heredoc(name="EOF", content="set -e\n"),)
    assert run.command.args == ("<<EOF",)
    assert (run.start_line, run.end_line) == (2, 4)


@pytest.mark.parametrize(
    ("line", "message", "hint"),
    [
        (
            "RUN --network=bridge x",
            'unsupported network mode "bridge"',
            "use --network=default, none or host",
        ),
        (
            "RUN --security=root x",
            'security "root" is not valid',
            "use --security=sandbox or insecure",
        ),
        ("RUN --mont=type=cache x", "unknown flag: mont", "did you mean --mount?"),
        ("RUN --network=host --network=none x", "Duplicate flag specified: network", None),
        (
            "RUN --mount=type=cache,target=/c",
            "RUN requires at least one argument",
            "give the command to run",
        ),
        ("RUN", "RUN requires at least one argument", "give the command to run"),
    ],
)
def test_run_errors(line: str, message: str, hint: str | None) -> None:
    caught = error(line)
    assert message in caught.message
    assert caught.hint == hint
    assert caught.line == 2


def test_flag_errors_point_at_the_flag() -> None:
    caught = error("RUN --network=host --network=none x")
    assert caught.column == len("RUN --network=host ") + 1
    caught = error("COPY --from=a \\\n  --chmod=abc x y")
    assert (caught.line, caught.column) == (3, 3)


# --- COPY and ADD -------------------------------------------------------------------------


def test_copy_with_every_flag() -> None:
    copy = one(
        "COPY --from=build --chown=app:app --chmod=0755 --link --parents "
        "--exclude=*.md --exclude=test/ src/ go.* /app/"
    )
    assert copy == Copy(
        start_line=2,
        end_line=2,
        original=copy.original,
        sources=("src/", "go.*"),
        dest="/app/",
        from_="build",
        chown="app:app",
        chmod="0755",
        link=True,
        parents=True,
        exclude=("*.md", "test/"),
    )


def test_copy_json_form_and_bool_flag_values() -> None:
    copy = one('COPY --link=false --parents=TRUE ["a b", "/dest dir/"]')
    assert isinstance(copy, Copy)
    assert (copy.sources, copy.dest, copy.link, copy.parents) == (
        ("a b",),
        "/dest dir/",
        False,
        True,
    )


def test_copy_heredoc_sources() -> None:
    copy = one('COPY <<-"EOF" <<B file /etc/\n\t$keep\n\tEOF\nb\nB')
    assert isinstance(copy, Copy)
    assert copy.sources == ("file",)
    assert copy.heredoc_sources == (
        Heredoc(name="EOF", content="\t$keep\n", expand=False, chomp=True),
        Heredoc(name="B", content="b\n"),
    )
    assert copy.heredoc_sources[0].text == "$keep\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("COPY onlyone", "COPY requires at least two arguments"),
        ("COPY", "COPY requires at least two arguments"),
        ("COPY a <<EOF\nx\nEOF", "COPY cannot accept a heredoc as a destination"),
        ("COPY --chmod=999 a b", 'invalid chmod mode "999"'),
        ("COPY --chmod=17777 a b", 'invalid chmod mode "17777": above 7777'),
        ("COPY --chmod=u+q a b", 'invalid chmod mode "u+q"'),
        ("COPY --chmod= a b", 'invalid chmod mode ""'),
        ("COPY --link=yes a b", "Expecting boolean value for flag link, not: yes"),
        ("COPY --link= a b", "Missing a value on flag: link"),
        ("COPY --from a b c", "Missing a value on flag: from"),
        ("COPY --checksum=sha256:00 a b", "unknown flag: checksum"),
        ("COPY --user=me a b", "unknown flag: user"),
        ("ADD --from=x a b", "unknown flag: from"),
        ("ADD --checksum=md5:abc a b", 'invalid checksum "md5:abc"'),
        ("ADD --keep-git-dir=maybe a b", "Expecting boolean value for flag keep-git-dir"),
        ("ADD x", "ADD requires at least two arguments"),
    ],
)
def test_copy_and_add_errors(line: str, message: str) -> None:
    assert message in error(line).message


def test_unknown_flag_hints() -> None:
    assert error("COPY --user=me a b").hint == (
        "valid flags for COPY: --chmod, --chown, --exclude, --from, --link, --parents"
    )
    assert error("COPY --chmode=1 a b").hint == "did you mean --chmod?"
    assert error("ENV --x=1 a=b").hint == "ENV takes no flags"


@pytest.mark.parametrize(
    "mode", ["755", "0755", "7777", "u+x", "u=rwx,go=rx", "a-w", "+x", "g=u", "u+rwX,o-t"]
)
def test_chmod_modes_accepted(mode: str) -> None:
    copy = one(f"COPY --chmod={mode} a b")
    assert isinstance(copy, Copy)
    assert copy.chmod == mode


def test_chmod_and_checksum_with_variables_are_kept_for_later() -> None:
    copy = one("COPY --chmod=$MODE --chown=${U}:${G} a b")
    assert isinstance(copy, Copy)
    assert (copy.chmod, copy.chown) == ("$MODE", "${U}:${G}")
    add = one("ADD --checksum=$SUM https://x/y.tgz /y")
    assert isinstance(add, Add)
    assert add.checksum == "$SUM"


def test_add_with_every_flag() -> None:
    digest = "sha256:" + "a" * 64
    add = one(
        f"ADD --chown=1:1 --chmod=644 --link --exclude=*.tmp --checksum={digest} "
        "--keep-git-dir --unpack=false https://example.com/x.tar.gz /opt/"
    )
    assert add == Add(
        start_line=2,
        end_line=2,
        original=add.original,
        sources=("https://example.com/x.tar.gz",),
        dest="/opt/",
        chown="1:1",
        chmod="644",
        link=True,
        exclude=("*.tmp",),
        checksum=digest,
        keep_git_dir=True,
        unpack=False,
    )
    plain = one("ADD a /b")
    assert isinstance(plain, Add)
    assert (plain.unpack, plain.keep_git_dir, plain.checksum) == (None, False, None)
    git = one("ADD --checksum=" + "0" * 40 + " https://github.com/x/y.git /src")
    assert isinstance(git, Add)


# --- ARG, ENV, LABEL ----------------------------------------------------------------------


def test_arg_declarations() -> None:
    arg = one("ARG A B=1 C= D='x y'")
    assert isinstance(arg, Arg)
    assert arg.args == (
        ArgDecl(name="A"),
        ArgDecl(name="B", default="1"),
        ArgDecl(name="C", default=""),
        ArgDecl(name="D", default="'x y'"),
    )


def test_env_and_label_pairs() -> None:
    env = one('ENV A=1 B="two words" C=$A')
    assert isinstance(env, Env)
    assert env.pairs == (
        KeyValue(key="A", value="1"),
        KeyValue(key="B", value='"two words"'),
        KeyValue(key="C", value="$A"),
    )
    legacy = one("ENV PATH /usr/local/bin:$PATH")
    assert isinstance(legacy, Env)
    assert legacy.pairs == (KeyValue(key="PATH", value="/usr/local/bin:$PATH", legacy=True),)
    label = one('LABEL org.opencontainers.image.title="x" maintainer="me"')
    assert isinstance(label, Label)
    assert [p.key for p in label.pairs] == ["org.opencontainers.image.title", "maintainer"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ARG", "ARG requires at least one argument"),
        ("ARG =x", "ARG names can not be blank"),
        ("ENV", "ENV requires at least one argument"),
        ("ENV =x", "ENV names can not be blank"),
        ("LABEL", "LABEL requires at least one argument"),
        ("LABEL =x", "LABEL names can not be blank"),
        ("ARG --x=1 a", "unknown flag: x"),
    ],
)
def test_key_value_errors(line: str, message: str) -> None:
    assert message in error(line).message


# --- the one-argument instructions, EXPOSE, VOLUME ----------------------------------------


def test_single_argument_instructions() -> None:
    assert one("WORKDIR /srv/my app") == Workdir(
        start_line=2, end_line=2, original="WORKDIR /srv/my app", path="/srv/my app"
    )
    assert one("USER app:app") == User(
        start_line=2, end_line=2, original="USER app:app", user="app:app"
    )
    assert one("MAINTAINER Jane <j@example.com>") == Maintainer(
        start_line=2,
        end_line=2,
        original="MAINTAINER Jane <j@example.com>",
        maintainer="Jane <j@example.com>",
    )
    stop = one("STOPSIGNAL SIGRTMIN+3")
    assert isinstance(stop, Stopsignal)
    assert stop.signal == "SIGRTMIN+3"


@pytest.mark.parametrize("signal", ["SIGTERM", "term", "KILL", "9", "$SIG", "sigrtmax-2"])
def test_stopsignal_accepted(signal: str) -> None:
    assert isinstance(one(f"STOPSIGNAL {signal}"), Stopsignal)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("USER", "USER requires exactly one argument"),
        ("MAINTAINER", "MAINTAINER requires exactly one argument"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("STOPSIGNAL SIGNOPE", "Invalid signal: SIGNOPE"),
        ("STOPSIGNAL 0", "Invalid signal: 0"),
        ("USER --x=1 app", "unknown flag: x"),
    ],
)
def test_single_argument_errors(line: str, message: str) -> None:
    assert message in error(line).message


def test_expose_and_volume() -> None:
    expose = one("EXPOSE 8080 53/udp 9000-9010/tcp $PORT 127.0.0.1:80:80")
    assert isinstance(expose, Expose)
    assert expose.ports == ("8080", "53/udp", "9000-9010/tcp", "$PORT", "127.0.0.1:80:80")
    volume = one('VOLUME ["/data", " /logs "]')
    assert isinstance(volume, Volume)
    assert volume.paths == ("/data", "/logs")
    assert isinstance(one("VOLUME /a /b"), Volume)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("EXPOSE 70000", 'invalid port "70000"'),
        ("EXPOSE 90-80", 'invalid port "90-80"'),
        ("EXPOSE 80/http", 'invalid port "80/http"'),
        ("EXPOSE http", 'invalid port "http"'),
        ("VOLUME", "VOLUME requires at least one argument"),
        ("VOLUME []", "VOLUME requires at least one argument"),
        ('VOLUME ["/a", " "]', "VOLUME specified can not be an empty string"),
    ],
)
def test_expose_and_volume_errors(line: str, message: str) -> None:
    assert message in error(line).message


# --- CMD, ENTRYPOINT, SHELL ---------------------------------------------------------------


def test_cmd_entrypoint_shell() -> None:
    cmd = one('CMD ["--port", "80"]')
    assert isinstance(cmd, Cmd)
    assert cmd.command == ShellOrExec(args=("--port", "80"), exec_form=True)
    empty = one("CMD")
    assert isinstance(empty, Cmd)
    assert empty.command == ShellOrExec(args=(), exec_form=False)
    entry = one("ENTRYPOINT exec /app")
    assert isinstance(entry, Entrypoint)
    assert entry.command.shell == "exec /app"
    cleared = one("ENTRYPOINT []")
    assert isinstance(cleared, Entrypoint)
    assert cleared.command == ShellOrExec(args=(), exec_form=True)
    shell = one('SHELL ["/bin/bash", "-eo", "pipefail", "-c"]')
    assert isinstance(shell, Shell)
    assert shell.shell == ("/bin/bash", "-eo", "pipefail", "-c")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("SHELL /bin/bash -c", "SHELL requires the arguments to be in JSON form"),
        ("SHELL []", "SHELL requires at least one argument"),
        ("SHELL", "SHELL requires at least one argument"),
        ('CMD --doit ["a"]', "unknown flag: doit"),
        ("ENTRYPOINT --x=1 a", "unknown flag: x"),
    ],
)
def test_cmd_entrypoint_shell_errors(line: str, message: str) -> None:
    assert message in error(line).message


# --- HEALTHCHECK --------------------------------------------------------------------------


def test_healthcheck_none_and_cmd() -> None:
    none = one("HEALTHCHECK NONE")
    assert isinstance(none, Healthcheck)
    assert (none.command, none.test) == (None, ("NONE",))
    check = one(
        "HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=0s --start-interval=2s "
        "--retries=3 CMD curl -f http://localhost/ || exit 1"
    )
    assert isinstance(check, Healthcheck)
    assert check.command == ShellOrExec(args=("curl -f http://localhost/ || exit 1",))
    assert check.test == ("CMD-SHELL", "curl -f http://localhost/ || exit 1")
    assert (
        check.interval,
        check.timeout,
        check.start_period,
        check.start_interval,
        check.retries,
    ) == (
        90_000_000_000,
        500_000_000,
        0,
        2_000_000_000,
        3,
    )
    exec_form = one('HEALTHCHECK cmd ["/bin/check", "-q"]')
    assert isinstance(exec_form, Healthcheck)
    assert exec_form.test == ("CMD", "/bin/check", "-q")
    assert exec_form.interval is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CONNECT TCP 7000", 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)'),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK --interval=5 CMD x", 'time: missing unit in duration "5" for --interval'),
        ("HEALTHCHECK --timeout=1x CMD x", 'unknown unit "x" in duration "1x"'),
        ("HEALTHCHECK --start-period=1us CMD x", 'Interval "start-period" cannot be less than 1ms'),
        ("HEALTHCHECK --interval=-1s CMD x", 'Interval "interval" cannot be less than 1ms'),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
        ("HEALTHCHECK --retries=x CMD x", 'parsing "x": invalid syntax'),
        ("HEALTHCHECK --retries=99999999999 CMD x", "invalid syntax"),
        ("HEALTHCHECK --every=1s CMD x", "unknown flag: every"),
    ],
)
def test_healthcheck_errors(line: str, message: str) -> None:
    assert message in error(line).message


# --- ONBUILD ------------------------------------------------------------------------------


def test_onbuild_types_its_trigger() -> None:
    onbuild = one("ONBUILD COPY --chown=app . /src")
    assert isinstance(onbuild, Onbuild)
    assert onbuild.expression == "COPY --chown=app . /src"
    assert isinstance(onbuild.inner, Copy)
    assert onbuild.inner.chown == "app"
    with_heredoc = one("onbuild RUN <<EOF\necho hi\nEOF")
    assert isinstance(with_heredoc, Onbuild)
    assert with_heredoc.expression == "RUN <<EOF\necho hi\nEOF"
    assert isinstance(with_heredoc.inner, Run)
    assert with_heredoc.inner.heredocs == (Heredoc(name="EOF", content="echo hi\n"),)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ONBUILD", "ONBUILD requires at least one argument"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD MAINTAINER x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("ONBUILD RUN --network=bad x", 'unsupported network mode "bad"'),
        ("ONBUILD --x RUN y", "unknown flag: x"),
    ],
)
def test_onbuild_errors(line: str, message: str) -> None:
    assert message in error(line).message


def test_instruction_locations_span_continuations() -> None:
    dockerfile = parse_dockerfile("FROM a\n\nRUN a \\\n  b \\\n  c\nCMD x\n")
    assert [(i.start_line, i.end_line) for i in dockerfile.instructions] == [(1, 1), (3, 5), (6, 6)]
    assert dockerfile.instructions[1].original == "RUN a   b   c"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("COPY --bogus onlyone", "COPY requires at least two arguments"),
        ("ADD --bogus onlyone", "ADD requires at least two arguments"),
        ("WORKDIR --bogus=1", "WORKDIR requires exactly one argument"),
        ("EXPOSE --bogus=1", "EXPOSE requires at least one argument"),
        ("ONBUILD --bogus", "ONBUILD requires at least one argument"),
        ("RUN --network=bad --mount=type=nope x", 'unsupported mount type "nope"'),
    ],
)
def test_error_precedence_follows_buildkit(line: str, message: str) -> None:
    assert message in error(line).message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("EXPOSE " + "9" * 5000, "invalid port"),
        ("STOPSIGNAL " + "9" * 5000, "Invalid signal"),
        ("HEALTHCHECK --retries=" + "1" * 5000 + " CMD x", "invalid syntax"),
        ("HEALTHCHECK --interval=" + "1" * 5000 + "s CMD x", "invalid duration"),
        ("RUN --mount=type=cache,target=/c,uid=" + "1" * 5000 + " x", "for uid"),
    ],
)
def test_huge_numbers_are_located_errors(line: str, message: str) -> None:
    assert message in error(line).message


def test_huge_heredoc_file_descriptor_is_clamped_like_go() -> None:
    run = one("RUN " + "7" * 5000 + "<<EOF\nEOF")
    assert isinstance(run, Run)
    assert run.heredocs[0].fd == (1 << 64) - 1
