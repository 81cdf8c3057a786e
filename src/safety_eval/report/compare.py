"""Compare models across runs (or within one run) with intervals and corrected tests.

An *entry* is one model in one run, labelled ``<run dir name>/<model spec>``. For every
metric each entry gets its rate with a 95% Wilson interval and its counts; every pair of
entries gets a pooled two-proportion z-test (two-sided), and the p-values of *all* tests
in the comparison are corrected together with Holm-Bonferroni, so the chance of any false
"significant" verdict stays under ``alpha`` however many entries and metrics there are.

The z-test treats the two entries as independent samples. Entries evaluated on the same
prompts are paired data for which the test is only approximate; read a borderline verdict
with that in mind.

Counts come from ``vulnerability_metrics.json`` (top-level, else the model's own file);
what a file lacks is recomputed from ``<model>/samples.jsonl``, which is also the source
of the per-severity rates. Agent metrics come from ``autonomous_metrics.json`` (its
``intervals`` successes/total) when a run has one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safety_eval.errors import UserError
from safety_eval.models.registry import slug
from safety_eval.results.aggregate import ModelAggregate
from safety_eval.results.records import SEVERITY_ORDER, Severity
from safety_eval.results.stats import rate
from safety_eval.results.writers import atomic_write_csv, atomic_write_json, iter_samples

__all__ = [
    "ALPHA",
    "CSV_COLUMNS",
    "METRICS",
    "Comparison",
    "Entry",
    "EntryValue",
    "Metric",
    "MetricResult",
    "PairTest",
    "compare_runs",
    "format_p",
    "holm_adjust",
    "render_text",
    "to_json",
    "two_proportion_z_test",
    "write_comparison",
]

ALPHA = 0.05
COMPARISON_SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class Metric:
    """A proportion that can be compared between entries."""

    name: str
    title: str
    description: str
    higher_is_better: bool
    verdict: str
    """``{a} ... {direction} ... {b}``: what a significant difference means in words."""
    agent: bool = False


METRICS: tuple[Metric, ...] = (
    Metric(
        "vulnerable_rate", "vulnerable rate",
        "samples with a finding at or above the run's severity threshold", False,
        "{a} is significantly {direction} often vulnerable than {b}",
    ),
    Metric(
        "hallucination_rate", "hallucination rate",
        "samples with a hallucinated package, import or API", False,
        "{a} hallucinates significantly {direction} often than {b}",
    ),
    Metric(
        "parse_rate", "parse rate",
        "samples whose code parsed (fully or after recovery)", True,
        "{a}'s code parses significantly {direction} often than {b}'s",
    ),
    Metric(
        "critical_finding_rate", "critical-finding rate",
        "samples with at least one critical-severity finding", False,
        "{a} has a critical finding significantly {direction} often than {b}",
    ),
    Metric(
        "high_finding_rate", "high-finding rate",
        "samples with at least one high-severity finding", False,
        "{a} has a high-severity finding significantly {direction} often than {b}",
    ),
    Metric(
        "failure_rate", "agent failure rate", "agent trials that ended in failure", False,
        "{a} fails significantly {direction} often than {b} as an agent", agent=True,
    ),
    Metric(
        "deception_rate", "agent deception rate",
        "agent trials where the agent misreported what it did", False,
        "{a} is significantly {direction} often deceptive than {b} as an agent", agent=True,
    ),
    Metric(
        "constraint_adherence", "agent constraint adherence",
        "agent trials that kept to the stated constraints", True,
        "{a} keeps to its constraints significantly {direction} often than {b}", agent=True,
    ),
    Metric(
        "recovery_success_rate", "agent recovery success rate",
        "agent failures the agent then recovered from", True,
        "{a} recovers significantly {direction} often than {b}", agent=True,
    ),
)
_BY_NAME = {metric.name: metric for metric in METRICS}
_SAMPLE_METRICS = ("vulnerable_rate", "hallucination_rate", "parse_rate",
                   "critical_finding_rate", "high_finding_rate")


@dataclass(frozen=True)
class Entry:
    """One model in one run."""

    label: str
    """``<run dir name>/<model spec>``: unique, used as the key everywhere."""
    name: str
    """A short name for sentences: the model spec, with the seed or run added if needed."""
    run_dir: Path
    model: str
    run_id: str | None
    seed: int | None
    severity_threshold: str
    status: str | None


@dataclass(frozen=True)
class EntryValue:
    """One entry's rate for one metric."""

    label: str
    successes: int
    total: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    source: str
    """Where the counts came from, relative to the run directory."""


@dataclass(frozen=True)
class PairTest:
    """A two-proportion z-test between two entries on one metric."""

    metric: str
    a: str
    b: str
    value_a: float | None
    value_b: float | None
    z: float | None
    p_value: float
    p_adjusted: float
    significant: bool
    verdict: str


@dataclass(frozen=True)
class MetricResult:
    metric: Metric
    values: tuple[EntryValue, ...]
    tests: tuple[PairTest, ...]


@dataclass(frozen=True)
class Comparison:
    entries: tuple[Entry, ...]
    metrics: tuple[MetricResult, ...]
    alpha: float
    warnings: tuple[str, ...]

    @property
    def test_count(self) -> int:
        """How many tests the Holm correction ran over (all metrics, all pairs)."""
        return sum(len(m.tests) for m in self.metrics)

    def entry(self, label: str) -> Entry:
        for entry in self.entries:
            if entry.label == label:
                return entry
        raise KeyError(label)


# --- statistics ---------------------------------------------------------------------------


def two_proportion_z_test(
    successes_a: int, total_a: int, successes_b: int, total_b: int
) -> tuple[float | None, float]:
    """Pooled two-proportion z-test: ``(z, two-sided p)``.

    ``z`` is positive when a's proportion is higher. With no data on either side (0/0)
    ``z`` is None and p is 1.0; identical proportions (including 0% vs 0% and 100% vs
    100%, where the pooled variance is 0) give z = 0 and p = 1.0.
    """
    for successes, total in ((successes_a, total_a), (successes_b, total_b)):
        if total < 0 or not 0 <= successes <= total:
            raise ValueError(f"successes={successes} outside 0..{total}")
    if total_a == 0 or total_b == 0:
        return None, 1.0
    pa, pb = successes_a / total_a, successes_b / total_b
    pooled = (successes_a + successes_b) / (total_a + total_b)
    variance = pooled * (1 - pooled) * (1 / total_a + 1 / total_b)
    if pa == pb or variance <= 0:
        return 0.0, 1.0
    z = (pa - pb) / math.sqrt(variance)
    return z, min(1.0, math.erfc(abs(z) / math.sqrt(2)))


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given.

    With p sorted ascending, adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j)).
    A test is significant at level alpha when its adjusted p-value is <= alpha.
    """
    for p in p_values:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-value {p} outside [0, 1]")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):  # rank = j - 1
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def format_p(p: float) -> str:
    """``"= 0.41"``, ``"= 0.0042"``, ``"< 0.001"``: two significant digits."""
    if p < 0.001:
        return "< 0.001"
    text = f"{p:.2g}"
    return f"= {text}.0" if text.isdigit() else f"= {text}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


# --- reading runs -------------------------------------------------------------------------


@dataclass
class _Run:
    path: Path
    manifest: dict[str, Any]
    models: list[str]
    top_metrics: dict[str, Any] | None
    autonomous: dict[str, Any] | None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(
            f"{path}: not valid JSON ({exc}); check the run with `safety-eval validate`"
        ) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _load_run(path: Path) -> _Run:
    if not path.exists():
        raise UserError(f"{path}: no such run directory")
    if not path.is_dir():
        raise UserError(f"{path}: not a directory (expected a run directory)")
    manifest_path = path / "run.json"
    if not manifest_path.is_file():
        raise UserError(f"{path}: not a run directory (no run.json)")
    manifest = _read_json(manifest_path)
    if not isinstance(manifest, dict):
        raise UserError(f"{manifest_path}: expected a JSON object")
    models: list[str] = []
    for item in manifest.get("models") or []:
        spec = item.get("spec") if isinstance(item, dict) else item
        if isinstance(spec, str) and spec and spec not in models:
            models.append(spec)
    config = manifest.get("config")
    if not models and isinstance(config, dict):
        models = [m for m in config.get("models") or [] if isinstance(m, str)]
    if not models:
        raise UserError(f"{manifest_path}: lists no models")
    top = None
    if (path / "vulnerability_metrics.json").is_file():
        top = _read_json(path / "vulnerability_metrics.json")
        if not isinstance(top, dict):
            raise UserError(f"{path / 'vulnerability_metrics.json'}: expected a JSON object")
    autonomous = None
    if (path / "autonomous_metrics.json").is_file():
        autonomous = _read_json(path / "autonomous_metrics.json")
        if not isinstance(autonomous, dict):
            raise UserError(f"{path / 'autonomous_metrics.json'}: expected a JSON object")
    return _Run(path, manifest, models, top, autonomous)


def _select(runs: list[_Run], models: list[str] | None) -> tuple[list[tuple[_Run, str]], list[str]]:
    warnings: list[str] = []
    if not models:
        return [(run, spec) for run in runs for spec in run.models], warnings
    pairs: list[tuple[_Run, str]] = []
    for name in models:
        matched = False
        for run in runs:
            spec = next((s for s in run.models if name in (s, slug(s))), None)
            if spec is None:
                continue
            matched = True
            if (run, spec) not in pairs:
                pairs.append((run, spec))
        if not matched:
            where = "; ".join(f"{run.path} has {', '.join(run.models)}" for run in runs)
            raise UserError(f"model {name!r} is not in the run{'s' if len(runs) > 1 else ''}: "
                            f"{where}")
        missing = [str(run.path) for run in runs
                   if not any(name in (s, slug(s)) for s in run.models)]
        if missing:
            warnings.append(f"model {name!r} is not in {', '.join(missing)}; compared where "
                            "present")
    return pairs, warnings


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _threshold(run: _Run, metrics: dict[str, Any] | None) -> Severity:
    for candidate in (run.manifest.get("severity_threshold"),
                      (metrics or {}).get("severity_threshold"),
                      (run.top_metrics or {}).get("severity_threshold")):
        if candidate in SEVERITY_ORDER:
            return candidate
    return "medium"


def _model_metrics(run: _Run, spec: str) -> tuple[dict[str, Any] | None, str]:
    models = (run.top_metrics or {}).get("models")
    if isinstance(models, dict) and isinstance(models.get(spec), dict):
        return models[spec], "vulnerability_metrics.json"
    rel = f"{slug(spec)}/vulnerability_metrics.json"
    if (run.path / rel).is_file():
        data = _read_json(run.path / rel)
        if isinstance(data, dict):
            return data, rel
    return None, ""


def _counts_from_metrics(metrics: dict[str, Any]) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    samples = _int(metrics.get("samples"))
    vulnerable = metrics.get("vulnerable_rate")
    if isinstance(vulnerable, dict) and _int(vulnerable.get("successes")) is not None \
            and _int(vulnerable.get("total")) is not None:
        found["vulnerable_rate"] = (vulnerable["successes"], vulnerable["total"])
    elif _int(metrics.get("vulnerable_samples")) is not None and samples is not None:
        found["vulnerable_rate"] = (metrics["vulnerable_samples"], samples)
    if _int(metrics.get("hallucinated_samples")) is not None and samples is not None:
        found["hallucination_rate"] = (metrics["hallucinated_samples"], samples)
    modes = metrics.get("parse_modes")
    if isinstance(modes, dict) and all(_int(modes.get(k)) is not None
                                       for k in ("full", "recovered", "text-only")):
        total = samples if samples is not None else sum(modes.values())
        found["parse_rate"] = (modes["full"] + modes["recovered"], total)
    return {k: v for k, v in found.items() if 0 <= v[0] <= v[1]}


def _counts_from_samples(path: Path, spec: str, threshold: Severity) -> dict[str, tuple[int, int]]:
    aggregate = ModelAggregate(spec, threshold)
    critical = high = 0
    try:
        for sample in iter_samples(path):
            aggregate.add(sample)
            severities = {finding.severity for finding in sample.findings}
            critical += "critical" in severities
            high += "high" in severities
    except ValidationError as exc:
        raise UserError(
            f"{path}: unreadable sample ({exc.errors()[0]['msg']}); check the run with "
            "`safety-eval validate`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot be read ({exc})") from None
    n = aggregate.samples
    parsed = aggregate.parse_modes["full"] + aggregate.parse_modes["recovered"]
    return {
        "vulnerable_rate": (aggregate.vulnerable_samples, n),
        "hallucination_rate": (aggregate.hallucinated_samples, n),
        "parse_rate": (parsed, n),
        "critical_finding_rate": (critical, n),
        "high_finding_rate": (high, n),
    }


def _entry_counts(
    run: _Run, spec: str, warnings: list[str]
) -> dict[str, tuple[int, int, str]]:
    """metric name -> (successes, total, source) for every metric this entry has."""
    label = f"{run.path.name}/{spec}"
    metrics, source = _model_metrics(run, spec)
    counts: dict[str, tuple[int, int, str]] = {}
    if metrics is not None:
        counts = {k: (*v, source) for k, v in _counts_from_metrics(metrics).items()}
    samples_rel = f"{slug(spec)}/samples.jsonl"
    needed = [m for m in _SAMPLE_METRICS if m not in counts]
    if needed:
        if (run.path / samples_rel).is_file():
            recomputed = _counts_from_samples(
                run.path / samples_rel, spec, _threshold(run, metrics)
            )
            for name in needed:
                counts[name] = (*recomputed[name], samples_rel)
        else:
            titles = ", ".join(_BY_NAME[m].title for m in needed)
            warnings.append(f"{label}: no {samples_rel} to compute {titles} from; "
                            "left out of those metrics")
    agent = (run.autonomous or {}).get("models")
    entry = agent.get(spec) if isinstance(agent, dict) else None
    if isinstance(entry, dict):
        intervals = entry.get("intervals")
        intervals = intervals if isinstance(intervals, dict) else {}
        for metric in METRICS:
            if not metric.agent:
                continue
            interval = intervals.get(metric.name)
            if isinstance(interval, dict):
                successes, total = _int(interval.get("successes")), _int(interval.get("total"))
                if successes is not None and total is not None and 0 <= successes <= total:
                    counts[metric.name] = (successes, total, "autonomous_metrics.json")
                    continue
            if entry.get(metric.name) is not None:
                warnings.append(
                    f"{label}: autonomous_metrics.json has {metric.name} but no "
                    f"intervals.{metric.name} successes/total; left out of {metric.title}"
                )
    return counts


def _names(pairs: list[tuple[_Run, str]]) -> list[str]:
    """Short unique names: the spec, then '(seed N)', then '(run dir)' to tell apart."""
    names: list[str] = []
    for run, spec in pairs:
        same = [(r, s) for r, s in pairs if s == spec]
        if len(same) == 1:
            names.append(spec)
            continue
        seeds = [r.manifest.get("seed") for r, _ in same]
        seed = run.manifest.get("seed")
        if seed is not None and seeds.count(seed) == 1:
            names.append(f"{spec} (seed {seed})")
        else:
            names.append(f"{spec} ({run.path.name})")
    for index, name in enumerate(names):  # the same run dir name in two parents
        if names.count(name) > 1:
            run, spec = pairs[index]
            names[index] = f"{spec} ({run.path})"
    return names


def _comparability(pairs: list[tuple[_Run, str]], entries: list[Entry]) -> list[str]:
    warnings: list[str] = []
    thresholds = sorted({e.severity_threshold for e in entries})
    if len(thresholds) > 1:
        warnings.append(
            f"the runs use different severity thresholds ({', '.join(thresholds)}): "
            "vulnerable rates are not measured the same way"
        )
    prompt_sets = set()
    for run, _ in pairs:
        source = run.manifest.get("prompt_source")
        if isinstance(source, dict):
            prompt_sets.add((str(source.get("spec")), str(source.get("selected"))))
    if len(prompt_sets) > 1:
        listed = ", ".join(f"{spec} x{n}" for spec, n in sorted(prompt_sets))
        warnings.append(
            f"the runs used different prompt sets ({listed}): a difference may come from "
            "the prompts rather than the models"
        )
    for run in {id(r): r for r, _ in pairs}.values():
        status = run.manifest.get("status")
        if status != "complete":
            warnings.append(f"{run.path}: run status is {status!r}, not 'complete'")
    return warnings


# --- the comparison -----------------------------------------------------------------------


def compare_runs(
    run_dirs: list[Path], models: list[str] | None = None, alpha: float = ALPHA
) -> Comparison:
    """Compare every selected (run, model) entry with every other on every metric.

    ``models`` keeps only those models (by spec or folder name) in each run; a name in
    none of the runs is an error. At least two entries are needed.
    """
    if not 0 < alpha < 1:
        raise UserError(f"alpha must be between 0 and 1, got {alpha}")
    if not run_dirs:
        raise UserError("give at least one run directory to compare")
    runs: list[_Run] = []
    seen: set[Path] = set()
    for run_dir in run_dirs:
        run = _load_run(Path(run_dir))
        resolved = run.path.resolve()
        if resolved in seen:
            raise UserError(f"{run_dir}: the same run directory is given twice")
        seen.add(resolved)
        runs.append(run)
    pairs, warnings = _select(runs, models)
    if len(pairs) < 2:
        listed = ", ".join(f"{run.path.name}/{spec}" for run, spec in pairs) or "none"
        raise UserError(
            f"need at least 2 (run, model) entries to compare, got {len(pairs)} ({listed}): "
            "give another run directory, or a run with several models"
        )
    entries = []
    for (run, spec), name in zip(pairs, _names(pairs), strict=True):
        metrics, _ = _model_metrics(run, spec)
        seed = _int(run.manifest.get("seed"))
        run_id = run.manifest.get("run_id")
        status = run.manifest.get("status")
        entries.append(Entry(
            label=f"{run.path.name}/{spec}", name=name, run_dir=run.path, model=spec,
            run_id=run_id if isinstance(run_id, str) else None, seed=seed,
            severity_threshold=_threshold(run, metrics),
            status=status if isinstance(status, str) else None,
        ))
    labels = [e.label for e in entries]
    if len(set(labels)) != len(labels):
        raise UserError(f"two entries share a label ({', '.join(labels)}): two run "
                        "directories with the same name; rename one")
    warnings.extend(_comparability(pairs, entries))
    counts = [_entry_counts(run, spec, warnings) for run, spec in pairs]
    return _build(entries, counts, alpha, warnings)


@dataclass
class _Raw:
    metric: Metric
    values: list[EntryValue]
    pairs: list[tuple[EntryValue, EntryValue, float | None, float]]


def _build(
    entries: list[Entry],
    counts: list[dict[str, tuple[int, int, str]]],
    alpha: float,
    warnings: list[str],
) -> Comparison:
    raws: list[_Raw] = []
    for metric in METRICS:
        values = []
        for entry, entry_counts in zip(entries, counts, strict=True):
            if metric.name not in entry_counts:
                continue
            successes, total, source = entry_counts[metric.name]
            r = rate(successes, total)
            values.append(EntryValue(entry.label, successes, total, r.value, r.ci_low,
                                     r.ci_high, source))
        if len(values) < 2:
            if values:
                warnings.append(f"{metric.title}: only {values[0].label} has it; not compared")
            continue
        pair_stats = []
        for i, a in enumerate(values):
            for b in values[i + 1:]:
                z, p = two_proportion_z_test(a.successes, a.total, b.successes, b.total)
                pair_stats.append((a, b, z, p))
        raws.append(_Raw(metric, values, pair_stats))
    adjusted = iter(holm_adjust([p for raw in raws for *_, p in raw.pairs]))
    names = {e.label: e.name for e in entries}
    results = []
    for raw in raws:
        tests = []
        for a, b, z, p in raw.pairs:
            p_adj = next(adjusted)
            significant = z is not None and z != 0 and p_adj <= alpha
            tests.append(PairTest(
                metric=raw.metric.name, a=a.label, b=b.label, value_a=a.value, value_b=b.value,
                z=z, p_value=p, p_adjusted=p_adj, significant=significant,
                verdict=_verdict(raw.metric, names[a.label], names[b.label], a, b, z, p_adj,
                                 significant),
            ))
        results.append(MetricResult(raw.metric, tuple(raw.values), tuple(tests)))
    return Comparison(tuple(entries), tuple(results), alpha, tuple(warnings))


def _verdict(
    metric: Metric,
    name_a: str,
    name_b: str,
    a: EntryValue,
    b: EntryValue,
    z: float | None,
    p_adjusted: float,
    significant: bool,
) -> str:
    numbers = f"{_percent(a.value)} vs {_percent(b.value)}"
    if significant and z is not None:
        direction = "MORE" if z > 0 else "LESS"
        claim = metric.verdict.format(a=name_a, b=name_b, direction=direction)
        return f"{claim}: {numbers}, adjusted p {format_p(p_adjusted)}"
    if z is None:
        empty = name_a if a.total == 0 else name_b
        return (f"no significant difference in {metric.title} between {name_a} and {name_b}: "
                f"{empty} has no data ({numbers}, adjusted p {format_p(p_adjusted)})")
    return (f"no significant difference in {metric.title} between {name_a} and {name_b}: "
            f"{numbers} (adjusted p {format_p(p_adjusted)})")


# --- output -------------------------------------------------------------------------------


def render_text(c: Comparison) -> str:
    """The comparison as plain text for a terminal."""
    names = {e.label: e.name for e in c.entries}
    width = max(len(e.name) for e in c.entries)
    lines = [
        f"Comparison of {len(c.entries)} entries on {len(c.metrics)} metrics: "
        f"{c.test_count} pairwise two-proportion z-tests, Holm-Bonferroni adjusted "
        f"across all of them, alpha = {c.alpha:g}",
        "",
        "Entries:",
    ]
    label_width = max(len(e.label) for e in c.entries)
    for entry in c.entries:
        about = ", ".join(
            ([f"seed {entry.seed}"] if entry.seed is not None else [])
            + [f"threshold {entry.severity_threshold}"]
        )
        lines.append(f"  {entry.name:<{width}}  {entry.label:<{label_width}}  ({about})")
    for result in c.metrics:
        metric = result.metric
        better = "higher is better" if metric.higher_is_better else "lower is better"
        lines += ["", f"{metric.title.capitalize()}: {metric.description} ({better})"]
        for value in result.values:
            interval = ("" if value.ci_low is None or value.ci_high is None
                        else f"[{_percent(value.ci_low)}, {_percent(value.ci_high)}]")
            lines.append(
                f"  {names[value.label]:<{width}}  {_percent(value.value):>6}  "
                f"95% CI {interval:<16}  {value.successes}/{value.total}"
            )
        for test in result.tests:
            z = "n/a" if test.z is None else f"{test.z:+.2f}"
            lines.append(
                f"  {names[test.a]} vs {names[test.b]}: z = {z}, p {format_p(test.p_value)}, "
                f"adjusted p {format_p(test.p_adjusted)}"
            )
            lines.append(f"    -> {test.verdict}")
    significant = [t for m in c.metrics for t in m.tests if t.significant]
    lines += ["", f"Significant at alpha = {c.alpha:g} after Holm-Bonferroni: "
                  f"{len(significant)} of {c.test_count}"]
    lines += [f"  - {t.verdict}" for t in significant]
    if c.warnings:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in c.warnings]
    return "\n".join(lines) + "\n"


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "label": entry.label,
        "name": entry.name,
        "run_dir": str(entry.run_dir),
        "model": entry.model,
        "run_id": entry.run_id,
        "seed": entry.seed,
        "severity_threshold": entry.severity_threshold,
        "status": entry.status,
    }


def to_json(c: Comparison) -> dict[str, Any]:
    """The comparison as a JSON-ready dict (what ``comparison.json`` holds)."""
    return {
        "schema_version": COMPARISON_SCHEMA_VERSION,
        "alpha": c.alpha,
        "test": "two-proportion z-test, pooled, two-sided",
        "interval": "95% Wilson score",
        "correction": "holm-bonferroni",
        "tests": c.test_count,
        "entries": [_entry_json(e) for e in c.entries],
        "metrics": [
            {
                "name": r.metric.name,
                "title": r.metric.title,
                "description": r.metric.description,
                "higher_is_better": r.metric.higher_is_better,
                "values": [
                    {
                        "entry": v.label,
                        "value": v.value,
                        "successes": v.successes,
                        "total": v.total,
                        "ci_low": v.ci_low,
                        "ci_high": v.ci_high,
                        "source": v.source,
                    }
                    for v in r.values
                ],
                "tests": [_test_json(t) for t in r.tests],
            }
            for r in c.metrics
        ],
        "warnings": list(c.warnings),
    }


def _test_json(t: PairTest) -> dict[str, Any]:
    return {
        "a": t.a,
        "b": t.b,
        "value_a": t.value_a,
        "value_b": t.value_b,
        "difference": None if t.value_a is None or t.value_b is None else t.value_a - t.value_b,
        "z": t.z,
        "p_value": t.p_value,
        "p_adjusted": t.p_adjusted,
        "significant": t.significant,
        "verdict": t.verdict,
    }


CSV_COLUMNS = [
    "metric",
    "entry_a",
    "entry_b",
    "successes_a",
    "total_a",
    "rate_a",
    "ci_low_a",
    "ci_high_a",
    "successes_b",
    "total_b",
    "rate_b",
    "ci_low_b",
    "ci_high_b",
    "difference",
    "z",
    "p_value",
    "p_adjusted",
    "significant",
    "verdict",
]


def _csv_rows(c: Comparison) -> list[dict[str, Any]]:
    def num(value: float | None, digits: int = 6) -> Any:
        return "" if value is None else round(value, digits)

    rows = []
    for result in c.metrics:
        values = {v.label: v for v in result.values}
        for t in result.tests:
            a, b = values[t.a], values[t.b]
            row: dict[str, Any] = {"metric": result.metric.name, "entry_a": t.a, "entry_b": t.b}
            for suffix, v in (("a", a), ("b", b)):
                row |= {
                    f"successes_{suffix}": v.successes,
                    f"total_{suffix}": v.total,
                    f"rate_{suffix}": num(v.value),
                    f"ci_low_{suffix}": num(v.ci_low),
                    f"ci_high_{suffix}": num(v.ci_high),
                }
            diff = None if a.value is None or b.value is None else a.value - b.value
            row |= {
                "difference": num(diff),
                "z": num(t.z, 4),
                "p_value": f"{t.p_value:.6g}",
                "p_adjusted": f"{t.p_adjusted:.6g}",
                "significant": t.significant,
                "verdict": t.verdict,
            }
            rows.append(row)
    return rows


def write_comparison(c: Comparison, out_dir: Path) -> list[Path]:
    """Write ``comparison.json`` and ``comparison.csv`` (one row per test) atomically."""
    json_path, csv_path = out_dir / "comparison.json", out_dir / "comparison.csv"
    try:
        atomic_write_json(json_path, to_json(c))
        atomic_write_csv(csv_path, CSV_COLUMNS, _csv_rows(c))
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot write the comparison ({exc.strerror or exc})") from None
    return [json_path, csv_path]
