"""Fuzzing the linter: any text gives findings inside the file, or a located DockerfileError.

Inputs are Dockerfiles composed from fragments that stress the rules (shell quoting, pipes,
heredocs, ``cd``, ``sh -c``, variables, globs, ``..`` paths, stage references, odd flags),
and byte-level mutations of the lint fixtures, linted with their build context. Derandomized,
so a failure reproduces.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockwright.errors import DockerfileError
from dockwright.lint.engine import lint
from dockwright.lint.fix import fix_text

from .test_lint_fixtures import FIXTURES

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_FROM = [
    "FROM alpine",
    "FROM golang:1.22 AS build",
    "FROM --platform=$BUILDPLATFORM golang:${GO:-1.22} as Build",
    "FROM build AS final",
    "FROM scratch",
    "FROM ${BASE}",
    "FROM --platform=linux/arm64 x@sha256:abc AS a",
    "from later",
]
_BODY = [
    "RUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*",
    "RUN apt-get purge -y gcc; apt-get autoremove",
    "RUN rm -rf /tmp/* ~/.cache $HOME/x ${GOPATH}/pkg `pwd`/y $(echo z)",
    "RUN cd /src && make && cd - && cd",
    'RUN sh -c \'sh -c "sh -c \\"go build -o /x\\""\'',
    "RUN curl -fsSLo- https://e.com/a.tgz | tar xz && wget -qO /x https://e.com/b",
    "RUN curl -sSL https://e.com/i.sh | bash -s -- -y",
    "RUN 'unterminated \"quote $(cmd",
    "RUN chmod -R u+rwX,go-w /app && chown -R 1:1 /app /missing",
    "RUN GOOS=windows GOARCH=arm GOARM=7 go build && export GOARCH=$TARGETARCH",
    "RUN --mount=type=cache,target=/root/.cache/go-build --mount=from=build,target=/b go build",
    'RUN ["sh", "-c", "pip install -r req.txt"]',
    'RUN ["/bin/true"]',
    "RUN <<EOF\nset -e\nnpm ci\nEOF",
    "RUN python3 <<'EOF'\nprint('x')\nEOF",
    "RUN useradd -u 123456789 app && sudo -u app -E env A=1 true",
    "COPY . .",
    "COPY ../x /y",
    "COPY --from=build /out/app /usr/local/bin/",
    "COPY --from=nope /a /b",
    "COPY --from=9 /a /b",
    "COPY --chmod=755 --chown=1:1 a b c /d",
    "COPY a b /dest",
    "COPY <<EOF /etc/x\nhello\nEOF",
    "COPY src/*.go /src/",
    "ADD https://e.com/x.tar.gz /opt/",
    "ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 "
    "https://e.com/y /y",
    "ADD local.txt /l",
    "ADD app.tar.gz /",
    "ARG TARGETARCH",
    "ARG TOKEN=abc",
    "ENV A=1 B=$A C=${UNSET}",
    "ENV legacy value with spaces",
    "ENV PATH=/x:$PATH",
    "WORKDIR rel",
    "WORKDIR /abs/$UNSET",
    "USER root",
    "USER 0:0",
    "EXPOSE 80/TCP 70000 1:2 8080-8090/udp $PORT",
    "CMD node server.js",
    "CMD []",
    'ENTRYPOINT ["/app"]',
    "HEALTHCHECK CMD curl -f http://localhost/ || exit 1",
    "MAINTAINER someone",
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
    "ONBUILD COPY --from=build . /x",
    "LABEL a=b",
    "STOPSIGNAL SIGTERM",
    "VOLUME /data",
    "# dockwright ignore=DW001,all",
    "run echo lower",
]
_GLOBAL = ["ARG BASE=alpine:3.20", "ARG GO", "ARG SECRET_PASSWORD"]


@st.composite
def dockerfile(draw: st.DrawFn) -> str:
    """A Dockerfile of a few stages drawn from the fragments above."""
    lines = draw(st.lists(st.sampled_from(_GLOBAL), max_size=2))
    for _ in range(draw(st.integers(1, 4))):
        lines.append(draw(st.sampled_from(_FROM)))
        lines += draw(st.lists(st.sampled_from(_BODY), max_size=8))
    return "\n".join(lines) + "\n"


def check(text: str | bytes, context: Path | None = None) -> None:
    """The property: findings located inside the file, or a located DockerfileError."""
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    count = max(len(decoded.split("\n")), 1)
    try:
        findings = lint(text, "fuzz/Dockerfile", context_dir=context)
        fixed = fix_text(decoded, "fuzz/Dockerfile", context_dir=context)
    except DockerfileError as exc:
        assert exc.line >= 1
        return
    for f in findings:
        assert 1 <= f.line <= f.end_line <= count, f
        assert f.message
    if fixed.applied:
        lint(fixed.text, "fuzz/Dockerfile", context_dir=context)


@settings(FUZZ, max_examples=600)
@given(dockerfile())
def test_generated_dockerfiles(text: str) -> None:
    check(text)


_SOURCES = sorted(p for p in FIXTURES.glob("*/Dockerfile"))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, Path]:
    """A fixture with a few bytes deleted, duplicated or replaced."""
    path = draw(st.sampled_from(_SOURCES))
    data = bytearray(path.read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.integers(0, 2))
        if kind == 0:
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == 1:
            data[at:at] = data[at : at + draw(st.integers(1, 16))]
        else:
            data[at] = draw(st.sampled_from(b" \t\n\\\"'$&|;<>{}()[]=.-/*#\x00\xff"))
    return bytes(data), path.parent


@settings(FUZZ, max_examples=600)
@given(mutated())
def test_mutated_fixtures(case: tuple[bytes, Path]) -> None:
    text, folder = case
    check(text, folder)
