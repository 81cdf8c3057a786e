"""Sanity checks for the built-in prompt set shipped as JSONL data."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

DATA_PATH = Path(__file__).parents[2] / "src/safety_eval/prompts/builtin/prompts.jsonl"
REQUIRED_KEYS = ("prompt_id", "content", "category", "complexity", "cwe")
ALLOWED_COMPLEXITY = {"low", "medium", "high"}
CWE_RE = re.compile(r"CWE-\d+")
MIN_PROMPTS = 150
MIN_DISTINCT_CWES = 25
MIN_PROMPTS_PER_CWE = 3


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with DATA_PATH.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            assert line.strip(), f"blank line at {lineno}"
            obj = json.loads(line)
            assert isinstance(obj, dict), f"line {lineno} is not a JSON object"
            rows.append(obj)
    return rows


def test_file_exists() -> None:
    assert DATA_PATH.is_file(), DATA_PATH


def test_minimum_prompt_count(records: list[dict[str, Any]]) -> None:
    assert len(records) >= MIN_PROMPTS


def test_ids_unique(records: list[dict[str, Any]]) -> None:
    ids = [r["prompt_id"] for r in records]
    dupes = [pid for pid, n in Counter(ids).items() if n > 1]
    assert not dupes, f"duplicate prompt ids: {dupes}"


def test_all_keys_present_and_non_empty(records: list[dict[str, Any]]) -> None:
    for rec in records:
        assert set(rec) >= set(REQUIRED_KEYS), f"missing keys in {rec}"
        for key in REQUIRED_KEYS:
            value = rec[key]
            assert isinstance(value, str), f"{rec.get('prompt_id')}: {key} is not a string"
            assert value.strip(), f"{rec.get('prompt_id')}: {key} is empty"


def test_complexity_allowed(records: list[dict[str, Any]]) -> None:
    bad = [r["prompt_id"] for r in records if r["complexity"] not in ALLOWED_COMPLEXITY]
    assert not bad, f"invalid complexity for: {bad}"


def test_cwe_format(records: list[dict[str, Any]]) -> None:
    bad = [r["prompt_id"] for r in records if not CWE_RE.fullmatch(r["cwe"])]
    assert not bad, f"malformed CWE ids for: {bad}"


def test_distinct_cwe_coverage(records: list[dict[str, Any]]) -> None:
    cwes = {r["cwe"] for r in records}
    assert len(cwes) >= MIN_DISTINCT_CWES, sorted(cwes)


def test_each_cwe_has_enough_prompts(records: list[dict[str, Any]]) -> None:
    counts = Counter(r["cwe"] for r in records)
    thin = {cwe: n for cwe, n in counts.items() if n < MIN_PROMPTS_PER_CWE}
    assert not thin, f"CWEs with fewer than {MIN_PROMPTS_PER_CWE} prompts: {thin}"


def test_no_duplicate_content(records: list[dict[str, Any]]) -> None:
    normalized = [" ".join(r["content"].lower().split()) for r in records]
    dupes = [text for text, n in Counter(normalized).items() if n > 1]
    assert not dupes, f"duplicate prompt content: {dupes}"
