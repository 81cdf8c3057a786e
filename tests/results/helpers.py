"""Make real run directories with the mock backend, through the real console entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def real_run(out: Path, *models: str, seed: int = 1, size: int = 40, trials: int = 0) -> Path:
    """``safety-eval run --model ... --batch``; the run directory it printed last.

    Agent trials are off unless asked for: the tests that need agent files write them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_EVAL_")}
    args = [sys.executable, "-m", "safety_eval.cli", "run"]
    for model in models or ("mock",):
        args += ["--model", model]
    args += ["--size", str(size), "--output", str(out), "--batch", "--seed", str(seed),
             "--trials", str(trials)]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert run_dir.is_dir(), result.stdout
    return run_dir
