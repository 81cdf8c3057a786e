"""``safety-eval run`` end to end with the mock backend: the output contract."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from safety_eval.results.aggregate import SUMMARY_COLUMNS
from tests.pipeline.conftest import cli

FINDING_KEYS = {"rule_id", "tool", "category", "cwe", "severity", "confidence", "line",
                "message", "symbol"}
SAMPLE_KEYS = {"prompt_id", "category", "prompt", "completion", "code", "parsed", "findings",
               "hallucinations", "error", "latency_s", "tokens"}


@pytest.fixture(scope="module")
def mock_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    result = cli("run", "--model", "mock", "--size", "30", "--output", str(out), "--batch",
                 "--seed", "3", "--trials", "3")
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert run_dir.parent == out and run_dir.is_dir()
    return run_dir


def test_run_dir_name_and_files(mock_run: Path) -> None:
    assert mock_run.name.startswith("run_") and mock_run.name.endswith("_mock")
    for name in ("run.json", "multi_model_summary.csv", "vulnerability_metrics.json"):
        assert (mock_run / name).is_file()
    for name in ("samples.jsonl", "results.csv", "vulnerability_metrics.json",
                 "severity_distribution.png", "top_cwes.png"):
        assert (mock_run / "mock" / name).is_file(), name
    assert (mock_run / "mock" / "severity_distribution.png").read_bytes()[:4] == b"\x89PNG"


def test_run_json_records_config_and_versions(mock_run: Path) -> None:
    manifest = json.loads((mock_run / "run.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["config"]["models"] == ["mock"]
    assert manifest["seed"] == 3 and manifest["config"]["seed"] == 3
    assert manifest["severity_threshold"] == "medium"
    assert manifest["prompt_source"]["selected"] == 30
    assert manifest["prompt_source"]["available"] >= 150
    assert "bandit" in manifest["versions"]
    assert manifest["timings"]["total_s"] >= 0


def test_samples_follow_the_contract(mock_run: Path) -> None:
    lines = (mock_run / "mock" / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 30
    samples = [json.loads(line) for line in lines]
    assert len({s["prompt_id"] for s in samples}) == 30
    for sample in samples:
        assert sample.keys() >= SAMPLE_KEYS
        for finding in sample["findings"] + sample["hallucinations"]:
            assert finding.keys() >= FINDING_KEYS
            assert finding["severity"] in {"critical", "high", "medium", "low"}
            assert finding["cwe"] is None or finding["cwe"].startswith("CWE-")
    # the mock exercises every path: vulnerable, clean, fragments, prose-only
    assert any(s["findings"] for s in samples)
    assert any(not s["findings"] for s in samples)
    assert any(s["parse_mode"] == "recovered" for s in samples)
    assert any(s["code"] == "" for s in samples)


def test_summary_agrees_with_samples(mock_run: Path) -> None:
    with (mock_run / "multi_model_summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and list(rows[0]) == SUMMARY_COLUMNS
    row = rows[0]
    samples = [json.loads(x) for x in (mock_run / "mock" / "samples.jsonl").read_text().split("\n")
               if x]
    rank = {"low": 1, "medium": 2, "high": 3, "critical": 4}
    vulnerable = sum(1 for s in samples if any(rank[f["severity"]] >= 2 for f in s["findings"]))
    assert int(row["samples"]) == 30
    assert int(row["vulnerable_samples"]) == vulnerable
    assert float(row["vulnerable_rate"]) == pytest.approx(vulnerable / 30, abs=1e-4)
    assert int(row["total_vulnerabilities"]) == sum(len(s["findings"]) for s in samples)
    assert float(row["parse_rate"]) == pytest.approx(
        sum(1 for s in samples if s["parsed"]) / 30, abs=1e-4)


def test_vulnerability_metrics_schema(mock_run: Path) -> None:
    top = json.loads((mock_run / "vulnerability_metrics.json").read_text())
    metrics = top["models"]["mock"]
    assert metrics == json.loads((mock_run / "mock" / "vulnerability_metrics.json").read_text())
    assert isinstance(metrics["total_vulnerabilities"], int)
    assert set(metrics["severity_distribution"]) == {"critical", "high", "medium", "low"}
    for entry in metrics["cwe_classifications"]:
        assert set(entry) == {"cwe", "name", "count"} and entry["count"] > 0
    assert isinstance(metrics["hallucination_rate"], float)
    vr = metrics["vulnerable_rate"]
    assert vr["ci_low"] <= vr["value"] <= vr["ci_high"]


def test_results_csv_has_a_row_per_sample(mock_run: Path) -> None:
    with (mock_run / "mock" / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30 and rows[0]["prompt_id"].startswith("SE-")


def test_two_models_give_two_rows(out_dir: Path) -> None:
    result = cli("run", "-m", "mock", "-m", "mock:variant", "--size", "10", "--output",
                 str(out_dir), "--batch")
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    with (run_dir / "multi_model_summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model"] for r in rows] == ["mock", "mock:variant"]
    assert (run_dir / "mock-variant" / "samples.jsonl").is_file()


def test_same_seed_same_selection(out_dir: Path) -> None:
    ids = []
    for _ in range(2):
        result = cli("run", "-m", "mock", "--size", "12", "--seed", "9", "--output",
                     str(out_dir), "--batch")
        run_dir = Path(result.stdout.strip().splitlines()[-1])
        ids.append([json.loads(x)["prompt_id"]
                    for x in (run_dir / "mock" / "samples.jsonl").read_text().splitlines()])
    assert ids[0] == ids[1] and len(ids[0]) == 12


def test_agent_trials_are_part_of_the_run(mock_run: Path) -> None:
    trials = [json.loads(x) for x in (mock_run / "mock" / "agent_trials.jsonl").read_text()
              .splitlines()]
    assert len(trials) == 3 and all(t["transcript"] for t in trials)
    metrics = json.loads((mock_run / "autonomous_metrics.json").read_text())["models"]["mock"]
    assert metrics["trials"] == 3
    for name in ("failure_rate", "deception_rate", "constraint_adherence"):
        assert 0.0 <= metrics[name] <= 1.0
        assert name in metrics["intervals"]
    with (mock_run / "multi_model_summary.csv").open() as handle:
        row = next(csv.DictReader(handle))
    assert row["agent_trials"] == "3"
    assert float(row["constraint_adherence"]) == metrics["constraint_adherence"]
    assert row["recovery_success_rate"] == ""  # the mock agent breaks nothing
    assert (mock_run / "mock" / "agent_metrics.png").read_bytes()[:4] == b"\x89PNG"


def test_validate_accepts_the_run_and_catches_a_tampered_summary(
    mock_run: Path, tmp_path: Path
) -> None:
    import shutil

    assert cli("validate", str(mock_run)).returncode == 0
    copy = tmp_path / mock_run.name
    shutil.copytree(mock_run, copy)
    summary = copy / "multi_model_summary.csv"
    rows = list(csv.DictReader(summary.open()))
    rows[0]["vulnerable_samples"] = str(int(rows[0]["vulnerable_samples"]) + 1)
    with summary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    result = cli("validate", str(copy))
    assert result.returncode == 1
    assert "vulnerable_samples" in result.stdout and "problems" in result.stdout


def test_mode_vulnerability_skips_trials_and_autonomous_skips_prompts(out_dir: Path) -> None:
    only_code = cli("run", "-m", "mock", "--size", "5", "--mode", "vulnerability",
                    "--trials", "2", "--batch", "--output", str(out_dir))
    run_dir = Path(only_code.stdout.strip().splitlines()[-1])
    assert not (run_dir / "autonomous_metrics.json").exists()
    only_agent = cli("run", "-m", "mock", "--mode", "autonomous", "--trials", "2", "--batch",
                     "--output", str(out_dir))
    assert only_agent.returncode == 0, only_agent.stderr
    run_dir = Path(only_agent.stdout.strip().splitlines()[-1])
    assert (run_dir / "mock" / "samples.jsonl").read_text() == ""
    assert json.loads((run_dir / "autonomous_metrics.json").read_text())["models"]["mock"][
        "trials"] == 2


def test_report_is_written_and_can_be_rebuilt(mock_run: Path, tmp_path: Path) -> None:
    import shutil

    page = (mock_run / "report.html").read_text()
    assert "<!DOCTYPE html>" in page and "mock" in page
    copy = tmp_path / mock_run.name
    shutil.copytree(mock_run, copy)
    (copy / "report.html").unlink()
    for png in copy.glob("mock/*.png"):
        png.unlink()
    result = cli("report", str(copy))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(copy / "report.html")
    assert (copy / "report.html").is_file()
    assert {p.name for p in copy.glob("mock/*.png")} == {
        "severity_distribution.png", "top_cwes.png", "agent_metrics.png"}
    assert cli("report", str(tmp_path / "nope")).returncode == 2
