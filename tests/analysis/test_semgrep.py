"""The optional semgrep layer, run for real (make test installs semgrep in a tool venv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safety_eval.analysis.base import ParsedCode
from safety_eval.analysis.semgrep_scanner import SemgrepScanner, find_semgrep

pytestmark = pytest.mark.skipif(
    find_semgrep() is None, reason="semgrep not installed (make test installs it)"
)


def _code(text: str) -> ParsedCode:
    return ParsedCode(text, None, "text-only")


def test_project_rules_find_known_issues_in_one_batch() -> None:
    outs = SemgrepScanner().scan_many([
        _code("import subprocess\nsubprocess.call(cmd, shell=True)\n"),
        _code("import yaml\n\ncfg = yaml.load(open(p))\n"),
        _code("import json\njson.loads(s)\n"),
    ])
    assert [(f.rule_id, f.cwe, f.line) for f in outs[0].findings] == [("SG101", "CWE-78", 2)]
    assert [(f.rule_id, f.cwe, f.line) for f in outs[1].findings] == [("SG302", "CWE-502", 3)]
    assert outs[2].findings == [] and outs[2].errors == []
    assert outs[0].findings[0].tool == "semgrep"


def test_semgrep_reads_fragments() -> None:
    out = SemgrepScanner().scan(_code("def handler(:\n    eval(request.args['x'])\n"))
    assert any(f.cwe == "CWE-95" for f in out.findings)


def test_a_broken_semgrep_is_an_error_not_a_clean_result(tmp_path: Path) -> None:
    fake = tmp_path / "semgrep"
    fake.write_text("#!/bin/sh\nexit 7\n")
    fake.chmod(0o755)
    out = SemgrepScanner(binary=fake).scan(_code("eval(x)\n"))
    assert out.findings == []
    assert out.errors and "exited 7" in out.errors[0].message
