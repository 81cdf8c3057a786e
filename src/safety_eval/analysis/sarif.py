"""SARIF 2.1.0 output for ``safety-eval scan --format sarif`` (GitHub code scanning).

Rules carry their CWE as a ``external/cwe/cwe-N`` tag and a ``security-severity`` score
(the CVSS-aligned band of our severity), so code scanning shows and ranks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safety_eval import __version__
from safety_eval.analysis.cwe import cwe_entry
from safety_eval.results.records import Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Midpoints of the CVSS v3 bands each severity stands for (critical 9-10, high 7-8.9, ...).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.5"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def _rule_metadata() -> dict[str, dict[str, str]]:
    from safety_eval.analysis.rules import all_rules

    return {
        info.id: {
            "message": info.message,
            "fix": info.fix,
            "cwe": info.cwe,
            "severity": info.severity,
            "confidence": info.confidence,
        }
        for info in all_rules()
    }


def _rule(rule_id: str, finding: Finding, meta: dict[str, str] | None) -> dict[str, Any]:
    cwe = (meta or {}).get("cwe") or finding.cwe
    severity = (meta or {}).get("severity") or finding.severity
    description = (meta or {}).get("message") or finding.message
    tags = ["security", finding.category]
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": description[:200]},
        "fullDescription": {"text": description},
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": {
            "tags": tags,
            "security-severity": SECURITY_SEVERITY[severity],
            "tool": finding.tool,
        },
    }
    if meta and meta.get("fix"):
        rule["help"] = {"text": meta["fix"]}
    entry = cwe_entry(cwe)
    if entry is not None:
        tags.append(f"external/cwe/{entry.id.lower()}")
        rule["helpUri"] = entry.url
        rule["properties"]["cwe"] = f"{entry.id}: {entry.name}"
    return rule


def to_sarif(
    files: Sequence[tuple[Path, Sequence[Finding]]], base: Path | None = None
) -> dict[str, Any]:
    """A SARIF log with one run; ``files`` pairs each scanned path with its findings."""
    meta = _rule_metadata()
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for path, findings in files:
        try:
            uri = path.resolve().relative_to((base or Path.cwd()).resolve()).as_posix()
        except ValueError:
            uri = path.resolve().as_uri()
        for finding in findings:
            if finding.rule_id not in rules:
                rules[finding.rule_id] = _rule(finding.rule_id, finding, meta.get(finding.rule_id))
            text = (
                finding.message if not finding.symbol else f"{finding.message} [{finding.symbol}]"
            )
            result: dict[str, Any] = {
                "ruleId": finding.rule_id,
                "level": LEVEL[finding.severity],
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri},
                            "region": {"startLine": max(1, finding.line or 1)},
                        }
                    }
                ],
                "properties": {
                    "severity": finding.severity,
                    "confidence": finding.confidence,
                    "tools": finding.tools or [f"{finding.tool}:{finding.rule_id}"],
                },
            }
            if finding.cwe:
                result["properties"]["cwe"] = finding.cwe
            results.append(result)
    ordered = list(rules)
    for result in results:
        result["ruleIndex"] = ordered.index(result["ruleId"])
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "safety-eval",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/ai-safety-eval/",
                        "rules": [rules[r] for r in ordered],
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
