"""Dockerfile front-end: text → nodes → typed instructions, with BuildKit's parsing rules.

- :func:`parse` reads text into :class:`Node` values (BuildKit's AST, :func:`dump` prints it
  in BuildKit's conformance format);
- :func:`parse_dockerfile` types every node (:mod:`~dockwright.dockerfile.instructions`) and
  splits the stages at FROM;
- errors are :class:`~dockwright.errors.DockerfileError` with file, line and column;
  :func:`error_context` renders the line with a caret.

Nothing here expands variables: fields hold the Dockerfile's raw text.
"""

from dockwright.dockerfile.gocompat import go_quote
from dockwright.dockerfile.heredoc import Heredoc
from dockwright.dockerfile.instructions import (
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
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Network,
    Onbuild,
    Run,
    Security,
    Shell,
    ShellOrExec,
    Stopsignal,
    User,
    Volume,
    Workdir,
)
from dockwright.dockerfile.mounts import Mount, MountError, parse_mount
from dockwright.dockerfile.parse_instructions import PARSERS, parse_instruction
from dockwright.dockerfile.parser import (
    INSTRUCTIONS,
    Directive,
    Node,
    ParseResult,
    ParseWarning,
    error_context,
    parse,
)
from dockwright.dockerfile.stages import Dockerfile, Stage, parse_dockerfile

__all__ = [
    "INSTRUCTIONS",
    "PARSERS",
    "Add",
    "Arg",
    "ArgDecl",
    "Cmd",
    "Copy",
    "Directive",
    "Dockerfile",
    "Entrypoint",
    "Env",
    "Expose",
    "From",
    "Healthcheck",
    "Heredoc",
    "Instruction",
    "KeyValue",
    "Label",
    "Maintainer",
    "Mount",
    "MountError",
    "Network",
    "Node",
    "Onbuild",
    "ParseResult",
    "ParseWarning",
    "Run",
    "Security",
    "Shell",
    "ShellOrExec",
    "Stage",
    "Stopsignal",
    "User",
    "Volume",
    "Workdir",
    "dump",
    "error_context",
    "go_quote",
    "parse",
    "parse_dockerfile",
    "parse_instruction",
    "parse_mount",
]


def dump(parsed: Node | ParseResult) -> str:
    """BuildKit's conformance print of a node or a parse result (see
    :mod:`dockwright.dockerfile.astdump`; loaded on use: builds never print the AST)."""
    from dockwright.dockerfile.astdump import dump as _dump  # noqa: PLC0415

    return _dump(parsed)
