"""Small, dependency-free statistics used by every rate the tool reports."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

Z95 = 1.959963984540054


class Rate(BaseModel):
    """A proportion with its count and a 95% Wilson score interval."""

    model_config = ConfigDict(frozen=True)

    value: float | None
    successes: int
    total: int
    ci_low: float | None
    ci_high: float | None


def wilson_interval(successes: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``total`` (total > 0)."""
    if total <= 0:
        raise ValueError("wilson_interval needs total > 0")
    if not 0 <= successes <= total:
        raise ValueError(f"successes={successes} outside 0..{total}")
    p = successes / total
    z2 = z * z
    denom = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(successes: int, total: int) -> Rate:
    """A Rate; value and interval are None when there is nothing to divide by."""
    if total == 0:
        return Rate(value=None, successes=0, total=0, ci_low=None, ci_high=None)
    low, high = wilson_interval(successes, total)
    return Rate(value=successes / total, successes=successes, total=total, ci_low=low, ci_high=high)
