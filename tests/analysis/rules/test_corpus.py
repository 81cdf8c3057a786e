"""Precision/recall floor of the pack on its labelled corpus."""

from __future__ import annotations

import ast

from safety_eval.analysis.rules.selfcheck import (
    Case,
    Expectation,
    format_report,
    parse_header,
    self_check,
)


def test_precision_and_recall_floor() -> None:
    report = self_check()
    table = format_report(report)
    assert report.cases >= 200, table
    assert report.recall >= 0.95, table
    assert report.precision >= 0.95, table


def test_corpus_has_enough_fragments_that_ast_rejects(corpus: list[Case]) -> None:
    fragments = [c for c in corpus if c.kind == "fragment"]
    rejected = []
    for case in fragments:
        try:
            ast.parse(case.text)
        except SyntaxError:
            rejected.append(case.name)
    assert len(rejected) >= 25
    assert all(c.expected or "safe" in c.name for c in fragments)


def test_every_case_has_a_valid_header(corpus: list[Case]) -> None:
    for case in corpus:
        for exp in case.expected:
            assert 1 <= exp.line <= case.text.count("\n") + 1, case.name


def test_header_parsing() -> None:
    assert parse_header("# expect: none") == ()
    assert parse_header("# expect: SE101@5, CWE-89@9") == (
        Expectation("SE101", 5),
        Expectation("CWE-89", 9),
    )


def test_report_table_lists_rules_and_totals() -> None:
    text = format_report(self_check())
    assert "TOTAL" in text and "SE101" in text
