"""The analysis engine: parse (with recovery), run every scanner, merge and de-duplicate.

Each scanner runs isolated: one that raises becomes a ``ScanError`` on the sample and
the others still run. Findings of different tools on the same line with the same CWE
are one finding that keeps every tool id in ``tools``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from safety_eval.analysis.base import ParsedCode, Scanner
from safety_eval.analysis.parse import parse_code
from safety_eval.results.records import SEVERITY_ORDER, Finding, ScanError

_CONFIDENCE_ORDER = {"low": 1, "medium": 2, "high": 3}
# Our own rule pack explains its findings with a fix hint: prefer its wording on a merge.
_TOOL_PREFERENCE = {"safety-eval": 0, "hallucination": 1, "bandit": 2, "semgrep": 3}


@dataclass
class Analysis:
    code: ParsedCode
    findings: list[Finding] = field(default_factory=list)
    hallucinations: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)


def _tool_id(finding: Finding) -> str:
    return f"{finding.tool}:{finding.rule_id}"


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (category, line, CWE) - or per (line, rule) when there is no CWE -
    with the highest severity and confidence among the duplicates and all tool ids."""
    groups: dict[tuple[object, ...], list[Finding]] = {}
    for finding in findings:
        if finding.category == "hallucination":
            key: tuple[object, ...] = ("h", finding.line, finding.rule_id, finding.symbol)
        elif finding.cwe:
            key = ("v", finding.line, finding.cwe)
        else:
            key = ("v", finding.line, finding.tool, finding.rule_id)
        groups.setdefault(key, []).append(finding)
    merged: list[Finding] = []
    for group in groups.values():
        lead = min(group, key=lambda f: _TOOL_PREFERENCE.get(f.tool, 9))
        tools = sorted({t for f in group for t in (f.tools or [_tool_id(f)])})
        severity = max((f.severity for f in group), key=SEVERITY_ORDER.__getitem__)
        confidence = max((f.confidence for f in group), key=_CONFIDENCE_ORDER.__getitem__)
        merged.append(
            lead.model_copy(update={"tools": tools, "severity": severity, "confidence": confidence})
        )
    merged.sort(key=lambda f: (f.line or 0, -SEVERITY_ORDER[f.severity], f.rule_id))
    return merged


class Engine:
    """Runs a fixed list of scanners over code; build it once and reuse it."""

    def __init__(self, scanners: Sequence[Scanner]) -> None:
        self.scanners = list(scanners)

    def analyze(self, code: str) -> Analysis:
        parsed = parse_code(code)
        analysis = Analysis(code=parsed)
        raw: list[Finding] = []
        for scanner in self.scanners:
            try:
                out = scanner.scan(parsed)
            except Exception as exc:  # isolation: a broken scanner never sinks the sample
                analysis.errors.append(
                    ScanError(source=scanner.name, message=f"{type(exc).__name__}: {exc}")
                )
                continue
            raw.extend(out.findings)
            analysis.errors.extend(out.errors)
        for finding in merge_findings(raw):
            if finding.category == "hallucination":
                analysis.hallucinations.append(finding)
            else:
                analysis.findings.append(finding)
        return analysis


def default_engine() -> Engine:
    """Every scanner the project ships, in their default configuration."""
    from safety_eval.analysis.bandit_scanner import BanditScanner

    return Engine([BanditScanner()])
