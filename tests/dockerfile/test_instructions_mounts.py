"""``RUN --mount``: every type and option, BuildKit's checks, and deferred expansion."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dockwright.dockerfile import Mount, MountError, Run, parse_dockerfile, parse_mount
from dockwright.errors import DockerfileError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("target=/src", Mount(target="/src", readonly=True)),
        (
            "type=bind,source=go.sum,target=/app/go.sum,from=deps,rw",
            Mount(source="go.sum", target="/app/go.sum", from_="deps", readonly=False),
        ),
        ("type=bind,src=a,dst=/b,readonly=false", Mount(source="a", target="/b", readonly=False)),
        ("TYPE=Bind,destination=/d,ro=true", Mount(target="/d", readonly=True)),
        (
            "type=cache,target=/root/.cache/go-build,id=gobuild,sharing=LOCKED,mode=0700,uid=1000,gid=1000",
            Mount(
                type="cache",
                target="/root/.cache/go-build",
                id="gobuild",
                sharing="locked",
                mode=0o700,
                uid=1000,
                gid=1000,
                readonly=False,
            ),
        ),
        ("type=cache,target=/c,ro", Mount(type="cache", target="/c", readonly=True)),
        (
            "type=tmpfs,target=/tmp,size=64m",
            Mount(type="tmpfs", target="/tmp", size=64 << 20, readonly=False),
        ),
        (
            "type=tmpfs,target=/t,size=1.5GiB",
            Mount(type="tmpfs", target="/t", size=3 << 29, readonly=False),
        ),
        ("type=secret,id=npmrc", Mount(type="secret", id="npmrc")),
        (
            "type=secret,id=tok,env=TOKEN,required=true,mode=0400",
            Mount(type="secret", id="tok", env="TOKEN", required=True, mode=0o400),
        ),
        ("type=secret,env=TOKEN", Mount(type="secret", env="TOKEN")),
        (
            "type=secret,source=aws,target=/root/.aws/credentials",
            Mount(type="secret", source="aws", target="/root/.aws/credentials"),
        ),
        ("type=ssh", Mount(type="ssh")),
        ("type=ssh,id=github,required", Mount(type="ssh", id="github", required=True)),
        ('type=bind,"target=/a,b"', Mount(target="/a,b")),
        ('"type=bind","target=say ""hi"""', Mount(target='say "hi"')),
        ("type=bind,target=", Mount(target="")),
    ],
)
def test_mounts(spec: str, expected: Mount) -> None:
    assert parse_mount(spec) == replace(expected, spec=spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty mount"),
        ("type=volume,target=/x", 'unsupported mount type "volume"'),
        ("type=cahce,target=/x", 'unsupported mount type "cahce"'),
        ("type=bind,target", "invalid field 'target' must be a key=value pair"),
        ("type=bind,tagret=/x", "unexpected key 'tagret' in 'tagret=/x'"),
        ("type=bind,target=/x,readonly=maybe", "invalid value for readonly: maybe"),
        ("type=bind,target=/x,rw=2", "invalid value for rw: 2"),
        ("type=bind,target=/x,required", "unexpected key 'required' for mount type 'bind'"),
        ("required,type=secret,id=x", "unexpected key 'required' for mount type 'bind'"),
        ("type=cache,target=/x,required=true", "unexpected key 'required' for mount type 'cache'"),
        ("type=cache,target=/x,sharing=exclusive", 'unsupported sharing value "exclusive"'),
        ("type=bind,target=/x,sharing=shared", "invalid cache sharing set for bind mount"),
        ("type=cache,target=/x,mode=0800", "invalid value 0800 for mode"),
        ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
        ("type=cache,target=/x,gid=4294967296", "invalid value 4294967296 for gid"),
        ("type=bind,target=/x,mode=0644", 'mode not allowed for "bind" type mounts'),
        ("type=tmpfs,target=/x,uid=1", 'uid not allowed for "tmpfs" type mounts'),
        ("type=bind,target=/x,gid=1", 'gid not allowed for "bind" type mounts'),
        ("type=bind,target=/x,size=1m", "unexpected key 'size' for mount type 'bind'"),
        ("type=tmpfs,target=/x,size=lots", "invalid value for size: lots"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,id=a,from=b", "secret mount should not have a from"),
        ("type=secret,id=a,source=b", "both source and id can't be set"),
        ("type=secret,id=a,sharing=locked", "invalid cache sharing set for secret mount"),
        ("type=bind,from=$STAGE,target=/x", "'from' doesn't support variable expansion"),
        ('type=bind,target=/a"b', 'bare " in non-quoted-field'),
        ('"type=bind"x', 'extraneous or missing " in quoted-field'),
        ('"type=bind', 'extraneous or missing " in quoted-field'),
    ],
)
def test_mount_errors(spec: str, message: str) -> None:
    with pytest.raises(MountError) as caught:
        parse_mount(spec)
    assert message in caught.value.message


def test_mount_error_hints() -> None:
    with pytest.raises(MountError) as caught:
        parse_mount("type=cahce,target=/x")
    assert caught.value.hint == "did you mean cache?"
    with pytest.raises(MountError) as caught:
        parse_mount("type=bind,tagret=/x")
    assert caught.value.hint == "did you mean target?"


def test_values_needing_expansion_are_kept_or_deferred() -> None:
    mount = parse_mount("type=cache,target=$HOME/.cache,id=${PROJ}-go,uid=$UID,sharing=${S}")
    assert (mount.target, mount.id, mount.uid, mount.sharing) == (
        "$HOME/.cache",
        "${PROJ}-go",
        None,
        None,
    )
    assert mount.deferred == ("uid", "sharing")
    typed_later = parse_mount("type=$T,target=/x,required")
    assert typed_later.deferred == ("type",)
    assert parse_mount("type=bind,from=stage$,target=/x").from_ == "stage$"


def test_parse_mount_with_an_expander_checks_everything() -> None:
    env = {"UID": "1000", "S": "private", "T": "cache"}

    def expand(value: str) -> str:
        for name, replacement in env.items():
            value = value.replace("${" + name + "}", replacement).replace("$" + name, replacement)
        return value

    mount = parse_mount("type=$T,target=/c,uid=$UID,sharing=${S}", expand=expand)
    assert (mount.type, mount.uid, mount.sharing, mount.deferred) == ("cache", 1000, "private", ())
    with pytest.raises(MountError, match="invalid value oops for uid"):
        parse_mount("type=cache,target=/c,uid=$X", expand=lambda v: "oops" if v == "$X" else v)


def test_mount_errors_are_located_at_the_flag() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile(
            "FROM a\nRUN --mount=type=cache,target=/c \\\n"
            "    --mount=type=cache,target=/x,uid=abc make\n"
        )
    error = caught.value
    assert "invalid value abc for uid" in error.message
    assert (error.line, error.column) == (3, 13)
    assert error.hint == "use a number such as 1000"


def test_run_keeps_every_mount_in_order() -> None:
    dockerfile = parse_dockerfile(
        "FROM a\nRUN --mount=type=secret,id=a --mount=type=ssh"
        " --mount=target=/src,from=build make\n"
    )
    run = dockerfile.instructions[1]
    assert isinstance(run, Run)
    assert [(m.type, m.id, m.from_) for m in run.mounts] == [
        ("secret", "a", None),
        ("ssh", None, None),
        ("bind", None, "build"),
    ]
