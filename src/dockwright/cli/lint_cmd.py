"""``dockwright lint``: find what makes an image big, slow or unsafe, and fix what is safe.

Exit codes: 0 when no finding is at or above ``--fail-on``, 1 when one is, 2 for input that
cannot be linted (a Dockerfile that does not parse, an unreadable file, a bad setting).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from dockwright.cli.render import print_dockerfile_error
from dockwright.errors import DockerfileError
from dockwright.lint.config import load_config
from dockwright.lint.engine import lint
from dockwright.lint.findings import (
    Finding,
    Rule,
    Severity,
    render_json,
    render_sarif,
    render_text,
)


def _read(name: str) -> tuple[str | None, Path | None]:
    if name == "-":
        return sys.stdin.read(), None
    path = Path(name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"dockwright: error: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
        return None, None
    return data.decode("utf-8", errors="surrogateescape"), path


def _fails(findings: Sequence[Finding], fail_on: str) -> bool:
    if fail_on == "never":
        return False
    threshold = Severity.parse(fail_on)
    return any(f.severity >= threshold for f in findings)


def run_lint(args: argparse.Namespace) -> int:
    """Lint ``args.file``; with ``--fix`` first apply the safe fixes and print their diff."""
    text, path = _read(args.file)
    if text is None:
        return 2
    context_dir = Path(args.context) if args.context else None
    if context_dir is not None and not context_dir.is_dir():
        print(f"dockwright: error: --context {args.context} is not a folder", file=sys.stderr)
        return 2
    config = load_config(path.parent if path is not None else Path.cwd())
    display = args.file if args.file != "-" else "<stdin>"
    try:
        if args.fix:
            text = _fix(args, text, display, path, context_dir)
        findings = lint(
            text,
            display,
            context_dir=context_dir,
            dockerfile_path=path,
            target=args.target,
            config=config,
        )
    except DockerfileError as exc:
        print_dockerfile_error(exc, text, sys.stderr)
        return 2
    _render(args.format, findings)
    return 1 if _fails(findings, args.fail_on) else 0


def _fix(
    args: argparse.Namespace,
    text: str,
    display: str,
    path: Path | None,
    context_dir: Path | None,
) -> str:
    from dockwright.lint.fix import fix_text  # noqa: PLC0415

    result = fix_text(
        text, display, context_dir=context_dir, dockerfile_path=path, target=args.target
    )
    if not result.applied:
        print("dockwright: nothing to fix safely", file=sys.stderr)
        return text
    # The diff goes where it cannot spoil machine-readable output.
    out = sys.stdout if args.format == "text" else sys.stderr
    out.write(result.diff)
    if path is not None:
        path.write_text(result.text, encoding="utf-8", errors="surrogateescape")
        print(f"dockwright: fixed {display}: {'; '.join(result.applied)}", file=sys.stderr)
    return result.text


def _render(fmt: str, findings: list[Finding]) -> None:
    if fmt == "json":
        print(render_json(findings))
    elif fmt == "sarif":
        from dockwright.lint.rules import ALL_RULES  # noqa: PLC0415

        print(render_sarif(findings, cast(Sequence[Rule[object]], ALL_RULES)))
    elif findings:
        print(render_text(findings))
