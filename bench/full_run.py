"""The whole pipeline at production scale: 30,886 prompts through the mock model.

    python bench/full_run.py [--prompts 30886] [--keep]

Builds a 30,886-row prompt CSV (variants of the built-in prompts), then runs
``safety-eval run --model mock --size full --trials 0`` as a child process and reports
its wall time and peak memory (the main process, and the whole process tree with the
scanning workers), sampled from /proc every 0.1 s. As a baseline in the same run it
times the same command on 1,000 prompts and prints the per-prompt ratio.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from safety_eval.prompts import load_builtin

TARGET_S = 120.0
TARGET_MB = 500.0


def make_csv(path: Path, n: int) -> None:
    base = load_builtin()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt_id", "content", "category", "complexity", "cwe"])
        for i in range(n):
            p = base[i % len(base)]
            variant = i // len(base)
            content = p.content if variant == 0 else f"{p.content} (variant {variant})"
            writer.writerow([f"P{i:06d}", content, p.category, p.complexity or "", p.cwe or ""])


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared pages split between the processes sharing them, so
    the sum over a process tree is its real memory (RSS would count them once per worker)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(x) for x in handle.read().split()]
    except OSError:
        return []


def measure(args: list[str]) -> tuple[float, float, float, str]:
    """(wall s, peak main RSS MB, peak tree PSS MB, last stdout line)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak_main = peak_tree = 0
    while proc.poll() is None:
        main = _rss_kb(proc.pid)
        tree = _pss_kb(proc.pid) + sum(_pss_kb(c) for c in _children(proc.pid))
        peak_main, peak_tree = max(peak_main, main), max(peak_tree, tree)
        time.sleep(0.1)
    wall = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"run failed with exit code {proc.returncode}")
    return wall, peak_main / 1024, peak_tree / 1024, out.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=30886)
    parser.add_argument("--baseline", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="safety-eval-bench-") as tmp:
        big = Path(tmp) / "prompts.csv"
        make_csv(big, args.prompts)
        small = Path(tmp) / "small.csv"
        make_csv(small, args.baseline)
        cmd = [sys.executable, "-m", "safety_eval.cli", "run", "--model", "mock", "--size",
               "full", "--trials", "0", "--batch", "--no-progress", "--output",
               str(Path(tmp) / "out")]
        base_wall, base_main, _, _ = measure([*cmd, "--prompts", str(small)])
        wall, peak_main, peak_tree, run_dir = measure([*cmd, "--prompts", str(big)])
        with (Path(run_dir) / "mock" / "samples.jsonl").open() as handle:
            samples = sum(1 for _ in handle)
    print(f"{args.prompts:,} prompts (mock model, --size full --trials 0), {os.cpu_count()} CPUs")
    print(f"  wall time        {wall:8.1f} s   (target < {TARGET_S:.0f} s)")
    print(f"  throughput       {samples / wall:8.0f} samples/s")
    print(f"  peak RSS, main   {peak_main:8.0f} MB  (target < {TARGET_MB:.0f} MB)")
    print(f"  peak PSS, tree   {peak_tree:8.0f} MB  (main + scanning workers, shared pages "
          "counted once)")
    print(f"baseline {args.baseline:,} prompts: {base_wall:.1f} s, peak RSS {base_main:.0f} MB")
    scale = (wall / args.prompts) / (base_wall / args.baseline)
    print(f"time per prompt, full / baseline: {scale:.2f}x; "
          f"memory full / baseline: {peak_main / base_main:.2f}x")
    assert samples == args.prompts, f"{samples} samples written"


if __name__ == "__main__":
    main()
