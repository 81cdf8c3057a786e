"""structured_logging: JSON lines in run.log, readable console, run_id/model context."""

from __future__ import annotations

import io
import json
import logging
import threading
from pathlib import Path

import pytest

from safety_eval.config import RunConfig
from safety_eval.ops import structured_logging as sl
from tests.ops.conftest import read_jsonl


def test_every_event_is_a_json_line_with_run_id_and_model(tmp_path: Path) -> None:
    console = io.StringIO()
    sl.configure("DEBUG", stream=console)
    handle = sl.attach_run_log(tmp_path, "run123")
    log = sl.get_logger("safety_eval.test")
    log.info("structlog event", answer=42)
    with sl.bind_model("mock"):
        logging.getLogger("safety_eval.run").info("stdlib %s has %d samples", "mock", 3)
        log.warning("inside the model")
    logging.getLogger("safety_eval.run").debug("after the model")
    handle.close()

    lines = (tmp_path / "run.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 4
    for record in records:
        assert record["run_id"] == "run123"
        assert "model" in record
        assert {"timestamp", "level", "logger", "event"} <= record.keys()
    assert records[0]["event"] == "structlog event" and records[0]["answer"] == 42
    assert records[0]["model"] is None
    assert records[1] == records[1] | {"event": "stdlib mock has 3 samples", "model": "mock",
                                       "level": "info", "logger": "safety_eval.run"}
    assert records[2]["model"] == "mock" and records[2]["level"] == "warning"
    assert records[3]["model"] is None and records[3]["level"] == "debug"
    # the console is human-readable, not JSON
    text = console.getvalue()
    assert "INFO stdlib mock has 3 samples model=mock" in text
    assert not text.lstrip().startswith("{")


def test_log_level_filters_both_outputs(tmp_path: Path) -> None:
    console = io.StringIO()
    sl.configure("warning", stream=console)
    with sl.attach_run_log(tmp_path, "r1"):
        sl.get_logger("x").info("hidden")
        logging.getLogger("safety_eval.x").warning("shown")
    records = read_jsonl(tmp_path / "run.log")
    assert [r["event"] for r in records] == ["shown"]
    assert records[0]["logger"] == "safety_eval.x"
    assert "hidden" not in console.getvalue() and "shown" in console.getvalue()
    with pytest.raises(ValueError):
        sl.configure("LOUD")


def test_get_logger_names_live_under_safety_eval(tmp_path: Path) -> None:
    sl.configure("INFO", console=False)
    with sl.attach_run_log(tmp_path, "r2"):
        sl.get_logger("metrics").info("one")
    assert read_jsonl(tmp_path / "run.log")[0]["logger"] == "safety_eval.metrics"


def test_exceptions_are_plain_text_without_locals(tmp_path: Path) -> None:
    sl.configure("INFO", stream=io.StringIO())
    with sl.attach_run_log(tmp_path, "r3"):
        secret_local = "do-not-print-me"  # noqa: F841 - must not appear in the log
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            sl.get_logger("t").exception("structlog failure")
            logging.getLogger("safety_eval.t").exception("stdlib failure")
    records = read_jsonl(tmp_path / "run.log")
    assert [r["level"] for r in records] == ["error", "error"]
    for record in records:
        assert "RuntimeError: boom" in str(record["exception"])
        assert "do-not-print-me" not in json.dumps(record)


def test_closing_detaches_and_unbinds(tmp_path: Path) -> None:
    sl.configure("INFO", console=False)
    handle = sl.attach_run_log(tmp_path / "a", "first")
    assert sl.bound_context()["run_id"] == "first"
    handle.close()
    handle.close()  # idempotent
    assert "run_id" not in sl.bound_context()
    sl.get_logger("t").info("not in the closed log")
    with sl.attach_run_log(tmp_path / "a", "second"):  # a resumed run appends
        sl.get_logger("t").info("resumed")
    records = read_jsonl(tmp_path / "a" / "run.log")
    assert [(r["run_id"], r["event"]) for r in records] == [("second", "resumed")]


def test_threads_get_the_run_id_and_current_model(tmp_path: Path) -> None:
    sl.configure("INFO", console=False)
    with sl.attach_run_log(tmp_path, "r4"), sl.bind_model("openai:x@http://h/v1"):
        worker = threading.Thread(
            target=lambda: logging.getLogger("safety_eval.pool").info("from a worker"))
        worker.start()
        worker.join()
    record = read_jsonl(tmp_path / "run.log")[0]
    assert record["run_id"] == "r4" and record["model"] == "openai:x@http://h/v1"


def test_the_runner_logs_reach_run_log(tmp_path: Path) -> None:
    """The runner's stdlib records (unchanged code) land in run.log with its run_id."""
    from safety_eval.pipeline.runner import Runner

    sl.configure("INFO", console=False)
    cfg = RunConfig(models=["mock"], size="4", trials=1, output=tmp_path / "out", progress=False)
    runner = Runner(cfg)
    with sl.attach_run_log(tmp_path / "logs", runner.run_id), sl.bind_model("mock"):
        runner.run()
    records = read_jsonl(tmp_path / "logs" / "run.log")
    assert records, "the runner logged nothing"
    assert all(r["run_id"] == runner.run_id and r["model"] == "mock" for r in records)
    assert any(str(r["event"]).startswith(f"run {runner.run_id}") for r in records)
