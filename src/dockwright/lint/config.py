"""Which lint rules are off: ``[tool.dockwright.lint]`` in pyproject.toml or
``.dockwright.toml``, and inline ``# dockwright ignore=RULE[,RULE]`` comments."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockwright.errors import UsageError
from dockwright.lint.findings import Finding, Severity

_INLINE = re.compile(r"#\s*dockwright\s+ignore\s*=\s*([A-Za-z0-9_,\s-]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LintConfig:
    """Rule switches read from configuration files."""

    disabled: frozenset[str] = frozenset()
    severities: Mapping[str, Severity] = field(default_factory=dict)
    source: Path | None = None

    def apply(self, findings: list[Finding]) -> list[Finding]:
        """Drop disabled rules' findings and re-grade those with a configured severity."""
        out = []
        for f in findings:
            if f.rule in self.disabled:
                continue
            severity = self.severities.get(f.rule)
            out.append(f if severity is None else _regrade(f, severity))
        return out


def _regrade(finding: Finding, severity: Severity) -> Finding:
    from dataclasses import replace  # noqa: PLC0415

    return replace(finding, severity=severity)


def _table(data: Mapping[str, object], path: Path) -> Mapping[str, object] | None:
    if path.name == "pyproject.toml":
        tool = data.get("tool")
        dockwright = tool.get("dockwright") if isinstance(tool, dict) else None
        lint = dockwright.get("lint") if isinstance(dockwright, dict) else None
    else:
        lint = data.get("lint", data)
    return lint if isinstance(lint, dict) else None


def load_config(start: Path) -> LintConfig:
    """The first ``.dockwright.toml`` or pyproject.toml with a lint table, looking in
    ``start`` and its parents; an empty config when there is none."""
    folder = start if start.is_dir() else start.parent
    for cand_dir in (folder.resolve(), *folder.resolve().parents):
        for name in (".dockwright.toml", "pyproject.toml"):
            path = cand_dir / name
            if not path.is_file():
                continue
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise UsageError(f"cannot read lint settings from {path}: {exc}") from exc
            table = _table(data, path)
            if table is not None:
                return _parse(table, path)
    return LintConfig()


def _parse(table: Mapping[str, object], path: Path) -> LintConfig:
    disabled = table.get("disable", [])
    if not isinstance(disabled, list) or not all(isinstance(r, str) for r in disabled):
        raise UsageError(f"{path}: lint 'disable' must be a list of rule ids")
    raw = table.get("severity", {})
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: lint 'severity' must be a table of rule = level")
    severities = {str(k): Severity.parse(str(v)) for k, v in raw.items()}
    return LintConfig(frozenset(disabled), severities, path)


def inline_ignores(lines: list[str]) -> dict[int, frozenset[str]]:
    """Rules ignored per line: a ``# dockwright ignore=…`` comment applies to its own line
    and to the instruction that follows it (1-based line numbers)."""
    out: dict[int, frozenset[str]] = {}
    for number, text in enumerate(lines, start=1):
        match = _INLINE.search(text)
        if match:
            rules = frozenset(r.strip() for r in match.group(1).split(",") if r.strip())
            out[number] = out.get(number, frozenset()) | rules
            out[number + 1] = out.get(number + 1, frozenset()) | rules
    return out


def drop_ignored(findings: list[Finding], ignores: Mapping[int, frozenset[str]]) -> list[Finding]:
    """Findings whose start line does not ignore their rule (``all`` ignores every rule)."""
    kept = []
    for f in findings:
        rules = ignores.get(f.line, frozenset())
        if f.rule in rules or "all" in rules:
            continue
        kept.append(f)
    return kept
