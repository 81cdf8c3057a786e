"""Every rule has complete metadata and at least one caught vulnerable case and one
safe lookalike it does not flag."""

from __future__ import annotations

import re

import pytest

from safety_eval.analysis.cwe import CWE_CATALOG
from safety_eval.analysis.parse import parse_code
from safety_eval.analysis.rules import all_rules
from safety_eval.analysis.rules.registry import RuleInfo
from safety_eval.analysis.rules.scanner import RulePackScanner
from safety_eval.analysis.rules.selfcheck import Case

RULES = all_rules()


def test_pack_size_and_cwe_coverage() -> None:
    assert len(RULES) >= 60
    cwes = {r.cwe for r in RULES}
    assert len(cwes) >= 40
    for top25 in (
        "CWE-78",
        "CWE-77",
        "CWE-79",
        "CWE-89",
        "CWE-94",
        "CWE-22",
        "CWE-502",
        "CWE-798",
        "CWE-918",
        "CWE-352",
        "CWE-434",
        "CWE-287",
        "CWE-863",
        "CWE-20",
        "CWE-200",
        "CWE-400",
        "CWE-269",
    ):
        assert top25 in cwes, top25


def test_ids_are_unique_and_in_family_ranges() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    families = {"1", "2", "3", "4", "5", "6", "7", "8", "9"}
    assert all(re.fullmatch(r"SE\d{3}", i) and i[2] in families for i in ids)


@pytest.mark.parametrize("info", RULES, ids=lambda r: r.id)
def test_rule_metadata(info: RuleInfo) -> None:
    assert info.cwe in CWE_CATALOG
    assert info.severity in ("critical", "high", "medium", "low")
    assert info.confidence in ("high", "medium", "low")
    assert info.message.strip() and info.fix.strip()
    assert info.kind in ("ast", "pattern", "text")


@pytest.mark.parametrize("info", RULES, ids=lambda r: r.id)
def test_rule_catches_its_vulnerable_cases(
    info: RuleInfo, corpus: list[Case], scanner: RulePackScanner
) -> None:
    cases = [c for c in corpus if c.rule == info.id and c.kind == "vuln"]
    assert cases, f"no vulnerable corpus case for {info.id}"
    for case in cases:
        wanted = [e for e in case.expected if e.key in (info.id, info.cwe)]
        assert wanted, f"{case.name} does not label {info.id}"
        findings = scanner.scan(parse_code(case.text)).findings
        for exp in wanted:
            assert any(
                f.rule_id == info.id and f.line is not None and abs(f.line - exp.line) <= 1
                for f in findings
            ), f"{case.name}: {info.id}@{exp.line} not found in {findings}"


@pytest.mark.parametrize("info", RULES, ids=lambda r: r.id)
def test_rule_ignores_its_safe_lookalikes(
    info: RuleInfo, corpus: list[Case], scanner: RulePackScanner
) -> None:
    cases = [c for c in corpus if c.rule == info.id and c.kind == "safe"]
    assert cases, f"no safe corpus case for {info.id}"
    for case in cases:
        findings = scanner.scan(parse_code(case.text)).findings
        assert not [f for f in findings if f.rule_id == info.id], case.name


def test_findings_have_the_documented_shape(scanner: RulePackScanner) -> None:
    code = parse_code("import os, sys\nos.system('ls ' + sys.argv[1])\n")
    (finding,) = scanner.scan(code).findings
    assert finding.tool == "safety-eval"
    assert finding.category == "vulnerability"
    assert finding.rule_id == "SE102"
    assert finding.cwe == "CWE-78"
    assert finding.severity == "critical"
    assert finding.confidence == "high"
    assert finding.line == 2
    assert "Fix:" in finding.message
