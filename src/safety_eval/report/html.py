"""The self-contained HTML report of an evaluation run.

:func:`build_report` reads a run directory (``run.json``, ``multi_model_summary.csv``,
``vulnerability_metrics.json``, each model's ``samples.jsonl`` and, when present,
``autonomous_metrics.json`` and ``agent_trials.jsonl``) and writes one HTML file that
needs nothing else: charts are inline SVG, styles and the small script are inline, and a
strict Content-Security-Policy (the script allowed by its sha256 hash only) forbids any
network access.

Everything that came from a model, a prompt file or a configuration is untrusted: it is
only ever written through :func:`esc` (``html.escape(..., quote=True)`` plus visible
stand-ins for control and bidi characters), links are only built from CWE numbers, and
the script never turns text into markup. Without JavaScript the whole page is readable:
tabs and filters are extras, drill-down uses ``<details>``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import heapq
import html
import json
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safety_eval.models.registry import slug as model_slug
from safety_eval.results.records import SEVERITY_ORDER, Finding, Sample
from safety_eval.results.writers import atomic_write_text, iter_samples

__all__ = ["REPORT_NAME", "build_report", "esc", "main", "render_report"]

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_COLOURS = {
    "critical": "#7b1fa2",
    "high": "#d32f2f",
    "medium": "#f57c00",
    "low": "#fbc02d",
}
MAX_TEXT_CHARS = 20_000
"""A prompt, reply or transcript message longer than this is cut (with a note)."""
MAX_CODE_LINES = 1_500
MAX_LINE_CHARS = 2_000
MAX_TRANSCRIPT_MESSAGES = 200
MAX_FINDINGS_SHOWN = 300
MAX_NOTES_PER_LINE = 10
TOP_CWES = 10

AGENT_METRICS = (
    "failure_rate",
    "recovery_success_rate",
    "deception_rate",
    "constraint_adherence",
    "inaccuracy_rate",
    "protocol_error_rate",
)
_HIGHER_IS_BETTER = {"recovery_success_rate", "constraint_adherence", "parse_rate"}
_HIGHER_IS_WORSE = {
    "failure_rate",
    "deception_rate",
    "inaccuracy_rate",
    "protocol_error_rate",
    "vulnerable_rate",
    "hallucination_rate",
}
_COLUMN_LABELS = {
    "model": "Model",
    "samples": "Samples",
    "vulnerable_samples": "Vulnerable samples",
    "vulnerable_rate": "Vulnerable rate (95% CI)",
    "total_vulnerabilities": "Findings",
    "critical": "Critical",
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    "hallucination_rate": "Hallucination rate",
    "parse_rate": "Parse rate",
    "parse_full": "Parsed: full",
    "parse_recovered": "Parsed: recovered",
    "parse_text_only": "Parsed: text only",
    "generation_errors": "Generation errors",
    "scan_errors": "Scan errors",
    "mean_latency_s": "Mean latency (s)",
    "tokens_per_s": "Tokens / s",
    "failure_rate": "Agent failure rate",
    "recovery_success_rate": "Agent recovery rate",
    "deception_rate": "Agent deception rate",
    "constraint_adherence": "Constraint adherence",
    "inaccuracy_rate": "Agent inaccuracy rate",
    "protocol_error_rate": "Protocol error rate",
}
_SAFE_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_CWE_ID = re.compile(r"^\s*CWE[-_ ]?(\d{1,6})\s*$", re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# --------------------------------------------------------------------------- escaping

_SURROGATES = re.compile(r"[\ud800-\udfff]")
_C0_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_C1_CONTROLS = re.compile(r"[\x80-\x9f]")
_BIDI_CONTROLS = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_AS_REFERENCE = re.compile(r"[\u2028\u2029\ufeff]")


def _control_picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code)


def esc(value: object) -> str:
    """Untrusted text as inert HTML (for element content and quoted attribute values alike).

    ``html.escape(quote=True)`` does the work; before it, NUL and other control characters
    become their visible Unicode "control pictures" (NUL -> U+2400), C1 controls and lone
    surrogates become U+FFFD, and bidi overrides become a visible ``⟦U+202E⟧`` so nothing
    can reorder what the reader sees. U+2028/U+2029/U+FEFF are written as character
    references, so the file itself never holds them raw.
    """
    text = value if isinstance(value, str) else str(value)
    text = _SURROGATES.sub("\ufffd", text)
    text = _C0_CONTROLS.sub(_control_picture, text)
    text = _C1_CONTROLS.sub("\ufffd", text)
    text = html.escape(text, quote=True)
    text = _BIDI_CONTROLS.sub(lambda m: f"\u27e6U+{ord(m.group()):04X}\u27e7", text)
    return _AS_REFERENCE.sub(lambda m: f"&#x{ord(m.group()):04X};", text)


def _clip(text: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, int]:
    """``text`` cut to ``limit`` characters, and how many were cut."""
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def _pre(text: object, css: str = "text", limit: int = MAX_TEXT_CHARS) -> str:
    raw = "" if text is None else (text if isinstance(text, str) else str(text))
    if not raw:
        return '<p class="muted">(empty)</p>'
    shown, cut = _clip(raw, limit)
    note = f'<p class="note">{cut:,} more characters not shown.</p>' if cut else ""
    return f'<pre class="{css}">{esc(shown)}</pre>{note}'


def _cwe_link(cwe: object, label: str | None = None) -> str:
    """A CWE id as a link to MITRE built from its number only; anything else as text."""
    text = "" if cwe is None else str(cwe)
    match = _CWE_ID.match(text)
    if not match:
        return esc(label if label is not None else text)
    number = int(match.group(1))
    shown = esc(label) if label is not None else f"CWE-{number}"
    return (
        f'<a href="https://cwe.mitre.org/data/definitions/{number}.html" '
        f'rel="noopener noreferrer" target="_blank">{shown}</a>'
    )


def _sev(value: object) -> str:
    """A severity name safe for a CSS class ('none' for anything unknown)."""
    return value if isinstance(value, str) and value in SEVERITY_ORDER else "none"


def _txt(value: object) -> str:
    """A value as escaped text, with a dash for nothing."""
    return "—" if value is None or value == "" else esc(value)


def _badge(text: str, css: str) -> str:
    return f'<span class="badge {css}">{esc(text)}</span>'


# --------------------------------------------------------------------------- values


def _num(value: object) -> float | None:
    """A finite number from a JSON/CSV value, else None (bools are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _int(value: object) -> int:
    number = _num(value)
    return int(number) if number is not None else 0


def _dict(value: object) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _pct(value: object, digits: int = 1) -> str:
    number = _num(value)
    return "—" if number is None else f"{number * 100:.{digits}f}%"


def _fmt(value: object) -> str:
    """A number as text (integers with separators); other values escaped as they are."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = _num(value)
    if number is None:
        return esc(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.3f}".rstrip("0").rstrip(".")


def _is_rate(name: str) -> bool:
    return name.endswith("_rate") or name == "constraint_adherence"


def _ci_text(low: object, high: object) -> str:
    if _num(low) is None or _num(high) is None:
        return ""
    return f"{_pct(low)}–{_pct(high)}"


def _dumps(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)


def _when(value: object) -> str:
    if not isinstance(value, str) or not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return esc(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
        return esc(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return esc(moment.strftime("%Y-%m-%d %H:%M:%S"))


def _size(value: object) -> str:
    number = _num(value)
    if number is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if number < 1024 or unit == "GiB":
            return f"{number:,.0f} {unit}" if unit == "B" else f"{number:,.1f} {unit}"
        number /= 1024
    return f"{number:,.1f} GiB"  # pragma: no cover - loop always returns


def _heat(fraction: float, hue: str = "red") -> tuple[str, str]:
    """(background, text colour) for a 0..1 intensity."""
    fraction = min(max(fraction, 0.0), 1.0)
    base = {"red": (211, 47, 47), "green": (46, 125, 50), "blue": (25, 118, 210)}[hue]
    mix = 0.12 + 0.88 * fraction if fraction > 0 else 0.0
    r, g, b = (round(255 + (c - 255) * mix) for c in base)
    text = "#ffffff" if mix > 0.55 else "#1a1a1a"
    return f"#{r:02x}{g:02x}{b:02x}", text


# --------------------------------------------------------------------------- loading


@dataclass
class ModelEntry:
    spec: str
    slug: str
    index: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def anchor(self) -> str:
        return f"model-{self.index}"


@dataclass
class Selection:
    """The worst items of one model's file, capped, and what was left out."""

    items: list[Any]
    total: int
    exists: bool
    problems: list[str] = field(default_factory=list)

    @property
    def left_out(self) -> int:
        return max(self.total - len(self.items), 0)


@dataclass
class RunData:
    run_dir: Path
    run: dict[str, Any]
    summary_columns: list[str]
    summary_rows: list[dict[str, str]]
    metrics: dict[str, dict[str, Any]]
    severity_threshold: str
    agent: dict[str, dict[str, Any]] | None
    models: list[ModelEntry]
    problems: list[str]


def _read_json(path: Path, problems: list[str]) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name} could not be read: {exc}")
        return None


def _read_summary(path: Path, problems: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        return [], []
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [{str(k): str(v or "") for k, v in row.items() if k} for row in reader]
            columns = [c for c in (reader.fieldnames or []) if c]
    except (OSError, csv.Error) as exc:
        problems.append(f"{path.name} could not be read: {exc}")
        return [], []
    return columns, rows


def _summary_from_metrics(metrics: Mapping[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Summary rows rebuilt from vulnerability_metrics.json when the CSV is missing."""
    rows: list[dict[str, str]] = []
    for spec, data in metrics.items():
        rate = _dict(data.get("vulnerable_rate"))
        sev = _dict(data.get("severity_distribution"))
        modes = _dict(data.get("parse_modes"))
        values: dict[str, object] = {
            "model": spec,
            "samples": data.get("samples"),
            "vulnerable_samples": data.get("vulnerable_samples", rate.get("successes")),
            "vulnerable_rate": rate.get("value"),
            "vulnerable_rate_ci_low": rate.get("ci_low"),
            "vulnerable_rate_ci_high": rate.get("ci_high"),
            "total_vulnerabilities": data.get("total_vulnerabilities"),
            **{name: sev.get(name) for name in SEVERITIES},
            "hallucination_rate": data.get("hallucination_rate"),
            "parse_rate": data.get("parse_rate"),
            "parse_full": modes.get("full"),
            "parse_recovered": modes.get("recovered"),
            "parse_text_only": modes.get("text-only"),
        }
        rows.append({k: "" if v is None else str(v) for k, v in values.items()})
    return rows


def _model_list(
    run: Mapping[str, Any],
    metrics: Mapping[str, Any],
    rows: Sequence[Mapping[str, str]],
    agent: Mapping[str, Any] | None,
) -> list[ModelEntry]:
    metas: dict[str, dict[str, Any]] = {}
    order: list[str] = []

    def add(spec: object, meta: dict[str, Any] | None = None) -> None:
        if not isinstance(spec, str) or not spec:
            return
        if spec not in metas:
            order.append(spec)
            metas[spec] = {}
        if meta:
            metas[spec] = meta

    for entry in _list(run.get("models")):
        if isinstance(entry, Mapping):
            add(entry.get("spec"), _dict(entry))
        else:
            add(entry)
    for spec in _list(_dict(run.get("config")).get("models")):
        add(spec)
    for spec in metrics:
        add(spec)
    for row in rows:
        add(row.get("model"))
    for spec in agent or {}:
        add(spec)
    models: list[ModelEntry] = []
    for index, spec in enumerate(order):
        meta = metas[spec]
        given = meta.get("slug")
        # the slug becomes a path component: only a plain folder name is trusted
        folder = given if isinstance(given, str) and _SAFE_SLUG.match(given) else model_slug(spec)
        models.append(ModelEntry(spec=spec, slug=folder, index=index, meta=meta))
    return models


def load_run(run_dir: Path) -> RunData:
    """Everything the report shows, read leniently: what is missing or broken is noted."""
    problems: list[str] = []
    run = _dict(_read_json(run_dir / "run.json", problems))
    if not (run_dir / "run.json").is_file():
        problems.append("run.json is missing: the run header is incomplete.")
    columns, rows = _read_summary(run_dir / "multi_model_summary.csv", problems)
    vuln = _dict(_read_json(run_dir / "vulnerability_metrics.json", problems))
    metrics = {k: _dict(v) for k, v in _dict(vuln.get("models")).items()}
    if not rows and metrics:
        rows = _summary_from_metrics(metrics)
        columns = list(rows[0]) if rows else []
    agent_raw = _read_json(run_dir / "autonomous_metrics.json", problems)
    agent: dict[str, dict[str, Any]] | None = None
    if agent_raw is not None:
        agent_models = _dict(_dict(agent_raw).get("models"))
        agent = {k: _dict(v) for k, v in agent_models.items()}
    threshold = vuln.get("severity_threshold", run.get("severity_threshold", ""))
    return RunData(
        run_dir=run_dir,
        run=run,
        summary_columns=columns,
        summary_rows=rows,
        metrics=metrics,
        severity_threshold=str(threshold or ""),
        agent=agent,
        models=_model_list(run, metrics, rows, agent),
        problems=problems,
    )


def sample_rank(sample: Sample) -> tuple[int, ...]:
    """Sort key, larger is worse: most severe finding, then counts per severity,
    hallucinations, errors."""
    counts: Counter[str] = Counter(f.severity for f in sample.findings)
    worst = max((SEVERITY_ORDER.get(f.severity, 0) for f in sample.findings), default=0)
    return (
        worst,
        *(counts[name] for name in SEVERITIES),
        len(sample.hallucinations),
        1 if sample.error else 0,
    )


def _select(stream: Iterator[Any], limit: int, key: Callable[[Any], Any]) -> tuple[list[Any], int]:
    counter = [0]

    def counted() -> Iterator[Any]:
        for item in stream:
            counter[0] += 1
            yield item

    if limit <= 0:
        for _ in counted():
            pass
        return [], counter[0]
    # nlargest is stable (ties keep file order) and holds at most ``limit`` items
    chosen = heapq.nlargest(limit, counted(), key=key)
    return chosen, counter[0]


def select_samples(path: Path, limit: int) -> Selection:
    """The ``limit`` worst samples of a ``samples.jsonl``, streamed (memory stays flat)."""
    if not path.is_file():
        return Selection(items=[], total=0, exists=False)
    problems: list[str] = []

    def stream() -> Iterator[Sample]:
        try:
            yield from iter_samples(path)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"{path.name}: reading stopped at a bad record ({first}).")

    items, total = _select(stream(), limit, sample_rank)
    return Selection(items=items, total=total, exists=True, problems=problems)


def trial_rank(trial: Mapping[str, Any]) -> tuple[int, ...]:
    """Sort key for agent trials, larger is worse."""
    violations = len(_list(trial.get("constraint_violations")))
    destructive = len(_list(trial.get("destructive_actions")))
    failed = bool(trial.get("failed")) or violations > 0 or destructive > 0
    return (
        1 if trial.get("deceptive") else 0,
        1 if failed and not trial.get("recovered") else 0,
        1 if failed else 0,
        _int(trial.get("data_loss_rows")),
        violations + destructive,
        1 if trial.get("inaccurate") else 0,
        1 if trial.get("error") else 0,
        _int(trial.get("protocol_errors")),
    )


def select_trials(path: Path, limit: int) -> Selection:
    """The ``limit`` worst agent trials of an ``agent_trials.jsonl`` (bad lines skipped)."""
    if not path.is_file():
        return Selection(items=[], total=0, exists=False)
    bad = [0]

    def stream() -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    bad[0] += 1
                    continue
                if isinstance(record, dict):
                    yield record
                else:
                    bad[0] += 1

    problems: list[str] = []
    try:
        items, total = _select(stream(), limit, trial_rank)
    except OSError as exc:
        return Selection(items=[], total=0, exists=True, problems=[f"{path.name}: {exc}"])
    if bad[0]:
        problems.append(f"{path.name}: {bad[0]} line(s) were not JSON objects and were skipped.")
    return Selection(items=items, total=total, exists=True, problems=problems)


# --------------------------------------------------------------------------- charts (SVG)


def _svg_severity(distribution: Mapping[str, Any], title: str) -> str:
    counts = [max(_int(distribution.get(name)), 0) for name in SEVERITIES]
    top = max([*counts, 1])
    width, height, base, bar = 340, 190, 150, 54
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img"><title>{esc(title)}</title>',
        f'<line x1="20" y1="{base}" x2="{width - 10}" y2="{base}" class="axis"/>',
    ]
    for i, (name, count) in enumerate(zip(SEVERITIES, counts, strict=True)):
        x = 30 + i * 76
        h = round(115 * count / top) if count else 0
        parts.append(
            f'<rect x="{x}" y="{base - h}" width="{bar}" height="{max(h, 1)}" '
            f'fill="{SEVERITY_COLOURS[name]}"><title>{name}: {count}</title></rect>'
            f'<text x="{x + bar / 2}" y="{base - h - 6}" class="val">{count:,}</text>'
            f'<text x="{x + bar / 2}" y="{base + 18}" class="lbl">{name}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_cwes(cwes: Sequence[tuple[str, str, int]], title: str) -> str:
    if not cwes:
        return '<p class="muted chart-empty">No CWE findings.</p>'
    cwes = [(cwe, name, max(count, 0)) for cwe, name, count in cwes]
    top = max(count for _, _, count in cwes) or 1
    row, label_w, bar_w = 24, 330, 220
    width, height = label_w + bar_w + 50, row * len(cwes) + 10
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img"><title>{esc(title)}</title>'
    ]
    for i, (cwe, name, count) in enumerate(cwes):
        y = 5 + i * row
        label = f"{cwe} {name}".strip()
        short = label if len(label) <= 52 else label[:51] + "…"
        w = max(round(bar_w * count / top), 1)
        parts.append(
            f"<g><title>{esc(label)}: {count}</title>"
            f'<text x="{label_w - 6}" y="{y + 15}" class="ylbl">{esc(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row - 8}" fill="#1976d2"/>'
            f'<text x="{label_w + w + 5}" y="{y + 15}" class="hval">{count:,}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_rates(rows: Sequence[tuple[str, float | None, float | None, float | None]]) -> str:
    """Horizontal bars with 95% CI whiskers, one row per model (values 0..1)."""
    row, label_w, bar_w = 28, 190, 380
    width, height = label_w + bar_w + 70, row * len(rows) + 34
    parts = [
        f'<svg class="chart wide" viewBox="0 0 {width} {height}" role="img">'
        "<title>Vulnerable rate by model, 95% CI</title>"
    ]
    for tick in range(0, 101, 25):
        x = label_w + bar_w * tick / 100
        parts.append(
            f'<line x1="{x}" y1="4" x2="{x}" y2="{height - 22}" class="grid"/>'
            f'<text x="{x}" y="{height - 8}" class="lbl">{tick}%</text>'
        )
    for i, (name, value, low, high) in enumerate(rows):
        y = 6 + i * row
        short = name if len(name) <= 26 else name[:25] + "…"
        parts.append(f"<g><title>{esc(name)}</title>")
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" class="ylbl">{esc(short)}</text>')
        if value is not None:
            w = bar_w * min(max(value, 0.0), 1.0)
            parts.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row - 10}" '
                f'fill="#d32f2f" opacity="0.8"/>'
            )
            end = label_w + w
            if low is not None and high is not None:
                x1, x2 = label_w + bar_w * low, label_w + bar_w * high
                mid = y + row / 2 - 1
                parts.append(
                    f'<line x1="{x1:.1f}" y1="{mid}" x2="{x2:.1f}" y2="{mid}" class="whisker"/>'
                    f'<line x1="{x1:.1f}" y1="{mid - 6}" x2="{x1:.1f}" y2="{mid + 6}" '
                    f'class="whisker"/><line x1="{x2:.1f}" y1="{mid - 6}" x2="{x2:.1f}" '
                    f'y2="{mid + 6}" class="whisker"/>'
                )
                end = max(end, x2)
            parts.append(f'<text x="{end + 6:.1f}" y="{y + 16}" class="hval">{_pct(value)}</text>')
        else:
            parts.append(f'<text x="{label_w + 4}" y="{y + 16}" class="hval">no data</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _svg_interval(value: float | None, low: float | None, high: float | None) -> str:
    """A tiny 0..100% strip with the interval and the point estimate."""
    if value is None:
        return ""
    w, pad = 120, 4

    def x(fraction: float) -> str:
        return f"{pad + w * min(max(fraction, 0.0), 1.0):.1f}"

    parts = [
        f'<svg class="strip" viewBox="0 0 {w + 2 * pad} 14" width="{w + 2 * pad}" height="14" '
        'aria-hidden="true">'
        f'<rect x="{pad}" y="6" width="{w}" height="2" fill="#e0e0e0"/>'
    ]
    if low is not None and high is not None:
        width = max(w * (min(high, 1.0) - max(low, 0.0)), 1.0)
        parts.append(f'<rect x="{x(low)}" y="3" width="{width:.1f}" height="8" fill="#90caf9"/>')
    parts.append(f'<circle cx="{x(value)}" cy="7" r="3.5" fill="#0d47a1"/>')
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- sections


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def _guarded(anchor: str, title: str, build: Callable[[], str]) -> str:
    """One section; if building it fails, a visible error instead of no report at all."""
    try:
        return _section(anchor, title, build())
    except Exception as exc:  # a broken input must not cost the whole page
        log.warning("report section %s failed: %s", anchor, exc, exc_info=True)
        return _section(
            anchor,
            title,
            f'<p class="section-error">This section could not be built: '
            f"{esc(type(exc).__name__)}: {esc(exc)}</p>",
        )


def _header(data: RunData) -> str:
    run = data.run
    config = _dict(run.get("config"))
    status = str(run.get("status") or "unknown")
    status_css = {"complete": "ok", "completed": "ok", "partial": "warn", "running": "warn"}.get(
        status, "bad"
    )
    source = _dict(run.get("prompt_source"))
    if source:
        bits = [str(source.get("spec", ""))]
        if source.get("format"):
            bits.append(f"format {source['format']}")
        selected, avail = source.get("selected"), source.get("available")
        if selected is not None:
            bits.append(
                f"{selected} of {avail} prompts" if avail is not None else f"{selected} prompts"
            )
        prompt_source = esc(" · ".join(b for b in bits if b))
    else:
        prompt_source = _txt(config.get("prompts"))
    timings = _dict(run.get("timings"))
    total_s = _num(timings.get("total_s"))
    items = [
        ("Run id", _txt(run.get("run_id"))),
        ("Run folder", _txt(run.get("run_dir") or data.run_dir.name)),
        ("Status", _badge(status, status_css)),
        ("Started", _when(run.get("started_at"))),
        ("Finished", _when(run.get("finished_at"))),
        ("Duration", f"{total_s:,.1f} s" if total_s is not None else "—"),
        ("Prompt source", prompt_source),
        ("Seed", _txt(run.get("seed", config.get("seed")))),
        ("Severity threshold", esc(data.severity_threshold or "—")),
    ]
    if config.get("label"):
        items.append(("Label", esc(config["label"])))
    grid = "".join(f"<div><dt>{esc(k)}</dt><dd>{v}</dd></div>" for k, v in items)

    model_rows = []
    model_timings = _dict(timings.get("models"))
    for model in data.models:
        meta = model.meta
        sha = meta.get("sha256")
        sha_text = esc(str(sha)[:12]) + "…" if isinstance(sha, str) and sha else "—"
        times = _dict(model_timings.get(model.spec))
        time_text = ", ".join(
            f"{esc(k.removesuffix('_s'))} {_fmt(v)} s"
            if k.endswith("_s")
            else f"{esc(k)} {_fmt(v)}"
            for k, v in times.items()
            if _num(v) is not None
        )
        model_rows.append(
            f'<tr><td><a href="#{model.anchor}">{esc(model.spec)}</a></td>'
            f"<td>{_txt(meta.get('backend'))}</td>"
            f"<td>{_txt(meta.get('file'))}</td>"
            f'<td><code title="{esc(sha or "")}">{sha_text}</code></td>'
            f"<td>{_size(meta.get('size_bytes'))}</td><td>{time_text or '—'}</td></tr>"
        )
    models_table = (
        '<table class="compact"><thead><tr><th>Model</th><th>Backend</th><th>File</th>'
        "<th>sha256</th><th>Size</th><th>Timings</th></tr></thead><tbody>"
        + "".join(model_rows)
        + "</tbody></table>"
        if model_rows
        else '<p class="muted">No models recorded.</p>'
    )
    versions = _dict(run.get("versions"))
    version_text = " · ".join(f"{esc(k)} {esc(v)}" for k, v in versions.items())
    problems = ""
    if data.problems:
        problems = (
            '<div class="notice"><strong>Some inputs were missing or broken:</strong><ul>'
            + "".join(f"<li>{esc(p)}</li>" for p in data.problems)
            + "</ul></div>"
        )
    config_block = ""
    if run:
        config_block = (
            '<details class="raw"><summary>Full run record (run.json)</summary>'
            + _pre(_dumps(run), "text", 200_000)
            + "</details>"
        )
    return (
        f'<header id="top"><h1>Safety evaluation report</h1>'
        f'<p class="sub">Run <code>{esc(run.get("run_id") or data.run_dir.name)}</code> · '
        f"{len(data.models)} model(s) · generated "
        f"{esc(datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC'))}</p>"
        f'<dl class="meta">{grid}</dl>{problems}'
        f"<h3>Models</h3>{models_table}"
        f'<p class="versions muted">{version_text}</p>{config_block}</header>'
    )


_COLUMN_GROUPS = {
    "samples": "Vulnerabilities",
    "vulnerable_samples": "Vulnerabilities",
    "vulnerable_rate": "Vulnerabilities",
    "total_vulnerabilities": "Vulnerabilities",
    **{name: "Findings by severity" for name in SEVERITIES},
    "hallucination_rate": "Halluc.",
    "hallucinated_samples": "Halluc.",
    "parse_rate": "Code extraction",
    "parse_full": "Code extraction",
    "parse_recovered": "Code extraction",
    "parse_text_only": "Code extraction",
    "generation_errors": "Errors and speed",
    "scan_errors": "Errors and speed",
    "mean_latency_s": "Errors and speed",
    "tokens_per_s": "Errors and speed",
    **{name: "Autonomous agent" for name in AGENT_METRICS},
    "agent_trials": "Autonomous agent",
}


_SUMMARY_LABELS = {
    "vulnerable_samples": "Vulnerable",
    "vulnerable_rate": "Rate (95% CI)",
    "hallucination_rate": "Rate",
    "hallucinated_samples": "Samples",
    "parse_rate": "Parsed",
    "parse_full": "Full",
    "parse_recovered": "Recovered",
    "parse_text_only": "Text only",
    "generation_errors": "Gen. errors",
    "mean_latency_s": "Latency (s)",
    "tokens_per_s": "Tokens/s",
    "agent_trials": "Trials",
    "failure_rate": "Failure",
    "recovery_success_rate": "Recovery",
    "deception_rate": "Deception",
    "constraint_adherence": "Constraint adherence",
    "inaccuracy_rate": "Inaccuracy",
    "protocol_error_rate": "Protocol errors",
}


def _column_group(name: str) -> str | None:
    if name == "model":
        return None
    if name.startswith("agent_"):
        return "Autonomous agent"
    return _COLUMN_GROUPS.get(name, "Other")


def _grouped_header(columns: Sequence[str]) -> str:
    """Two header rows: column groups (with colspans), then the column names."""
    runs: list[tuple[str | None, list[str]]] = []
    for column in columns:
        group = _column_group(column)
        if runs and group is not None and runs[-1][0] == group:
            runs[-1][1].append(column)
        else:
            runs.append((group, [column]))

    def label(column: str) -> str:
        text = _SUMMARY_LABELS.get(column) or _COLUMN_LABELS.get(column, column.replace("_", " "))
        return f'<th title="{esc(column)}">{esc(text)}</th>'

    top: list[str] = []
    for group, members in runs:
        if group is None:
            top.extend(label(c).replace("<th ", '<th rowspan="2" ', 1) for c in members)
        else:
            top.append(f'<th class="group" colspan="{len(members)}">{esc(group)}</th>')
    second = "".join(label(c) for group, members in runs if group is not None for c in members)
    return f"<tr>{''.join(top)}</tr><tr>{second}</tr>"


def _summary_table(data: RunData, columns: Sequence[str], merged: set[str]) -> str:
    """One summary table; rates with an interval (from ``X_ci_low``/``X_ci_high`` columns,
    or for agent metrics from autonomous_metrics.json) show it under the value."""
    anchors = {m.spec: m.anchor for m in data.models}
    agent = data.agent or {}
    body: list[str] = []
    for row in data.summary_rows:
        cells: list[str] = []
        model = row.get("model", "")
        for col in columns:
            value = row.get(col, "")
            if col == "model":
                anchor = anchors.get(value)
                label = esc(value)
                cell = f'<a href="#{anchor}">{label}</a>' if anchor else label
                cells.append(f'<th scope="row">{cell}</th>')
                continue
            if col in merged:
                low, high = row.get(f"{col}_ci_low"), row.get(f"{col}_ci_high")
            else:
                interval = _dict(_dict(_dict(agent.get(model)).get("intervals")).get(col))
                low, high = interval.get("ci_low"), interval.get("ci_high")
            ci = _ci_text(low, high) if _num(value) is not None else ""
            if _is_rate(col) and _num(value) is not None:
                text = _pct(value)
            elif _is_rate(col) and value == "":
                text = '<span class="muted" title="nothing to divide by">n/a</span>'
            elif _num(value) is None and len(value) > 40:
                text = f'<span title="{esc(value[:2_000])}">{esc(value[:39])}…</span>'
            else:
                text = _fmt(value)
            extra = f'<br><span class="ci">[{ci}]</span>' if ci else ""
            cells.append(f'<td class="num">{text}{extra}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table class="summary"><thead>{_grouped_header(columns)}</thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _summary(data: RunData) -> str:
    if not data.summary_rows:
        return '<p class="muted">No summary was recorded for this run.</p>'
    columns = data.summary_columns or list(data.summary_rows[0])
    merged = {
        name for name in columns if f"{name}_ci_low" in columns and f"{name}_ci_high" in columns
    }
    hidden = {f"{n}_ci_low" for n in merged} | {f"{n}_ci_high" for n in merged}
    shown = [c for c in columns if c not in hidden]
    agent_cols = [c for c in shown if _column_group(c) == "Autonomous agent"]
    code_cols = [c for c in shown if c not in agent_cols]
    if "model" not in code_cols:
        code_cols.insert(0, "model")
    chart_rows = [
        (
            row.get("model", ""),
            _num(row.get("vulnerable_rate")),
            _num(row.get("vulnerable_rate_ci_low")),
            _num(row.get("vulnerable_rate_ci_high")),
        )
        for row in data.summary_rows
    ]
    threshold = (
        f" A sample is <em>vulnerable</em> when it has a finding of severity "
        f"{esc(data.severity_threshold)} or above."
        if data.severity_threshold
        else ""
    )
    chart = ""
    if any(value is not None for _, value, _, _ in chart_rows):
        chart = f'<figure class="rates">{_svg_rates(chart_rows)}</figure>'
    agent_table = ""
    if agent_cols:
        agent_table = (
            '<h3>Autonomous agent</h3><p class="lead">Agent trials per model; details in '
            '<a href="#agent">Autonomous agent</a>.</p>'
            + _summary_table(data, ["model", *agent_cols], merged)
        )
    return (
        f'<p class="lead">Intervals are 95% Wilson score intervals.{threshold}</p>{chart}'
        + _summary_table(data, code_cols, merged)
        + agent_table
    )


def _cwe_rows(data: RunData, spec: str) -> list[tuple[str, str, int]]:
    rows = []
    for item in _list(data.metrics.get(spec, {}).get("cwe_classifications")):
        entry = _dict(item)
        if entry.get("cwe") is None:
            continue
        rows.append((str(entry["cwe"]), str(entry.get("name") or ""), _int(entry.get("count"))))
    rows.sort(key=lambda r: (-r[2], r[0]))
    return rows


def _severity_charts(data: RunData) -> str:
    rows_by_model = {row.get("model"): row for row in data.summary_rows}
    cards = []
    for model in data.models:
        metrics = data.metrics.get(model.spec, {})
        distribution = _dict(metrics.get("severity_distribution"))
        if not distribution and model.spec in rows_by_model:
            row = rows_by_model[model.spec]
            distribution = {name: row.get(name) for name in SEVERITIES}
        cwes = _cwe_rows(data, model.spec)[:TOP_CWES]
        if not distribution and not cwes:
            body = '<p class="muted">No vulnerability metrics were recorded for this model.</p>'
        else:
            body = (
                '<div class="pair"><figure class="sev">'
                "<figcaption>Findings by severity</figcaption>"
                f"{_svg_severity(distribution, 'Findings by severity: ' + model.spec)}</figure>"
                f'<figure class="cwe"><figcaption>Top {TOP_CWES} CWEs</figcaption>'
                f"{_svg_cwes(cwes, 'Top CWEs: ' + model.spec)}</figure></div>"
            )
        total = metrics.get("total_vulnerabilities")
        extra = f' <span class="muted">{_fmt(total)} findings</span>' if total is not None else ""
        cards.append(
            f'<div class="card" id="{model.anchor}"><h3>{esc(model.spec)}{extra}</h3>{body}</div>'
        )
    return "".join(cards) or '<p class="muted">No models.</p>'


def _catalog_name(cwe: str) -> str:
    """The CWE's name from the package catalog, when the metrics did not record one."""
    try:
        from safety_eval.results.aggregate import cwe_name

        return cwe_name(cwe) if _CWE_ID.match(cwe) else ""
    except Exception:  # the catalog is a nicety here, never a reason to fail
        return ""


def _heatmap(data: RunData) -> str:
    specs = [m.spec for m in data.models if m.spec in data.metrics]
    counts: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    for spec in specs:
        for cwe, name, count in _cwe_rows(data, spec):
            counts.setdefault(cwe, {})[spec] = counts.get(cwe, {}).get(spec, 0) + count
            if name:
                names.setdefault(cwe, name)
    if not counts:
        return '<p class="muted">No CWE findings in this run.</p>'
    top = max(max(row.values()) for row in counts.values()) or 1
    order = sorted(counts, key=lambda c: (-sum(counts[c].values()), c))
    head = "".join(f'<th class="num">{esc(spec)}</th>' for spec in specs)
    rows = []
    for cwe in order:
        cells = []
        for spec in specs:
            count = counts[cwe].get(spec, 0)
            bg, fg = _heat(count / top)
            cells.append(
                f'<td class="heat num" style="background:{bg};color:{fg}" '
                f'title="{esc(spec)} · {esc(cwe)}: {count}">{count:,}</td>'
            )
        name = names.get(cwe) or _catalog_name(cwe)
        rows.append(
            f'<tr><th scope="row">{_cwe_link(cwe)}</th><td>{esc(name)}</td>'
            + "".join(cells)
            + f'<td class="num total">{sum(counts[cwe].values()):,}</td></tr>'
        )
    return (
        '<p class="lead">Findings per CWE and model; darker cells hold more findings. '
        "CWE ids link to their MITRE definitions.</p>"
        '<div class="scroll"><table class="heatmap"><thead><tr><th>CWE</th><th>Name</th>'
        f'{head}<th class="num">Total</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _hallucinations(data: RunData) -> str:
    specs = [m.spec for m in data.models if m.spec in data.metrics]
    if not specs:
        return '<p class="muted">No hallucination metrics were recorded.</p>'
    rules: dict[str, dict[str, int]] = {}
    for spec in specs:
        for rule, count in _dict(data.metrics[spec].get("hallucination_breakdown")).items():
            rules.setdefault(rule, {})[spec] = _int(count)
    rate_cells = []
    for spec in specs:
        metrics = data.metrics[spec]
        flagged = metrics.get("hallucinated_samples")
        n = metrics.get("samples")
        detail = (
            f' <span class="ci">({_fmt(flagged)} of {_fmt(n)} samples)</span>'
            if flagged is not None and n is not None
            else ""
        )
        rate_cells.append(f'<td class="num">{_pct(metrics.get("hallucination_rate"))}{detail}</td>')
    head = "".join(f'<th class="num">{esc(spec)}</th>' for spec in specs)
    rows = [
        f'<tr class="rate-row"><th scope="row">Hallucination rate</th>{"".join(rate_cells)}</tr>'
    ]
    top = max((v for row in rules.values() for v in row.values()), default=0) or 1
    for rule in sorted(rules, key=lambda r: (-sum(rules[r].values()), r)):
        cells = []
        for spec in specs:
            count = rules[rule].get(spec, 0)
            bg, fg = _heat(count / top, "blue")
            cells.append(f'<td class="heat num" style="background:{bg};color:{fg}">{count:,}</td>')
        rows.append(f'<tr><th scope="row"><code>{esc(rule)}</code></th>{"".join(cells)}</tr>')
    note = (
        ""
        if rules
        else '<p class="muted">No hallucinated packages, imports or APIs were found.</p>'
    )
    return (
        '<p class="lead">Hallucinations are references to packages, modules or APIs that do '
        "not exist; counts are per detection rule.</p>"
        f'<div class="scroll"><table class="heatmap"><thead><tr><th>Rule</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}"
    )


def _metric_names(block: Mapping[str, Any]) -> list[str]:
    intervals = _dict(block.get("intervals"))
    names = [n for n in AGENT_METRICS if n in block or n in intervals]
    for key, value in block.items():
        if key in names or key in ("trials", "errors", "intervals", "per_scenario"):
            continue
        if _num(value) is not None and (_is_rate(key) or key in intervals):
            names.append(key)
    names.extend(k for k in intervals if k not in names)
    return names


def _metric_cell(block: Mapping[str, Any], name: str, compact: bool = False) -> str:
    """One rate: value, interval and count (compact: the interval only as a tooltip)."""
    interval = _dict(_dict(block.get("intervals")).get(name))
    value = _num(block.get(name))
    low, high = _num(interval.get("ci_low")), _num(interval.get("ci_high"))
    successes, total = interval.get("successes"), interval.get("total")
    if value is None and block.get(name) is None:
        why = " (no failed trials)" if name == "recovery_success_rate" and not compact else ""
        return f'<td class="num muted" title="nothing to divide by">n/a{why}</td>'
    text = _pct(value) if value is not None else _fmt(block.get(name))
    ci = _ci_text(low, high)
    count = f" · {_fmt(successes)}/{_fmt(total)}" if successes is not None and total else ""
    fraction = value if value is not None else 0.0
    if name in _HIGHER_IS_WORSE:
        bg, fg = _heat(fraction * 0.6)
    elif name in _HIGHER_IS_BETTER:
        bg, fg = _heat((1 - fraction) * 0.6)
    else:
        bg, fg = "transparent", "inherit"
    if compact:
        tip = f' title="95% CI {ci}"' if ci else ""
        detail = f'<span class="ci">{count.removeprefix(" · ")}</span>' if count else ""
        return (
            f'<td class="num metric"{tip} style="background:{bg};color:{fg}">'
            f"<strong>{text}</strong> {detail}</td>"
        )
    bar = _svg_interval(value, low, high)
    detail = f'<span class="ci">[{ci}]{count}</span>' if ci or count else ""
    return (
        f'<td class="num metric" style="background:{bg};color:{fg}">'
        f"<strong>{text}</strong> {detail}{bar}</td>"
    )


def _agent(data: RunData, trials: Mapping[str, Selection]) -> str:
    agent = data.agent or {}
    with_trials = [m for m in data.models if trials.get(m.spec) and trials[m.spec].exists]
    specs = [m.spec for m in data.models if m.spec in agent]
    if not specs and not with_trials:
        return (
            '<p class="muted">This run has no autonomous-agent results '
            "(no autonomous_metrics.json).</p>"
        )
    if not specs:
        return (
            '<p class="muted">Agent trials were recorded but autonomous_metrics.json is '
            'missing; see <a href="#transcripts">the transcripts</a>.</p>'
        )
    names: list[str] = []
    for spec in specs:
        names.extend(n for n in _metric_names(agent[spec]) if n not in names)
    head = "".join(f'<th class="num">{esc(spec)}</th>' for spec in specs)
    rows = [
        '<tr><th scope="row">Trials (errored)</th>'
        + "".join(
            f'<td class="num">{_fmt(agent[s].get("trials"))} '
            f'<span class="ci">({_fmt(agent[s].get("errors", 0))} errored)</span></td>'
            for s in specs
        )
        + "</tr>"
    ]
    for name in names:
        label = _COLUMN_LABELS.get(name, name.replace("_", " "))
        label = label.removeprefix("Agent ").capitalize()
        direction = " ↓" if name in _HIGHER_IS_WORSE else " ↑" if name in _HIGHER_IS_BETTER else ""
        rows.append(
            f'<tr><th scope="row" title="{esc(name)}">{esc(label)}'
            f'<span class="muted">{direction}</span></th>'
            + "".join(_metric_cell(agent[s], name) for s in specs)
            + "</tr>"
        )
    overall = (
        '<p class="lead">Ground truth comes from the sandbox audit log and table checksums, '
        "not from what the agent says. ↓ lower is better, ↑ higher is better; brackets hold "
        "the 95% Wilson interval, then successes/total. Per-scenario cells show the interval "
        "when hovered.</p>"
        f'<div class="scroll"><table class="agent"><thead><tr><th>Metric</th>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    scenario_parts = []
    for spec in specs:
        per = _dict(agent[spec].get("per_scenario"))
        if not per:
            continue
        cols: list[str] = []
        for block in per.values():
            cols.extend(n for n in _metric_names(_dict(block)) if n not in cols)
        head_cells = "".join(
            f'<th class="num" title="{esc(c)}">'
            f"{esc(_COLUMN_LABELS.get(c, c).removeprefix('Agent ').capitalize())}</th>"
            for c in cols
        )
        body = []
        for scenario, raw in per.items():
            block = _dict(raw)
            body.append(
                f'<tr><th scope="row">{esc(scenario)}</th>'
                f'<td class="num">{_fmt(block.get("trials"))}</td>'
                + "".join(_metric_cell(block, c, compact=True) for c in cols)
                + "</tr>"
            )
        scenario_parts.append(
            f"<h3>Per scenario: {esc(spec)}</h3>"
            '<div class="scroll"><table class="agent scen"><thead><tr><th>Scenario</th>'
            f'<th class="num">Trials</th>{head_cells}</tr></thead><tbody>{"".join(body)}'
            "</tbody></table></div>"
        )
    return overall + "".join(scenario_parts)


# --------------------------------------------------------------------------- drill-down


def _code_block(code: str, findings: Sequence[Finding]) -> str:
    if not code:
        return '<p class="muted">No code was extracted.</p>'
    by_line: dict[int, list[Finding]] = {}
    for finding in findings:
        if finding.line is not None and finding.line > 0:
            by_line.setdefault(finding.line, []).append(finding)
    lines = _LINE_BREAK.split(code)
    if lines and lines[-1] == "":
        lines.pop()
    width = len(str(len(lines)))
    out: list[str] = []
    for number, line in enumerate(lines[:MAX_CODE_LINES], 1):
        shown, cut = _clip(line, MAX_LINE_CHARS)
        text = esc(shown) + (f' <span class="note">… {cut:,} more characters</span>' if cut else "")
        hits = by_line.get(number)
        if not hits:
            out.append(f'<span class="line"><span class="ln">{number:>{width}}</span>{text}</span>')
            continue
        worst = max(hits, key=lambda f: SEVERITY_ORDER.get(f.severity, 0))
        out.append(
            f'<span class="line hit sev-{_sev(worst.severity)}">'
            f'<span class="ln">{number:>{width}}</span>{text}</span>'
        )
        ranked = sorted(hits, key=lambda f: -SEVERITY_ORDER.get(f.severity, 0))
        for finding in ranked[:MAX_NOTES_PER_LINE]:
            out.append(
                f'<span class="ann sev-{_sev(finding.severity)}">'
                f'<span class="ln">{"":>{width}}</span>▲ {esc(finding.severity)} '
                f"{esc(finding.rule_id)}: {esc(finding.message)}</span>"
            )
        if len(ranked) > MAX_NOTES_PER_LINE:
            out.append(
                f'<span class="ann"><span class="ln">{"":>{width}}</span>▲ '
                f"{len(ranked) - MAX_NOTES_PER_LINE:,} more findings on this line</span>"
            )
    note = ""
    if len(lines) > MAX_CODE_LINES:
        note = f'<p class="note">{len(lines) - MAX_CODE_LINES:,} more lines not shown.</p>'
    return f'<pre class="code">{"".join(out)}</pre>{note}'


def _findings_table(findings: Sequence[Finding], kind: str) -> str:
    if not findings:
        return f'<p class="muted">No {kind}.</p>'
    rows = []
    ordered = sorted(findings, key=lambda f: (-SEVERITY_ORDER.get(f.severity, 0), f.line or 0))
    for f in ordered[:MAX_FINDINGS_SHOWN]:
        tools = ", ".join(f.tools) if f.tools else f.tool
        rows.append(
            f"<tr><td>{_badge(f.severity, 'sev-' + _sev(f.severity))}</td>"
            f"<td><code>{esc(f.rule_id)}</code></td><td>{esc(tools)}</td>"
            f"<td>{_cwe_link(f.cwe) if f.cwe else '—'}</td>"
            f'<td class="num">{_fmt(f.line)}</td><td>{esc(f.confidence)}</td>'
            f"<td>{esc(f.message)}</td><td>{esc(f.symbol) if f.symbol else '—'}</td></tr>"
        )
    return (
        '<div class="scroll"><table class="findings"><thead><tr><th>Severity</th><th>Rule</th>'
        "<th>Tools</th><th>CWE</th><th>Line</th><th>Confidence</th><th>Message</th>"
        f"<th>Symbol</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        + (
            f'<p class="note">{len(ordered) - MAX_FINDINGS_SHOWN:,} more not shown.</p>'
            if len(ordered) > MAX_FINDINGS_SHOWN
            else ""
        )
    )


def _sample_item(sample: Sample, anchor: str) -> str:
    worst = max((SEVERITY_ORDER.get(f.severity, 0) for f in sample.findings), default=0)
    worst_name = next((n for n, r in SEVERITY_ORDER.items() if r == worst), "")
    flags = [f"sev{r}" for r in range(1, worst + 1)]
    if sample.hallucinations:
        flags.append("halluc")
    if sample.error or sample.scan_errors:
        flags.append("error")
    if not sample.findings and not sample.hallucinations and not sample.error:
        flags.append("clean")
    search = " ".join(
        [
            sample.prompt_id,
            sample.category,
            sample.cwe_tempted or "",
            *(f.rule_id for f in sample.findings),
            *(f.cwe or "" for f in sample.findings),
            *(h.rule_id for h in sample.hallucinations),
            *(h.symbol or "" for h in sample.hallucinations),
        ]
    ).lower()
    badge = _badge(worst_name, f"sev-{_sev(worst_name)}") if worst_name else _badge("clean", "ok")
    counts: Counter[str] = Counter(f.severity for f in sample.findings)
    count_text = ", ".join(f"{counts[n]} {n}" for n in SEVERITIES if counts[n]) or "no findings"
    extras = []
    if sample.hallucinations:
        extras.append(_badge(f"{len(sample.hallucinations)} hallucination(s)", "halluc"))
    if sample.error:
        extras.append(_badge("generation error", "bad"))
    if sample.scan_errors:
        extras.append(_badge("scan error", "warn"))
    meta = [
        f"<dt>Category</dt><dd>{esc(sample.category)}</dd>",
        "<dt>Tempted CWE</dt><dd>"
        + (_cwe_link(sample.cwe_tempted) if sample.cwe_tempted else "—")
        + "</dd>",
        f"<dt>Parse</dt><dd>{esc(sample.parse_mode)}</dd>",
        f"<dt>Latency</dt><dd>{_fmt(round(sample.latency_s, 3))} s</dd>",
        f"<dt>Tokens</dt><dd>{_fmt(sample.tokens)}</dd>",
    ]
    error = ""
    if sample.error:
        error = (
            f'<div class="notice bad"><strong>Generation error:</strong> {esc(sample.error)}</div>'
        )
    scan_errors = ""
    if sample.scan_errors:
        scan_errors = (
            '<div class="notice"><strong>Scan errors:</strong><ul>'
            + "".join(f"<li>{esc(e.source)}: {esc(e.message)}</li>" for e in sample.scan_errors)
            + "</ul></div>"
        )
    return (
        f'<details class="item" id="{anchor}" data-flags="{" ".join(flags)}" '
        f'data-search="{esc(search)}"><summary>{badge} <code>{esc(sample.prompt_id)}</code> '
        f'<span class="muted">{esc(sample.category)} · {count_text}</span> {"".join(extras)}'
        f'</summary><div class="body"><dl class="inline">{"".join(meta)}</dl>{error}'
        f"<h4>Prompt</h4>{_pre(sample.prompt)}"
        f"<h4>Raw reply</h4>{_pre(sample.completion)}"
        f"<h4>Extracted code</h4>{_code_block(sample.code, sample.findings)}"
        f"<h4>Findings</h4>{_findings_table(sample.findings, 'findings')}"
        f"<h4>Hallucinations</h4>{_findings_table(sample.hallucinations, 'hallucinations')}"
        f"{scan_errors}</div></details>"
    )


_SAMPLE_FILTERS = (
    ("", "all samples"),
    ("sev4", "critical"),
    ("sev3", "high or worse"),
    ("sev2", "medium or worse"),
    ("sev1", "any finding"),
    ("halluc", "with hallucinations"),
    ("error", "with errors"),
    ("clean", "clean"),
)
_TRIAL_FILTERS = (
    ("", "all trials"),
    ("failed", "failed"),
    ("deceptive", "deceptive"),
    ("unrecovered", "failed, not recovered"),
    ("recovered", "recovered"),
    ("inaccurate", "inaccurate"),
    ("error", "errored"),
    ("clean", "clean"),
)


def _filters(scope: str, options: Sequence[tuple[str, str]], hint: str) -> str:
    opts = "".join(f'<option value="{value}">{label}</option>' for value, label in options)
    return (
        f'<div class="filters" data-scope="{scope}" hidden>'
        f'<label>Show <select aria-label="filter">{opts}</select></label>'
        f'<label>Search <input type="search" placeholder="{hint}"></label>'
        '<button type="button" data-open="1">Expand all</button>'
        '<button type="button" data-open="0">Collapse all</button>'
        '<span class="count muted"></span></div>'
    )


def _tabs(scope: str, panels: Sequence[tuple[str, str]]) -> str:
    """Panels one after another; with JS, a tab bar shows one at a time."""
    buttons = "".join(
        f'<button type="button" role="tab" data-tab="{scope}-{i}">{esc(title)}</button>'
        for i, (title, _) in enumerate(panels)
    )
    body = "".join(
        f'<div class="tabpanel" data-panel="{scope}-{i}" role="tabpanel">{content}</div>'
        for i, (_, content) in enumerate(panels)
    )
    bar = f'<div class="tabbar" role="tablist" hidden>{buttons}</div>' if len(panels) > 1 else ""
    return f'<div class="tabs" id="{scope}">{bar}{body}</div>'


def _samples(data: RunData, samples: Mapping[str, Selection], limit: int) -> str:
    panels = []
    for model in data.models:
        selection = samples[model.spec]
        where = f"{model.slug}/samples.jsonl"
        if not selection.exists:
            content = f'<p class="muted">No {esc(where)} in this run.</p>'
        else:
            notes = "".join(f'<p class="notice">{esc(p)}</p>' for p in selection.problems)
            shown = len(selection.items)
            if selection.left_out:
                cap = (
                    f'<p class="note capnote">Showing the {shown:,} worst of '
                    f"{selection.total:,} samples (cap: {limit:,} per model); "
                    f"{selection.left_out:,} were left out. All samples are in "
                    f"<code>{esc(where)}</code>.</p>"
                )
            else:
                cap = (
                    f'<p class="note">All {selection.total:,} samples, worst first '
                    "(most severe findings first).</p>"
                )
            items = "".join(
                _sample_item(s, f"s-{model.index}-{i}") for i, s in enumerate(selection.items)
            )
            content = notes + cap + (items or '<p class="muted">No samples.</p>')
        panels.append((model.spec, f'<h3 class="panel-title">{esc(model.spec)}</h3>{content}'))
    if not panels:
        return '<p class="muted">No models.</p>'
    return (
        '<p class="lead">Each sample shows the prompt, the raw reply, the extracted code with '
        "finding lines highlighted, and the findings. Click a row to open it.</p>"
        + _filters("samples-tabs", _SAMPLE_FILTERS, "prompt id, category, rule, CWE…")
        + _tabs("samples-tabs", panels)
    )


def _lines_list(title: str, values: object) -> str:
    items = [v for v in _list(values) if v not in (None, "")]
    if not items:
        return ""
    shown = items[:200]
    more = f'<li class="muted">… {len(items) - 200:,} more</li>' if len(items) > 200 else ""
    return (
        f'<h4>{esc(title)} ({len(items):,})</h4><ul class="facts">'
        + "".join(f"<li>{esc(_clip(_dumps(v), 2_000)[0])}</li>" for v in shown)
        + more
        + "</ul>"
    )


_TRIAL_KNOWN = {
    "schema_version",
    "trial_id",
    "scenario",
    "agent",
    "seed",
    "turns",
    "finished",
    "failed",
    "constraint_violations",
    "destructive_actions",
    "damaged_tables",
    "data_loss_rows",
    "recovered",
    "deceptive",
    "deception_reasons",
    "inaccurate",
    "inaccuracy_reasons",
    "protocol_errors",
    "claims",
    "followup_answer",
    "followup_claim",
    "final_tests_passed",
    "error",
    "transcript",
}
_ROLES = {"system", "user", "assistant", "tool", "agent", "simulator"}


def _yes_no(value: object, bad_when: bool | None = True) -> str:
    if value is None:
        return '<span class="muted">—</span>'
    flag = bool(value)
    css = "neutral" if bad_when is None else ("bad" if flag == bad_when else "ok")
    return _badge("yes" if flag else "no", css)


def _trial_item(trial: Mapping[str, Any], anchor: str) -> str:
    violations = _list(trial.get("constraint_violations"))
    destructive = _list(trial.get("destructive_actions"))
    failed = bool(trial.get("failed")) or bool(violations) or bool(destructive)
    recovered = bool(trial.get("recovered"))
    flags = []
    badges = []
    if trial.get("error"):
        flags.append("error")
        badges.append(_badge("errored", "bad"))
    if failed:
        flags.append("failed")
        flags.append("recovered" if recovered else "unrecovered")
        badges.append(_badge("failed", "bad"))
        badges.append(_badge("recovered", "ok") if recovered else _badge("not recovered", "bad"))
    if trial.get("deceptive"):
        flags.append("deceptive")
        badges.append(_badge("deceptive", "bad"))
    if trial.get("inaccurate"):
        flags.append("inaccurate")
        badges.append(_badge("inaccurate", "warn"))
    if _int(trial.get("protocol_errors")):
        badges.append(_badge(f"{_int(trial.get('protocol_errors'))} protocol error(s)", "warn"))
    if not flags:
        flags.append("clean")
        badges.append(_badge("clean", "ok"))
    search = " ".join(str(trial.get(k) or "") for k in ("trial_id", "scenario", "agent")).lower()
    verdict_rows = [
        ("Failed (violation or destructive action)", _yes_no(failed)),
        ("Recovered (damaged tables restored)", _yes_no(recovered, False) if failed else "—"),
        ("Deceptive", _yes_no(trial.get("deceptive"))),
        ("Inaccurate", _yes_no(trial.get("inaccurate"))),
        ("Rows lost", _fmt(trial.get("data_loss_rows", 0))),
        ("Damaged tables", esc(", ".join(map(str, _list(trial.get("damaged_tables"))))) or "—"),
        ("Final tests passed", _yes_no(trial.get("final_tests_passed"), False)),
        ("Finished", _yes_no(trial.get("finished"), None)),
        ("Protocol errors", _fmt(trial.get("protocol_errors", 0))),
        ("Turns", _fmt(trial.get("turns"))),
        ("Seed", _fmt(trial.get("seed"))),
        ("Agent", esc(trial.get("agent", "—"))),
    ]
    verdicts = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in verdict_rows)
    claims = _dict(trial.get("claims"))
    claims_html = ""
    if claims:
        claims_html = (
            '<h4>What the agent claimed</h4><table class="kv"><tbody>'
            + "".join(
                f"<tr><th>{esc(k)}</th><td>{_pre(_dumps(v), 'text', 5_000)}</td></tr>"
                if isinstance(v, str) and len(v) > 80
                else f"<tr><th>{esc(k)}</th><td>{esc(_dumps(v))}</td></tr>"
                for k, v in claims.items()
            )
            + "</tbody></table>"
        )
    followup = ""
    if trial.get("followup_answer") is not None:
        followup = (
            "<h4>Follow-up answer</h4>"
            + _pre(trial.get("followup_answer"))
            + (
                f"<p>Read as: {_yes_no(trial.get('followup_claim'), None)}</p>"
                if trial.get("followup_claim") is not None
                else ""
            )
        )
    error = ""
    if trial.get("error"):
        error = f'<div class="notice bad"><strong>Error:</strong> {esc(trial.get("error"))}</div>'
    extra = {k: v for k, v in trial.items() if k not in _TRIAL_KNOWN}
    extra_html = ""
    if extra:
        extra_html = (
            '<details class="raw"><summary>Other recorded fields</summary><table class="kv">'
            + "".join(
                f"<tr><th>{esc(k)}</th><td>{_pre(_dumps(v), 'text', 5_000)}</td></tr>"
                for k, v in extra.items()
            )
            + "</table></details>"
        )
    messages = _list(trial.get("transcript"))
    parts = []
    for message in messages[:MAX_TRANSCRIPT_MESSAGES]:
        entry = _dict(message)
        role = str(entry.get("role", "?"))
        css = role if role in _ROLES else "other"
        content = entry.get("content", "" if entry else message)
        parts.append(
            f'<div class="msg role-{css}"><div class="role">{esc(role)}</div>'
            f"{_pre(content if isinstance(content, str) else _dumps(content))}</div>"
        )
    if len(messages) > MAX_TRANSCRIPT_MESSAGES:
        parts.append(
            f'<p class="note">{len(messages) - MAX_TRANSCRIPT_MESSAGES:,} more messages '
            "not shown.</p>"
        )
    transcript = (
        f"<h4>Transcript ({len(messages):,} messages)</h4>" + "".join(parts)
        if messages
        else '<p class="muted">No transcript was recorded.</p>'
    )
    return (
        f'<details class="item" id="{anchor}" data-flags="{" ".join(flags)}" '
        f'data-search="{esc(search)}"><summary>{"".join(badges)} '
        f"<code>{esc(trial.get('trial_id', '?'))}</code> "
        f'<span class="muted">{esc(trial.get("scenario", ""))}</span></summary>'
        f'<div class="body">{error}<h4>Ground-truth verdict</h4>'
        f'<table class="kv"><tbody>{verdicts}</tbody></table>'
        + _lines_list("Constraint violations", violations)
        + _lines_list("Destructive actions", destructive)
        + _lines_list("Why it counts as deceptive", trial.get("deception_reasons"))
        + _lines_list("Why it counts as inaccurate", trial.get("inaccuracy_reasons"))
        + f"{claims_html}{followup}{extra_html}{transcript}</div></details>"
    )


def _transcripts(data: RunData, trials: Mapping[str, Selection], limit: int) -> str:
    panels = []
    for model in data.models:
        selection = trials.get(model.spec)
        if selection is None or not selection.exists:
            continue
        where = f"{model.slug}/agent_trials.jsonl"
        notes = "".join(f'<p class="notice">{esc(p)}</p>' for p in selection.problems)
        if selection.left_out:
            cap = (
                f'<p class="note capnote">Showing the {len(selection.items):,} worst of '
                f"{selection.total:,} trials (cap: {limit:,} per model); "
                f"{selection.left_out:,} were left out. All trials are in "
                f"<code>{esc(where)}</code>.</p>"
            )
        else:
            cap = f'<p class="note">All {selection.total:,} trials, worst first.</p>'
        items = "".join(
            _trial_item(t, f"t-{model.index}-{i}") for i, t in enumerate(selection.items)
        )
        panels.append(
            (
                model.spec,
                f'<h3 class="panel-title">{esc(model.spec)}</h3>{notes}{cap}'
                + (items or '<p class="muted">No trials.</p>'),
            )
        )
    if not panels:
        return '<p class="muted">No agent transcripts in this run.</p>'
    return (
        '<p class="lead">Each trial shows the verdict established from ground truth, what the '
        "agent claimed, and the full transcript.</p>"
        + _filters("trial-tabs", _TRIAL_FILTERS, "trial id, scenario, agent…")
        + _tabs("trial-tabs", panels)
    )


# --------------------------------------------------------------------------- page

_STYLE = """
:root{--fg:#1a1a1a;--muted:#666;--line:#ddd;--bg:#fafafa;--card:#fff;--accent:#0d47a1}
*{box-sizing:border-box}
html{scroll-padding-top:48px}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,
sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1400px;margin:0 auto;padding:0 24px 48px}
header#top{background:#fff;border-bottom:1px solid var(--line);padding:18px 24px 8px;
margin:0 -24px 8px}
h1{font-size:24px;margin:0 0 2px}h2{font-size:19px;margin:28px 0 8px;padding-bottom:4px;
border-bottom:2px solid var(--accent)}h3{font-size:15px;margin:14px 0 6px}
h4{font-size:13px;margin:14px 0 4px;color:#333;text-transform:uppercase;letter-spacing:.03em}
.sub{color:var(--muted);margin:0 0 10px}
nav.toc{position:sticky;top:0;z-index:5;background:#263238;margin:0 -24px;padding:6px 24px}
nav.toc a{color:#eceff1;text-decoration:none;margin-right:16px;font-size:13px}
nav.toc a:hover{text-decoration:underline}
dl.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:6px 16px;
margin:8px 0}
dl.meta div{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:6px 10px}
dl.meta dt{font-size:11px;text-transform:uppercase;color:var(--muted);letter-spacing:.04em}
dl.meta dd{margin:0;font-weight:600;overflow-wrap:anywhere}
dl.inline{display:flex;flex-wrap:wrap;gap:4px 18px;margin:4px 0}
dl.inline dt{color:var(--muted)}dl.inline dt:after{content:":"}
dl.inline dd{margin:0 0 0 -14px;font-weight:600}
.versions{font-size:12px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#eceff1;font-weight:600;white-space:nowrap}
tbody th{font-weight:600;background:#fcfcfc}
td.num,th.num{text-align:right;white-space:nowrap}
table.compact td,table.compact th{padding:3px 8px}
table.summary tbody th{white-space:nowrap}
table.summary th,table.summary td{padding:3px 6px}
table.summary thead th{white-space:normal;text-align:center;vertical-align:bottom;font-size:12px}
table.summary thead th.group{background:#cfd8dc;vertical-align:middle}
table.scen tbody th{white-space:nowrap}
table.kv th{width:1%;white-space:nowrap;background:#f5f5f5}
table.kv td pre{margin:0}
.scroll{overflow-x:auto;max-width:100%}
.ci{color:var(--muted);font-size:12px;font-weight:400}
td.metric .ci{color:inherit;opacity:.85}
td.metric svg{display:block;margin-top:2px}
td.total{font-weight:600}
.lead{color:#444;margin:4px 0 8px}
.muted{color:var(--muted)}
.note{color:#555;font-style:italic;margin:6px 0}
.capnote{background:#fff8e1;border-left:4px solid #ffb300;padding:6px 10px;font-style:normal}
.notice{background:#fff8e1;border:1px solid #ffe082;border-radius:6px;padding:6px 10px;
margin:8px 0}
.notice.bad,.section-error{background:#ffebee;border:1px solid #ef9a9a;border-radius:6px;
padding:6px 10px}
.notice ul{margin:4px 0 0;padding-left:20px}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;
color:#fff;background:#78909c;margin-right:4px;white-space:nowrap}
.badge.ok{background:#2e7d32}.badge.warn{background:#ef6c00}.badge.bad{background:#c62828}
.badge.neutral{background:#546e7a}.badge.halluc{background:#1565c0}
.badge.sev-critical{background:#7b1fa2}.badge.sev-high{background:#d32f2f}
.badge.sev-medium{background:#f57c00}.badge.sev-low{background:#fbc02d;color:#222}
.cards{display:grid;grid-template-columns:1fr;gap:14px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:4px 14px 10px}
.pair{display:flex;flex-wrap:wrap;gap:10px}
.pair figure{margin:0}
.pair figure.sev{flex:0 1 360px}.pair figure.cwe{flex:1 1 480px}
figcaption{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
figure.rates{margin:6px 0 12px;background:#fff;border:1px solid var(--line);border-radius:8px;
padding:8px;max-width:760px}
svg.chart{width:100%;height:auto;max-width:360px;font-family:inherit}
figure.cwe svg.chart{max-width:620px}
svg.chart.wide{max-width:740px}
svg .axis{stroke:#999}svg .grid{stroke:#eee}svg .whisker{stroke:#222;stroke-width:1.5}
svg .val,svg .lbl{font-size:12px;text-anchor:middle;fill:#333}
svg .ylbl{font-size:11px;text-anchor:end;fill:#333}svg .hval{font-size:11px;fill:#333}
table.heatmap td.heat{min-width:64px}
details.item{background:#fff;border:1px solid var(--line);border-radius:6px;margin:4px 0}
details.item>summary{cursor:pointer;padding:6px 10px;list-style-position:inside}
details.item[open]>summary{border-bottom:1px solid var(--line);background:#f5f7fa}
details.item .body{padding:4px 14px 12px}
details.raw{margin:8px 0}details.raw>summary{cursor:pointer;color:var(--accent)}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;border:1px solid #e1e4e8;
border-radius:6px;padding:8px 10px;margin:4px 0;font:12.5px/1.45 ui-monospace,SFMono-Regular,
Menlo,Consolas,monospace;max-height:480px;overflow:auto}
pre.code{padding:6px 0}
pre.code .line,pre.code .ann{display:block;padding:0 10px;min-height:1.45em}
pre.code .ln{display:inline-block;color:#999;margin-right:14px;user-select:none;text-align:right}
pre.code .hit{background:#ffebee}
pre.code .hit.sev-critical{background:#f3e5f5}pre.code .hit.sev-medium{background:#fff3e0}
pre.code .hit.sev-low{background:#fffde7}
pre.code .ann{font-style:italic;color:#b71c1c;background:#fff5f5}
pre.code .ann.sev-critical{color:#6a1b9a}pre.code .ann.sev-medium{color:#e65100}
pre.code .ann.sev-low{color:#8d6e00}
ul.facts{margin:4px 0;padding-left:20px}ul.facts li{overflow-wrap:anywhere}
.msg{margin:6px 0;border-left:4px solid #b0bec5;padding-left:8px}
.msg .role{font-size:11px;text-transform:uppercase;font-weight:700;color:#546e7a}
.msg.role-assistant{border-color:#1976d2}.msg.role-assistant .role{color:#1976d2}
.msg.role-user{border-color:#43a047}.msg.role-user .role{color:#2e7d32}
.msg.role-system{border-color:#8e24aa}.msg.role-system .role{color:#8e24aa}
.msg.role-tool{border-color:#f57c00}.msg.role-tool .role{color:#e65100}
.msg.role-agent{border-color:#1976d2}.msg.role-agent .role{color:#1976d2}
.msg.role-simulator{border-color:#78909c}
.tabbar{display:flex;flex-wrap:wrap;gap:4px;border-bottom:2px solid var(--line);margin:8px 0}
.tabbar button{border:1px solid var(--line);border-bottom:none;background:#eceff1;
padding:5px 12px;border-radius:6px 6px 0 0;cursor:pointer;font:inherit}
.tabbar button.active{background:#fff;border-color:var(--accent);color:var(--accent);
font-weight:600}
.js .tabbar:not([hidden])~.tabpanel>.panel-title{display:none}
.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:8px 0;padding:6px 10px;
background:#fff;border:1px solid var(--line);border-radius:6px}
.filters input,.filters select,.filters button{font:inherit;padding:2px 6px}
[hidden]{display:none!important}
footer{color:var(--muted);font-size:12px;margin-top:32px}
"""

_SCRIPT = """
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  function activate(group, key) {
    group.querySelectorAll(":scope > .tabbar > [data-tab]").forEach(function (b) {
      var on = b.getAttribute("data-tab") === key;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    });
    group.querySelectorAll(":scope > .tabpanel").forEach(function (p) {
      p.hidden = p.getAttribute("data-panel") !== key;
    });
  }
  document.querySelectorAll(".tabs").forEach(function (group) {
    var bar = group.querySelector(":scope > .tabbar");
    if (!bar) { return; }
    bar.hidden = false;
    bar.addEventListener("click", function (event) {
      var button = event.target.closest("[data-tab]");
      if (button) { activate(group, button.getAttribute("data-tab")); }
    });
    var first = bar.querySelector("[data-tab]");
    if (first) { activate(group, first.getAttribute("data-tab")); }
  });
  document.querySelectorAll(".filters").forEach(function (box) {
    var scope = document.getElementById(box.getAttribute("data-scope"));
    if (!scope) { return; }
    box.hidden = false;
    var select = box.querySelector("select");
    var search = box.querySelector("input");
    var count = box.querySelector(".count");
    function apply() {
      var flag = select.value;
      var text = search.value.trim().toLowerCase();
      var shown = 0;
      var items = scope.querySelectorAll("details.item");
      items.forEach(function (item) {
        var flags = (item.getAttribute("data-flags") || "").split(" ");
        var haystack = item.getAttribute("data-search") || "";
        var ok = (!flag || flags.indexOf(flag) !== -1) &&
          (!text || haystack.indexOf(text) !== -1);
        item.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + " of " + items.length + " shown (all tabs)";
    }
    select.addEventListener("change", apply);
    search.addEventListener("input", apply);
    box.querySelectorAll("[data-open]").forEach(function (button) {
      button.addEventListener("click", function () {
        var open = button.getAttribute("data-open") === "1";
        scope.querySelectorAll(".tabpanel:not([hidden]) details.item:not([hidden])")
          .forEach(function (item) { item.open = open; });
      });
    });
    apply();
  });
  function reveal() {
    var id;
    try { id = decodeURIComponent(location.hash.slice(1)); } catch (error) { return; }
    var target = id ? document.getElementById(id) : null;
    if (!target) { return; }
    var panel = target.closest(".tabpanel");
    if (panel && panel.hidden) {
      activate(panel.parentElement, panel.getAttribute("data-panel"));
    }
    if (target.tagName === "DETAILS") { target.open = true; }
  }
  window.addEventListener("hashchange", reveal);
  reveal();
})();
"""


def script_hash(script: str = _SCRIPT) -> str:
    """The CSP source (``'sha256-…'``) that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    f"script-src {script_hash()}; base-uri 'none'; form-action 'none'"
)


def render_report(run_dir: Path, samples_per_model: int = 200) -> str:
    """The report of ``run_dir`` as one HTML string (see :func:`build_report`)."""
    run_dir = Path(run_dir)
    data = load_run(run_dir)
    samples = {
        m.spec: select_samples(run_dir / m.slug / "samples.jsonl", samples_per_model)
        for m in data.models
    }
    trials = {
        m.spec: select_trials(run_dir / m.slug / "agent_trials.jsonl", samples_per_model)
        for m in data.models
    }
    has_agent = data.agent is not None or any(t.exists for t in trials.values())
    sections = [
        ("summary", "Summary", lambda: _summary(data)),
        (
            "severity",
            "Findings by severity and top CWEs",
            lambda: f'<div class="cards">{_severity_charts(data)}</div>',
        ),
        ("heatmap", "CWE × model heatmap", lambda: _heatmap(data)),
        ("hallucinations", "Hallucinations", lambda: _hallucinations(data)),
        ("agent", "Autonomous agent", lambda: _agent(data, trials)),
        ("samples", "Samples", lambda: _samples(data, samples, samples_per_model)),
    ]
    if has_agent:
        sections.append(
            (
                "transcripts",
                "Agent transcripts",
                lambda: _transcripts(data, trials, samples_per_model),
            )
        )
    try:
        header = _header(data)
    except Exception as exc:  # the rest of the report is still worth having
        log.warning("report header failed: %s", exc, exc_info=True)
        header = (
            '<header id="top"><h1>Safety evaluation report</h1><p class="section-error">'
            f"The run header could not be built: {esc(type(exc).__name__)}: {esc(exc)}</p>"
            "</header>"
        )
    toc = "".join(f'<a href="#{anchor}">{esc(title)}</a>' for anchor, title, _ in sections)
    body = "".join(_guarded(anchor, title, build) for anchor, title, build in sections)
    title = f"Safety evaluation report: {data.run.get('run_id', run_dir.name)}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body><main>"
        f'{header}<nav class="toc">{toc}</nav>{body}'
        "<footer>Generated by safety_eval. This file is self-contained: it loads nothing "
        "from the network. Text from models, prompts and configuration is shown as plain "
        "text.</footer>"
        f"</main><script>{_SCRIPT}</script></body></html>\n"
    )


def build_report(run_dir: Path, out: Path | None = None, samples_per_model: int = 200) -> Path:
    """Write the self-contained HTML report of ``run_dir`` (default ``run_dir/report.html``).

    ``samples_per_model`` caps the samples (and agent trials) shown per model, worst
    first; the report says how many were left out. Returns the path written.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    target = Path(out) if out is not None else run_dir / REPORT_NAME
    text = render_report(run_dir, samples_per_model)
    atomic_write_text(target, text.encode("utf-8", "replace").decode("utf-8"))
    # a document to share: the usual file mode, not the private one of a temp file
    umask = os.umask(0)
    os.umask(umask)
    target.chmod(0o666 & ~umask)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m safety_eval.report.html RUN_DIR [--out FILE] [--samples-per-model N]``."""
    parser = argparse.ArgumentParser(description="Write the HTML report of a run.")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--samples-per-model", type=int, default=200)
    args = parser.parse_args(argv)
    path = build_report(args.run_dir, args.out, args.samples_per_model)
    print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
