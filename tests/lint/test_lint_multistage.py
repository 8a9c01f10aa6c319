"""``--fix`` for DW005: a single-stage Go build becomes a builder and a small final stage."""

from __future__ import annotations

from dockwright.lint.fix import fix_text

from .test_lint_fixtures import FIXTURES


def test_single_stage_go_becomes_multistage_on_scratch() -> None:
    text = (FIXTURES / "go-single-stage" / "Dockerfile").read_text()
    result = fix_text(text)
    assert result.text == (
        "FROM golang:1.22 AS build\n"
        "WORKDIR /app\n"
        "COPY . .\n"
        "RUN go mod download\n"
        "RUN CGO_ENABLED=0 go build -o /app/server .\n"
        "\n"
        "FROM scratch\n"
        "WORKDIR /app\n"
        "COPY --from=build /app/server /app/server\n"
        "EXPOSE 8080\n"
        'CMD ["/app/server"]\n'
    )
    assert "single-stage build split" in result.applied[0]
    assert "+FROM scratch" in result.diff


def test_runtime_config_cleanups_users_and_cgo() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM golang:1.22-alpine\n"
        "ARG VERSION=dev\n"
        "ENV APP_ENV=prod\n"
        "RUN adduser -D app\n"
        "WORKDIR /src\n"
        "COPY . .\n"
        "RUN cd cmd/api && go build -ldflags=-X=main.v=$VERSION -o ../../bin/api .\n"
        "RUN go clean -cache -modcache\n"
        "USER app\n"
        'LABEL org.opencontainers.image.title="api"\n'
        'ENTRYPOINT ["/src/bin/api"]\n'
    )
    result = fix_text(text)
    assert result.text == (
        "# syntax=docker/dockerfile:1\n"
        "FROM golang:1.22-alpine AS build\n"
        "ARG VERSION=dev\n"
        "ENV APP_ENV=prod\n"
        "RUN adduser -D app\n"
        "WORKDIR /src\n"
        "COPY . .\n"
        "RUN cd cmd/api && go build -ldflags=-X=main.v=$VERSION -o ../../bin/api .\n"
        "USER app\n"
        "\n"
        "FROM golang:1.22-alpine\n"  # cgo not disabled: the binary may need libc
        "ARG VERSION=dev\n"
        "ENV APP_ENV=prod\n"
        "WORKDIR /src\n"
        "COPY --from=build /src/bin/api /src/bin/api\n"
        "USER app\n"
        'LABEL org.opencontainers.image.title="api"\n'
        'ENTRYPOINT ["/src/bin/api"]\n'
    )


def test_named_user_on_scratch_gets_passwd() -> None:
    text = (
        "FROM golang:1.22\n"
        "ENV CGO_ENABLED=0\n"
        "RUN useradd app\n"
        "COPY . /src\n"
        "RUN go build -C /src -o /out/app .\n"
        "USER app\n"
        'ENTRYPOINT ["/out/app"]\n'
    )
    fixed = fix_text(text).text
    assert "FROM scratch\n" in fixed
    assert "COPY --from=build /etc/passwd /etc/group /etc/\n" in fixed
    assert fixed.endswith(
        'COPY --from=build /out/app /out/app\nUSER app\nENTRYPOINT ["/out/app"]\n'
    )


def test_not_rewritten_when_outputs_are_unknown() -> None:
    for text in (
        "FROM golang:1.22\nCOPY . .\nRUN go build .\n",  # no -o
        "FROM golang:1.22\nCOPY . .\nRUN go install ./...\n",
        "FROM rust:1.79\nCOPY . .\nRUN cargo build --release\n",
        "FROM golang:1.22 AS b\nRUN go build -o /x .\nFROM b\n",  # not single-stage
    ):
        assert fix_text(text).applied == (), text


def test_shell_form_cmd_keeps_the_base() -> None:
    text = "FROM golang:1.22\nCOPY . .\nRUN CGO_ENABLED=0 go build -o /app .\nCMD /app --serve\n"
    fixed = fix_text(text).text
    assert "\nFROM golang:1.22\n" in fixed
    assert fixed.endswith("COPY --from=build /app /app\nCMD /app --serve\n")
