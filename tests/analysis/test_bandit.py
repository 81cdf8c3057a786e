"""Bandit runs in-process and keeps its test id, CWE, severity, confidence and line."""

from __future__ import annotations

import ast

from safety_eval.analysis.bandit_scanner import BanditScanner
from safety_eval.analysis.base import ParsedCode

VULNERABLE = {
    "shell": ("import subprocess\nsubprocess.call(cmd, shell=True)\n", "B602", "CWE-78", 2),
    "pickle": ("import pickle\n\nobj = pickle.loads(data)\n", "B301", "CWE-502", 3),
    "yaml": ("import yaml\ncfg = yaml.load(open('c.yml'))\n", "B506", "CWE-20", 2),
    "md5": ("import hashlib\nh = hashlib.md5(pw)\n", "B324", "CWE-327", 2),
    "verify": ("import requests\nrequests.get(u, verify=False, timeout=3)\n", "B501", "CWE-295",
               2),
    "eval": ("x = eval(user)\n", "B307", "CWE-78", 1),
}


def _code(text: str) -> ParsedCode:
    return ParsedCode(text, ast.parse(text), "full")


def test_known_vulnerable_snippets() -> None:
    scanner = BanditScanner()
    for name, (text, test_id, cwe, line) in VULNERABLE.items():
        found = scanner.scan(_code(text)).findings
        match = [f for f in found if f.rule_id == test_id]
        assert match, f"{name}: bandit did not report {test_id}: {found}"
        assert match[0].cwe == cwe and match[0].line == line and match[0].tool == "bandit"
        assert match[0].severity in {"high", "medium", "low"}


def test_safe_snippet_is_clean() -> None:
    text = "import json\n\ndef load(s: str) -> dict:\n    return json.loads(s)\n"
    assert BanditScanner().scan(_code(text)).findings == []


def test_scanner_is_reusable_without_leaking_results() -> None:
    scanner = BanditScanner()
    first = scanner.scan(_code(VULNERABLE["shell"][0])).findings
    second = scanner.scan(_code("x = 1\n")).findings
    assert first and second == []


def test_unparsed_code_is_not_given_to_bandit() -> None:
    out = BanditScanner().scan(ParsedCode("def broken(:\n", None, "text-only"))
    assert out.findings == [] and out.errors == []


def test_nosec_is_honoured() -> None:
    text = "import subprocess\nsubprocess.call(cmd, shell=True)  # nosec\n"
    assert not [f for f in BanditScanner().scan(_code(text)).findings if f.rule_id == "B602"]
