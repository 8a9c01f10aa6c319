"""Each rule on small Dockerfiles: where it fires, and where it must stay silent."""

from __future__ import annotations

import pytest

from dockwright.errors import DockerfileError
from dockwright.lint.engine import lint

# (rule, Dockerfile, lines where the rule must fire — empty: must stay silent)
CASES: list[tuple[str, str, list[int]]] = [
    # DW001 cleanup in a later layer
    ("DW001", "FROM a:1\nRUN apk add --virtual .b gcc\nRUN apk del .b\n", [3]),
    ("DW001", "FROM a:1\nRUN apk add --virtual .b gcc && make && apk del .b\n", []),
    ("DW001", "FROM a:1\nRUN go mod download\nRUN go clean -modcache\n", [3]),
    (
        "DW001",
        "FROM a:1\nRUN --mount=type=cache,target=/root/go go mod download\n"
        "RUN go clean -modcache\n",
        [],
    ),
    ("DW001", "FROM a:1\nWORKDIR /w\nRUN git clone https://e.com/r.git\nRUN rm -rf r\n", [4]),
    ("DW001", "FROM a:1\nCOPY x.conf /etc/nginx/\nRUN rm /etc/nginx/conf.d/default.conf\n", []),
    ("DW001", "FROM a:1\nCOPY . /\nRUN rm -rf /var/cache/x\n", []),
    ("DW001", "FROM a:1 AS b\nRUN wget https://e.com/f.zip\nRUN rm f.zip\nFROM c:1\n", []),
    ("DW001", "FROM a:1 AS b\nRUN curl -o /f https://e.com/f\nFROM b\nRUN rm /f\n", [4]),
    # DW002 chmod after copy
    ("DW002", "FROM a:1\nCOPY run.sh /bin/\nRUN chmod +x /bin/run.sh\n", [3]),
    ("DW002", "FROM a:1\nCOPY --from=b /o/app /app\nRUN chown 1:1 /app\n", [3]),
    ("DW002", "FROM a:1\nCOPY . /app\nRUN chmod -R g+w /app/data\n", [3]),
    ("DW002", "FROM a:1\nCOPY x /app/x\nRUN chmod 755 /usr/local/bin/other\n", []),
    ("DW002", "FROM a:1 AS b\nCOPY x /x\nRUN chmod 755 /x\nFROM c:1\n", []),
    # DW003 outside the context
    ("DW003", "FROM a:1\nCOPY ../a ./\nADD ./../b /b\nCOPY a/../../c /c\n", [2, 3, 4]),
    ("DW003", "FROM a:1\nCOPY /abs/x ./\nCOPY a/../b ./\nCOPY --from=b ../x ./\n", []),
    # DW004 hard-coded platform
    ("DW004", "FROM --platform=linux/arm64 a:1\n", [1]),
    ("DW004", "FROM --platform=linux/arm64 a:1 AS build-arm64\n", []),
    ("DW004", "FROM a:1\nRUN GOOS=linux go build\nRUN GOOS=windows go build\n", [3]),
    ("DW004", "FROM a:1\nRUN env GOARCH=arm64 go build\nRUN go env -w GOARCH=amd64\n", [2, 3]),
    ("DW004", "FROM a:1\nARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build\n", []),
    # DW005 toolchain in the final image
    ("DW005", 'FROM gcc:13\nCOPY . .\nRUN gcc -o app main.c\nCMD ["./app"]\n', [3]),
    ("DW005", "FROM a:1\nRUN apk add --virtual .b gcc make && make && apk del .b\n", []),
    ("DW005", "FROM maven:3 AS b\nRUN mvn package\nFROM eclipse-temurin:21-jre\n", []),
    ("DW005", "FROM maven:3 AS b\nRUN mvn package\nFROM b\n", [2]),
    # DW006 source before dependencies
    ("DW006", "FROM a:1\nCOPY . .\nRUN cargo fetch\n", [3]),
    ("DW006", "FROM a:1\nCOPY go.* ./\nRUN go mod download\nCOPY . .\nRUN go mod download\n", []),
    ("DW006", "FROM a:1\nCOPY . .\nRUN npm install express\n", []),
    ("DW006", "FROM a:1\nCOPY . .\nRUN bundle install\nFROM b:1\nRUN bundle install\n", [3]),
    # DW008 downloads
    ("DW008", "FROM a:1\nRUN wget https://e.com/x.tgz && tar xf x.tgz\n", [2]),
    ("DW008", "FROM a:1\nRUN wget https://e.com/x.tgz && sha256sum -c x.sha256\n", []),
    ("DW008", "FROM a:1\nRUN curl -fsSLO https://e.com/KEYS && gpg --import KEYS\n", []),
    ("DW008", "FROM a:1\nRUN curl -sf http://localhost/health\n", []),
    ("DW008", "FROM a:1\nRUN curl -sL https://e.com/k.gpg | gpg --dearmor > /k.gpg\n", []),
    ("DW008", "FROM a:1\nADD https://github.com/o/r.git#v1 /src\n", []),
    # BuildKit checks
    (
        "DW101",
        "FROM alpine\nFROM alpine:latest\nFROM alpine:3@sha256:" + "a" * 64 + "\nFROM scratch\n",
        [1, 2],
    ),
    ("DW101", "ARG V=3.20\nFROM alpine:$V AS a\nFROM a\n", []),
    ("DW102", "FROM a:1 AS one\nFROM a:1\nCOPY --from=tow /x /x\nCOPY --from=one /x /x\n", [3]),
    (
        "DW102",
        "FROM a:1 AS one\nFROM a:1\nCOPY --from=one /x /x\nCOPY --from=0 /x /x\n"
        "COPY --from=nginx:1 /x /x\n",
        [],
    ),
    ("DW102", "FROM later\nFROM a:1 AS later\n", [1]),
    ("DW103", "FROM a:1 AS x\nFROM a:1 AS X\n", [2]),
    ("DW104", "FROM a:1 AS scratch\n", [1]),
    ("DW105", "FROM a:1\nCMD node x.js\nENTRYPOINT /bin/app\n", [2, 3]),
    ("DW105", 'FROM a:1 AS b\nCMD node x.js\nFROM c:1\nCMD ["x"]\n', []),
    ("DW105", 'FROM a:1\nSHELL ["pwsh", "-c"]\nCMD Write-Host hi\n', []),
    ("DW106", "FROM a:1\nWORKDIR app\n", [2]),
    ("DW106", "FROM a:1 AS b\nWORKDIR /w\nFROM b\nWORKDIR app\n", []),
    ("DW107", "FROM a:1\nUSER app\nUSER root\n", [3]),
    ("DW107", "FROM a:1 AS b\nUSER root\nFROM c:1\nUSER 1000\n", []),
    ("DW108", 'FROM a:1\nCMD ["a"]\nCMD ["b"]\nENTRYPOINT ["c"]\n', [2]),
    ("DW109", "FROM a:1\nMAINTAINER me\n", [2]),
    ("DW112", "ARG V=1\nFROM a:$V\nRUN echo $V\n", [3]),
    ("DW112", "FROM alpine:3$NOPE\n", [1]),
    ("DW112", "FROM a:${NOPE:-1}\n", []),
    ("DW112", "FROM a:1\nRUN GOARCH=$TARGETARCH go build\n", [2]),
    ("DW112", "FROM a:1\nARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build\n", []),
    ("DW112", "FROM scratch\nENV A=1\nCOPY x /$B/\n", [3]),
    ("DW112", "FROM a:1\nENV APP_VERSION=1\nLABEL v=$APP_VERSOIN\n", [3]),
    ("DW112", "FROM a:1\nENV X=$HOME/bin\nRUN for TARGETOS in a; do echo $TARGETOS; done\n", []),
    ("DW113", "FROM a:1\nCOPY a b /dir\nCOPY a b /dir/\n", [2]),
    ("DW114", "FROM a:1 AS Build\n", [1]),
    ("DW115", "FROM a:1 as b\nfrom a:1 AS c\nFROM a:1 AS d\n", [1, 2]),
    ("DW116", "FROM --platform=$TARGETPLATFORM a:1\n", [1]),
    ("DW117", "FROM a:1\nRUN x\nrun y\n", [3]),
    ("DW117", "from a:1\nrun x\nRUN y\n", [3]),
    ("DW118", "FROM a:1\nENV A 1\nENV B=2\n", [2]),
    (
        "DW119",
        "ARG GITHUB_TOKEN\nFROM a:1\nENV DB_PASSWORD=x\nENV PUBLIC_KEY=y\nARG KEY_FILE\n",
        [1, 3],
    ),
    (
        "DW120",
        "FROM a:1\nEXPOSE 80 443/tcp\nEXPOSE 8080:80\nEXPOSE 53/UDP\n",
        [3, 4],
    ),
    ("DW121", "FROM a:1\nENV A=1 B=$A\n", [2]),
    ("DW121", "FROM a:1\nENV A=0\nENV A=1 B=$A\n", []),
    # hygiene
    (
        "DW130",
        "FROM a:1\nRUN apt-get install -y --no-install-recommends x\nRUN apt-get install -y y\n",
        [3],
    ),
    ("DW131", "FROM a:1\nRUN apt-get update && apt-get install -y x\n", [2]),
    ("DW131", "FROM a:1\nRUN --mount=type=cache,target=/var/lib/apt/lists apt-get update\n", []),
    ("DW131", "FROM a:1 AS b\nRUN apt-get update && apt-get install -y x\nFROM c:1\n", []),
    ("DW132", "FROM a:1\nRUN apk add x\nRUN apk add --no-cache y\n", [2]),
    (
        "DW133",
        "FROM a:1\nRUN pip install x\nRUN pip install --no-cache-dir y\n"
        "ENV PIP_NO_CACHE_DIR=1\nRUN pip install z\n",
        [2],
    ),
    ("DW134", "FROM a:1\nRUN dnf install -y x\nRUN yum install -y y && yum clean all\n", [2]),
    (
        "DW135",
        "FROM a:1\nRUN apt-get install x\nRUN apt-get -qq install y\nRUN yes | apt-get install z\n"
        "RUN dnf install w\n",
        [2, 5],
    ),
    ("DW136", "FROM a:1\nRUN apt install -y x\n", [2]),
    ("DW137", "FROM a:1\nRUN sudo make install\n", [2]),
    ("DW138", "FROM a:1\nRUN cd /src && make\n", [2]),
    ("DW139", "FROM a:1\nADD a.txt /a\nADD b.tar.gz /b\nADD https://e.com/c /c\n", [2]),
    ("DW140", "FROM a:1\nRUN useradd -u 100000 app\nRUN useradd -l -u 100000 b\n", [2]),
]


@pytest.mark.parametrize(
    ("rule", "text", "lines"), CASES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(CASES)]
)
def test_rule(rule: str, text: str, lines: list[int]) -> None:
    found = sorted(f.line for f in lint(text) if f.rule == rule)
    assert found == lines


# What BuildKit refuses while planning is a located error, not a finding (exit 2).
PLANNING_ERRORS = [
    ("FROM a:1 AS one\nCOPY --from=one /x /x\n", 2, "circular dependency"),
    ("FROM a:1\nCOPY --from=5 /x /x\n", 2, "invalid stage index 5"),
    ("FROM a:$NOPE\n", 1, "invalid image name"),
    ("FROM ${BASE}\n", 1, "should not be blank"),
]


@pytest.mark.parametrize(("text", "line", "message"), PLANNING_ERRORS)
def test_planning_errors_are_located(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError, match=message) as info:
        lint(text)
    assert info.value.line == line
