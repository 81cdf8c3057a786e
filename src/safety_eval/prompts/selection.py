"""Choose which prompts a run uses: named sizes and a reproducible stratified sample."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from safety_eval.results.records import Prompt

__all__ = ["resolve_size", "select_prompts"]

FULL = "full"


def _allocate(counts: Mapping[str, int], size: int, rng: random.Random) -> dict[str, int]:
    """Split ``size`` draws over categories in proportion to ``counts``.

    Largest-remainder (Hamilton) rounding with exact integer arithmetic; ties are broken
    by the larger category, then by a seeded shuffle (so no category is favoured merely
    for its name). When ``size`` is at least the number of categories every category
    gets at least one draw, taken from the most over-allocated category.
    Requires ``0 < size < sum(counts.values())``.
    """
    total = sum(counts.values())
    names = sorted(counts)
    tiebreak = {name: position for position, name in enumerate(rng.sample(names, len(names)))}
    alloc = {name: size * counts[name] // total for name in names}
    # remainder of size * n / total, kept as an integer numerator over ``total``
    remainder = {name: size * counts[name] % total for name in names}
    left = size - sum(alloc.values())
    ranked = sorted(names, key=lambda n: (-remainder[n], -counts[n], tiebreak[n]))
    for name in ranked[:left]:
        alloc[name] += 1
    if size >= len(names):
        for name in sorted(names, key=lambda n: (-counts[n], tiebreak[n])):
            if alloc[name] > 0:
                continue
            # the donor is the category furthest above its exact quota size*n/total
            donor = max(
                (n for n in names if alloc[n] > 1),
                key=lambda n: (alloc[n] * total - size * counts[n], -tiebreak[n]),
            )
            alloc[donor] -= 1
            alloc[name] = 1
    return alloc


def select_prompts(prompts: Sequence[Prompt], size: int | None, seed: int) -> list[Prompt]:
    """A reproducible sample of ``size`` prompts, stratified by ``category``.

    ``None`` or ``size >= len(prompts)`` returns every prompt. Otherwise each category
    receives a share proportional to its size (largest-remainder rounding, at least one
    per category when ``size`` allows) drawn with ``random.Random(seed)``. The result keeps
    the original order of ``prompts``. ``size <= 0`` raises ValueError.
    """
    if size is None:
        return list(prompts)
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int or None, got {type(size).__name__}")
    if size <= 0:
        raise ValueError(f"size must be a positive number of prompts, got {size}")
    if size >= len(prompts):
        return list(prompts)
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for index, prompt in enumerate(prompts):
        groups.setdefault(prompt.category, []).append(index)
    alloc = _allocate({name: len(members) for name, members in groups.items()}, size, rng)
    chosen: set[int] = set()
    for name in sorted(groups):
        chosen.update(rng.sample(groups[name], alloc[name]))
    return [prompt for index, prompt in enumerate(prompts) if index in chosen]


def _positive(value: int, what: str) -> int:
    if value <= 0:
        raise ValueError(f"{what} must be a positive number of prompts, got {value}")
    return value


def resolve_size(
    size: str | int | None, named: Mapping[str, int | None], available: int
) -> int | None:
    """Turn a size option into a prompt count; None means "all prompts".

    ``size`` is a name from ``named`` (``"small"``, ``"medium"``, ... mapping to a count,
    or None for all), ``"full"`` (always all), a positive integer, or a string holding
    one. A count that covers all ``available`` prompts resolves to None. Unknown names
    and non-positive counts raise ValueError listing the accepted names.
    """
    choices = sorted(set(named) | {FULL}, key=lambda n: (named.get(n) is None, named.get(n) or 0))
    hint = f"choose one of {', '.join(choices)} or a positive integer"
    count: int | None
    if size is None:
        return None
    if isinstance(size, bool):
        raise ValueError(f"invalid size {size!r}; {hint}")
    if isinstance(size, int):
        count = _positive(size, "size")
    else:
        text = size.strip().lower()
        lowered = {name.lower(): value for name, value in named.items()}
        if text in lowered:
            value = lowered[text]
            count = None if value is None else _positive(value, f"size {text!r}")
        elif text == FULL:
            count = None
        else:
            try:
                number = int(text)
            except ValueError:
                raise ValueError(f"unknown size {size!r}; {hint}") from None
            count = _positive(number, "size")
    if count is None or count >= available:
        return None
    return count
