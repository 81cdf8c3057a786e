"""Fixtures: one real mock run per session, copied for each test that changes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.report.helpers import (
    append_sample,
    cli_run,
    hostile_sample,
    poison_run_files,
    write_agent_files,
)


@pytest.fixture(scope="session")
def _report_template_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cli_run(tmp_path_factory.mktemp("report-template"), "mock", size=20)


@pytest.fixture
def report_real_run(_report_template_run: Path, tmp_path: Path) -> Path:
    """A private copy of a real 20-prompt mock run, exactly as the CLI wrote it."""
    target = tmp_path / "run"
    shutil.copytree(_report_template_run, target)
    return target


@pytest.fixture
def report_run(report_real_run: Path) -> Path:
    """The real run without any autonomous-agent files (the vulnerability part only)."""
    (report_real_run / "autonomous_metrics.json").unlink(missing_ok=True)
    for trials in report_real_run.glob("*/agent_trials.jsonl"):
        trials.unlink()
    return report_real_run


@pytest.fixture
def hostile_report_run(report_run: Path) -> Path:
    """The mock run with hostile samples, config, metrics, summary and agent files."""
    append_sample(report_run, "mock", hostile_sample())
    poison_run_files(report_run)
    write_agent_files(report_run)
    return report_run
