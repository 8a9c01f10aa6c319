"""BuildKit's AST dump: the ``result`` format of its parser conformance vectors.

One line per instruction, ``(<keyword> [<flags>] <args>...)``: the keyword lowercased, the
flags as Go's ``%q`` of a ``[]string`` (``["--from=build" "--link"]``), every argument quoted
as Go's ``strconv.Quote`` does, and ONBUILD's instruction nested as its own dump.
"""

from __future__ import annotations

from dockwright.dockerfile.gocompat import go_quote
from dockwright.dockerfile.parser import Node, ParseResult

__all__ = ["dump"]


def _dump_node(node: Node) -> str:
    parts = [node.keyword]
    if node.flags:
        parts.append("[" + " ".join(go_quote(flag) for flag in node.flags) + "]")
    if node.child is not None:
        parts.append(_dump_node(node.child))
    parts.extend(go_quote(value) for value in node.values)
    return "(" + " ".join(parts) + ")"


def dump(parsed: Node | ParseResult) -> str:
    """BuildKit's dump of one node, ``(from "alpine")``, or of a whole parse result (one
    node per line, each line ending in a newline, as in the conformance ``result`` files)."""
    if isinstance(parsed, Node):
        return _dump_node(parsed)
    return "".join(_dump_node(node) + "\n" for node in parsed.nodes)
