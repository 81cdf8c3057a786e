"""``compare_runs``: rates with intervals, pairwise z-tests, Holm correction, verdicts."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from safety_eval.errors import UserError
from safety_eval.models.registry import slug
from safety_eval.report.compare import (
    CSV_COLUMNS,
    Comparison,
    compare_runs,
    format_p,
    holm_adjust,
    render_text,
    to_json,
    two_proportion_z_test,
    write_comparison,
)
from tests.results.helpers import real_run

# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real mock runs whose replies differ (different seeds)."""
    return (
        real_run(tmp_path_factory.mktemp("seed1"), "mock", seed=1),
        real_run(tmp_path_factory.mktemp("seed2"), "mock", seed=2),
    )


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run(tmp_path_factory.mktemp("multi"), "mock", "mock:b", seed=1)


def synthetic_run(
    parent: Path,
    name: str,
    models: dict[str, tuple[int, int]],
    seed: int = 1,
    agent: dict[str, dict[str, tuple[int, int]]] | None = None,
) -> Path:
    """A run directory holding only run.json and vulnerability_metrics.json, with
    ``models[spec] = (vulnerable, samples)``; hallucinated 5% and parsed 100% each."""
    run_dir = parent / name
    run_dir.mkdir(parents=True)
    manifest = {
        "schema_version": "1",
        "run_id": name,
        "run_dir": name,
        "status": "complete",
        "seed": seed,
        "severity_threshold": "medium",
        "prompt_source": {"spec": "builtin", "selected": 100},
        "models": [{"spec": spec, "slug": slug(spec)} for spec in models],
    }
    (run_dir / "run.json").write_text(json.dumps(manifest))
    metrics: dict[str, Any] = {}
    for spec, (vulnerable, samples) in models.items():
        metrics[spec] = {
            "model": spec,
            "samples": samples,
            "vulnerable_samples": vulnerable,
            "vulnerable_rate": {"value": vulnerable / samples, "successes": vulnerable,
                                "total": samples, "ci_low": 0.0, "ci_high": 1.0},
            "hallucinated_samples": samples // 20,
            "parse_modes": {"full": samples, "recovered": 0, "text-only": 0},
        }
    (run_dir / "vulnerability_metrics.json").write_text(json.dumps(
        {"schema_version": "1", "severity_threshold": "medium", "models": metrics}
    ))
    if agent is not None:
        autonomous = {
            "models": {
                spec: {
                    "trials": 50,
                    "failure_rate": 0.0,
                    "recovery_success_rate": None,
                    "deception_rate": 0.0,
                    "constraint_adherence": 1.0,
                    "intervals": {
                        key: {"successes": s, "total": t, "ci_low": 0.0, "ci_high": 1.0}
                        for key, (s, t) in intervals.items()
                    },
                }
                for spec, intervals in agent.items()
            }
        }
        (run_dir / "autonomous_metrics.json").write_text(json.dumps(autonomous))
    return run_dir


def metric(c: Comparison, name: str) -> Any:
    return next(m for m in c.metrics if m.metric.name == name)


# --- statistics against hand-computed values ----------------------------------------------


def test_z_test_textbook_values() -> None:
    # 30/50 vs 20/50: pooled 0.5, SE = sqrt(0.25 * (1/50 + 1/50)) = 0.1, z = 0.2/0.1 = 2
    z, p = two_proportion_z_test(30, 50, 20, 50)
    assert z == pytest.approx(2.0)
    assert p == pytest.approx(0.0455003, abs=1e-6)  # 2 * (1 - Phi(2))
    # 60/100 vs 50/100: pooled 0.55, SE = sqrt(0.55 * 0.45 * 0.02) = 0.0703562, z = 1.42134
    z, p = two_proportion_z_test(60, 100, 50, 100)
    assert z == pytest.approx(1.42134, abs=1e-5)
    assert p == pytest.approx(0.15522, abs=1e-5)
    # the sign follows a - b; the p-value does not
    z_rev, p_rev = two_proportion_z_test(50, 100, 60, 100)
    assert z_rev == pytest.approx(-1.42134, abs=1e-5) and p_rev == pytest.approx(p)
    # 90/100 vs 10/100: pooled 0.5, SE = sqrt(0.25 * 0.02), z = 0.8 / 0.0707107 = 11.3137
    z, p = two_proportion_z_test(90, 100, 10, 100)
    assert z == pytest.approx(11.3137, abs=1e-4) and 0 < p < 1e-28


def test_z_test_edge_cases() -> None:
    assert two_proportion_z_test(0, 0, 0, 0) == (None, 1.0)
    assert two_proportion_z_test(0, 0, 5, 10) == (None, 1.0)
    assert two_proportion_z_test(0, 10, 0, 20) == (0.0, 1.0)  # pooled variance 0
    assert two_proportion_z_test(10, 10, 5, 5) == (0.0, 1.0)
    assert two_proportion_z_test(3, 9, 2, 6) == (0.0, 1.0)  # the same proportion
    with pytest.raises(ValueError):
        two_proportion_z_test(11, 10, 1, 10)
    with pytest.raises(ValueError):
        two_proportion_z_test(-1, 10, 1, 10)


def test_holm_against_hand_computed_values() -> None:
    # sorted: 0.005 x4 = 0.02; 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> max 0.06
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.6]) == [1.0, 1.0]  # capped at 1
    assert holm_adjust([0.02]) == [0.02]  # one test: nothing to correct
    assert holm_adjust([]) == []
    ties = holm_adjust([0.01, 0.01, 0.01])
    assert ties == pytest.approx([0.03, 0.03, 0.03])
    with pytest.raises(ValueError):
        holm_adjust([1.5])


def test_format_p() -> None:
    assert format_p(0.41234) == "= 0.41"
    assert format_p(0.0042) == "= 0.0042"
    assert format_p(1.0) == "= 1.0"
    assert format_p(0.0004) == "< 0.001"


# --- two real runs ------------------------------------------------------------------------


def test_two_real_runs_with_different_seeds(seed_runs: tuple[Path, Path]) -> None:
    run1, run2 = seed_runs
    c = compare_runs([run1, run2])
    assert [e.label for e in c.entries] == [f"{run1.name}/mock", f"{run2.name}/mock"]
    assert [e.name for e in c.entries] == ["mock (seed 1)", "mock (seed 2)"]
    names = [m.metric.name for m in c.metrics]
    assert names == ["vulnerable_rate", "hallucination_rate", "parse_rate",
                     "critical_finding_rate", "high_finding_rate"]
    assert c.test_count == 5
    # counts are the ones the run recorded
    for run, value in zip(seed_runs, metric(c, "vulnerable_rate").values, strict=True):
        recorded = json.loads((run / "vulnerability_metrics.json").read_text())["models"]["mock"]
        assert (value.successes, value.total) == (recorded["vulnerable_samples"], 40)
        assert value.value == pytest.approx(recorded["vulnerable_rate"]["value"])
        assert value.ci_low == pytest.approx(recorded["vulnerable_rate"]["ci_low"])
        assert value.ci_high == pytest.approx(recorded["vulnerable_rate"]["ci_high"])
        assert value.source == "vulnerability_metrics.json"
    assert metric(c, "high_finding_rate").values[0].source == "mock/samples.jsonl"
    for result in c.metrics:
        for test in result.tests:
            assert test.p_adjusted >= test.p_value
            assert test.significant == (test.p_adjusted <= c.alpha and bool(test.z))
            assert "significant" in test.verdict
    text = render_text(c)
    assert "95% CI [" in text and "adjusted p" in text and "Holm-Bonferroni" in text
    assert "mock (seed 1) vs mock (seed 2)" in text
    assert "no significant difference in vulnerable rate between mock (seed 1)" in text
    assert "/40" in text


def test_per_severity_rates_are_counted_per_sample(seed_runs: tuple[Path, Path]) -> None:
    run1 = seed_runs[0]
    c = compare_runs(list(seed_runs))
    expected = {"critical": 0, "high": 0}
    with (run1 / "mock" / "samples.jsonl").open() as handle:
        for line in handle:
            severities = {f["severity"] for f in json.loads(line)["findings"]}
            for level in expected:
                expected[level] += level in severities
    assert metric(c, "critical_finding_rate").values[0].successes == expected["critical"]
    assert metric(c, "high_finding_rate").values[0].successes == expected["high"]


def test_write_comparison(seed_runs: tuple[Path, Path], tmp_path: Path) -> None:
    c = compare_runs(list(seed_runs))
    written = write_comparison(c, tmp_path / "out")
    assert [p.name for p in written] == ["comparison.json", "comparison.csv"]
    data = json.loads(written[0].read_text())
    assert data == json.loads(json.dumps(to_json(c)))
    assert data["tests"] == 5 and data["correction"] == "holm-bonferroni"
    assert len(data["entries"]) == 2 and data["entries"][0]["seed"] == 1
    with written[1].open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == c.test_count
    assert list(rows[0]) == CSV_COLUMNS
    assert rows[0]["metric"] == "vulnerable_rate" and rows[0]["verdict"]
    assert not list((tmp_path / "out").glob(".*"))  # no temp files left behind


def test_models_within_one_run(multi_run: Path) -> None:
    c = compare_runs([multi_run])
    assert [e.name for e in c.entries] == ["mock", "mock:b"]
    assert c.entries[1].label == f"{multi_run.name}/mock:b"
    # the same replies: every test is p = 1
    assert all(t.p_value == 1.0 and not t.significant for m in c.metrics for t in m.tests)


def test_model_filter_by_spec_or_folder(multi_run: Path, seed_runs: tuple[Path, Path]) -> None:
    c = compare_runs([multi_run, seed_runs[0]], models=["mock"])
    assert [e.model for e in c.entries] == ["mock", "mock"]
    assert [e.name for e in c.entries] == [f"mock ({multi_run.name})",
                                           f"mock ({seed_runs[0].name})"]
    c = compare_runs([multi_run], models=["mock-b", "mock"])  # folder name works too
    assert [e.model for e in c.entries] == ["mock:b", "mock"]
    c = compare_runs([multi_run, seed_runs[1]], models=["mock:b", "mock"])
    assert len(c.entries) == 3
    assert any("'mock:b' is not in" in w for w in c.warnings)


# --- constructed cases --------------------------------------------------------------------


def test_clearly_significant_difference(tmp_path: Path) -> None:
    bad = synthetic_run(tmp_path, "run_a", {"model-x": (90, 100)}, seed=1)
    good = synthetic_run(tmp_path, "run_b", {"model-y": (10, 100)}, seed=2)
    c = compare_runs([bad, good])
    test = metric(c, "vulnerable_rate").tests[0]
    assert test.significant and test.z is not None and test.z > 11
    assert test.p_adjusted < 1e-20 and test.p_adjusted >= test.p_value
    assert test.verdict == (
        "model-x is significantly MORE often vulnerable than model-y: 90.0% vs 10.0%, "
        "adjusted p < 0.001"
    )
    reverse = compare_runs([good, bad])
    assert metric(reverse, "vulnerable_rate").tests[0].verdict.startswith(
        "model-y is significantly LESS often vulnerable than model-x"
    )
    # the synthetic runs have no samples: the per-severity metrics are left out, loudly
    assert [m.metric.name for m in c.metrics] == ["vulnerable_rate", "hallucination_rate",
                                                  "parse_rate"]
    assert any("no model-x/samples.jsonl" in w for w in c.warnings)
    # equal hallucination (5/100 each) and parse rates: no difference
    assert metric(c, "hallucination_rate").tests[0].verdict.startswith(
        "no significant difference in hallucination rate between model-x and model-y"
    )
    text = render_text(c)
    assert "Significant at alpha = 0.05 after Holm-Bonferroni: 1 of 3" in text
    assert "90.0%  95% CI [" in text


def test_clearly_not_significant_difference(tmp_path: Path) -> None:
    a = synthetic_run(tmp_path, "run_a", {"m": (52, 100)}, seed=1)
    b = synthetic_run(tmp_path, "run_b", {"m": (48, 100)}, seed=2)
    c = compare_runs([a, b])
    test = metric(c, "vulnerable_rate").tests[0]
    assert not test.significant and test.p_value > 0.5
    assert test.verdict == (
        "no significant difference in vulnerable rate between m (seed 1) and m (seed 2): "
        "52.0% vs 48.0% (adjusted p = 1.0)"
    )


def test_holm_can_turn_a_raw_significance_into_none(tmp_path: Path) -> None:
    # 30/50 vs 20/50: raw p = 0.0455 < 0.05, but three tests in all -> adjusted 0.14
    a = synthetic_run(tmp_path, "run_a", {"m": (30, 50)}, seed=1)
    b = synthetic_run(tmp_path, "run_b", {"m": (20, 50)}, seed=2)
    c = compare_runs([a, b])
    test = metric(c, "vulnerable_rate").tests[0]
    assert test.p_value == pytest.approx(0.0455, abs=1e-4)
    assert test.p_adjusted == pytest.approx(3 * test.p_value)
    assert not test.significant
    looser = compare_runs([a, b], alpha=0.2)
    assert metric(looser, "vulnerable_rate").tests[0].significant


def test_three_entries_holm_across_all_tests(tmp_path: Path) -> None:
    runs = [
        synthetic_run(tmp_path, "run_a", {"a": (80, 100)}, seed=1),
        synthetic_run(tmp_path, "run_b", {"b": (50, 100)}, seed=2),
        synthetic_run(tmp_path, "run_c", {"c": (45, 100)}, seed=3),
    ]
    c = compare_runs(runs)
    assert len(c.metrics) == 3
    for result in c.metrics:
        assert [(t.a.split("/")[1], t.b.split("/")[1]) for t in result.tests] == [
            ("a", "b"), ("a", "c"), ("b", "c")
        ]
    assert c.test_count == 9
    raw = [t.p_value for m in c.metrics for t in m.tests]
    adjusted = [t.p_adjusted for m in c.metrics for t in m.tests]
    assert adjusted == pytest.approx(holm_adjust(raw))
    # the smallest p-value is multiplied by m = 9, all nine tests together
    smallest = min(range(9), key=raw.__getitem__)
    assert adjusted[smallest] == pytest.approx(min(1.0, 9 * raw[smallest]))
    vulnerable = metric(c, "vulnerable_rate")
    assert [t.significant for t in vulnerable.tests] == [True, True, False]
    assert "Significant at alpha = 0.05 after Holm-Bonferroni: 2 of 9" in render_text(c)


def test_agent_metrics_from_autonomous_metrics(tmp_path: Path) -> None:
    a = synthetic_run(tmp_path, "run_a", {"m": (50, 100)}, seed=1, agent={
        "m": {"failure_rate": (40, 50), "deception_rate": (5, 50),
              "constraint_adherence": (45, 50), "recovery_success_rate": (10, 40)},
    })
    b = synthetic_run(tmp_path, "run_b", {"m": (50, 100)}, seed=2, agent={
        "m": {"failure_rate": (5, 50), "deception_rate": (5, 50),
              "constraint_adherence": (44, 50), "recovery_success_rate": (2, 5)},
    })
    c = compare_runs([a, b])
    names = [m.metric.name for m in c.metrics]
    assert names[-4:] == ["failure_rate", "deception_rate", "constraint_adherence",
                          "recovery_success_rate"]
    failure = metric(c, "failure_rate")
    assert [(v.successes, v.total) for v in failure.values] == [(40, 50), (5, 50)]
    assert failure.values[0].source == "autonomous_metrics.json"
    assert failure.tests[0].significant
    assert "m (seed 1) fails significantly MORE often than m (seed 2) as an agent" in (
        failure.tests[0].verdict
    )
    assert c.test_count == 7


def test_agent_metrics_only_in_one_run_are_not_compared(tmp_path: Path) -> None:
    a = synthetic_run(tmp_path, "run_a", {"m": (50, 100)}, seed=1,
                      agent={"m": {"failure_rate": (40, 50)}})
    b = synthetic_run(tmp_path, "run_b", {"m": (50, 100)}, seed=2)
    c = compare_runs([a, b])
    assert "failure_rate" not in [m.metric.name for m in c.metrics]
    assert any("agent failure rate: only run_a/m has it" in w for w in c.warnings)


def test_missing_counts_are_recomputed_from_samples(
    seed_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    run1 = shutil.copytree(seed_runs[0], tmp_path / seed_runs[0].name)
    original = compare_runs([run1, seed_runs[1]])
    (run1 / "vulnerability_metrics.json").unlink()
    per_model = json.loads((run1 / "mock" / "vulnerability_metrics.json").read_text())
    del per_model["vulnerable_rate"], per_model["vulnerable_samples"]
    del per_model["hallucinated_samples"]
    (run1 / "mock" / "vulnerability_metrics.json").write_text(json.dumps(per_model))
    c = compare_runs([run1, seed_runs[1]])
    assert metric(c, "vulnerable_rate").values[0].source == "mock/samples.jsonl"
    assert metric(c, "parse_rate").values[0].source == "mock/vulnerability_metrics.json"
    for before, after in zip(original.metrics, c.metrics, strict=True):
        assert [(v.successes, v.total) for v in before.values] == [
            (v.successes, v.total) for v in after.values
        ]


def test_different_thresholds_and_prompt_sets_warn(tmp_path: Path) -> None:
    a = synthetic_run(tmp_path, "run_a", {"m": (50, 100)}, seed=1)
    b = synthetic_run(tmp_path, "run_b", {"m": (50, 100)}, seed=2)
    manifest = json.loads((b / "run.json").read_text())
    manifest["severity_threshold"] = "high"
    manifest["prompt_source"] = {"spec": "mine.jsonl", "selected": 100}
    manifest["status"] = "interrupted"
    (b / "run.json").write_text(json.dumps(manifest))
    warnings = compare_runs([a, b]).warnings
    assert any("different severity thresholds (high, medium)" in w for w in warnings)
    assert any("different prompt sets" in w for w in warnings)
    assert any("status is 'interrupted'" in w for w in warnings)


# --- errors -------------------------------------------------------------------------------


def test_missing_run_dir(tmp_path: Path, seed_runs: tuple[Path, Path]) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(UserError, match=f"{missing}: no such run directory"):
        compare_runs([seed_runs[0], missing])


def test_not_a_run_dir(tmp_path: Path, seed_runs: tuple[Path, Path]) -> None:
    with pytest.raises(UserError, match=rf"{tmp_path}: not a run directory \(no run.json\)"):
        compare_runs([seed_runs[0], tmp_path])
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        compare_runs([seed_runs[0], file])


def test_broken_run_json(tmp_path: Path, seed_runs: tuple[Path, Path]) -> None:
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(UserError, match=rf"{tmp_path / 'run.json'}: not valid JSON"):
        compare_runs([seed_runs[0], tmp_path])


def test_model_not_in_run(multi_run: Path) -> None:
    with pytest.raises(UserError) as info:
        compare_runs([multi_run], models=["gpt-9"])
    message = str(info.value)
    assert "'gpt-9' is not in the run" in message and str(multi_run) in message
    assert "mock, mock:b" in message


def test_fewer_than_two_entries(seed_runs: tuple[Path, Path], multi_run: Path) -> None:
    with pytest.raises(UserError, match=r"need at least 2 .* got 1"):
        compare_runs([seed_runs[0]])
    with pytest.raises(UserError, match=r"need at least 2 .* got 1"):
        compare_runs([multi_run], models=["mock:b"])
    with pytest.raises(UserError, match="at least one run directory"):
        compare_runs([])


def test_same_run_twice(seed_runs: tuple[Path, Path]) -> None:
    with pytest.raises(UserError, match="given twice"):
        compare_runs([seed_runs[0], seed_runs[0]])


def test_unreadable_sample_names_the_file(seed_runs: tuple[Path, Path], tmp_path: Path) -> None:
    run1 = shutil.copytree(seed_runs[0], tmp_path / seed_runs[0].name)
    samples = run1 / "mock" / "samples.jsonl"
    lines = samples.read_text().splitlines(keepends=True)
    lines[2] = '{"prompt_id": 3}\n'
    samples.write_text("".join(lines))
    with pytest.raises(UserError, match=f"{samples}: unreadable sample"):
        compare_runs([run1, seed_runs[1]])


def test_bad_alpha(seed_runs: tuple[Path, Path]) -> None:
    with pytest.raises(UserError, match="alpha"):
        compare_runs(list(seed_runs), alpha=1.5)


def test_rates_match_wilson(tmp_path: Path) -> None:
    a = synthetic_run(tmp_path, "run_a", {"m": (0, 40)}, seed=1)
    b = synthetic_run(tmp_path, "run_b", {"m": (40, 40)}, seed=2)
    values = metric(compare_runs([a, b]), "vulnerable_rate").values
    assert values[0].ci_low == 0.0 and values[0].ci_high == pytest.approx(0.0876, abs=1e-4)
    assert values[1].ci_high == 1.0 and values[1].ci_low == pytest.approx(0.9124, abs=1e-4)
    assert math.isclose(values[1].value or 0.0, 1.0)
