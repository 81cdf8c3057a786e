"""``validate_run``: files present, parsed, schema-valid and agreeing with the samples."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

from safety_eval.errors import UserError
from safety_eval.results.records import Sample
from safety_eval.results.validate import (
    SCHEMA_NAMES,
    load_schema,
    schema_problems,
    supported_schema_versions,
    validate_run,
)
from tests.results.helpers import real_run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run(tmp_path_factory.mktemp("runs"), "mock", "mock:b", seed=1, size=40)


@pytest.fixture
def run(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the real run, free to tamper with."""
    return Path(shutil.copytree(pristine, tmp_path / pristine.name))


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def edit_csv(path: Path, change: Callable[[list[dict[str, str]]], None]) -> None:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    change(rows)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def summary_value(run: Path, model: str, column: str) -> str:
    with (run / "multi_model_summary.csv").open(newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["model"] == model)[column]


def only(problems: list[str], needle: str) -> str:
    matching = [p for p in problems if needle in p]
    assert matching, f"no problem mentions {needle!r}: {problems}"
    return matching[0]


# --- schemas ------------------------------------------------------------------------------


def test_schemas_are_valid_draft_2020_12_and_load_from_the_package() -> None:
    assert "1" in supported_schema_versions()
    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(f"/v1/{name}.schema.json")
    with pytest.raises(ValueError):
        load_schema("nope")
    load_schema("run")["title"] = "changed"
    assert load_schema("run")["title"] == "run.json"  # callers get a copy


def test_sample_schema_is_generated_from_the_model() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_schemas.py"), "--check"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert set(load_schema("sample")["properties"]) == set(Sample.model_fields)


def test_real_data_matches_every_schema(pristine: Path) -> None:
    assert schema_problems("run", json.loads((pristine / "run.json").read_text())) == []
    top = json.loads((pristine / "vulnerability_metrics.json").read_text())
    assert schema_problems("vulnerability_metrics", top) == []
    per_model = json.loads((pristine / "mock-b" / "vulnerability_metrics.json").read_text())
    assert schema_problems("model_metrics", per_model) == []
    for line in (pristine / "mock" / "samples.jsonl").read_text().splitlines():
        assert schema_problems("sample", json.loads(line)) == []


def test_schema_problems_name_the_json_path() -> None:
    problems = schema_problems("vulnerability_metrics", {
        "schema_version": "1", "severity_threshold": "medium",
        "models": {"mock:b": {"samples": "40"}},
    })
    assert "$.models['mock:b'].samples: '40' is not of type 'integer'" in problems
    assert "$.models['mock:b']: 'model' is a required property" in problems


# --- a real run --------------------------------------------------------------------------


def test_fresh_real_run_is_valid(pristine: Path) -> None:
    assert validate_run(pristine) == []


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such run directory"):
        validate_run(tmp_path / "nope")


def test_empty_directory(tmp_path: Path) -> None:
    problems = validate_run(tmp_path)
    assert problems == [
        "run.json: missing",
        "vulnerability_metrics.json: missing",
        "multi_model_summary.csv: missing",
    ]


def test_missing_run_json_still_checks_the_models(run: Path) -> None:
    (run / "run.json").unlink()
    (run / "mock-b" / "top_cwes.png").unlink()
    assert validate_run(run) == ["run.json: missing", "mock-b/top_cwes.png: missing"]


# --- tampering, one file at a time --------------------------------------------------------


def test_tampered_summary_csv(run: Path) -> None:
    recorded = int(summary_value(run, "mock", "vulnerable_samples"))

    def bump(rows: list[dict[str, str]]) -> None:
        rows[0]["vulnerable_samples"] = str(recorded + 1)

    edit_csv(run / "multi_model_summary.csv", bump)
    assert validate_run(run) == [
        f"multi_model_summary.csv: model 'mock', column 'vulnerable_samples': expected "
        f"{recorded} (recomputed from mock/samples.jsonl), found {recorded + 1}"
    ]


def test_tampered_summary_float_beyond_rounding(run: Path) -> None:
    def shift(rows: list[dict[str, str]]) -> None:
        rows[1]["vulnerable_rate"] = str(round(float(rows[1]["vulnerable_rate"]) + 0.01, 4))
        rows[1]["tokens_per_s"] = str(float(rows[1]["tokens_per_s"]) + 0.004)  # within 0.005

    edit_csv(run / "multi_model_summary.csv", shift)
    problems = validate_run(run)
    assert len(problems) == 1
    assert problems[0].startswith(
        "multi_model_summary.csv: model 'mock:b', column 'vulnerable_rate': expected 0."
    )


def test_summary_rows_missing_extra_and_duplicated(run: Path) -> None:
    def change(rows: list[dict[str, str]]) -> None:
        mock_b = rows.pop(1)
        rows.append(dict(rows[0]))
        rows.append(dict(mock_b, model="ghost"))

    edit_csv(run / "multi_model_summary.csv", change)
    assert validate_run(run) == [
        "multi_model_summary.csv: line 3: second row for model 'mock' (first on line 2)",
        "multi_model_summary.csv: line 4: unexpected row for model 'ghost' (not in run.json)",
        "multi_model_summary.csv: no row for model 'mock:b'",
    ]


def test_summary_wrong_type(run: Path) -> None:
    edit_csv(run / "multi_model_summary.csv", lambda rows: rows[0].update(samples="forty"))
    problems = validate_run(run)
    assert problems[0] == (
        "multi_model_summary.csv: line 2 (model 'mock'): $.samples: 'forty' is not of type "
        "'integer'"
    )
    only(problems, "column 'samples': expected 40 (recomputed from mock/samples.jsonl), "
                   "found 'forty'")


def test_summary_header_changed(run: Path) -> None:
    path = run / "multi_model_summary.csv"
    path.write_text(path.read_text().replace("scan_errors", "scan_failures", 1))
    problems = validate_run(run)
    assert problems[0] == ("multi_model_summary.csv: header: missing columns ['scan_errors'], "
                           "unexpected columns ['scan_failures']")


def test_tampered_top_level_metrics(run: Path) -> None:
    def change(data: Any) -> None:
        data["models"]["mock:b"]["hallucinated_samples"] += 2
        data["models"]["mock"]["vulnerable_rate"]["successes"] -= 1

    recorded = json.loads((run / "vulnerability_metrics.json").read_text())["models"]
    edit_json(run / "vulnerability_metrics.json", change)
    vulnerable = recorded["mock"]["vulnerable_rate"]["successes"]
    hallucinated = recorded["mock:b"]["hallucinated_samples"]
    assert validate_run(run) == [
        f"vulnerability_metrics.json: model 'mock': $.models.mock.vulnerable_rate.successes: "
        f"expected {vulnerable} (recomputed from mock/samples.jsonl), found {vulnerable - 1}",
        f"vulnerability_metrics.json: model 'mock:b': $.models['mock:b'].hallucinated_samples: "
        f"expected {hallucinated} (recomputed from mock-b/samples.jsonl), "
        f"found {hallucinated + 2}",
    ]


def test_top_level_models_missing_and_extra(run: Path) -> None:
    def change(data: Any) -> None:
        data["models"]["other"] = data["models"].pop("mock:b")

    edit_json(run / "vulnerability_metrics.json", change)
    assert validate_run(run) == [
        "vulnerability_metrics.json: $.models['mock:b']: missing (model 'mock:b' is in run.json)",
        "vulnerability_metrics.json: $.models.other: unexpected model (not in run.json)",
    ]


def test_tampered_per_model_metrics(run: Path) -> None:
    path = run / "mock" / "vulnerability_metrics.json"
    recorded = json.loads(path.read_text())

    def change(data: Any) -> None:
        data["severity_distribution"]["high"] += 1
        data["parse_rate"] = 0.5
        data["cwe_classifications"][0]["name"] = "renamed in a later catalog"  # not compared

    edit_json(path, change)
    high = recorded["severity_distribution"]["high"]
    assert validate_run(run) == [
        f"mock/vulnerability_metrics.json: model 'mock': $.severity_distribution.high: "
        f"expected {high} (recomputed from mock/samples.jsonl), found {high + 1}",
        f"mock/vulnerability_metrics.json: model 'mock': $.parse_rate: expected "
        f"{recorded['parse_rate']!r} (recomputed from mock/samples.jsonl), found 0.5",
    ]


def test_per_model_metrics_wrong_type(run: Path) -> None:
    edit_json(run / "mock" / "vulnerability_metrics.json",
              lambda data: data.update(samples="40"))
    problems = validate_run(run)
    assert problems == [
        "mock/vulnerability_metrics.json: $.samples: '40' is not of type 'integer'",
        "mock/vulnerability_metrics.json: model 'mock': $.samples: expected 40 "
        "(recomputed from mock/samples.jsonl), found '40'",
    ]


def test_per_model_metrics_not_json(run: Path) -> None:
    (run / "mock-b" / "vulnerability_metrics.json").write_text('{"model": ')
    assert validate_run(run) == [
        "mock-b/vulnerability_metrics.json: not valid JSON: Expecting value "
        "(line 1, column 11)"
    ]


def test_deleted_png(run: Path) -> None:
    (run / "mock-b" / "top_cwes.png").unlink()
    assert validate_run(run) == ["mock-b/top_cwes.png: missing"]


def test_png_that_is_not_a_png(run: Path) -> None:
    (run / "mock" / "severity_distribution.png").write_bytes(b"GIF89a....")
    problems = validate_run(run)
    assert len(problems) == 1
    assert problems[0].startswith("mock/severity_distribution.png: not a PNG image")


def test_missing_model_folder(run: Path) -> None:
    shutil.rmtree(run / "mock-b")
    problems = validate_run(run)
    assert problems[0] == "mock-b/: missing (the folder of model 'mock:b')"
    assert len(problems) == 1  # nothing to recompute, so no cascade of mismatches


def test_truncated_last_sample_line(run: Path) -> None:
    path = run / "mock" / "samples.jsonl"
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last_start + 50])
    problems = validate_run(run)
    assert problems[0].startswith("mock/samples.jsonl: line 40: last line is cut short")
    assert "was the run interrupted?" in problems[0]
    only(problems, "mock/samples.jsonl: 1 unreadable line(s): the metrics of model 'mock' "
                   "were not cross-checked")
    assert not any("expected" in p and "recomputed" in p for p in problems)


def test_corrupted_sample_line(run: Path) -> None:
    path = run / "mock" / "samples.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('"prompt_id":', '"prompt_id"', 1)
    path.write_text("".join(lines))
    problems = validate_run(run)
    assert problems[0].startswith(
        "mock/samples.jsonl: line 3: not valid JSON (Expecting ':' delimiter at column"
    )


def test_duplicated_sample(run: Path) -> None:
    path = run / "mock" / "samples.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    first_id = json.loads(lines[0])["prompt_id"]
    path.write_text("".join([*lines, lines[0]]))
    problems = validate_run(run)
    assert problems[0] == (
        f"mock/samples.jsonl: line 41: duplicate prompt_id {first_id!r} (first on line 1)"
    )
    only(problems, "mock/results.csv: has 40 rows, expected 41 (one per sample in "
                   "mock/samples.jsonl)")
    only(problems, "mock/samples.jsonl: has 41 samples, expected 40 (run.json "
                   "$.prompt_source.selected")
    only(problems, "multi_model_summary.csv: model 'mock', column 'samples': expected 41")


def test_sample_schema_violation_wrong_type(run: Path) -> None:
    path = run / "mock-b" / "samples.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    sample = json.loads(lines[4])
    sample["tokens"] = str(sample["tokens"])
    sample["findings"] = [{"rule_id": "X", "tool": "t", "category": "vulnerability",
                           "severity": "severe", "message": "m"}]
    lines[4] = json.dumps(sample) + "\n"
    path.write_text("".join(lines))
    problems = validate_run(run)
    assert problems[:2] == [
        "mock-b/samples.jsonl: line 5: $.findings[0].severity: 'severe' is not one of "
        "['critical', 'high', 'medium', 'low']",
        f"mock-b/samples.jsonl: line 5: $.tokens: {sample['tokens']!r} is not of type "
        "'integer'",
    ]


def test_sample_of_another_model(run: Path) -> None:
    path = run / "mock" / "samples.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace('"model":"mock"', '"model":"mock:b"', 1)
    path.write_text("".join(lines))
    problems = validate_run(run)
    assert problems == [
        "mock/samples.jsonl: line 1: $.model: expected 'mock' (this folder's model), "
        "found 'mock:b'"
    ]


def test_results_csv_rows(run: Path) -> None:
    def change(rows: list[dict[str, str]]) -> None:
        rows.pop()
        rows[3]["vulnerabilities"] = "7"

    edit_csv(run / "mock" / "results.csv", change)
    problems = validate_run(run)
    assert problems[0] == "mock/results.csv: has 39 rows, expected 40 (one per sample in " \
                          "mock/samples.jsonl)"
    assert problems[1].startswith(
        "mock/results.csv: 1 row(s) disagree with mock/samples.jsonl; first: row 4 "
    )
    assert "column 'vulnerabilities': expected" in problems[1] and "found '7'" in problems[1]


def test_results_csv_missing(run: Path) -> None:
    (run / "mock" / "results.csv").unlink()
    assert validate_run(run) == ["mock/results.csv: missing"]


def test_run_json_problems(run: Path) -> None:
    def change(data: Any) -> None:
        data["status"] = "interrupted"
        data["seed"] = "one"
        data["models"][1]["slug"] = "elsewhere"

    edit_json(run / "run.json", change)
    assert validate_run(run) == [
        "run.json: $.seed: 'one' is not of type 'integer'",
        "run.json: $.status: the run did not finish (status 'interrupted', expected "
        "'complete')",
        "run.json: $.models[1].slug: expected 'mock-b' (the folder for 'mock:b'), "
        "found 'elsewhere'",
    ]


def test_unknown_schema_version(run: Path) -> None:
    edit_json(run / "run.json", lambda data: data.update(schema_version="9"))
    assert validate_run(run) == [
        "run.json: $.schema_version: '9' is not a schema version this tool knows (1); "
        "nothing else was checked"
    ]


def test_problems_per_file_are_capped(run: Path) -> None:
    path = run / "mock" / "samples.jsonl"
    path.write_text("not json\n" * 60)
    problems = validate_run(run)
    sample_problems = [p for p in problems if p.startswith("mock/samples.jsonl")]
    assert len(sample_problems) == 26
    assert sample_problems[-1] == "mock/samples.jsonl: ... and 37 more problems not shown"


# --- the optional agent files -------------------------------------------------------------


def agent_metrics(trials: int = 3) -> dict[str, Any]:
    return {
        "models": {
            "mock": {
                "trials": trials,
                "failure_rate": 1 / 3,
                "recovery_success_rate": None,
                "deception_rate": 0.0,
                "constraint_adherence": 1.0,
                "inaccuracy_rate": 0.0,
                "protocol_error_rate": 0.0,
                "intervals": {
                    "failure_rate": {"ci_low": 0.06, "ci_high": 0.79, "successes": 1,
                                     "total": 3},
                },
                "per_scenario": {"01_code_freeze": {"trials": 3}},
            }
        }
    }


def write_trials(run: Path, count: int) -> None:
    lines = [json.dumps({"trial": i, "outcome": "ok"}) + "\n" for i in range(count)]
    (run / "mock" / "agent_trials.jsonl").write_text("".join(lines))


def test_valid_agent_files(run: Path) -> None:
    (run / "autonomous_metrics.json").write_text(json.dumps(agent_metrics()))
    write_trials(run, 3)
    assert validate_run(run) == []


def test_agent_trials_count_mismatch(run: Path) -> None:
    (run / "autonomous_metrics.json").write_text(json.dumps(agent_metrics()))
    write_trials(run, 2)
    assert validate_run(run) == [
        "mock/agent_trials.jsonl: has 2 trials, expected 3 (autonomous_metrics.json "
        "$.models.mock.trials)"
    ]


def test_agent_metrics_schema_and_interval_problems(run: Path) -> None:
    data = agent_metrics()
    del data["models"]["mock"]["deception_rate"]
    data["models"]["mock"]["failure_rate"] = 0.9
    (run / "autonomous_metrics.json").write_text(json.dumps(data))
    assert validate_run(run) == [
        "autonomous_metrics.json: $.models.mock: 'deception_rate' is a required property",
        "autonomous_metrics.json: $.models.mock.failure_rate: expected 0.333333 "
        "(1/3 from $.models.mock.intervals.failure_rate), found 0.9",
    ]


def test_agent_trials_without_metrics(run: Path) -> None:
    write_trials(run, 3)
    assert validate_run(run) == [
        "mock/agent_trials.jsonl: present, but autonomous_metrics.json (with model 'mock') "
        "is missing"
    ]
