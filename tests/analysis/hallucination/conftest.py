"""Fixtures for the hallucination tests: the vendored index, loaded once, and a scanner."""

from __future__ import annotations

import ast
from collections.abc import Callable

import pytest

from safety_eval.analysis.base import ParsedCode
from safety_eval.analysis.hallucination import HallucinationScanner, PackageIndex, load_index
from safety_eval.results.records import Finding


@pytest.fixture(scope="session")
def index() -> PackageIndex:
    # The vendored snapshot only: a developer's refreshed cache must not change results.
    return load_index(use_cache=False)


@pytest.fixture(scope="session")
def scanner(index: PackageIndex) -> HallucinationScanner:
    return HallucinationScanner(index)


ScanFn = Callable[..., list[Finding]]


@pytest.fixture
def scan(scanner: HallucinationScanner) -> ScanFn:
    """scan(code, text_only=False) -> findings; asserts the scan reported no error."""

    def run(code: str, *, text_only: bool = False) -> list[Finding]:
        if text_only:
            parsed = ParsedCode(code, None, "text-only")
        else:
            parsed = ParsedCode(code, ast.parse(code), "full")
        out = scanner.scan(parsed)
        assert out.errors == []
        return out.findings

    return run


def symbols(findings: list[Finding], rule: str | None = None) -> set[str]:
    return {f.symbol or "" for f in findings if rule is None or f.rule_id == rule}
