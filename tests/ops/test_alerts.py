"""alerts: rules from config, fire-once evaluation, alerts.json and a real webhook."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from safety_eval.ops import structured_logging as sl
from safety_eval.ops.alerts import (
    ALERTS_FILE,
    DEFAULT_RULES,
    METRICS,
    AlertEvaluator,
    AlertRule,
    AlertsConfig,
)
from safety_eval.ops.metrics import RunMetrics
from safety_eval.results.writers import iter_samples
from tests.ops.conftest import read_jsonl


class Hook:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self, status: int = 200, delay_s: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                hook.headers.append(dict(self.headers))
                time.sleep(delay_s)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token-123"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def test_defaults_are_the_three_documented_rules() -> None:
    config = AlertsConfig()
    assert config.rules == list(DEFAULT_RULES)
    assert [(r.metric, r.op, r.threshold, r.severity) for r in config.rules] == [
        ("vulnerability_rate", ">", 0.8, "critical"),
        ("gpu_memory_usage", ">", 0.95, "warning"),
        ("consecutive_failures", ">", 3, "critical"),
    ]
    assert config.webhook_url is None and config.webhook_timeout_s == 5


def test_rules_from_yaml_and_validation() -> None:
    text = """
    alerts:
      rules:
        - {metric: constraint_adherence, op: "<", threshold: 0.9, severity: warning}
        - {name: deceptive, metric: deception_rate, op: ">=", threshold: 0.1}
      webhook_url: https://hooks.example.invalid/T000/B000/XXXX
      webhook_timeout_s: 2
    """
    config = AlertsConfig.model_validate(yaml.safe_load(text)["alerts"])
    assert [r.name for r in config.rules] == ["constraint_adherence_lt_0.9", "deceptive"]
    assert config.rules[0].matches(0.5) and not config.rules[0].matches(0.95)
    # the webhook URL is a secret: it never shows in a dump of the configuration
    dumped = config.model_dump(mode="json")
    assert "XXXX" not in json.dumps(dumped)
    # ...and a configuration read back from run.json (resume) still validates
    assert AlertsConfig.model_validate(dumped).webhook_url is None
    with pytest.raises(ValidationError, match="metric"):
        AlertRule.model_validate({"metric": "vibes", "threshold": 1})
    with pytest.raises(ValidationError, match="named"):
        AlertsConfig.model_validate({"rules": [{"name": "a", "metric": "samples", "threshold": 1},
                                               {"name": "a", "metric": "trials", "threshold": 1}]})
    with pytest.raises(ValidationError, match="http"):
        AlertsConfig.model_validate({"webhook_url": "file:///etc/passwd"})
    with pytest.raises(ValidationError):
        AlertRule.model_validate({"metric": "samples", "threshold": float("nan")})
    assert "constraint_adherence" in METRICS


def test_each_rule_fires_once_per_model_and_is_recorded(tmp_path: Path) -> None:
    sl.configure("INFO", console=False)
    with sl.attach_run_log(tmp_path, "run-a"):
        evaluator = AlertEvaluator(AlertsConfig(), run_dir=tmp_path, run_id="run-a")
        assert evaluator.update("m1", {"consecutive_failures": 3, "samples": 3}) == []
        fired = evaluator.update("m1", {"consecutive_failures": 4, "samples": 4})
        assert [a.rule for a in fired] == ["consecutive_failures"]
        assert fired[0].value == 4 and fired[0].model == "m1" and fired[0].phase == "run"
        assert evaluator.update("m1", {"consecutive_failures": 9}) == []  # once per model
        assert [a.model for a in evaluator.update("m2", {"consecutive_failures": 5})] == ["m2"]
        # min_samples holds the vulnerability-rate rule back during the run...
        assert evaluator.update("m1", {"vulnerability_rate": 1.0, "samples": 2}) == []
        # ...but not at the final evaluation
        final = evaluator.finalize({"m1": {"vulnerability_rate": 1.0, "samples": 2},
                                    "m2": {"gpu_memory_usage": 0.99}})
    assert [(a.rule, a.model, a.phase) for a in final] == [
        ("high_vulnerability_rate", "m1", "final"), ("gpu_memory_pressure", "m2", "final")]
    document = json.loads((tmp_path / ALERTS_FILE).read_text())
    assert document["run_id"] == "run-a" and len(document["alerts"]) == 4
    assert {a["severity"] for a in document["alerts"]} == {"critical", "warning"}
    assert all(a["fired_at"] and a["delivered"] is None for a in document["alerts"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{ALERTS_FILE}")]
    logged = [r for r in read_jsonl(tmp_path / "run.log") if r["event"] == "alert fired"]
    assert len(logged) == 4
    assert logged[0]["level"] == "error" and logged[0]["rule"] == "consecutive_failures"
    assert all(r["run_id"] == "run-a" for r in logged)


def test_missing_values_and_disabled_config() -> None:
    evaluator = AlertEvaluator(AlertsConfig())
    assert evaluator.update("m", {"gpu_memory_usage": None, "vulnerability_rate": None}) == []
    off = AlertEvaluator(AlertsConfig(enabled=False))
    assert off.update("m", {"consecutive_failures": 100}) == []
    final_only = AlertsConfig(rules=[AlertRule(metric="samples", op="<", threshold=5,
                                               for_final_only=True)])
    evaluator = AlertEvaluator(final_only)
    assert evaluator.update("m", {"samples": 1}) == []
    assert len(evaluator.finalize({"m": {"samples": 1}})) == 1


def test_alerts_from_a_real_runs_metrics(mock_run: Path) -> None:
    metrics = RunMetrics(gpu_reader=None)
    rule = AlertRule(name="vuln", metric="vulnerability_rate", op=">", threshold=0.05,
                     severity="critical", min_samples=10)
    evaluator = AlertEvaluator(AlertsConfig(rules=[rule]), run_dir=mock_run)
    fired_at = None
    for index, sample in enumerate(iter_samples(mock_run / "mock" / "samples.jsonl"), 1):
        metrics.observe_sample("mock", sample)
        if evaluator.update("mock", metrics.alert_values("mock")):
            fired_at = index
    assert fired_at == 10  # the first evaluation with enough samples
    stored = json.loads((mock_run / ALERTS_FILE).read_text())["alerts"]
    assert stored[0]["rule"] == "vuln" and stored[0]["value"] > 0.05


def test_webhook_receives_each_alert_as_json(tmp_path: Path, hook: Hook) -> None:
    config = AlertsConfig(webhook_url=hook.url, webhook_timeout_s=5)
    evaluator = AlertEvaluator(config, run_dir=tmp_path, run_id="run-w")
    evaluator.update("mock", {"consecutive_failures": 7})
    evaluator.finalize({"mock": {"vulnerability_rate": 0.9, "samples": 50}})
    assert [(b["rule"], b["model"], b["value"]) for b in hook.bodies] == [
        ("consecutive_failures", "mock", 7.0), ("high_vulnerability_rate", "mock", 0.9)]
    assert hook.bodies[0]["run_id"] == "run-w" and hook.bodies[0]["severity"] == "critical"
    assert hook.headers[0]["Content-Type"] == "application/json"
    document = json.loads((tmp_path / ALERTS_FILE).read_text())
    assert [a["delivered"] for a in document["alerts"]] == [True, True]
    assert document["webhook"] is True
    assert "secret-token-123" not in (tmp_path / ALERTS_FILE).read_text()


@pytest.mark.parametrize("status", [500, 404])
def test_webhook_errors_are_logged_never_raised(tmp_path: Path, status: int) -> None:
    server = Hook(status=status)
    try:
        sl.configure("INFO", console=False)
        with sl.attach_run_log(tmp_path, "run-e"):
            evaluator = AlertEvaluator(AlertsConfig(webhook_url=server.url),
                                       run_dir=tmp_path)
            evaluator.update("m", {"consecutive_failures": 10})
            evaluator.finalize({})
    finally:
        server.close()
    alert = json.loads((tmp_path / ALERTS_FILE).read_text())["alerts"][0]
    assert alert["delivered"] is False and alert["delivery_error"] == f"HTTP {status}"
    failures = [r for r in read_jsonl(tmp_path / "run.log")
                if r["event"] == "alert webhook failed"]
    assert len(failures) == 1
    log_text = (tmp_path / "run.log").read_text()
    assert "secret-token-123" not in log_text  # the URL's path (a token) is not logged


def test_unreachable_webhook_does_not_crash(tmp_path: Path) -> None:
    server = Hook()
    url = server.url
    server.close()  # nothing listens there any more
    evaluator = AlertEvaluator(AlertsConfig(webhook_url=url, webhook_timeout_s=1),
                               run_dir=tmp_path)
    evaluator.update("m", {"consecutive_failures": 10})
    evaluator.finalize({})
    alert = json.loads((tmp_path / ALERTS_FILE).read_text())["alerts"][0]
    assert alert["delivered"] is False and "ConnectError" in alert["delivery_error"]


def test_a_slow_webhook_never_slows_the_run(tmp_path: Path) -> None:
    server = Hook(delay_s=3)
    try:
        evaluator = AlertEvaluator(AlertsConfig(webhook_url=server.url, webhook_timeout_s=0.5),
                                   run_dir=tmp_path)
        started = time.perf_counter()
        evaluator.update("m", {"consecutive_failures": 10})
        assert time.perf_counter() - started < 0.3  # delivery happens in the background
        evaluator.finalize({})
    finally:
        server.close()
    alert = json.loads((tmp_path / ALERTS_FILE).read_text())["alerts"][0]
    assert alert["delivered"] is False and "Timeout" in alert["delivery_error"]


def test_min_samples_counts_trials_for_trial_rates() -> None:
    rule = AlertRule(name="deceit", metric="deception_rate", op=">", threshold=0.5,
                     min_samples=3)
    evaluator = AlertEvaluator(AlertsConfig(rules=[rule]))
    assert evaluator.update("m", {"deception_rate": 1.0, "trials": 2, "samples": 100}) == []
    assert len(evaluator.update("m", {"deception_rate": 1.0, "trials": 3, "samples": 0})) == 1
