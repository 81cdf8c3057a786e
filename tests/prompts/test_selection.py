"""Tests for safety_eval.prompts.selection: stratified sampling and size names."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from safety_eval.prompts import resolve_size, select_prompts
from safety_eval.results.records import Prompt


def make(spec: list[tuple[str, int]], interleave: bool = True) -> list[Prompt]:
    """Prompts for (category, count) pairs; interleaved so categories are mixed up."""
    queues = [[f"{cat}-{i}" for i in range(n)] for cat, n in spec]
    ids: list[str] = []
    if interleave:
        while any(queues):
            for queue in queues:
                if queue:
                    ids.append(queue.pop(0))
    else:
        ids = [pid for queue in queues for pid in queue]
    return [Prompt(prompt_id=pid, content=f"task {pid}", category=pid.split("-")[0]) for pid in ids]


def counts(prompts: list[Prompt]) -> Counter[str]:
    return Counter(p.category for p in prompts)


def is_in_original_order(sample: list[Prompt], source: list[Prompt]) -> bool:
    position = {p.prompt_id: i for i, p in enumerate(source)}
    indexes = [position[p.prompt_id] for p in sample]
    return indexes == sorted(indexes) and len(set(indexes)) == len(indexes)


PROMPTS = make([("A", 50), ("B", 30), ("C", 15), ("D", 5)])


def test_none_returns_all_in_order() -> None:
    assert select_prompts(PROMPTS, None, seed=1) == PROMPTS


@pytest.mark.parametrize("size", [100, 101, 10_000])
def test_size_at_least_len_returns_all(size: int) -> None:
    assert select_prompts(PROMPTS, size, seed=1) == PROMPTS


@pytest.mark.parametrize("size", [0, -1])
def test_non_positive_size(size: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        select_prompts(PROMPTS, size, seed=1)


def test_returns_new_list() -> None:
    result = select_prompts(PROMPTS, None, seed=1)
    assert result is not PROMPTS


def test_proportional_allocation() -> None:
    sample = select_prompts(PROMPTS, 20, seed=3)
    assert len(sample) == 20
    assert counts(sample) == {"A": 10, "B": 6, "C": 3, "D": 1}


def test_largest_remainder_rounding() -> None:
    prompts = make([("A", 12), ("B", 5), ("C", 3)])  # quotas for 10: 6.0, 2.5, 1.5
    for seed in range(20):
        got = counts(select_prompts(prompts, 10, seed))
        assert got["A"] == 6
        assert sorted([got["B"], got["C"]]) in ([2, 2], [1, 3]) or got == {"A": 6, "B": 3, "C": 1}
        assert sum(got.values()) == 10
    # 2.5 vs 1.5: equal remainders, the larger category wins the spare draw
    assert counts(select_prompts(prompts, 10, 0)) == {"A": 6, "B": 3, "C": 1}


def test_every_category_gets_one_when_size_allows() -> None:
    prompts = make([("A", 97), ("B", 1), ("C", 1), ("D", 1)])
    assert counts(select_prompts(prompts, 4, seed=5)) == {"A": 1, "B": 1, "C": 1, "D": 1}
    assert counts(select_prompts(prompts, 10, seed=5)) == {"A": 7, "B": 1, "C": 1, "D": 1}


def test_fewer_draws_than_categories_vary_with_seed() -> None:
    prompts = make([(f"K{i}", 3) for i in range(10)])
    seen: set[frozenset[str]] = set()
    for seed in range(10):
        got = counts(select_prompts(prompts, 4, seed))
        assert sum(got.values()) == 4 and set(got.values()) == {1}
        seen.add(frozenset(got))
    assert len(seen) > 1  # ties are not always broken in favour of the same names


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_stratification_property(seed: int) -> None:
    spec = [("A", 41), ("B", 23), ("C", 17), ("D", 11), ("E", 5), ("F", 3)]
    prompts = make(spec)
    total = len(prompts)
    for size in range(1, total):
        sample = select_prompts(prompts, size, seed)
        got = counts(sample)
        assert len(sample) == size
        assert is_in_original_order(sample, prompts)
        if size >= len(spec):
            assert set(got) == {cat for cat, _ in spec}
        for cat, n in spec:
            quota = size * n / total
            if all(size * m / total >= 1 for _, m in spec):
                assert math.floor(quota) <= got[cat] <= math.ceil(quota)
            assert got[cat] <= n


def test_reproducible() -> None:
    prompts = make([("A", 120), ("B", 50), ("C", 30)])
    first = select_prompts(prompts, 40, seed=7)
    assert select_prompts(prompts, 40, seed=7) == first
    assert select_prompts(list(prompts), 40, seed=7) == first


def test_different_seeds_differ() -> None:
    prompts = make([("A", 120), ("B", 50), ("C", 30)])
    samples = {tuple(p.prompt_id for p in select_prompts(prompts, 40, s)) for s in range(5)}
    assert len(samples) == 5
    # ... while the per-category counts stay the same
    assert {tuple(sorted(counts(select_prompts(prompts, 40, s)).items())) for s in range(5)} == {
        (("A", 24), ("B", 10), ("C", 6))
    }


def test_original_order_kept_for_grouped_input() -> None:
    prompts = make([("Z", 20), ("A", 20), ("M", 20)], interleave=False)
    sample = select_prompts(prompts, 15, seed=11)
    assert is_in_original_order(sample, prompts)
    assert [p.category for p in sample] == ["Z"] * 5 + ["A"] * 5 + ["M"] * 5


def test_single_category() -> None:
    prompts = make([("only", 30)])
    sample = select_prompts(prompts, 7, seed=2)
    assert len(sample) == 7 and is_in_original_order(sample, prompts)


# ------------------------------------------------------------------ resolve_size

NAMED: dict[str, int | None] = {"small": 10, "medium": 50, "large": 200, "full": None}


@pytest.mark.parametrize(
    ("size", "available", "expected"),
    [
        ("small", 100, 10),
        (" Medium ", 100, 50),
        ("large", 100, None),  # covers everything available
        ("large", 500, 200),
        ("full", 100, None),
        (None, 100, None),
        ("25", 100, 25),
        (25, 100, 25),
        (100, 100, None),
        ("150", 100, None),
    ],
)
def test_resolve_size(size: str | int | None, available: int, expected: int | None) -> None:
    assert resolve_size(size, NAMED, available) == expected


def test_full_is_known_even_if_not_named() -> None:
    assert resolve_size("full", {"small": 5}, 100) is None


def test_unknown_name_lists_the_names() -> None:
    with pytest.raises(ValueError) as info:
        resolve_size("huge", NAMED, 100)
    message = str(info.value)
    assert "'huge'" in message
    for name in ("small", "medium", "large", "full"):
        assert name in message


@pytest.mark.parametrize("size", ["0", "-3", 0, -3])
def test_non_positive_counts(size: str | int) -> None:
    with pytest.raises(ValueError, match="positive"):
        resolve_size(size, NAMED, 100)


def test_bool_is_rejected() -> None:
    with pytest.raises(ValueError):
        resolve_size(True, NAMED, 100)


def test_bad_named_value() -> None:
    with pytest.raises(ValueError, match="positive"):
        resolve_size("tiny", {"tiny": 0}, 100)
