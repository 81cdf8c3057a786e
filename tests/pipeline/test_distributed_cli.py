"""``safety-eval run --distributed`` (a real local Ray cluster) equals a local run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.conftest import cli

pytest.importorskip("ray", reason="make test installs the ray extra")


def _samples(run_dir: Path) -> list[dict[str, object]]:
    rows = [json.loads(x) for x in (run_dir / "mock" / "samples.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("latency_s")
    return sorted(rows, key=lambda r: str(r["prompt_id"]))


def test_distributed_run_matches_local(tmp_path: Path) -> None:
    args = ["run", "-m", "mock", "--size", "30", "--trials", "2", "--seed", "8", "--batch"]
    local = cli(*args, "--output", str(tmp_path / "local"))
    ray = cli(*args, "--distributed", "--output", str(tmp_path / "ray"))
    assert local.returncode == 0 and ray.returncode == 0, ray.stderr
    local_dir = Path(local.stdout.strip().splitlines()[-1])
    ray_dir = Path(ray.stdout.strip().splitlines()[-1])
    assert _samples(local_dir) == _samples(ray_dir)
    for name in ("vulnerability_metrics.json", "autonomous_metrics.json"):
        a = json.loads((local_dir / name).read_text())["models"]["mock"]
        b = json.loads((ray_dir / name).read_text())["models"]["mock"]
        for key in ("mean_latency_s", "tokens_per_s"):
            a.pop(key, None)
            b.pop(key, None)
        assert a == b, name
    assert json.loads((ray_dir / "run.json").read_text())["config"]["distributed"] is True
