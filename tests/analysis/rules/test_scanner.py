"""Scanner behaviour: isolation, nosec, select/ignore, never executing code, speed."""

from __future__ import annotations

import ast
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from safety_eval.analysis.base import Scanner
from safety_eval.analysis.parse import parse_code
from safety_eval.analysis.rules import REGISTRY, Registry, RuleDefinitionError, rule
from safety_eval.analysis.rules.context import RuleContext
from safety_eval.analysis.rules.registry import Hit, RuleInfo, TextRule
from safety_eval.analysis.rules.scanner import RulePackScanner, nosec_ids
from tests.analysis.rules.conftest import ids, scan

VULN = "import os, sys\nos.system('rm ' + sys.argv[1])\nos.chmod('f', 0o777)\n"


def test_is_a_scanner() -> None:
    scanner = RulePackScanner()
    assert isinstance(scanner, Scanner)
    assert scanner.name == "safety-eval"


def test_crashing_rule_is_isolated() -> None:
    registry = Registry()

    @rule(id="SE999", cwe="CWE-78", severity="low", message="boom", fix="none", registry=registry)
    def explode(ctx: RuleContext) -> Iterator[Hit]:
        raise RuntimeError("rule bug")

    @rule(id="SE998", cwe="CWE-78", severity="low", message="works", fix="none", registry=registry)
    def works(ctx: RuleContext) -> Iterator[Hit]:
        yield ctx.hit()

    out = RulePackScanner(registry=registry).scan(parse_code(VULN))
    assert [e.source for e in out.errors] == ["safety-eval:SE999"]
    assert "rule bug" in out.errors[0].message
    assert {f.rule_id for f in out.findings} == {"SE998"}


def test_crashing_rule_in_default_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    scanner = RulePackScanner()

    @rule(id="SE997", cwe="CWE-20", severity="low", message="boom", fix="none")
    def explode(ctx: RuleContext) -> Iterator[Hit]:
        raise ValueError("broken")

    try:
        out = scanner.scan(parse_code(VULN))
    finally:
        REGISTRY.unregister("SE997")
    assert any(e.source == "safety-eval:SE997" for e in out.errors)
    assert {"SE102", "SE605"} <= ids(out.findings)


def test_registry_rejects_bad_rules() -> None:
    registry = Registry()

    def check(ctx: RuleContext) -> Iterator[Hit]:
        yield from ()

    registry.add_ast(
        RuleInfo("SE100", "CWE-78", "high", "high", "m", "f", "ast"), check, (ast.Call,)
    )
    with pytest.raises(RuleDefinitionError):
        registry.add_ast(
            RuleInfo("SE100", "CWE-78", "high", "high", "m", "f", "ast"), check, (ast.Call,)
        )
    bad = [
        RuleInfo("", "CWE-78", "high", "high", "m", "f", "ast"),
        RuleInfo("SE101", "", "high", "high", "m", "f", "ast"),
        RuleInfo("SE102", "CWE-99999", "high", "high", "m", "f", "ast"),
        RuleInfo("SE103", "CWE-78", "severe", "high", "m", "f", "ast"),  # type: ignore[arg-type]
        RuleInfo("SE104", "CWE-78", "high", "high", "", "f", "ast"),
    ]
    for info in bad:
        with pytest.raises(RuleDefinitionError):
            registry.add_ast(info, check, (ast.Call,))
    with pytest.raises(RuleDefinitionError):
        registry.add_text(TextRule("SE100", "CWE-798", "high", "m", "f", "x", "x"))


def test_nosec() -> None:
    base = "import os, sys\nos.system('rm ' + sys.argv[1]){}\n"
    assert "SE102" in ids(scan(base.format("")))
    assert "SE102" not in ids(scan(base.format("  # nosec")))
    assert "SE102" not in ids(scan(base.format("  # nosec SE102")))
    assert "SE102" in ids(scan(base.format("  # nosec SE605")))
    assert "SE102" in ids(scan(base.format("  # nosec B605")))
    assert nosec_ids("x  # nosec: SE101, SE102") == frozenset({"SE101", "SE102"})
    assert nosec_ids("x  # nosec") == frozenset()
    assert nosec_ids("x = 1") is None


def test_select_and_ignore() -> None:
    code = parse_code(VULN)
    assert ids(RulePackScanner(select=["SE102"]).scan(code).findings) == {"SE102"}
    assert ids(RulePackScanner(ignore=["SE102"]).scan(code).findings) == {"SE605"}
    assert ids(RulePackScanner(select=["SE6"]).scan(code).findings) == {"SE605"}
    assert ids(RulePackScanner(select=["SE1"], ignore=["SE102"]).scan(code).findings) == set()


def test_text_rules_do_not_repeat_ast_findings() -> None:
    code = 'AWS_ACCESS_KEY_ID = "AKIA2E0A8F3B244C9986"\n'
    findings = scan(code)
    assert [(f.rule_id, f.cwe) for f in findings] == [("SE402", "CWE-798")]


def test_scanning_never_executes_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = (
        f"open({str(marker)!r}, 'w').write('x')\n"
        f"import os\nos.system('touch {marker}')\n"
        f"exec(\"open({str(marker)!r}, 'w')\")\n"
        f"__import__('os').system('touch {marker}')\n"
    )
    for text in (payload, "    " + payload.replace("\n", "\n    ") + "(\n"):
        RulePackScanner().scan(parse_code(text))
    assert not marker.exists()


def test_scan_speed_on_a_30_line_sample() -> None:
    sample = (Path(__file__).parent / "sample_30_lines.py.txt").read_text()
    assert len(sample.splitlines()) >= 30
    scanner = RulePackScanner()
    code = parse_code(sample)
    scanner.scan(code)
    runs = 50
    start = time.perf_counter()
    for _ in range(runs):
        scanner.scan(code)
    per_scan = (time.perf_counter() - start) / runs
    assert per_scan < 0.01  # generous for slow CI; typically ~1 ms
