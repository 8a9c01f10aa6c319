"""Dockerfile front-end: text → nodes → typed instructions, with BuildKit's parsing rules.

- :func:`parse` reads text into :class:`Node` values (BuildKit's AST, :func:`dump` prints it
  in BuildKit's conformance format);
- errors are :class:`~dockwright.errors.DockerfileError` with file, line and column;
  :func:`error_context` renders the line with a caret.

Nothing here expands variables: fields hold the Dockerfile's raw text.
"""

from dockwright.dockerfile.dump import dump
from dockwright.dockerfile.gocompat import go_quote
from dockwright.dockerfile.heredoc import Heredoc
from dockwright.dockerfile.parser import (
    INSTRUCTIONS,
    Directive,
    Node,
    ParseResult,
    ParseWarning,
    error_context,
    parse,
)

__all__ = [
    "INSTRUCTIONS",
    "Directive",
    "Heredoc",
    "Node",
    "ParseResult",
    "ParseWarning",
    "dump",
    "error_context",
    "go_quote",
    "parse",
]
