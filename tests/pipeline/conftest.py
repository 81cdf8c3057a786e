from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli(
    *args: str,
    cwd: Path | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess (real exit codes and streams)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_EVAL_")}
    if "SAFETY_EVAL_MODEL_CACHE_DIR" in os.environ:
        full_env["SAFETY_EVAL_MODEL_CACHE_DIR"] = os.environ["SAFETY_EVAL_MODEL_CACHE_DIR"]
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "safety_eval.cli", *args],
        cwd=cwd, input=input, capture_output=True, text=True, env=full_env, timeout=timeout,
    )


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"
