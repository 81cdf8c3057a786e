"""Interrupted runs continue with --resume: nothing lost, nothing duplicated, same metrics."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safety_eval.results.writers import truncate_partial_line
from tests.pipeline.conftest import cli

TIMING_KEYS = {"mean_latency_s", "tokens_per_s"}


def _start(out: Path, size: int = 60) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_EVAL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "safety_eval.cli", "run", "-m", "mock:slow", "--size", str(size),
         "--seed", "5", "--batch", "--output", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _wait_for_samples(out: Path, at_least: int, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(out.glob("run_*/mock-slow/samples.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= at_least:
            return found[0].parent.parent
        time.sleep(0.05)
    raise AssertionError("the run never produced samples")


def _metrics(run_dir: Path) -> dict[str, object]:
    data = json.loads((run_dir / "vulnerability_metrics.json").read_text())["models"]
    for model in data.values():
        for key in TIMING_KEYS:
            model.pop(key)
    return data


def _summary(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "multi_model_summary.csv").open() as handle:
        return [{k: v for k, v in row.items() if k not in TIMING_KEYS}
                for row in csv.DictReader(handle)]


def _ids(run_dir: Path) -> list[str]:
    lines = (run_dir / "mock-slow" / "samples.jsonl").read_text().splitlines()
    return [json.loads(line)["prompt_id"] for line in lines]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref")
    result = cli("run", "-m", "mock:slow", "--size", "60", "--seed", "5", "--batch",
                 "--output", str(out))
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def test_kill_9_then_resume(tmp_path: Path, reference: Path) -> None:
    proc = _start(tmp_path)
    run_dir = _wait_for_samples(tmp_path, 10)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    samples = run_dir / "mock-slow" / "samples.jsonl"
    before = len(samples.read_text().splitlines())
    assert 10 <= before < 60
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    # a crash in the middle of a write leaves half a line behind
    with samples.open("a") as handle:
        handle.write('{"schema_version": "1", "prompt_id": "SE-')

    result = cli("run", "--resume", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(run_dir)
    ids = _ids(run_dir)
    assert len(ids) == 60 and len(set(ids)) == 60
    assert sorted(ids) == sorted(_ids(reference))
    assert ids[:before] == _ids(reference)[:before]  # finished samples were not redone
    assert _metrics(run_dir) == _metrics(reference)
    assert _summary(run_dir) == _summary(reference)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["attempts"]) == 2
    assert manifest["timings"]["models"]["mock:slow"]["resumed_samples"] == before


def test_ctrl_c_marks_the_run_interrupted_and_resume_finishes_it(tmp_path: Path,
                                                                   reference: Path) -> None:
    proc = _start(tmp_path)
    run_dir = _wait_for_samples(tmp_path, 5)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert cli("run", "--resume", str(run_dir)).returncode == 0
    assert _metrics(run_dir) == _metrics(reference)


def test_resuming_a_complete_run_changes_nothing(reference: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / reference.name
    shutil.copytree(reference, copy)
    result = cli("run", "--resume", str(copy))
    assert result.returncode == 0, result.stderr
    assert _ids(copy) == _ids(reference)
    assert _metrics(copy) == _metrics(reference)


def test_resume_of_a_non_run_is_refused(tmp_path: Path) -> None:
    result = cli("run", "--resume", str(tmp_path))
    assert result.returncode == 2 and "not a run directory" in result.stderr
    result = cli("run", "--resume", str(tmp_path / "missing"))
    assert result.returncode == 2 and "no such run directory" in result.stderr


def test_truncate_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n{"c": ')
    assert truncate_partial_line(path) is True
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n'
    assert truncate_partial_line(path) is False
    path.write_text('{"only": ')
    assert truncate_partial_line(path) is True and path.read_text() == ""


def test_rescan_reuses_replies_and_reproduces_metrics(reference: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / reference.name
    shutil.copytree(reference, copy)
    samples = copy / "mock-slow" / "samples.jsonl"
    # wipe the findings, as an older detector that found nothing would have left them
    stale = [json.loads(line) for line in samples.read_text().splitlines()]
    for sample in stale:
        sample["findings"] = []
    samples.write_text("".join(json.dumps(s) + "\n" for s in stale))
    result = cli("rescan", str(copy))
    assert result.returncode == 0, result.stderr
    assert _metrics(copy) == _metrics(reference)
    assert _summary(copy) == _summary(reference)  # agent columns included
    assert [json.loads(x)["completion"] for x in samples.read_text().splitlines()] == [
        json.loads(x)["completion"]
        for x in (reference / "mock-slow" / "samples.jsonl").read_text().splitlines()
    ]
    assert len(json.loads((copy / "run.json").read_text())["rescans"]) == 1


def test_generations_file_is_evaluated_without_a_model(tmp_path: Path) -> None:
    gens = tmp_path / "gens.jsonl"
    rows = [
        {"prompt_id": "p1", "model": "gpt-x", "prompt": "run a command",
         "completion": "```python\nimport os\nos.system(cmd)\n```"},
        {"prompt_id": "p2", "model": "gpt-x", "prompt": "add numbers",
         "completion": "```python\ndef add(a, b):\n    return a + b\n```"},
        {"prompt_id": "p1", "model": "other", "prompt": "run a command",
         "completion": "I would rather not."},
    ]
    gens.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = cli("run", "--generations", str(gens), "--output", str(tmp_path / "o"), "--batch")
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    with (run_dir / "multi_model_summary.csv").open() as handle:
        summary = {r["model"]: r for r in csv.DictReader(handle)}
    assert set(summary) == {"gpt-x", "other"}
    assert summary["gpt-x"]["samples"] == "2" and summary["gpt-x"]["vulnerable_samples"] == "1"
    other = [json.loads(x) for x in (run_dir / "other" / "samples.jsonl").read_text().split("\n")
             if x]
    assert other[0]["error"] is None and other[0]["code"] == ""


def test_bad_generations_file(tmp_path: Path) -> None:
    gens = tmp_path / "gens.jsonl"
    gens.write_text('{"prompt_id": "p1", "model": "m"}\n')
    result = cli("run", "--generations", str(gens), "--batch", "--output", str(tmp_path))
    assert result.returncode == 2 and "gens.jsonl, line 1" in result.stderr
    assert "completion" in result.stderr
