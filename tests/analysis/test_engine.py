"""Merging across tools, scanner isolation, and the promise never to run generated code."""

from __future__ import annotations

from pathlib import Path

from safety_eval.analysis.base import ParsedCode, ScanOutput
from safety_eval.analysis.engine import Engine, default_engine, merge_findings
from safety_eval.results.records import Finding


def _f(tool: str, rule: str, line: int, cwe: str | None, severity: str = "medium") -> Finding:
    return Finding(rule_id=rule, tool=tool, category="vulnerability", cwe=cwe,
                   severity=severity, line=line, message=f"{tool} {rule}")


def test_same_line_same_cwe_is_one_finding_with_all_tools() -> None:
    merged = merge_findings([
        _f("bandit", "B602", 3, "CWE-78", "high"),
        _f("safety-eval", "SE101", 3, "CWE-78", "critical"),
        _f("bandit", "B404", 1, "CWE-78", "low"),
    ])
    assert len(merged) == 2
    line3 = next(f for f in merged if f.line == 3)
    assert line3.tools == ["bandit:B602", "safety-eval:SE101"]
    assert line3.severity == "critical" and line3.tool == "safety-eval"


def test_findings_without_cwe_are_kept_per_rule() -> None:
    merged = merge_findings([_f("bandit", "B101", 2, None), _f("bandit", "B105", 2, None)])
    assert len(merged) == 2


class _Boom:
    name = "boom"

    def scan(self, code: ParsedCode) -> ScanOutput:
        raise RuntimeError("scanner exploded")


class _One:
    name = "one"

    def scan(self, code: ParsedCode) -> ScanOutput:
        return ScanOutput(findings=[_f("one", "X1", 1, "CWE-94")])


def test_a_crashing_scanner_is_isolated() -> None:
    analysis = Engine([_Boom(), _One()]).analyze("x = 1\n")
    assert [f.rule_id for f in analysis.findings] == ["X1"]
    assert analysis.errors[0].source == "boom"
    assert "scanner exploded" in analysis.errors[0].message


def test_generated_code_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    code = (
        "import os, subprocess\n"
        f"open({str(marker)!r}, 'w').write('ran')\n"
        f"os.system('touch {marker}')\n"
        f"subprocess.call('touch {marker}', shell=True)\n"
        "import antigravity\n"
    )
    analysis = default_engine().analyze(code)
    assert analysis.findings  # it was really analysed
    assert not marker.exists()


def test_bandit_and_our_pack_on_the_same_issue_count_once() -> None:
    merged = merge_findings([
        _f("bandit", "B201", 9, "CWE-94", "high"),
        _f("safety-eval", "SE701", 9, "CWE-489", "medium"),
    ])
    assert len(merged) == 1
    assert merged[0].cwe == "CWE-489" and merged[0].tools == ["bandit:B201", "safety-eval:SE701"]
    alone = merge_findings([_f("bandit", "B201", 9, "CWE-94")])
    assert alone[0].cwe == "CWE-94"


def test_flask_debug_found_by_both_tools_is_one_finding() -> None:
    code = "from flask import Flask\napp = Flask(__name__)\napp.run(debug=True)\n"
    found = default_engine().analyze(code).findings
    line3 = [f for f in found if f.line == 3]
    assert len(line3) == 1 and set(line3[0].tools) >= {"bandit:B201"}
