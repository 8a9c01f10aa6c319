"""Lint rules as data, the findings they produce, and how findings are reported."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar

from dockwright.errors import UsageError

Context = TypeVar("Context")


class Severity(IntEnum):
    """How bad a finding is; ``--fail-on`` compares against this order."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        """``info``, ``warning`` or ``error`` (any case)."""
        try:
            return cls[text.upper()]
        except KeyError:
            raise UsageError(
                f"unknown severity {text!r}", hint="use info, warning or error"
            ) from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at a place in a Dockerfile."""

    rule: str
    severity: Severity
    file: str
    line: int
    end_line: int
    message: str
    stage: str | None = None
    fix: str | None = None

    def to_json(self) -> dict[str, object]:
        """The finding as ``dockwright lint --format json`` prints it."""
        return {
            "rule": self.rule,
            "severity": str(self.severity),
            "file": self.file,
            "line": self.line,
            "end_line": self.end_line,
            "stage": self.stage,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Rule(Generic[Context]):
    """A lint rule: identity, explanation, and a check over a parsed build."""

    id: str
    name: str
    severity: Severity
    doc: str
    check: Callable[[Context], Iterable[Finding]]


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in file order, then by rule id (a stable, readable order)."""
    return sorted(findings, key=lambda f: (f.file, f.line, f.end_line, f.rule, f.message))


def render_text(findings: Sequence[Finding]) -> str:
    """``FILE:LINE RULE severity: message`` lines, plus the fix where there is one."""
    lines = []
    for f in findings:
        where = f"{f.file}:{f.line}"
        stage = f" [stage {f.stage}]" if f.stage else ""
        lines.append(f"{where} {f.rule} {f.severity}: {f.message}{stage}")
        if f.fix:
            lines.append(f"    fix: {f.fix}")
    return "\n".join(lines)


def render_json(findings: Sequence[Finding]) -> str:
    """``{"findings": [...]}`` with one object per finding."""
    return json.dumps({"findings": [f.to_json() for f in findings]}, indent=2)


_SARIF_LEVEL = {Severity.INFO: "note", Severity.WARNING: "warning", Severity.ERROR: "error"}


def render_sarif(findings: Sequence[Finding], rules: Sequence[Rule[object]]) -> str:
    """A SARIF 2.1.0 log with one run, the rules as its tool's rules."""
    known = {r.id for r in rules}
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dockwright",
                        "informationUri": "https://github.com/dockwright/dockwright",
                        "rules": [
                            {
                                "id": r.id,
                                "name": r.name,
                                "shortDescription": {"text": r.name},
                                "fullDescription": {"text": r.doc},
                                "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
                            }
                            for r in rules
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": f.rule,
                        "level": _SARIF_LEVEL[f.severity],
                        "message": {"text": f.message + (f" Fix: {f.fix}" if f.fix else "")},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": f.file},
                                    "region": {"startLine": f.line, "endLine": f.end_line},
                                }
                            }
                        ],
                    }
                    for f in findings
                    if f.rule in known
                ],
            }
        ],
    }
    return json.dumps(log, indent=2)
