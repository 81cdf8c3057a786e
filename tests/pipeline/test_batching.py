from __future__ import annotations

from safety_eval.pipeline.batching import AdaptiveBatcher, process_memory_fraction


def test_grows_while_throughput_improves_then_settles() -> None:
    batcher = AdaptiveBatcher(start=4, ceiling=256, memory=lambda: 0.1)
    sizes = []
    # a backend whose cost is 1 s per batch plus 0.01 s per prompt: bigger is better,
    # with diminishing returns
    for _ in range(10):
        size = batcher.next_size()
        sizes.append(size)
        batcher.record(size, 1.0 + 0.01 * size)
    assert sizes[:4] == [4, 8, 16, 32]
    assert sizes[-1] == sizes[-2]  # settled
    assert sizes[-1] <= 256


def test_halves_on_memory_pressure_and_slow_batches() -> None:
    memory = [0.5]
    batcher = AdaptiveBatcher(start=64, ceiling=64, memory=lambda: memory[0])
    batcher.record(64, 1.0)
    assert batcher.next_size() == 64
    memory[0] = 0.95
    batcher.record(64, 1.0)
    assert batcher.next_size() == 32
    memory[0] = 0.5
    batcher.record(32, 500.0)  # over max_batch_s
    assert batcher.next_size() == 16


def test_never_leaves_its_bounds() -> None:
    batcher = AdaptiveBatcher(start=1000, ceiling=8, memory=lambda: 0.99)
    assert batcher.next_size() == 8
    for _ in range(10):
        batcher.record(batcher.next_size(), 1.0)
    assert batcher.next_size() == 1


def test_memory_probe_is_a_fraction() -> None:
    assert 0.0 < process_memory_fraction() < 1.0


def test_gpu_probe_never_imports_torch() -> None:
    import subprocess
    import sys

    code = ("import sys; from safety_eval.pipeline.batching import gpu_memory_fraction; "
            "assert gpu_memory_fraction() == 0.0; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
