"""GPU throughput check of the hf backend: sequential (batch 1) vs batched generation.

Runs on a machine with an NVIDIA GPU and NO network: nothing is downloaded and no
weights are needed. It builds a randomly initialised model with the default model's
architecture (Qwen2.5-0.5B sizes: 24 layers, hidden 896, vocab 151936, tied
embeddings), a byte-level BPE tokenizer trained in memory on the prompts, saves both to a
temporary folder and loads them through the project's ``HFBackend`` (4-bit
BitsAndBytes when ``bitsandbytes`` is importable, else bf16). Then it generates a fixed
number of new tokens per prompt (EOS ignored) for the builtin prompts:

* sequentially (batch 1), capped by ``--seq-budget-s`` (the count done is reported and
  prompts/hour is extrapolated from the measured per-prompt mean), and
* batched, for each of ``--batch-sizes`` (default 64 and 128),

and prints prompts/hour and tokens/s per mode and the batched/sequential ratio.
A random model's text is meaningless; its speed is the real model's speed (same shapes,
same kernels), except that EOS is ignored so every reply is exactly --new-tokens long.

Usage (from the repo root; no pip install needed, ``src/`` is put on sys.path)::

    scripts/gpu-check.sh                       # the GPU run, ~5 minutes
    python scripts/gpu_check.py --device cpu --prompts 4 --new-tokens 8 --layers 2

Writes the results as JSON to ``$OUT/gpu-check.json`` when ``$OUT`` is set (and to
``--json PATH`` when given), updated after every mode.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PROMPTS_FILE = ROOT / "src" / "safety_eval" / "prompts" / "builtin" / "prompts.jsonl"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto (cuda if present), cuda, cpu")
    parser.add_argument("--prompts", type=int, default=200, help="prompts per mode")
    parser.add_argument("--new-tokens", type=int, default=128, help="tokens per reply")
    parser.add_argument("--layers", type=int, default=24, help="decoder layers (24 = 0.5B)")
    parser.add_argument("--batch-sizes", default="64,128", help="batched modes, comma-separated")
    parser.add_argument("--quant", choices=["auto", "4bit", "none"], default="auto",
                        help="auto: 4-bit when bitsandbytes is importable and on CUDA")
    parser.add_argument("--seq-budget-s", type=float, default=150.0,
                        help="stop the sequential pass after this many seconds")
    parser.add_argument("--time-budget-s", type=float, default=540.0,
                        help="whole-run budget; batched modes that would not fit are cut")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    args.batch_list = [int(b) for b in str(args.batch_sizes).split(",") if b.strip()]
    if args.prompts < 1 or args.new_tokens < 1 or args.layers < 1 or not args.batch_list:
        parser.error("--prompts, --new-tokens, --layers and --batch-sizes must be positive")
    return args


def load_prompts(count: int) -> list[str]:
    texts = [json.loads(line)["content"] for line in PROMPTS_FILE.read_text().splitlines()
             if line.strip()]
    return list(islice(cycle(texts), count))


class Report:
    """Collects the results and rewrites the JSON file(s) after every step."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.data: dict[str, Any] = {"ok": False, "modes": [], "notes": []}

    def note(self, text: str) -> None:
        self.data["notes"].append(text)
        print(f"  note: {text}")

    def save(self) -> None:
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=2) + "\n")
            os.replace(tmp, path)


def mode_result(name: str, batch: int, done: int, seconds: float, tokens: int,
                errors: int, peak_gib: float | None, total: int) -> dict[str, Any]:
    per_prompt = seconds / done if done else None
    return {
        "mode": name,
        "batch_size": batch,
        "prompts_done": done,
        "prompts_planned": total,
        "capped": done < total,
        "seconds": round(seconds, 3),
        "tokens": tokens,
        "errors": errors,
        "prompts_per_hour": round(3600.0 / per_prompt, 1) if per_prompt else None,
        "tokens_per_s": round(tokens / seconds, 2) if seconds > 0 else None,
        "seconds_per_prompt": round(per_prompt, 4) if per_prompt else None,
        "extrapolated_seconds_for_all": round(per_prompt * total, 1) if per_prompt else None,
        "peak_gpu_gib": peak_gib,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    deadline = started + args.time_budget_s

    import torch
    import transformers

    from safety_eval.models.base import DEFAULT_SYSTEM_PROMPT, GenerationParams
    from safety_eval.models.hf import HFBackend, build_test_tokenizer, qwen2_config

    paths = [Path(os.environ["OUT"]) / "gpu-check.json"] if os.environ.get("OUT") else []
    if args.json is not None:
        paths.append(args.json)
    report = Report(paths)

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu-check: --device cuda, but torch sees no CUDA GPU", file=sys.stderr)
        return 2
    on_cuda = device.startswith("cuda")
    has_bnb = importlib.util.find_spec("bitsandbytes") is not None
    quant: Literal["4bit"] | None = None
    if args.quant == "4bit" or (args.quant == "auto" and has_bnb and on_cuda):
        quant = "4bit"
    dtype = torch.bfloat16 if on_cuda else torch.float32
    gpu_name = torch.cuda.get_device_name(0) if on_cuda else None
    gpu_mem = (round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
               if on_cuda else None)
    bnb_version = None
    if has_bnb:
        from importlib.metadata import version

        bnb_version = version("bitsandbytes")

    report.data.update({
        "gpu": gpu_name,
        "gpu_memory_gib": gpu_mem,
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "bitsandbytes": bnb_version,
        "quantization": quant or "none",
        "dtype": str(dtype).replace("torch.", ""),
        "prompts": args.prompts,
        "new_tokens": args.new_tokens,
        "layers": args.layers,
    })
    print("gpu-check: hf backend throughput on a random Qwen2.5-0.5B-shaped model "
          "(no weights, no network)")
    print(f"  gpu         : {gpu_name or 'none'}"
          + (f" ({gpu_mem} GiB, CUDA {torch.version.cuda})" if on_cuda else f" (device {device})"))
    print(f"  versions    : python {platform.python_version()}, torch {torch.__version__}, "
          f"transformers {transformers.__version__}, bitsandbytes {bnb_version or 'not installed'}")

    prompts = load_prompts(args.prompts)
    tokenizer = build_test_tokenizer([DEFAULT_SYSTEM_PROMPT, *prompts], vocab_size=4000)
    config = qwen2_config(num_hidden_layers=args.layers)
    build_started = time.perf_counter()
    torch.manual_seed(0)
    with torch.device(device):
        model: Any = transformers.Qwen2ForCausalLM(config)
        model = model.to(dtype)
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        del model
        if on_cuda:
            torch.cuda.empty_cache()
        build_s = time.perf_counter() - build_started
        backend = HFBackend(folder, name="hf:gpu-check", device=device, dtype=dtype,
                            quantization=quant, batch_size=1, ignore_eos=True)
    weights = f"4-bit nf4 (compute {report.data['dtype']})" if quant else report.data["dtype"]
    sysmsg = {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
    prompt_tokens = [len(backend.encode([sysmsg, {"role": "user", "content": p}]))
                     for p in prompts]
    mean_prompt = sum(prompt_tokens) / len(prompt_tokens)
    report.data.update({
        "params_millions": round(params_m, 1),
        "build_and_save_s": round(build_s, 2),
        "load_s": round(backend.load_s, 2),
        "prompt_tokens_mean": round(mean_prompt, 1),
    })
    why = "" if quant or not on_cuda else " (bitsandbytes not importable, so no 4-bit)"
    print(f"  model       : Qwen2 {args.layers} layers, hidden {config.hidden_size}, "
          f"vocab {config.vocab_size}, {params_m:.1f}M params, weights {weights}{why}")
    print(f"  workload    : {args.prompts} prompts x {args.new_tokens} new tokens (EOS ignored), "
          f"prompt mean {mean_prompt:.0f} tokens (chat template + system prompt)")
    print(f"  setup       : build+save {build_s:.1f} s, "
          f"HFBackend load+warmup {backend.load_s:.1f} s")
    report.save()

    params = GenerationParams(max_tokens=args.new_tokens, temperature=0.0)
    warm = GenerationParams(max_tokens=4, temperature=0.0)

    def peak() -> float | None:
        return round(torch.cuda.max_memory_allocated() / 2**30, 2) if on_cuda else None

    def sync() -> None:
        if on_cuda:
            torch.cuda.synchronize()

    rows: list[dict[str, Any]] = []

    # sequential: one prompt per call, as a batch-1 backend would be driven
    backend.batch_size = backend.max_batch = 1
    backend.generate(prompts[:1], warm)
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    seq_budget = min(args.seq_budget_s, max(0.0, deadline - time.perf_counter()) * 0.5)
    done = tokens = errors = 0
    sync()
    t0 = time.perf_counter()
    for prompt in prompts:
        out = backend.generate([prompt], params)[0]
        done += 1
        tokens += out.tokens
        errors += out.error is not None
        if time.perf_counter() - t0 >= seq_budget:
            break
    sync()
    row = mode_result("sequential", 1, done, time.perf_counter() - t0, tokens, errors, peak(),
                      len(prompts))
    if row["capped"]:
        report.note(f"sequential pass capped at {seq_budget:.0f} s: {done} of {len(prompts)} "
                    "prompts measured; prompts/hour extrapolated from their mean")
    rows.append(row)
    report.data["modes"] = rows
    report.save()

    for batch in args.batch_list:
        remaining = deadline - time.perf_counter()
        if remaining < 5:
            report.note(f"batch {batch} skipped: the time budget is spent")
            continue
        backend.batch_size = backend.max_batch = batch
        backend.generate(prompts[:batch], warm)  # shapes and kernels for this batch size
        if on_cuda:
            torch.cuda.reset_peak_memory_stats()
        done = tokens = errors = 0
        sync()
        t0 = time.perf_counter()
        for start in range(0, len(prompts), batch):
            chunk = prompts[start:start + batch]
            outs = backend.generate(chunk, params)
            done += len(outs)
            tokens += sum(o.tokens for o in outs)
            errors += sum(o.error is not None for o in outs)
            elapsed = time.perf_counter() - t0
            if done < len(prompts) and time.perf_counter() + elapsed / done * len(chunk) > deadline:
                break
        sync()
        row = mode_result("batched", batch, done, time.perf_counter() - t0, tokens, errors,
                          peak(), len(prompts))
        row["effective_batch_size"] = backend.batch_size
        row["oom_retries"] = backend.oom_retries
        if row["capped"]:
            report.note(f"batch {batch} stopped by the time budget after {done} prompts")
        if backend.batch_size != batch:
            report.note(f"batch {batch} ran out of memory; the backend halved it to "
                        f"{backend.batch_size}")
        rows.append(row)
        report.data["modes"] = rows
        report.save()
    backend.close()

    seq = rows[0]
    ratios = {}
    for row in rows[1:]:
        if seq["prompts_per_hour"] and row["prompts_per_hour"]:
            ratios[str(row["batch_size"])] = round(row["prompts_per_hour"]
                                                   / seq["prompts_per_hour"], 2)
    report.data["ratio_batched_over_sequential"] = ratios
    report.data["total_s"] = round(time.perf_counter() - started, 1)
    report.data["ok"] = all(r["errors"] == 0 and r["tokens"] > 0 for r in rows)

    print(f"{'mode':<11}{'batch':>6}{'prompts':>9}{'seconds':>10}{'prompts/hour':>14}"
          f"{'tokens/s':>11}{'peak GiB':>10}  note")
    for row in rows:
        note = ""
        if row["capped"]:
            planned = row["prompts_planned"]
            note = (f"measured {row['prompts_done']} of {planned}; all {planned} "
                    f"extrapolated to {row['extrapolated_seconds_for_all']:.0f} s")
        if row.get("effective_batch_size", row["batch_size"]) != row["batch_size"]:
            note = f"OOM: ran at {row['effective_batch_size']} {note}".strip()
        if row["errors"]:
            note = f"{row['errors']} errors {note}".strip()
        peak_text = "-" if row["peak_gpu_gib"] is None else f"{row['peak_gpu_gib']:.2f}"
        print(f"{row['mode']:<11}{row['batch_size']:>6}{row['prompts_done']:>9}"
              f"{row['seconds']:>10.1f}{row['prompts_per_hour'] or 0:>14,.0f}"
              f"{row['tokens_per_s'] or 0:>11,.1f}{peak_text:>10}  {note}")
    if ratios:
        parts = ", ".join(f"batch {b} = {r:.1f}x" for b, r in ratios.items())
        print(f"batched/sequential (prompts/hour): {parts}")
    print(f"total {report.data['total_s']:.0f} s; result {'OK' if report.data['ok'] else 'FAILED'}"
          + (f"; json: {', '.join(str(p) for p in paths)}" if paths else ""))
    report.save()
    return 0 if report.data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
