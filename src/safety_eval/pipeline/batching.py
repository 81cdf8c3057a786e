"""Adaptive batch sizes from measured latency and memory.

The runner asks for the next batch size, sends that many prompts, then reports how long
the batch took and how much memory the process (and the GPU, when there is one) uses.
The size doubles while per-prompt throughput keeps improving by at least ``gain``,
halves when a batch takes longer than ``max_batch_s`` or memory passes
``memory_limit`` (a fraction), and stays put otherwise. Bounds: 1 .. ``ceiling`` (the
backend's ``max_batch``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field


def process_memory_fraction() -> float:
    """This process's resident memory as a fraction of the machine's (Linux /proc)."""
    try:
        with open("/proc/self/statm") as handle:
            resident_pages = int(handle.read().split()[1])
        total = os.sysconf("SC_PHYS_PAGES")
        return resident_pages / total if total > 0 else 0.0
    except (OSError, ValueError, IndexError):
        return 0.0


def gpu_memory_fraction() -> float:
    """Used / total memory of the current CUDA device; 0.0 without torch or CUDA.

    Only asks torch when the process already imported it (a GPU backend did): importing
    torch just to learn there is no GPU would cost ~150 MB and a second of start-up."""
    torch = sys.modules.get("torch")
    if torch is None:
        return 0.0
    try:
        if not torch.cuda.is_available():
            return 0.0
        free, total = torch.cuda.mem_get_info()
        return float(1 - free / total) if total else 0.0
    except RuntimeError:
        return 0.0


@dataclass
class AdaptiveBatcher:
    start: int
    ceiling: int
    max_batch_s: float = 120.0
    memory_limit: float = 0.9
    gain: float = 1.1
    memory: Callable[[], float] = field(
        default=lambda: max(process_memory_fraction(), gpu_memory_fraction())
    )
    size: int = 0
    history: list[tuple[int, float]] = field(default_factory=list)
    _best_rate: float = 0.0
    _settled: bool = False

    def __post_init__(self) -> None:
        self.ceiling = max(1, self.ceiling)
        self.size = max(1, min(self.start, self.ceiling))

    def next_size(self) -> int:
        return self.size

    def record(self, batch: int, seconds: float) -> None:
        """Feed back one finished batch of ``batch`` prompts that took ``seconds``."""
        self.history.append((batch, seconds))
        if batch < self.size:  # the last, short batch of a model says nothing new
            return
        rate = batch / seconds if seconds > 0 else float("inf")
        if self.memory() > self.memory_limit or seconds > self.max_batch_s:
            self.size = max(1, self.size // 2)
            self._settled = True
            return
        if self._settled:
            return
        if rate >= self._best_rate * self.gain and self.size < self.ceiling:
            self._best_rate = rate
            self.size = min(self.ceiling, self.size * 2)
        else:
            self._settled = True
