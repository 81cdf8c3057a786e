"""metrics: a per-run registry, textfile output and a real HTTP scrape."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from safety_eval.agent import Trial
from safety_eval.ops.metrics import GpuReading, RunMetrics, read_gpu_memory
from safety_eval.results.writers import iter_samples


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _fed(run_dir: Path, gpu: list[GpuReading] | None = None) -> RunMetrics:
    metrics = RunMetrics("run-x", "medium", gpu_reader=(lambda: gpu) if gpu is not None else None)
    for sample in iter_samples(run_dir / "mock" / "samples.jsonl"):
        metrics.observe_sample("mock", sample)
    for line in (run_dir / "mock" / "agent_trials.jsonl").read_text().splitlines():
        metrics.observe_trial("mock", Trial.model_validate_json(line))
    return metrics


def test_counts_match_the_runs_own_metrics(mock_run: Path) -> None:
    metrics = _fed(mock_run)
    expected = json.loads((mock_run / "mock" / "vulnerability_metrics.json").read_text())
    values = _values(metrics.exposition().decode())
    model = (("model", "mock"),)
    assert values[("safety_eval_samples_total", model)] == expected["samples"]
    assert values[("safety_eval_vulnerable_samples_total", model)] == expected[
        "vulnerable_samples"]
    for severity, count in expected["severity_distribution"].items():
        key = ("safety_eval_findings_total", (("model", "mock"), ("severity", severity)))
        assert values[key] == count
    assert values[("safety_eval_generation_latency_seconds_count", model)] == expected["samples"]
    assert values[("safety_eval_run_info", (("run_id", "run-x"),))] == 1
    trials = sum(v for (name, _), v in values.items() if name == "safety_eval_agent_trials_total")
    assert trials == 2
    alert = metrics.alert_values("mock")
    assert alert["vulnerability_rate"] == pytest.approx(expected["vulnerable_rate"]["value"])
    assert alert["hallucination_rate"] == pytest.approx(expected["hallucination_rate"])
    assert alert["samples"] == expected["samples"] and alert["trials"] == 2
    assert alert["gpu_memory_usage"] is None
    # nothing leaked into the process-global registry
    assert REGISTRY.get_sample_value("safety_eval_samples_total", {"model": "mock"}) is None


def test_registries_are_per_run(mock_run: Path) -> None:
    first, second = _fed(mock_run), RunMetrics("other", gpu_reader=None)
    assert "mock" in first.models and second.models == []
    assert 'model="mock"' not in second.exposition().decode()


def test_failures_and_consecutive_failures() -> None:
    metrics = RunMetrics(gpu_reader=None)
    ok = {"findings": [], "hallucinations": [], "latency_s": 0.5, "tokens": 10}
    bad = {**ok, "error": "timeout", "latency_s": 0.0, "tokens": 0}
    scan = {**ok, "scan_errors": [{"source": "bandit", "message": "x"}]}
    for record in (ok, bad, bad, bad, bad):
        metrics.observe_sample("m", record)
    assert metrics.alert_values("m")["consecutive_failures"] == 4
    metrics.observe_sample("m", scan)
    metrics.observe_trial("m", {"error": "agent crashed"})
    metrics.observe_failure("m", "backend")
    values = _values(metrics.exposition().decode())
    failures = {dict(labels)["kind"]: v for (name, labels), v in values.items()
                if name == "safety_eval_failures_total"}
    assert failures == {"generation": 4, "scan": 1, "trial": 1, "backend": 1}
    assert values[("safety_eval_consecutive_failures", (("model", "m"),))] == 2
    assert metrics.alert_values("m")["generation_error_rate"] == pytest.approx(4 / 6)
    assert values[("safety_eval_tokens_per_second", (("model", "m"),))] == pytest.approx(20.0)


def test_trial_outcomes_and_rates() -> None:
    metrics = RunMetrics(gpu_reader=None)
    base = {"failed": False, "recovered": False, "deceptive": False,
            "constraint_violations": [], "error": None}
    metrics.observe_trial("a", base)
    metrics.observe_trial("a", {**base, "failed": True, "deceptive": True,
                                "constraint_violations": ["no_writes: x"]})
    metrics.observe_trial("a", {**base, "failed": True, "recovered": True})
    metrics.observe_trial("a", {**base, "error": "boom"})
    values = _values(metrics.exposition().decode())
    outcomes = {dict(labels)["outcome"]: v for (name, labels), v in values.items()
                if name == "safety_eval_agent_trials_total"}
    assert outcomes == {"passed": 1, "failed": 1, "recovered": 1, "error": 1}
    alert = metrics.alert_values("a")
    assert alert["failure_rate"] == pytest.approx(2 / 3)
    assert alert["deception_rate"] == pytest.approx(1 / 3)
    assert alert["constraint_adherence"] == pytest.approx(2 / 3)
    assert alert["recovery_success_rate"] == pytest.approx(1 / 2)


def test_textfile_is_written_atomically_and_parses(mock_run: Path) -> None:
    metrics = _fed(mock_run)
    path = metrics.write_textfile(mock_run / "metrics.prom")
    assert path == mock_run / "metrics.prom"
    text = path.read_text(encoding="utf-8")
    assert "# TYPE safety_eval_samples_total counter" in text
    assert _values(text)[("safety_eval_samples_total", (("model", "mock"),))] == 20
    assert not [p for p in mock_run.iterdir() if p.name.startswith(".metrics.prom")]


def test_http_endpoint_is_scraped_over_real_http(mock_run: Path) -> None:
    metrics = _fed(mock_run)
    server = metrics.serve(0)
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        assert server.server.server_address[0] == "127.0.0.1"
        response = httpx.get(server.url, timeout=5)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        values = _values(response.text)
        assert values[("safety_eval_samples_total", (("model", "mock"),))] == 20
        critical = ("safety_eval_findings_total", (("model", "mock"), ("severity", "critical")))
        before = values[critical]
        # later observations show up in the next scrape
        metrics.observe_sample("mock", {"findings": [{"severity": "critical"}],
                                        "hallucinations": [], "latency_s": 1.0, "tokens": 5})
        values = _values(httpx.get(server.url, timeout=5).text)
        assert values[("safety_eval_samples_total", (("model", "mock"),))] == 21
        assert values[critical] == before + 1
    finally:
        server.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url, timeout=2)
    with socket.socket() as sock:  # the port is free again (TIME_WAIT aside)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", server.port))


def test_gpu_gauges_come_from_the_reader() -> None:
    reading = GpuReading("cuda:0", used_bytes=96 * 2**30, total_bytes=100 * 2**30)
    metrics = RunMetrics(gpu_reader=lambda: [reading])
    values = _values(metrics.exposition().decode())
    assert values[("safety_eval_gpu_memory_used_bytes", (("device", "cuda:0"),))] == 96 * 2**30
    assert values[("safety_eval_gpu_memory_total_bytes", (("device", "cuda:0"),))] == 100 * 2**30
    assert metrics.alert_values("any")["gpu_memory_usage"] == pytest.approx(0.96)


def test_no_gpu_means_no_gpu_families() -> None:
    metrics = RunMetrics(gpu_reader=lambda: [])
    assert "gpu_memory" not in metrics.exposition().decode()
    assert metrics.gpu_memory_usage() is None


def test_real_gpu_reader_never_fails() -> None:
    readings = read_gpu_memory()
    assert isinstance(readings, list)
    for reading in readings:  # only on a machine with a GPU
        assert 0 <= reading.used_bytes <= reading.total_bytes


def test_unknown_threshold_is_refused() -> None:
    with pytest.raises(ValueError):
        RunMetrics(severity_threshold="severe")


def test_textfile_is_readable_by_a_collector(tmp_path: Path) -> None:
    path = RunMetrics(gpu_reader=None).write_textfile(tmp_path / "sub" / "metrics.prom")
    assert path.stat().st_mode & 0o044 == 0o044  # group and others may read it
