"""Checks made before anything is generated, so a run refuses instead of failing halfway."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from safety_eval.config import RunConfig
from safety_eval.errors import PreflightError
from safety_eval.models.base import BackendError
from safety_eval.models.registry import BackendOptions, ModelInfo, probe
from safety_eval.prompts import PromptLoadError, load_source, resolve_size, select_prompts
from safety_eval.results.records import Prompt

# A sample on disk (samples.jsonl + results.csv row) stays well under this.
BYTES_PER_SAMPLE = 16 * 1024
EMBEDDED_MODEL_BYTES = 500 * 1024 * 1024


@dataclass
class Plan:
    prompts: list[Prompt]
    available: int
    models: list[ModelInfo] = field(default_factory=list)
    free_disk_mb: float = 0.0


def backend_options(cfg: RunConfig) -> BackendOptions:
    return BackendOptions(
        seed=cfg.generation.seed,
        model_cache_dir=cfg.model_cache_dir,
        request_timeout_s=cfg.request_timeout_s,
        concurrency=cfg.concurrency,
    )


def load_selected_prompts(cfg: RunConfig) -> tuple[list[Prompt], int]:
    """The prompts the run will use and how many the source had."""
    try:
        prompts = load_source(cfg.prompts, cfg.prompt_format)
        count = resolve_size(cfg.size, cfg.sizes, len(prompts))
        return select_prompts(prompts, count, cfg.seed), len(prompts)
    except PromptLoadError as exc:
        raise PreflightError(str(exc)) from None
    except ValueError as exc:
        raise PreflightError(f"--size {cfg.size}: {exc}") from None


def check_output_writable(output: Path) -> None:
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe_file = output / f".write-test-{uuid.uuid4().hex}"
        probe_file.write_bytes(b"ok")
        probe_file.unlink()
    except OSError as exc:
        raise PreflightError(f"output folder {output} is not writable: {exc}") from None


def preflight(
    cfg: RunConfig, probe_models: bool = True, prompts: list[Prompt] | None = None
) -> Plan:
    """Validate prompts, output folder, disk space and models; raise PreflightError
    listing every problem found. ``prompts`` skips loading (a resumed run's own set)."""
    if prompts is None:
        prompts, available = load_selected_prompts(cfg)
    else:
        available = len(prompts)
    check_output_writable(cfg.output)
    plan = Plan(prompts=prompts, available=available)
    problems: list[str] = []
    if probe_models:
        options = backend_options(cfg)
        for spec in cfg.models:
            try:
                plan.models.append(probe(spec, options))
            except BackendError as exc:
                problems.append(f"model '{spec}': {exc}")
    else:
        plan.models = [ModelInfo(spec, spec.partition(":")[0]) for spec in cfg.models]
    need = len(prompts) * len(cfg.models) * BYTES_PER_SAMPLE + cfg.min_free_disk_mb * 2**20
    free = shutil.disk_usage(cfg.output).free
    plan.free_disk_mb = free / 2**20
    if free < need:
        problems.append(
            f"not enough disk space in {cfg.output}: {free / 2**20:.0f} MB free, "
            f"the run needs about {need / 2**20:.0f} MB"
        )
    if problems:
        raise PreflightError("pre-flight failed:\n  - " + "\n  - ".join(problems))
    return plan
