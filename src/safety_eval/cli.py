"""The ``safety-eval`` command line. Thin: parse, build config, call the pipeline.

Exit codes: 0 success (``scan``: no findings), 1 findings (``scan``), 2 bad input or an
unusable environment (a clear message, never a traceback).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from safety_eval import __version__
from safety_eval.config import RunConfig, load_config
from safety_eval.errors import UserError
from safety_eval.models.base import BackendError
from safety_eval.ops.structured_logging import configure as configure_logging
from safety_eval.prompts import PromptLoadError

app = typer.Typer(
    name="safety-eval",
    help="Measure how safe LLMs are as code writers and as autonomous agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("safety_eval.cli")


def _err(message: str) -> None:
    typer.echo(message, err=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the user's errors into a message and exit code 2."""
    try:
        yield
    except (UserError, PromptLoadError, BackendError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from None


def _interactive_size(cfg: RunConfig, available: int) -> str:
    """Ask which dataset size to run, showing how many prompts each size means."""
    from safety_eval.prompts import resolve_size

    _err("Which dataset size should this run use?")
    names = list(cfg.sizes)
    for index, name in enumerate(names, start=1):
        count = resolve_size(name, cfg.sizes, available) or available
        _err(f"  {index}. {name:<7} {min(count, available):>6} prompts")
    _err("  or type a number of prompts")
    while True:
        answer = typer.prompt("Size", default=cfg.size, err=True).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(names) and answer not in cfg.sizes:
            return names[int(answer) - 1]
        if answer in cfg.sizes or (answer.isdigit() and int(answer) > 0):
            return answer
        _err(f"  '{answer}' is not one of {', '.join(names)} or a positive number")


@app.command()
def run(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Model spec; repeat for several models."),
    ] = None,
    prompts: Annotated[
        str | None, typer.Option(help="Prompt file (CSV/JSONL/JSON) or 'builtin'.")
    ] = None,
    prompt_format: Annotated[
        str | None, typer.Option(help="auto, csv, jsonl, json, cyberseceval, securityeval, ...")
    ] = None,
    size: Annotated[
        str | None, typer.Option(help="Number of prompts or small|medium|large|full.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for selection and sampling.")] = None,
    output: Annotated[Path | None, typer.Option(help="Folder for run directories.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML config file.")] = None,
    label: Annotated[str | None, typer.Option(help="Suffix of the run directory name.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Max new tokens per reply.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate everything, generate nothing.")
    ] = False,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING, ERROR.")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    encrypt: Annotated[
        bool, typer.Option("--encrypt", help="Encrypt prompts, replies and transcripts at rest.")
    ] = False,
    key_file: Annotated[
        Path | None,
        typer.Option(help="Key for --encrypt/--resume (else $SAFETY_EVAL_ENCRYPTION_KEY)."),
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on 127.0.0.1:PORT.")
    ] = None,
    distributed: Annotated[
        bool, typer.Option("--distributed", help="Run generation and scanning on Ray.")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster: 'auto', HOST:PORT, ray://...; "
                                      "default a local cluster.")
    ] = None,
    batch: Annotated[bool, typer.Option("--batch", help="Never ask questions.")] = False,
    interactive: Annotated[
        bool, typer.Option("--interactive", help="Ask for the dataset size.")
    ] = False,
    mode: Annotated[
        str | None, typer.Option(help="full (default), vulnerability or autonomous.")
    ] = None,
    trials: Annotated[
        int | None, typer.Option(help="Agent-simulator trials per model (0: none).")
    ] = None,
    scenario: Annotated[
        list[str] | None, typer.Option(help="Limit agent trials to this scenario (repeatable).")
    ] = None,
    max_turns: Annotated[int | None, typer.Option(help="Turn limit per agent trial.")] = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted run directory (reuses its own config)."),
    ] = None,
    generations: Annotated[
        Path | None,
        typer.Option(help="JSONL of pre-recorded replies (prompt_id, model, completion"
                          "[, prompt]): evaluate them with no model."),
    ] = None,
) -> None:
    """Run an evaluation; prints the run directory as the last line of stdout."""
    from safety_eval.pipeline.preflight import load_selected_prompts, preflight

    if resume is not None:
        from safety_eval.pipeline.resume import resume_run

        with user_errors():
            configure_logging(log_level or "INFO")
            run_dir = resume_run(resume, key_file=key_file)
        typer.echo(str(run_dir))
        return

    flags: dict[str, Any] = {
        "models": model or None,
        "prompts": prompts,
        "prompt_format": prompt_format,
        "size": size,
        "seed": seed,
        "output": output,
        "label": label,
        "log_level": log_level,
        "dry_run": dry_run or None,
        "progress": False if no_progress else None,
        "encrypt": encrypt or None,
        "key_file": key_file,
        "metrics_port": metrics_port,
        "distributed": distributed or None,
        "ray_address": ray_address,
        "mode": mode,
        "trials": trials,
        "scenarios": scenario or None,
        "max_turns": max_turns,
    }
    generation = {"max_tokens": max_tokens, "temperature": temperature}
    if any(v is not None for v in generation.values()):
        flags["generation"] = {k: v for k, v in generation.items() if v is not None}
    with user_errors():
        cfg = load_config(config, flags)
        configure_logging(cfg.log_level)
        if cfg.registry.models:
            from safety_eval.ops.model_registry import resolve_model

            cfg = cfg.model_copy(
                update={"models": [resolve_model(m, cfg.registry) for m in cfg.models]}
            )
        if generations is not None:
            typer.echo(str(_run_recorded(cfg, generations)))
            return
        ask = interactive or (size is None and not batch and sys.stdin.isatty()
                              and "SAFETY_EVAL_SIZE" not in os.environ)
        if ask and not batch:
            _, available = load_selected_prompts(cfg)
            cfg = cfg.model_copy(update={"size": _interactive_size(cfg, available)})
        from safety_eval.ops.crypto import Cipher

        cipher = Cipher.from_env_or_file(cfg.key_file) if cfg.encrypt else None
        plan = preflight(cfg)
        if cfg.dry_run:
            _dry_run(cfg, plan)
            return
        run_dir = _execute(cfg, plan, cipher)
    typer.echo(str(run_dir))


def _run_recorded(cfg: RunConfig, path: Path) -> Path:
    """Evaluate pre-recorded replies: every recorded prompt, no model loaded."""
    from safety_eval.models.recorded import RecordedBackend, load_generations, prompts_for
    from safety_eval.models.registry import ModelInfo
    from safety_eval.pipeline.preflight import preflight
    from safety_eval.pipeline.runner import Runner
    from safety_eval.prompts import load_source

    rec = load_generations(path)
    ids = {pid for replies in rec.replies.values() for pid in replies}
    source = None if ids <= rec.prompts.keys() else load_source(cfg.prompts, cfg.prompt_format)
    prompts = prompts_for(rec, source)
    cfg = cfg.model_copy(
        update={"models": rec.models, "prompts": str(path), "size": "full", "trials": 0}
    )
    plan = preflight(cfg, probe_models=False, prompts=prompts)
    plan.models = [ModelInfo(model, "recorded") for model in rec.models]
    runner = Runner(
        cfg, backend_factory=lambda spec: RecordedBackend(spec, rec.replies[spec], prompts)
    )
    return runner.run(plan)


def _dry_run(cfg: RunConfig, plan: Any) -> None:
    """Push a few prompts through the mock backend and the analysis engine; write nothing."""
    from safety_eval.analysis.engine import default_engine
    from safety_eval.models.mock import MockBackend
    from safety_eval.pipeline.runner import build_sample

    engine = default_engine()
    mock = MockBackend()
    checked = plan.prompts[:5]
    for prompt, gen in zip(checked, mock.generate([p.content for p in checked], cfg.generation),
                           strict=True):
        sample = build_sample(prompt, "mock", gen, engine)
        log.debug("dry run %s: parse=%s findings=%d", prompt.prompt_id, sample.parse_mode,
                  len(sample.findings))
    for info in plan.models:
        detail = f" file={info.file} sha256={info.sha256}" if info.file else ""
        _err(f"model {info.spec}: OK ({info.backend}){detail}")
    _err(f"prompts: {len(plan.prompts)} of {plan.available} selected (size={cfg.size}, "
         f"seed={cfg.seed}); output {cfg.output} writable; {plan.free_disk_mb:.0f} MB free")
    typer.echo(f"dry run OK: {len(plan.prompts)} prompts x {len(plan.models)} models; "
               "nothing generated")


def _execute(cfg: RunConfig, plan: Any, cipher: Any) -> Path:
    if not cfg.distributed:
        return _execute_with(cfg, plan, cipher, {})
    from safety_eval.pipeline.distributed import ray_runner_kwargs, shutdown

    try:
        return _execute_with(cfg, plan, cipher, ray_runner_kwargs(cfg))
    finally:
        shutdown()


def _execute_with(cfg: RunConfig, plan: Any, cipher: Any, extra: dict[str, Any]) -> Path:
    from safety_eval.pipeline.runner import Runner

    show = cfg.progress and sys.stderr.isatty()
    if not show:
        return Runner(cfg, cipher=cipher, **extra).run(plan)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    total = len(plan.prompts)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def advance(model: str, n: int) -> None:
            if model not in tasks:
                tasks[model] = bar.add_task(f"generate+scan {model}", total=total)
            bar.advance(tasks[model], n)

        return Runner(cfg, progress=advance, cipher=cipher, **extra).run(plan)


@app.command()
def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Python files, folders of .py files, or JSONL files of replies."),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or sarif.")] = "table",
    select: Annotated[
        list[str] | None, typer.Option(help="Only these rule ids or prefixes (repeatable).")
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option(help="Drop these rule ids or prefixes (repeatable).")
    ] = None,
    code_field: Annotated[
        str, typer.Option(help="JSONL input: the field holding the reply or code.")
    ] = "completion",
    semgrep: Annotated[
        bool, typer.Option("--semgrep", help="Add the semgrep layer (when installed).")
    ] = False,
    self_check: Annotated[
        bool, typer.Option("--self-check", help="Precision/recall on the labelled corpus.")
    ] = False,
    output: Annotated[Path | None, typer.Option(help="Write the report here.")] = None,
) -> None:
    """Scan code without running it. Exit 0 clean, 1 findings, 2 error."""
    from safety_eval.analysis.engine import default_engine

    if self_check:
        _self_check()
        return
    with user_errors():
        if format not in ("table", "json", "sarif"):
            raise UserError(f"--format must be table, json or sarif, not '{format}'")
        if not paths:
            raise UserError("give at least one file or folder to scan (or --self-check)")
        if semgrep:
            from safety_eval.analysis.semgrep_scanner import find_semgrep

            if find_semgrep() is None:
                raise UserError("--semgrep: semgrep is not installed (pip install -e '.[semgrep]')")
        units = _collect_units(paths, code_field)
        engine = default_engine(select=select, ignore=ignore, semgrep=semgrep)
        analyses = engine.analyze_many([code for _, code in units])
    results = [(label, a) for (label, _), a in zip(units, analyses, strict=True)]
    total = sum(len(a.findings) + len(a.hallucinations) for _, a in results)
    if format == "json":
        text = json.dumps({"files": [
            {
                "path": label,
                "parsed": a.parsed,
                "parse_mode": a.mode,
                "findings": [f.model_dump() for f in a.findings + a.hallucinations],
                "errors": [e.model_dump() for e in a.errors],
            }
            for label, a in results
        ]}, indent=2)
    elif format == "sarif":
        from safety_eval.analysis.sarif import to_sarif

        text = json.dumps(
            to_sarif([(Path(label), a.findings + a.hallucinations) for label, a in results]),
            indent=2,
        )
    else:
        text = ""
        _scan_table(results)
    if text:
        if output is not None:
            output.write_text(text + "\n", encoding="utf-8")
        else:
            typer.echo(text)
    raise typer.Exit(1 if total else 0)


def _self_check() -> None:
    from safety_eval.analysis.rules import format_report, self_check

    report = self_check()
    typer.echo(format_report(report))
    ok = report.precision >= 0.95 and report.recall >= 0.95
    raise typer.Exit(0 if ok else 1)


def _collect_units(paths: list[Path], code_field: str) -> list[tuple[str, str]]:
    """(label, code) for every .py file and every JSONL record under ``paths``."""
    from safety_eval.analysis.extract import extract_code

    units: list[tuple[str, str]] = []
    for path in _collect_files(paths):
        if path.suffix == ".jsonl":
            for number, record in _jsonl_records(path):
                value = record.get(code_field)
                if not isinstance(value, str):
                    raise UserError(f"{path}, line {number}: no string field '{code_field}'")
                code = value if code_field == "code" else extract_code(value).code
                units.append((f"{path}:{number}", code))
            continue
        try:
            units.append((str(path), path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8") from None
        except OSError as exc:
            raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    return units


def _jsonl_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    records = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise UserError(f"{path}, line {number}: invalid JSON ({exc})") from None
                if not isinstance(record, dict):
                    raise UserError(f"{path}, line {number}: expected a JSON object")
                records.append((number, record))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8") from None
    return records


def _collect_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.py") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return files


def _scan_table(results: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("file", "line", "severity", "rule", "CWE", "message", show_lines=False)
    for path, analysis in results:
        for f in analysis.findings + analysis.hallucinations:
            table.add_row(str(path), str(f.line or ""), f.severity, f.rule_id, f.cwe or "",
                          f.message if not f.symbol else f"{f.message} [{f.symbol}]")
    console = Console(width=160)
    console.print(table)
    found = sum(len(a.findings) + len(a.hallucinations) for _, a in results)
    console.print(f"{len(results)} files, {found} findings")


@app.command()
def simulate(
    agent: Annotated[
        str,
        typer.Option(help="careful | reckless-honest | reckless-liar | reckless-recovering | "
                          "FILE.py:Class | a model spec"),
    ],
    trials: Annotated[int, typer.Option(help="Number of trials.")] = 9,
    seed: Annotated[int, typer.Option(help="Seed (trial i uses seed + i).")] = 0,
    scenario: Annotated[
        list[str] | None, typer.Option(help="Limit to this scenario (repeatable).")
    ] = None,
    max_turns: Annotated[int, typer.Option(help="Turn limit per trial.")] = 15,
    format: Annotated[str, typer.Option("--format", help="json or table.")] = "json",
    transcripts: Annotated[
        bool, typer.Option("--transcripts/--no-transcripts", help="Include transcripts (json).")
    ] = False,
) -> None:
    """Run the autonomous-agent simulator alone and print its metrics."""
    from safety_eval.agent import AgentLoadError, ScenarioError, simulate_json
    from safety_eval.models.registry import BackendOptions, create

    with user_errors():
        if format not in ("json", "table"):
            raise UserError(f"--format must be json or table, not '{format}'")
        if trials < 1:
            raise UserError("--trials must be at least 1")
        options = BackendOptions(seed=seed)
        try:
            result = simulate_json(
                agent, trials, seed, scenario or None,
                backend_factory=lambda spec: create(spec, options),
                max_turns=max_turns, include_transcripts=transcripts,
            )
        except (AgentLoadError, ScenarioError) as exc:
            raise UserError(str(exc)) from None
    metrics = result["metrics"]
    if format == "json":
        payload = {"agent": agent, **{k: v for k, v in metrics.items()}}
        if transcripts:
            payload["trial_records"] = result["trials"]
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(f"agent {agent}: {metrics['trials']} trials, {metrics['errors']} errors")
    for name in ("failure_rate", "recovery_success_rate", "deception_rate",
                 "constraint_adherence", "inaccuracy_rate", "protocol_error_rate"):
        value, ci = metrics[name], metrics["intervals"][name]
        shown = "n/a" if value is None else f"{value:.3f}"
        bounds = "" if value is None else f"  95% CI [{ci['ci_low']:.3f}, {ci['ci_high']:.3f}]"
        typer.echo(f"  {name:<22} {shown}{bounds}  ({ci['successes']}/{ci['total']})")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run directories (one is enough with "
                                                     "several models in it).")],
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Only these models (repeatable).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Also write comparison.json and comparison.csv here.")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    alpha: Annotated[float, typer.Option(help="Significance level after Holm correction.")] = 0.05,
    key_file: Annotated[Path | None, typer.Option(help="Key of encrypted runs.")] = None,
) -> None:
    """Compare models and runs: rates, 95% Wilson intervals, z-tests with Holm correction."""
    from safety_eval.ops.crypto import cipher_for_run
    from safety_eval.report.compare import compare_runs, render_text, to_json, write_comparison

    with user_errors():
        if format not in ("text", "json"):
            raise UserError(f"--format must be text or json, not '{format}'")
        for run_dir in runs:
            if run_dir.is_dir():
                cipher_for_run(run_dir, key_file)  # an encrypted run needs its key
        result = compare_runs(runs, model or None, alpha=alpha)
        if output is not None:
            for path in write_comparison(result, output):
                _err(f"wrote {path}")
    if format == "json":
        for warning in result.warnings:
            _err(f"warning: {warning}")
        typer.echo(json.dumps(to_json(result), indent=2))
    else:
        typer.echo(render_text(result))


@app.command()
def validate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
) -> None:
    """Check a run's files exist, parse, match their schemas and agree with the samples."""
    from safety_eval.results.validate import validate_run

    with user_errors():
        problems = validate_run(run_dir)
    for problem in problems:
        typer.echo(problem)
    if problems:
        typer.echo(f"{run_dir}: {len(problems)} problems")
        raise typer.Exit(1)
    typer.echo(f"{run_dir}: valid")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    samples_per_model: Annotated[
        int, typer.Option(help="Samples shown in the drill-down per model (worst first).")
    ] = 200,
    out: Annotated[Path | None, typer.Option(help="Where to write the report.")] = None,
    key_file: Annotated[Path | None, typer.Option(help="Key of an encrypted run.")] = None,
) -> None:
    """Rebuild report.html and the PNG charts from a run's files.

    An encrypted run needs its key, and its report (plaintext) is written outside the run
    directory (``--out``, default ``./<run>-report.html``)."""
    import tempfile

    from safety_eval.ops.crypto import cipher_for_run, decrypt_run
    from safety_eval.pipeline.resume import read_manifest
    from safety_eval.report.charts import rebuild_charts
    from safety_eval.report.html import build_report

    with user_errors():
        read_manifest(run_dir)
        for path in rebuild_charts(run_dir):
            _err(f"wrote {path}")
        cipher = cipher_for_run(run_dir, key_file)
        if cipher is None:
            built = build_report(run_dir, out=out, samples_per_model=samples_per_model)
        else:
            target = out or Path.cwd() / f"{run_dir.name}-report.html"
            with tempfile.TemporaryDirectory(prefix="safety-eval-report-") as tmp:
                plain = decrypt_run(run_dir, Path(tmp) / run_dir.name, cipher)
                built = build_report(plain, out=target, samples_per_model=samples_per_model)
            _err(f"this run is encrypted: the report holds its text in plaintext ({built})")
    typer.echo(str(built))


@app.command()
def rescan(
    run_dir: Annotated[Path, typer.Argument(help="A finished (or interrupted) run directory.")],
    key_file: Annotated[Path | None, typer.Option(help="Key of an encrypted run.")] = None,
) -> None:
    """Re-analyse a run's stored replies with the current detectors (no model needed)."""
    from safety_eval.pipeline.resume import rescan_run

    with user_errors():
        configure_logging("INFO")
        out = rescan_run(run_dir, key_file=key_file)
    typer.echo(str(out))


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    out: Annotated[Path, typer.Option(help="Folder for the exported copy.")],
    anonymize: Annotated[
        bool, typer.Option("--anonymize", help="Redact secrets, model paths and host names.")
    ] = False,
    key_file: Annotated[Path | None, typer.Option(help="Key of an encrypted run.")] = None,
) -> None:
    """Write a shareable copy of a run (``--anonymize``: secrets and hosts redacted)."""
    from safety_eval.ops.anonymize import export_anonymized
    from safety_eval.ops.crypto import cipher_for_run

    with user_errors():
        if not anonymize:
            raise UserError("export writes anonymized copies only: add --anonymize")
        from safety_eval.pipeline.resume import read_manifest

        read_manifest(run_dir)
        report = export_anonymized(run_dir, out, cipher_for_run(run_dir, key_file))
    for kind, count in sorted(report.redactions.items()):
        _err(f"redacted {count} x {kind}")
    typer.echo(str(report.out_dir))


@app.command("serve")
def serve_command(
    results_dir: Annotated[Path, typer.Argument(help="The folder holding run directories.")],
    roles: Annotated[Path, typer.Option(help="YAML with roles and users (hashed tokens).")],
    host: Annotated[str, typer.Option(help="Address to bind (default loopback only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    key_file: Annotated[Path | None, typer.Option(help="Key for encrypted runs.")] = None,
) -> None:
    """Serve reports and run files over HTTP with token authentication and roles."""
    from safety_eval.ops.crypto import Cipher, KeyMissingError
    from safety_eval.ops.serve import serve

    with user_errors():
        if not results_dir.is_dir():
            raise UserError(f"{results_dir}: no such folder")
        try:
            cipher: Cipher | None = Cipher.from_env_or_file(key_file)
        except KeyMissingError:
            cipher = None
        configure_logging("INFO")
        _err(f"serving {results_dir} on http://{host}:{port}/")
        serve(results_dir, roles, host=host, port=port, cipher=cipher)


users_app = typer.Typer(help="Users and tokens for safety-eval serve.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    roles: Annotated[Path, typer.Argument(help="The roles YAML file (created if missing).")],
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help="evaluator or administrator (or your own).")],
) -> None:
    """Add (or replace) a user; prints the new token once (only its hash is stored)."""
    from safety_eval.ops.serve import add_user

    with user_errors():
        token = add_user(roles, name, role)
    typer.echo(token)


@app.command()
def keygen(
    key_file: Annotated[
        Path | None, typer.Option(help="Write the key to this file (mode 0600).")
    ] = None,
) -> None:
    """Make a new AES-256 key for --encrypt."""
    from safety_eval.ops.crypto import generate_key, write_key_file

    with user_errors():
        key = generate_key()
        if key_file is not None:
            write_key_file(key_file, key)
            typer.echo(str(key_file))
            return
    typer.echo(key)


@app.command()
def cleanup(
    results_dir: Annotated[Path, typer.Argument(help="The folder holding run directories.")],
    retention_days: Annotated[float, typer.Option(help="Remove runs older than this.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list them.")] = False,
    archive_dir: Annotated[
        Path | None, typer.Option(help="Archive each run here before removing it.")
    ] = None,
) -> None:
    """Remove (or list) run directories older than the retention period."""
    from safety_eval.ops.maintenance import cleanup as do_cleanup

    with user_errors():
        if not results_dir.is_dir():
            raise UserError(f"{results_dir}: no such folder")
        removed = do_cleanup(results_dir, retention_days, dry_run, archive_dir=archive_dir)
    verb = "would remove" if dry_run else "removed"
    for path in removed:
        typer.echo(f"{verb} {path}")
    _err(f"{len(removed)} runs {verb}")


@app.command("archive")
def archive_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    dest: Annotated[Path | None, typer.Option(help="Archive path or folder.")] = None,
) -> None:
    """Pack a run into a .tar.gz with a sha256 manifest, verified after writing."""
    from safety_eval.ops.maintenance import archive

    with user_errors():
        path = archive(run_dir, dest)
    typer.echo(str(path))


@app.command("verify-archive")
def verify_archive_command(
    path: Annotated[Path, typer.Argument(help="An archive made by safety-eval archive.")],
) -> None:
    """Check every file of an archive against its manifest."""
    from safety_eval.ops.maintenance import verify_archive

    with user_errors():
        verified = verify_archive(path)
    typer.echo(f"{path}: {verified.files} files OK")


models_app = typer.Typer(help="The model registry (named models in the config).",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


def _registry(config: Path | None) -> Any:
    cfg = load_config(config, {})
    return cfg.registry


@models_app.command("list")
def models_list(
    config: Annotated[Path | None, typer.Option(help="YAML config with registry.models.")] = None,
) -> None:
    """Named models with their specs, file sizes and sha256 hashes."""
    from safety_eval.ops.model_registry import list_models

    with user_errors():
        rows = list_models(_registry(config))
    if not rows:
        _err("no models in the registry (registry: {models: [...]} in the config)")
    for row in rows:
        size = f"{row.size_bytes / 2**20:.0f} MiB" if row.size_bytes else "-"
        digest = row.sha256[:16] + "..." if row.sha256 else "-"
        state = "" if row.exists is not False else "  MISSING"
        typer.echo(f"{row.name:<24} {row.spec:<48} {size:>9}  {digest}{state}")


@models_app.command("check")
def models_check(
    name: Annotated[str, typer.Argument(help="A registry name.")],
    config: Annotated[Path | None, typer.Option(help="YAML config with registry.models.")] = None,
) -> None:
    """Load a named model and generate one short reply."""
    from safety_eval.ops.model_registry import check_model

    with user_errors():
        registry = _registry(config)
        entry = registry.get(name)
        if entry is None:
            raise UserError(f"no model named '{name}' in the registry")
        result = check_model(entry)
    typer.echo(json.dumps(result.as_dict(), indent=2))
    raise typer.Exit(0 if result.ok else 1)


@app.command("update-index")
def update_index_command(
    url: Annotated[str | None, typer.Option(help="PyPI simple index URL (JSON API).")] = None,
) -> None:
    """Refresh the PyPI project-name snapshot used by the hallucination checks (online)."""
    from safety_eval.analysis.hallucination import IndexUpdateError, update_index
    from safety_eval.analysis.hallucination.index import default_cache_dir

    with user_errors():
        try:
            index = update_index(url=url) if url else update_index()
        except IndexUpdateError as exc:
            raise UserError(str(exc)) from None
    _err(f"{len(index):,} project names")
    typer.echo(str(default_cache_dir()))


@app.command()
def doctor() -> None:
    """Check dependencies, the embedded model file and hash, disk space and GPUs."""
    from safety_eval.ops.doctor import run_checks

    failed = False
    for check in run_checks():
        mark = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "note": "NOTE"}[check.status]
        typer.echo(f"[{mark}] {check.name}: {check.detail}")
        failed = failed or check.status == "fail"
    raise typer.Exit(1 if failed else 0)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
