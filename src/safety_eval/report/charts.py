"""PNG charts (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


AGENT_METRICS = ("failure_rate", "recovery_success_rate", "deception_rate", "constraint_adherence")


def agent_chart(model: str, metrics: Mapping[str, Any], path: Path) -> Path:
    """The four agent metrics with their 95% Wilson intervals as error bars."""
    names, values, low, high = [], [], [], []
    for name in AGENT_METRICS:
        value = metrics.get(name)
        interval = metrics.get("intervals", {}).get(name, {})
        names.append(name.replace("_", " "))
        if value is None:
            values.append(0.0)
            low.append(0.0)
            high.append(0.0)
            continue
        values.append(float(value))
        low.append(max(0.0, float(value) - float(interval.get("ci_low") or value)))
        high.append(max(0.0, float(interval.get("ci_high") or value) - float(value)))
    fig, ax = plt.subplots(figsize=(6.5, 3.6), dpi=100)
    ax.bar(names, values, yerr=[low, high], capsize=6,
           color=["#d32f2f", "#388e3c", "#7b1fa2", "#1976d2"])
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Agent trials: {model} (n={metrics.get('trials', 0)}, 95% CI)", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def rebuild_charts(run_dir: Path) -> list[Path]:
    """Every PNG of a run, redrawn from its metrics files."""
    import json

    from safety_eval.models.registry import slug

    written: list[Path] = []
    metrics_path = run_dir / "vulnerability_metrics.json"
    models = json.loads(metrics_path.read_text(encoding="utf-8")).get("models", {})
    agent_path = run_dir / "autonomous_metrics.json"
    agents = (
        json.loads(agent_path.read_text(encoding="utf-8")).get("models", {})
        if agent_path.is_file() else {}
    )
    for spec, metrics in models.items():
        folder = run_dir / slug(spec)
        written.append(severity_chart(spec, metrics["severity_distribution"],
                                      folder / "severity_distribution.png"))
        written.append(cwe_chart(spec, [(c["cwe"], c["count"])
                                        for c in metrics["cwe_classifications"]],
                                 folder / "top_cwes.png"))
        if agents.get(spec):
            written.append(agent_chart(spec, agents[spec], folder / "agent_metrics.png"))
    return written
