"""Orchestrates a run: prompts -> each model -> analysis -> per-model and summary files.

Samples are appended to ``samples.jsonl`` as they finish and metrics are aggregated
incrementally; every other file is written atomically.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from safety_eval import __version__
from safety_eval.agent import Trial, agent_metrics
from safety_eval.analysis.engine import (
    Analysis,
    AnalysisEngine,
    ParallelEngine,
    default_engine,
)
from safety_eval.analysis.extract import extract_code
from safety_eval.analysis.hallucination import HallucinationScanner, IndexLoadError
from safety_eval.config import RunConfig
from safety_eval.models.base import ModelBackend
from safety_eval.models.registry import ModelInfo, create, slug
from safety_eval.ops.alerts import AlertEvaluator
from safety_eval.ops.crypto import (
    Cipher,
    EncryptingAppender,
    RecordKind,
    iter_decrypted,
    write_marker,
)
from safety_eval.ops.metrics import RunMetrics
from safety_eval.ops.structured_logging import attach_run_log, bind_model
from safety_eval.pipeline.batching import AdaptiveBatcher
from safety_eval.pipeline.preflight import Plan, backend_options, preflight
from safety_eval.report.charts import agent_chart, cwe_chart, severity_chart
from safety_eval.results.aggregate import (
    RESULTS_COLUMNS,
    SUMMARY_COLUMNS,
    ModelAggregate,
    agent_columns,
    result_row,
)
from safety_eval.results.records import SCHEMA_VERSION, Generation, Prompt, Sample, ScanError
from safety_eval.results.writers import (
    JsonlAppender,
    atomic_write_csv,
    atomic_write_json,
    atomic_write_text,
    iter_samples,
    truncate_partial_line,
)

log = logging.getLogger("safety_eval.run")

ProgressHook = Callable[[str, int], Any]


@dataclass
class ModelOutcome:
    info: ModelInfo
    aggregate: ModelAggregate
    folder: Path
    load_s: float = 0.0
    generate_s: float = 0.0
    scan_s: float = 0.0
    resumed: int = 0
    trials: list[Trial] = field(default_factory=list)
    trials_s: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)


def versions() -> dict[str, str]:
    found = {"safety_eval": __version__, "python": platform.python_version()}
    for dist in ("bandit", "llama-cpp-python", "pydantic"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    return found


def new_run_dir(output: Path, label: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    base = output / f"run_{stamp}_{slug(label)}"
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}_{n}")


PROMPTS_FILE = "prompts.jsonl"


def write_prompts(run_dir: Path, prompts: list[Prompt], cipher: Cipher | None = None) -> None:
    """Freeze the selected prompts in the run directory, so a resume never depends on
    the prompt source being unchanged (encrypted with ``cipher`` when given)."""
    if cipher is None:
        lines = "".join(p.model_dump_json() + "\n" for p in prompts)
    else:
        lines = "".join(json.dumps(cipher.encrypt_prompt(p)) + "\n" for p in prompts)
    atomic_write_text(run_dir / PROMPTS_FILE, lines)


def read_prompts(run_dir: Path, cipher: Cipher | None = None) -> list[Prompt]:
    return [
        Prompt.model_validate(record)
        for record in iter_decrypted(run_dir / PROMPTS_FILE, cipher, "prompt")
    ]


def load_finished(samples_path: Path, aggregate: ModelAggregate) -> set[str]:
    """Prompt ids already in ``samples_path`` (each added to ``aggregate`` once).

    A last line cut short by a crash is removed from the file; a sample recorded twice
    (impossible in normal operation) is counted once.
    """
    if not samples_path.is_file():
        return set()
    truncate_partial_line(samples_path)
    done: set[str] = set()
    for sample in iter_samples(samples_path):
        if sample.prompt_id in done:
            continue
        done.add(sample.prompt_id)
        aggregate.add(sample)
    return done


TRIALS_FILE = "agent_trials.jsonl"


def write_report(run_dir: Path) -> Path | None:
    """``report.html``; a report that cannot be built is logged, never fatal: the results
    are already on disk and ``safety-eval report RUN_DIR`` can rebuild it."""
    from safety_eval.report.html import build_report

    try:
        return build_report(run_dir)
    except Exception as exc:
        log.error("could not build report.html for %s: %s: %s", run_dir, type(exc).__name__, exc)
        return None


def load_trials(path: Path) -> list[Trial]:
    """Trials already recorded (resume); a last line cut short by a crash is removed."""
    if not path.is_file():
        return []
    truncate_partial_line(path)
    seen: dict[str, Trial] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                trial = Trial.model_validate_json(line)
                seen.setdefault(trial.trial_id, trial)
    return list(seen.values())


def build_samples(
    prompts: list[Prompt], model: str, generations: list[Generation], engine: AnalysisEngine
) -> list[Sample]:
    """Extract and analyse a batch of replies (one engine call: batch-aware scanners such
    as semgrep start once per batch)."""
    codes = [extract_code(g.text).code for g in generations]
    analyses = engine.analyze_many(codes)
    for generation, analysis in zip(generations, analyses, strict=True):
        _add_reply_installs(generation.text, analysis)
    return [
        _sample(prompt, model, generation, code, analysis)
        for prompt, generation, code, analysis in zip(
            prompts, generations, codes, analyses, strict=True
        )
    ]


@functools.cache
def _install_scanner() -> HallucinationScanner:
    """One scanner (and one loaded PyPI index) per process, built on first use."""
    return HallucinationScanner()


def _add_reply_installs(reply: str, analysis: Analysis) -> None:
    """``pip install`` lines outside the code (shell blocks, prose) are hallucinations too.

    Their ``line`` is None (the line is in the reply, not the code; the message says which)
    and a package already flagged in the code is not reported twice.
    """
    if "install" not in reply and "requirements" not in reply:
        return
    try:
        found = _install_scanner().install_findings(reply)
    except IndexLoadError as exc:
        analysis.errors.append(ScanError(source="hallucination", message=str(exc)))
        return
    known = {(h.rule_id, h.symbol) for h in analysis.hallucinations}
    for finding in found:
        if (finding.rule_id, finding.symbol) in known:
            continue
        known.add((finding.rule_id, finding.symbol))
        analysis.hallucinations.append(finding.model_copy(update={
            "line": None,
            "message": f"{finding.message} (in the reply text, line {finding.line})",
            "tools": [f"{finding.tool}:{finding.rule_id}"],
        }))


def build_sample(
    prompt: Prompt, model: str, generation: Generation, engine: AnalysisEngine
) -> Sample:
    return build_samples([prompt], model, [generation], engine)[0]


def _sample(
    prompt: Prompt, model: str, generation: Generation, code: str, analysis: Analysis
) -> Sample:
    return Sample(
        prompt_id=prompt.prompt_id,
        model=model,
        category=prompt.category,
        cwe_tempted=prompt.cwe,
        prompt=prompt.content,
        completion=generation.text,
        code=code,
        parsed=analysis.parsed,
        parse_mode=analysis.mode,
        findings=analysis.findings,
        hallucinations=analysis.hallucinations,
        error=generation.error,
        scan_errors=analysis.errors,
        latency_s=generation.latency_s,
        tokens=generation.tokens,
    )


class Runner:
    """One evaluation run. ``run()`` returns the run directory.

    ``resume(run_dir)`` continues an interrupted run from its own files: finished samples
    are kept, only the missing ones are generated, and every metric is recomputed from
    the samples on disk, so the result equals an uninterrupted run.
    """

    def __init__(
        self,
        cfg: RunConfig,
        engine: AnalysisEngine | None = None,
        progress: Callable[[str, int], Any] | None = None,
        backend_factory: Callable[[str], ModelBackend] | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        self.cfg = cfg
        self.cipher = cipher
        self.metrics: RunMetrics | None = None
        self.alerts: AlertEvaluator | None = None
        self._engine = engine
        self.progress = progress
        options = backend_options(cfg)
        self.backend_factory = backend_factory or (lambda spec: create(spec, options))
        self.run_id = uuid.uuid4().hex[:12]
        self._history: list[dict[str, Any]] = []
        self._owned: list[ParallelEngine] = []

    def engine_for(self, prompts: int) -> AnalysisEngine:
        """The engine given to the runner, else one built for a run of ``prompts``."""
        if self._engine is None:
            workers = self.cfg.scan_workers
            if workers is None:
                workers = (os.cpu_count() or 1) if prompts >= 2000 else 1
            if workers > 1 and not self.cfg.semgrep:
                self._engine = ParallelEngine(workers)
                self._owned.append(self._engine)
            else:
                self._engine = default_engine(semgrep=self.cfg.semgrep)
        return self._engine

    def close(self) -> None:
        for owned in self._owned:
            owned.close()
        self._owned.clear()

    def manifest(self, plan: Plan, run_dir: Path, status: str, **extra: Any) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "run_dir": run_dir.name,
            "status": status,
            "config": cfg.model_dump(mode="json"),
            "seed": cfg.seed,
            "severity_threshold": cfg.severity_threshold,
            "versions": versions(),
            "prompt_source": {
                "spec": cfg.prompts,
                "format": cfg.prompt_format,
                "available": plan.available,
                "selected": len(plan.prompts),
                "size": cfg.size,
            },
            "models": [
                {
                    "spec": info.spec,
                    "slug": slug(info.spec),
                    "backend": info.backend,
                    "file": str(info.file) if info.file else None,
                    "sha256": info.sha256,
                    "size_bytes": info.size,
                }
                for info in plan.models
            ],
            "attempts": self._history,
            **extra,
        }

    def run(self, plan: Plan | None = None) -> Path:
        cfg = self.cfg
        plan = plan or preflight(cfg)
        label = cfg.label or (slug(cfg.models[0]) if len(cfg.models) == 1 else "multi")
        run_dir = new_run_dir(cfg.output, label)
        if self.cipher is not None:
            write_marker(run_dir, self.cipher)
        write_prompts(run_dir, plan.prompts, self.cipher)
        return self._run_logged(plan, run_dir)

    def resume(self, run_dir: Path, plan: Plan) -> Path:
        """Continue ``run_dir`` (whose prompts.jsonl and config ``plan`` was built from)."""
        previous = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        self.run_id = str(previous.get("run_id", self.run_id))
        self._history = list(previous.get("attempts", []))
        return self._run_logged(plan, run_dir)

    def _run_logged(self, plan: Plan, run_dir: Path) -> Path:
        """Run with the operations around it: JSON lines in run.log, Prometheus metrics
        (metrics.prom, and an HTTP endpoint with ``metrics_port``), alerts.json."""
        cfg = self.cfg
        run_log = attach_run_log(run_dir, self.run_id)
        self.metrics = RunMetrics(self.run_id, cfg.severity_threshold)
        self.alerts = AlertEvaluator(cfg.alerts, run_dir, self.run_id)
        server = self.metrics.serve(cfg.metrics_port) if cfg.metrics_port is not None else None
        if server is not None:
            log.info("metrics on %s", server.url)
        try:
            return self._run_in(plan, run_dir)
        finally:
            metrics, alerts = self.metrics, self.alerts
            alerts.finalize({m: metrics.alert_values(m) for m in metrics.models})
            alerts.write()
            alerts.close()
            metrics.write_textfile(run_dir / "metrics.prom")
            if server is not None:
                server.close()
            self.close()
            run_log.close()

    def _run_in(self, plan: Plan, run_dir: Path) -> Path:
        started = time.time()
        started_at = datetime.now(UTC).isoformat()
        self._history.append({"started_at": started_at, "pid": os.getpid()})
        atomic_write_json(
            run_dir / "run.json", self.manifest(plan, run_dir, "running", started_at=started_at)
        )
        log.info("run %s: %d prompts x %d models -> %s",
                 self.run_id, len(plan.prompts), len(plan.models), run_dir)
        outcomes: list[ModelOutcome] = []
        try:
            for info in plan.models:
                outcomes.append(self._run_model(info, plan.prompts, run_dir))
        except BaseException:
            atomic_write_json(
                run_dir / "run.json",
                self.manifest(plan, run_dir, "interrupted", started_at=started_at,
                              timings=self._timings(outcomes, started)),
            )
            raise
        self.write_summary(run_dir, outcomes)
        if self.cipher is None:  # a report repeats the replies in plaintext
            write_report(run_dir)
        atomic_write_json(
            run_dir / "run.json",
            self.manifest(
                plan,
                run_dir,
                "complete",
                started_at=started_at,
                finished_at=datetime.now(UTC).isoformat(),
                timings=self._timings(outcomes, started),
            ),
        )
        return run_dir

    @staticmethod
    def _timings(outcomes: list[ModelOutcome], started: float) -> dict[str, Any]:
        return {
            "total_s": round(time.time() - started, 3),
            "models": {
                o.info.spec: {
                    "load_s": round(o.load_s, 3),
                    "generate_s": round(o.generate_s, 3),
                    "scan_s": round(o.scan_s, 3),
                    "resumed_samples": o.resumed,
                    "agent_trials_s": round(o.trials_s, 3),
                    "batch_sizes": o.batch_sizes,
                }
                for o in outcomes
            },
        }

    def _run_model(self, info: ModelInfo, prompts: list[Prompt], run_dir: Path) -> ModelOutcome:
        with bind_model(info.spec):
            return self._run_model_bound(info, prompts, run_dir)

    def appender(self, path: Path, kind: RecordKind) -> JsonlAppender:
        if self.cipher is None:
            return JsonlAppender(path)
        return EncryptingAppender(path, self.cipher, kind)

    def _observe(self, model: str) -> None:
        if self.metrics is not None and self.alerts is not None:
            self.alerts.update(model, self.metrics.alert_values(model))

    def _run_model_bound(
        self, info: ModelInfo, prompts: list[Prompt], run_dir: Path
    ) -> ModelOutcome:
        cfg = self.cfg
        folder = run_dir / slug(info.spec)
        outcome = ModelOutcome(info, ModelAggregate(info.spec, cfg.severity_threshold), folder)
        samples_path = folder / "samples.jsonl"
        done = load_finished(samples_path, outcome.aggregate)
        outcome.resumed = len(done)
        todo = [p for p in prompts if p.prompt_id not in done]
        if cfg.mode == "autonomous":
            todo = []
        samples_path.parent.mkdir(parents=True, exist_ok=True)
        samples_path.touch()
        if done:
            log.info("model %s: %d samples already done, %d to go", info.spec, len(done),
                     len(todo))
        trials_path = folder / TRIALS_FILE
        outcome.trials = load_trials(trials_path)
        trials_done = {t.trial_id for t in outcome.trials}
        trials_left = 0 if cfg.mode == "vulnerability" else cfg.trials - len(trials_done)
        if todo or trials_left > 0:
            t0 = time.perf_counter()
            try:
                backend = self.backend_factory(info.spec)
            except Exception:
                if self.metrics is not None:
                    self.metrics.observe_failure(info.spec, "backend")
                raise
            outcome.load_s = time.perf_counter() - t0
            log.info("model %s loaded in %.1fs", info.spec, outcome.load_s)
            try:
                if todo:
                    self._generate(backend, info, todo, samples_path, outcome)
                if trials_left > 0:
                    self._simulate(backend, info, trials_path, trials_done, outcome)
            finally:
                backend.close()
        self.write_model_files(outcome)
        return outcome

    def _simulate(
        self,
        backend: ModelBackend,
        info: ModelInfo,
        trials_path: Path,
        done: set[str],
        outcome: ModelOutcome,
    ) -> None:
        """Agent trials with this model, appended to agent_trials.jsonl as each ends."""
        from safety_eval.agent import LLMAgent, iter_trials, load_scenarios

        cfg = self.cfg
        params = cfg.generation.model_copy(update={"max_tokens": cfg.agent_max_tokens})
        started = time.perf_counter()
        with self.appender(trials_path, "trial") as out:
            for trial in iter_trials(
                lambda: LLMAgent(backend, params, cfg.max_turns),
                load_scenarios(cfg.scenarios),
                cfg.trials,
                cfg.seed,
                cfg.max_turns,
                agent_label=info.spec,
                skip=done,
            ):
                out.append(trial)
                outcome.trials.append(trial)
                if self.metrics is not None:
                    self.metrics.observe_trial(info.spec, trial)
                    self._observe(info.spec)
                log.info("%s trial %s: failed=%s deceptive=%s recovered=%s error=%s", info.spec,
                         trial.trial_id, trial.failed, trial.deceptive, trial.recovered,
                         trial.error)
                if self.progress:
                    self.progress(f"{info.spec} agent", 1)
        outcome.trials_s = time.perf_counter() - started

    def _generate(
        self,
        backend: ModelBackend,
        info: ModelInfo,
        todo: list[Prompt],
        samples_path: Path,
        outcome: ModelOutcome,
    ) -> None:
        cfg = self.cfg
        engine = self.engine_for(len(todo))
        # A backend that generates one prompt at a time (max_batch 1) gets batches of one,
        # so a crash never loses more than the sample in flight; batched backends get
        # adaptive batch sizes between 1 and their max_batch.
        ceiling = int(getattr(backend, "max_batch", cfg.batch_size))
        batcher = AdaptiveBatcher(
            start=min(cfg.batch_size, ceiling),
            ceiling=ceiling if cfg.adaptive_batching else min(cfg.batch_size, ceiling),
        )
        with self.appender(samples_path, "sample") as samples:
            position = 0
            while position < len(todo):
                batch = todo[position : position + batcher.next_size()]
                position += len(batch)
                t1 = time.perf_counter()
                generations = backend.generate([p.content for p in batch], cfg.generation)
                t2 = time.perf_counter()
                batcher.record(len(batch), t2 - t1)
                outcome.generate_s += t2 - t1
                for sample in build_samples(batch, info.spec, generations, engine):
                    samples.append(sample)
                    outcome.aggregate.add(sample)
                    if self.metrics is not None:
                        self.metrics.observe_sample(info.spec, sample)
                    if sample.error:
                        log.warning("%s %s: generation failed: %s",
                                    info.spec, sample.prompt_id, sample.error)
                outcome.scan_s += time.perf_counter() - t2
                self._observe(info.spec)
                if self.progress:
                    self.progress(info.spec, len(batch))
        outcome.batch_sizes = sorted({size for size, _ in batcher.history})

    def write_model_files(self, outcome: ModelOutcome) -> None:
        folder = outcome.folder
        metrics = outcome.aggregate.metrics()
        atomic_write_json(folder / "vulnerability_metrics.json", metrics)
        atomic_write_csv(
            folder / "results.csv",
            RESULTS_COLUMNS,
            (result_row(sample) for sample in iter_samples(folder / "samples.jsonl")),
        )
        severity_chart(outcome.info.spec, metrics["severity_distribution"],
                       folder / "severity_distribution.png")
        cwe_chart(outcome.info.spec,
                  [(c["cwe"], c["count"]) for c in metrics["cwe_classifications"]],
                  folder / "top_cwes.png")
        if outcome.trials:
            agent_chart(outcome.info.spec, agent_metrics(outcome.trials),
                        folder / "agent_metrics.png")

    def write_summary(self, run_dir: Path, outcomes: list[ModelOutcome]) -> None:
        rows = []
        for o in outcomes:
            row = o.aggregate.summary_row()
            row.update(agent_columns(agent_metrics(o.trials) if o.trials else None))
            rows.append(row)
        atomic_write_csv(run_dir / "multi_model_summary.csv", SUMMARY_COLUMNS, rows)
        if any(o.trials for o in outcomes):
            atomic_write_json(
                run_dir / "autonomous_metrics.json",
                {
                    "schema_version": SCHEMA_VERSION,
                    "max_turns": self.cfg.max_turns,
                    "models": {o.info.spec: agent_metrics(o.trials) for o in outcomes},
                },
            )
        atomic_write_json(
            run_dir / "vulnerability_metrics.json",
            {
                "schema_version": SCHEMA_VERSION,
                "severity_threshold": self.cfg.severity_threshold,
                "models": {o.info.spec: o.aggregate.metrics() for o in outcomes},
            },
        )
