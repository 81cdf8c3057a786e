"""Shared fixtures for the rule-pack tests."""

from __future__ import annotations

import pytest

from safety_eval.analysis.parse import parse_code
from safety_eval.analysis.rules.scanner import RulePackScanner
from safety_eval.analysis.rules.selfcheck import CORPUS_DIR, Case, load_corpus
from safety_eval.results.records import Finding


@pytest.fixture(scope="session")
def scanner() -> RulePackScanner:
    return RulePackScanner()


@pytest.fixture(scope="session")
def corpus() -> list[Case]:
    return load_corpus(CORPUS_DIR)


def scan(text: str, scanner: RulePackScanner | None = None) -> list[Finding]:
    """Parse and scan ``text`` with the default pack (or ``scanner``)."""
    return (scanner or RulePackScanner()).scan(parse_code(text)).findings


def ids(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}
