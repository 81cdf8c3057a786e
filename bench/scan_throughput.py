"""Scanning throughput: the whole engine vs bandit in-process vs bandit's CLI per file.

    python bench/scan_throughput.py [--samples 600] [--cli-samples 20] [--workers 2]

Everything is measured in this one run, on the same generated ~30-line samples, and
printed as samples/second with ratios against the baselines.
"""

from __future__ import annotations

import argparse
import io
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import make_samples

from safety_eval.analysis.engine import analyze_parallel, default_engine


def bare_bandit(samples: list[str]) -> float:
    """bandit's own manager in-process, one reused manager, nothing else."""
    from bandit.core import config as b_config
    from bandit.core import manager as b_manager

    logging.getLogger("bandit").setLevel(logging.CRITICAL)
    manager = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True)
    started = time.perf_counter()
    for text in samples:
        manager.results, manager.scores, manager.skipped = [], [], []
        manager._parse_file("<s>", io.BytesIO(text.encode()), ["<s>"])
    return len(samples) / (time.perf_counter() - started)


def bandit_cli(samples: list[str]) -> float:
    """One ``bandit`` process per file, the way many evaluation scripts call it."""
    exe = str(Path(sys.executable).with_name("bandit"))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, text in enumerate(samples):
            path = Path(tmp) / f"s{i}.py"
            path.write_text(text)
            paths.append(path)
        started = time.perf_counter()
        for path in paths:
            subprocess.run([exe, "-q", "-f", "json", str(path)], capture_output=True, check=False)
        return len(samples) / (time.perf_counter() - started)


def engine_rate(samples: list[str], workers: int) -> float:
    if workers <= 1:
        engine = default_engine()
        engine.analyze_many(samples[:5])  # warm: imports, index load
        started = time.perf_counter()
        for i in range(0, len(samples), 64):
            engine.analyze_many(samples[i : i + 64])
        return len(samples) / (time.perf_counter() - started)
    started = time.perf_counter()
    analyze_parallel(samples, workers=workers)
    return len(samples) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--cli-samples", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    samples = make_samples(args.samples)
    lines = sum(s.count("\n") for s in samples) / len(samples)
    print(f"{len(samples)} samples, {lines:.1f} lines each on average")
    bandit_rate = bare_bandit(samples)
    cli_rate = bandit_cli(samples[: args.cli_samples])
    one = engine_rate(samples, 1)
    many = engine_rate(samples, args.workers)
    rows = [
        ("bandit CLI, one process per file", cli_rate),
        ("bandit in-process (bare)", bandit_rate),
        ("safety-eval engine, 1 process", one),
        (f"safety-eval engine, {args.workers} processes", many),
    ]
    for name, value in rows:
        print(f"  {name:<38} {value:9.1f} samples/s")
    best = max(one, many)
    print(f"engine / bandit in-process: {best / bandit_rate:.2f}x (target >= 0.5x)")
    print(f"engine / bandit CLI per file: {best / cli_rate:.0f}x (target >= 50x)")


if __name__ == "__main__":
    main()
