"""Continue an interrupted run, or re-analyse a finished one with the current detectors."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safety_eval.analysis.engine import Engine, default_engine
from safety_eval.config import RunConfig
from safety_eval.errors import UserError
from safety_eval.models.registry import ModelInfo, slug
from safety_eval.ops.crypto import cipher_for_run, iter_decrypted
from safety_eval.pipeline.preflight import Plan, preflight
from safety_eval.pipeline.runner import (
    PROMPTS_FILE,
    TRIALS_FILE,
    ModelOutcome,
    Runner,
    build_samples,
    load_trials,
    read_prompts,
    versions,
)
from safety_eval.results.aggregate import ModelAggregate
from safety_eval.results.records import Generation, Prompt, Sample
from safety_eval.results.writers import (
    atomic_write_json,
    truncate_partial_line,
)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{run_dir}: not a run directory (no run.json)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict) or "config" not in data:
        raise UserError(f"{path}: not a safety-eval run manifest")
    return data


def config_of(run_dir: Path, manifest: dict[str, Any]) -> RunConfig:
    """The run's own configuration, with its output folder pointing where it now lives."""
    try:
        cfg = RunConfig.model_validate(manifest["config"])
    except ValidationError as exc:
        raise UserError(f"{run_dir / 'run.json'}: config does not validate: {exc}") from None
    return cfg.model_copy(update={"output": run_dir.parent})


def resume_run(
    run_dir: Path, runner_kwargs: dict[str, Any] | None = None, key_file: Path | None = None
) -> Path:
    manifest = read_manifest(run_dir)
    cfg = config_of(run_dir, manifest)
    if not (run_dir / PROMPTS_FILE).is_file():
        raise UserError(f"{run_dir}: no {PROMPTS_FILE}; this run cannot be resumed")
    cipher = cipher_for_run(run_dir, key_file or cfg.key_file)
    plan: Plan = preflight(cfg, prompts=read_prompts(run_dir, cipher))
    runner = Runner(cfg, cipher=cipher, **(runner_kwargs or {}))
    return runner.resume(run_dir, plan)


def _rescan_batch(
    batch: list[Sample], prompts: dict[str, Prompt], spec: str, engine: Engine
) -> list[Sample]:
    originals = [
        prompts.get(s.prompt_id)
        or Prompt(prompt_id=s.prompt_id, content=s.prompt, category=s.category, cwe=s.cwe_tempted)
        for s in batch
    ]
    replies = [
        Generation(text=s.completion, tokens=s.tokens, latency_s=s.latency_s, error=s.error)
        for s in batch
    ]
    return build_samples(originals, spec, replies, engine)


def rescan_run(
    run_dir: Path,
    engine: Engine | None = None,
    batch_size: int = 64,
    key_file: Path | None = None,
) -> Path:
    """Re-analyse every stored reply with the current detectors; no model is loaded.

    Each model's samples are rewritten to a temp file and renamed into place, then its
    metrics and charts, then the summary; ``run.json`` records the rescan.
    """
    manifest = read_manifest(run_dir)
    cfg = config_of(run_dir, manifest)
    engine = engine or default_engine()
    cipher = cipher_for_run(run_dir, key_file or cfg.key_file)
    runner = Runner(cfg, engine=engine, cipher=cipher)
    prompts_path = run_dir / PROMPTS_FILE
    prompts = (
        {p.prompt_id: p for p in read_prompts(run_dir, cipher)} if prompts_path.is_file() else {}
    )
    started = time.time()
    outcomes = []
    for entry in manifest.get("models", []):
        spec = entry["spec"]
        folder = run_dir / slug(spec)
        path = folder / "samples.jsonl"
        if not path.is_file():
            raise UserError(f"{path}: missing; cannot rescan model {spec}")
        truncate_partial_line(path)
        outcome = ModelOutcome(
            ModelInfo(spec, entry.get("backend", "")),
            ModelAggregate(spec, cfg.severity_threshold),
            folder,
        )
        tmp = path.with_suffix(".jsonl.rescan")
        tmp.unlink(missing_ok=True)
        with runner.appender(tmp, "sample") as out:
            batch: list[Sample] = []
            for record in iter_decrypted(path, cipher, "sample"):
                sample = Sample.model_validate(record)
                batch.append(sample)
                if len(batch) < batch_size:
                    continue
                for fresh in _rescan_batch(batch, prompts, spec, engine):
                    out.append(fresh)
                    outcome.aggregate.add(fresh)
                batch = []
            for fresh in _rescan_batch(batch, prompts, spec, engine) if batch else []:
                out.append(fresh)
                outcome.aggregate.add(fresh)
        tmp.replace(path)
        outcome.trials = load_trials(folder / TRIALS_FILE)  # agent trials are kept as they are
        runner.write_model_files(outcome)
        outcomes.append(outcome)
    runner.write_summary(run_dir, outcomes)
    manifest.setdefault("rescans", []).append(
        {"at": datetime.now(UTC).isoformat(), "seconds": round(time.time() - started, 3),
         "versions": versions()}
    )
    atomic_write_json(run_dir / "run.json", manifest)
    return run_dir
