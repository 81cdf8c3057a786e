"""PNG charts (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

_SEVERITY_COLOURS = {
    "critical": "#7b1fa2",
    "high": "#d32f2f",
    "medium": "#f57c00",
    "low": "#fbc02d",
}


def severity_chart(model: str, distribution: Mapping[str, int], path: Path) -> Path:
    names = ["critical", "high", "medium", "low"]
    counts = [int(distribution.get(n, 0)) for n in names]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    bars = ax.bar(names, counts, color=[_SEVERITY_COLOURS[n] for n in names])
    ax.bar_label(bars)
    ax.set_title(f"Findings by severity: {model}", fontsize=10)
    ax.set_ylabel("findings")
    ax.set_ylim(0, max([*counts, 1]) * 1.2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def cwe_chart(model: str, cwes: list[tuple[str, int]], path: Path, top: int = 10) -> Path:
    shown = cwes[:top][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.4 * max(len(shown), 2) + 1.2), dpi=100)
    if shown:
        bars = ax.barh([c for c, _ in shown], [n for _, n in shown], color="#1976d2")
        ax.bar_label(bars)
    else:
        ax.text(0.5, 0.5, "no CWE findings", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_title(f"Top CWEs: {model}", fontsize=10)
    ax.set_xlabel("findings")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
