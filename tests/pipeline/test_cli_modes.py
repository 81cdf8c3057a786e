"""Dry runs, interactive size selection, the compatibility script, scan and doctor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.pipeline.conftest import REPO, cli


def test_dry_run_generates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = cli("run", "-m", "mock", "--dry-run", "--output", str(out), "--batch")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("dry run OK: 16 prompts x 1 models")
    assert "model mock: OK" in result.stderr
    assert not list(out.glob("run_*"))


def test_interactive_asks_for_size_and_shows_counts(tmp_path: Path) -> None:
    result = cli("run", "-m", "mock", "--interactive", "--output", str(tmp_path),
                 input="medium\n")
    assert result.returncode == 0, result.stderr
    assert "Which dataset size" in result.stderr
    assert "small" in result.stderr and "16 prompts" in result.stderr
    assert "60 prompts" in result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert len((run_dir / "mock" / "samples.jsonl").read_text().splitlines()) == 60


def test_batch_never_asks(tmp_path: Path) -> None:
    result = cli("run", "-m", "mock", "--batch", "--output", str(tmp_path), input="")
    assert result.returncode == 0 and "Which dataset size" not in result.stderr


def _compat(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "model-evaluation.py"), *args], cwd=cwd,
                          capture_output=True, text=True, input=input, timeout=300)


def test_compat_script_with_a_count(tmp_path: Path) -> None:
    result = _compat("12", "--model", "mock", "--output", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert len((run_dir / "mock" / "samples.jsonl").read_text().splitlines()) == 12


def test_compat_nohup_logs_to_the_run_dir_and_never_asks(tmp_path: Path) -> None:
    result = _compat("nohup", "5", "--model", "mock", "--output", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert "Which dataset size" not in result.stderr
    log = (run_dir / "run.log").read_text()
    assert "prompts x 1 models" in log


def test_compat_dry_run_verbose(tmp_path: Path) -> None:
    result = _compat("--dry-run", "--verbose", "--model", "mock", "--dataset-size", "small",
                     "--output", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "dry run OK" in result.stdout


def test_compat_translation() -> None:
    sys.path.insert(0, str(REPO))
    try:
        import importlib

        compat = importlib.import_module("model-evaluation")
    finally:
        sys.path.remove(str(REPO))
    assert compat.translate([]) == ["run"]
    assert compat.translate(["50"]) == ["run", "--size", "50"]
    assert compat.translate(["nohup"]) == ["run", "--batch", "--no-progress"]
    assert compat.translate(["--config", "c.yaml", "--log-level", "WARNING", "--batch"]) == [
        "run", "--batch", "--log-level", "WARNING", "--config", "c.yaml"]


def test_scan_json_and_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("import subprocess\nsubprocess.call(cmd, shell=True)\n")
    (tmp_path / "ok.py").write_text("x = 1\n")
    result = cli("scan", str(tmp_path), "--format", "json")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    by_name = {Path(f["path"]).name: f for f in payload["files"]}
    assert by_name["ok.py"]["findings"] == [] and by_name["ok.py"]["parsed"] is True
    assert any(f["cwe"] == "CWE-78" for f in by_name["bad.py"]["findings"])
    clean = cli("scan", str(tmp_path / "ok.py"))
    assert clean.returncode == 0
    missing = cli("scan", str(tmp_path / "none.py"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_doctor_reports_model_and_disk() -> None:
    result = cli("doctor")
    assert "embedded model parts" in result.stdout
    assert "disk space" in result.stdout and "GPU" in result.stdout
    assert "write permission" in result.stdout and "Ray cluster" in result.stdout
    assert "semgrep" in result.stdout
