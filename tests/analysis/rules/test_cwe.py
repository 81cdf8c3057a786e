"""The CWE catalog and normalisation."""

from __future__ import annotations

import pytest

from safety_eval.analysis.cwe import CWE_CATALOG, CWE_TOP25_2024, cwe_entry, normalize_cwe
from safety_eval.analysis.rules import all_rules


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CWE-020", "CWE-20"),
        (89, "CWE-89"),
        ("cwe_89", "CWE-89"),
        ("CWE89", "CWE-89"),
        ("89", "CWE-89"),
        ("CWE-89: SQL Injection", "CWE-89"),
        (" cwe-78 ", "CWE-78"),
        (None, None),
        ("", None),
        ("sql injection", None),
        (0, None),
    ],
)
def test_normalize_cwe(raw: str | int | None, expected: str | None) -> None:
    assert normalize_cwe(raw) == expected


def test_catalog_covers_rules_top25_and_bandit() -> None:
    bandit = [
        20,
        22,
        78,
        79,
        89,
        94,
        259,
        295,
        319,
        326,
        327,
        330,
        338,
        377,
        400,
        502,
        605,
        611,
        703,
        732,
        776,
        798,
        1204,
    ]
    for n in bandit:
        assert f"CWE-{n}" in CWE_CATALOG
    for cwe in CWE_TOP25_2024:
        assert cwe in CWE_CATALOG
    for info in all_rules():
        assert info.cwe in CWE_CATALOG


def test_entries() -> None:
    entry = cwe_entry("cwe_89")
    assert entry is not None
    assert entry.id == "CWE-89"
    assert "SQL" in entry.name
    assert entry.url == "https://cwe.mitre.org/data/definitions/89.html"
    assert cwe_entry("CWE-99999") is None
    assert cwe_entry(None) is None
