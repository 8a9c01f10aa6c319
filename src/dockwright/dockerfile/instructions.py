"""Typed instructions: one frozen dataclass per Dockerfile instruction.

Every field keeps the Dockerfile's raw text (``$VARS``, quotes and escapes unprocessed):
expansion happens later, per instruction, where BuildKit does it. Each value carries its
``start_line``/``end_line`` (1-based) and its ``original`` text. They are made by
:func:`dockwright.dockerfile.parse_instructions.parse_instruction`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from dockwright.dockerfile.heredoc import Heredoc
from dockwright.dockerfile.mounts import Mount

__all__ = [
    "Add",
    "Arg",
    "ArgDecl",
    "Cmd",
    "Copy",
    "Entrypoint",
    "Env",
    "Expose",
    "From",
    "Healthcheck",
    "Instruction",
    "KeyValue",
    "Label",
    "Maintainer",
    "Network",
    "Onbuild",
    "Run",
    "Security",
    "Shell",
    "ShellOrExec",
    "Stopsignal",
    "User",
    "Volume",
    "Workdir",
]

Network = Literal["default", "none", "host"]
Security = Literal["sandbox", "insecure"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ShellOrExec:
    """A command in shell form (one string, run by the SHELL) or exec form (a JSON argv)."""

    args: tuple[str, ...] = ()
    exec_form: bool = False

    @property
    def shell(self) -> str | None:
        """The command line of a shell-form command, ``None`` for exec form."""
        return None if self.exec_form else " ".join(self.args)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyValue:
    """One ENV or LABEL pair; ``legacy`` for the ``ENV key value`` form (no ``=``)."""

    key: str
    value: str
    legacy: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgDecl:
    """One ARG declaration: a name and, for ``name=value``, its raw default."""

    name: str
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Base:
    start_line: int = 0
    end_line: int = 0
    original: str = ""
    keyword: ClassVar[str] = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class From(_Base):
    """``FROM [--platform=P] image [AS name]``; the stage name is lowercased (BuildKit)."""

    keyword: ClassVar[str] = "FROM"
    image: str
    platform: str | None = None
    stage_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Run(_Base):
    """``RUN [--mount=…]… [--network=…] [--security=…] command``."""

    keyword: ClassVar[str] = "RUN"
    command: ShellOrExec
    mounts: tuple[Mount, ...] = ()
    network: Network = "default"
    security: Security = "sandbox"
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Copy(_Base):
    """``COPY [flags] src… dest``; heredoc sources (``COPY <<EOF /file``) are separate."""

    keyword: ClassVar[str] = "COPY"
    sources: tuple[str, ...]
    dest: str
    heredoc_sources: tuple[Heredoc, ...] = ()
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Add(_Base):
    """``ADD [flags] src… dest``: COPY plus URLs, git repositories and archive unpacking."""

    keyword: ClassVar[str] = "ADD"
    sources: tuple[str, ...]
    dest: str
    heredoc_sources: tuple[Heredoc, ...] = ()
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    exclude: tuple[str, ...] = ()
    checksum: str | None = None
    keep_git_dir: bool = False
    unpack: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Arg(_Base):
    """``ARG name[=default] …``: one or more declarations."""

    keyword: ClassVar[str] = "ARG"
    args: tuple[ArgDecl, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Env(_Base):
    """``ENV key=value …`` (or the legacy ``ENV key value``)."""

    keyword: ClassVar[str] = "ENV"
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Label(_Base):
    """``LABEL key=value …``."""

    keyword: ClassVar[str] = "LABEL"
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Workdir(_Base):
    """``WORKDIR path``."""

    keyword: ClassVar[str] = "WORKDIR"
    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class User(_Base):
    """``USER user[:group]``."""

    keyword: ClassVar[str] = "USER"
    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Expose(_Base):
    """``EXPOSE port[/proto] …`` in the order written."""

    keyword: ClassVar[str] = "EXPOSE"
    ports: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume(_Base):
    """``VOLUME path …`` or ``VOLUME ["path", …]``."""

    keyword: ClassVar[str] = "VOLUME"
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Cmd(_Base):
    """``CMD command`` (shell or exec form; may be empty)."""

    keyword: ClassVar[str] = "CMD"
    command: ShellOrExec


@dataclass(frozen=True, slots=True, kw_only=True)
class Entrypoint(_Base):
    """``ENTRYPOINT command`` (shell or exec form; ``ENTRYPOINT []`` clears it)."""

    keyword: ClassVar[str] = "ENTRYPOINT"
    command: ShellOrExec


@dataclass(frozen=True, slots=True, kw_only=True)
class Shell(_Base):
    """``SHELL ["executable", "param", …]`` (JSON form only)."""

    keyword: ClassVar[str] = "SHELL"
    shell: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stopsignal(_Base):
    """``STOPSIGNAL signal``."""

    keyword: ClassVar[str] = "STOPSIGNAL"
    signal: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Healthcheck(_Base):
    """``HEALTHCHECK NONE`` (``command`` is ``None``) or ``HEALTHCHECK [flags] CMD command``.

    Durations are nanoseconds (``None`` when not given, as in an image config).
    """

    keyword: ClassVar[str] = "HEALTHCHECK"
    command: ShellOrExec | None
    interval: int | None = None
    timeout: int | None = None
    start_period: int | None = None
    start_interval: int | None = None
    retries: int | None = None

    @property
    def test(self) -> tuple[str, ...]:
        """The image config's ``Healthcheck.Test``: ``NONE``, ``CMD …`` or ``CMD-SHELL …``."""
        if self.command is None:
            return ("NONE",)
        kind = "CMD" if self.command.exec_form else "CMD-SHELL"
        return (kind, *self.command.args)


@dataclass(frozen=True, slots=True, kw_only=True)
class Maintainer(_Base):
    """``MAINTAINER name`` (deprecated; a ``LABEL maintainer=…`` is preferred)."""

    keyword: ClassVar[str] = "MAINTAINER"
    maintainer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Onbuild(_Base):
    """``ONBUILD instruction``: ``inner`` typed, ``expression`` as stored in the image."""

    keyword: ClassVar[str] = "ONBUILD"
    inner: Instruction
    expression: str


Instruction = (
    From | Run | Copy | Add | Arg | Env | Label | Workdir | User | Expose | Volume | Cmd
    | Entrypoint | Shell | Stopsignal | Healthcheck | Maintainer | Onbuild
)  # fmt: skip
