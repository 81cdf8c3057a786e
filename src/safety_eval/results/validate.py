"""Check that a run directory is complete, well-formed and consistent with itself.

``validate_run`` checks that every file a finished run writes is there, parses and
matches its JSON Schema (``safety_eval/results/schemas/v<schema_version>/``), and that
the aggregate files agree with the per-sample data: each model's metrics are recomputed
from ``samples.jsonl`` with the same ``ModelAggregate`` the runner uses and compared with
``<model>/vulnerability_metrics.json``, the top-level ``vulnerability_metrics.json`` and
the model's ``multi_model_summary.csv`` row. Samples are streamed, never held in memory.

Each problem is one line that names the file (relative to the run directory), the line
or row where there is one, the JSON path or column, and the expected and found values.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar, cast

from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from pydantic import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from safety_eval.errors import UserError
from safety_eval.models.registry import slug as model_slug
from safety_eval.results.aggregate import (
    RESULTS_COLUMNS,
    SUMMARY_COLUMNS,
    ModelAggregate,
    result_row,
)
from safety_eval.results.records import SCHEMA_VERSION, SEVERITY_ORDER, Sample, Severity

__all__ = [
    "FLOAT_TOLERANCE",
    "MAX_PROBLEMS_PER_FILE",
    "PNG_FILES",
    "SCHEMA_NAMES",
    "load_schema",
    "schema_problems",
    "supported_schema_versions",
    "validate_run",
]

SCHEMA_NAMES = (
    "run",
    "vulnerability_metrics",
    "model_metrics",
    "sample",
    "summary_row",
    "autonomous_metrics",
)
"""Schemas shipped for every supported version, as ``<name>.schema.json``."""

PNG_FILES = ("severity_distribution.png", "top_cwes.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FLOAT_TOLERANCE = 1e-4
"""Largest accepted difference between a stored float and its recomputed value."""
MAX_PROBLEMS_PER_FILE = 25
"""Problems listed per file; the rest are counted in one closing line."""

_SUMMARY_DECIMALS = {"tokens_per_s": 2}  # every other float column is rounded to 4
_AGENT_RATE_KEYS = (
    "failure_rate",
    "recovery_success_rate",
    "deception_rate",
    "constraint_adherence",
    "inaccuracy_rate",
    "protocol_error_rate",
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = object()
_T = TypeVar("_T")


# --- schemas ------------------------------------------------------------------------------


def _schema_root() -> Traversable:
    return resources.files("safety_eval.results") / "schemas"


@cache
def supported_schema_versions() -> tuple[str, ...]:
    """The ``schema_version`` values this installation has schemas for (``("1",)``)."""
    found = [
        entry.name[1:]
        for entry in _schema_root().iterdir()
        if entry.is_dir() and entry.name.startswith("v") and entry.name[1:].isdigit()
    ]
    return tuple(sorted(found, key=int))


def load_schema(name: str, version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema ``<name>.schema.json`` of ``version``, read from the package data
    (a fresh copy: changing it changes nothing else)."""
    return copy.deepcopy(_schema(name, version))


@cache
def _schema(name: str, version: str) -> dict[str, Any]:
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    if version not in supported_schema_versions():
        raise ValueError(f"no schemas for schema_version {version!r}")
    path = _schema_root() / f"v{version}" / f"{name}.schema.json"
    return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))


@cache
def _validator(name: str, version: str) -> Any:
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in (_schema(n, version) for n in SCHEMA_NAMES)
    )
    return Draft202012Validator(_schema(name, version), registry=registry)


def _json_path(parts: Sequence[str | int] | Iterator[str | int]) -> str:
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENT.match(part):
            text += f".{part}"
        else:
            text += f"[{part!r}]"
    return text


def _short(value: Any, limit: int = 120) -> str:
    text = "(missing)" if value is _MISSING else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def schema_problems(name: str, instance: Any, version: str = SCHEMA_VERSION) -> list[str]:
    """``"<json path>: <message>"`` for each way ``instance`` breaks schema ``name``."""
    errors = sorted(
        _validator(name, version).iter_errors(instance),
        key=lambda e: ([str(p) for p in e.absolute_path], e.message),
    )
    problems = []
    for error in errors:
        message = error.message
        if len(message) > 300:
            message = message[:297] + "..."
        problems.append(f"{_json_path(error.absolute_path)}: {message}")
    return problems


# --- collecting problems ------------------------------------------------------------------


class _Problems:
    """Problem lines in the order found, at most MAX_PROBLEMS_PER_FILE per file."""

    def __init__(self, cap: int = MAX_PROBLEMS_PER_FILE) -> None:
        self.cap = cap
        self.lines: list[str] = []
        self.per_file: Counter[str] = Counter()

    def add(self, file: str, message: str) -> None:
        self.per_file[file] += 1
        if self.per_file[file] <= self.cap:
            self.lines.append(f"{file}: {message}")

    def count(self, file: str) -> int:
        return self.per_file[file]

    def finish(self) -> list[str]:
        extra = [
            f"{file}: ... and {n - self.cap} more problems not shown"
            for file, n in self.per_file.items()
            if n > self.cap
        ]
        return self.lines + extra


def _load_json(run_dir: Path, rel: str, problems: _Problems, required: bool = True) -> Any:
    """The parsed file, or ``_MISSING`` (after recording why) when it cannot be used."""
    path = run_dir / rel
    if not path.is_file():
        if required:
            problems.add(rel, "missing")
        return _MISSING
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        problems.add(rel, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        problems.add(rel, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except OSError as exc:
        problems.add(rel, f"cannot be read ({exc.strerror or exc})")
    return _MISSING


def _check_schema(
    problems: _Problems, rel: str, name: str, instance: Any, version: str, where: str = ""
) -> bool:
    found = schema_problems(name, instance, version)
    for problem in found:
        problems.add(rel, f"{where}{problem}")
    return not found


# --- comparing recomputed values with stored ones -----------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _floats_agree(expected: float, found: Any, tolerance: float = FLOAT_TOLERANCE) -> bool:
    return _is_number(found) and math.isclose(
        float(expected), float(found), rel_tol=1e-9, abs_tol=tolerance + 1e-12
    )


def _diff(expected: Any, found: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """Where ``found`` disagrees with ``expected``: (json path, expected, found).

    Keys only ``found`` has are ignored (later versions may add some); CWE names are
    descriptive text from the CWE catalog and are not compared.
    """
    if isinstance(expected, dict):
        if not isinstance(found, dict):
            yield path, expected, found
            return
        for key, value in expected.items():
            if key == "name" and "cwe_classifications" in path:
                continue
            sub = _json_path([key]).replace("$", path, 1)
            yield from _diff(value, found.get(key, _MISSING), sub)
    elif isinstance(expected, list):
        if not isinstance(found, list) or len(found) != len(expected):
            yield path, expected, found
            return
        for index, (exp, got) in enumerate(zip(expected, found, strict=True)):
            yield from _diff(exp, got, f"{path}[{index}]")
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if found is _MISSING or type(found) is not type(expected) or found != expected:
            yield path, expected, found
    elif isinstance(expected, int):
        if not (isinstance(found, int) and not isinstance(found, bool) and found == expected):
            yield path, expected, found
    elif isinstance(expected, float):
        if not _floats_agree(expected, found):
            yield path, expected, found
    elif found != expected:  # pragma: no cover - metrics hold only JSON types
        yield path, expected, found


def _report_diff(
    problems: _Problems, rel: str, spec: str, source: str, expected: Any, found: Any, path: str
) -> None:
    for where, exp, got in _diff(expected, found, path):
        problems.add(
            rel,
            f"model {spec!r}: {where}: expected {_short(exp)} (recomputed from {source}), "
            f"found {_short(got)}",
        )


# --- the run ------------------------------------------------------------------------------


class _Model:
    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.folder = model_slug(spec)
        self.aggregate: ModelAggregate | None = None
        """Recomputed from samples.jsonl; None when the samples could not all be read."""


def validate_run(run_dir: Path) -> list[str]:
    """Every problem found in the run directory ``run_dir``; an empty list means valid.

    Raises ``UserError`` only when ``run_dir`` is not a directory at all.
    """
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    problems = _Problems()
    manifest = _load_json(run_dir, "run.json", problems)
    version = SCHEMA_VERSION
    threshold: Severity = "medium"
    selected: int | None = None
    models: list[_Model] = []
    if manifest is not _MISSING:
        if isinstance(manifest, dict) and "schema_version" in manifest:
            version = str(manifest["schema_version"])
            if version not in supported_schema_versions():
                known = ", ".join(supported_schema_versions())
                problems.add(
                    "run.json",
                    f"$.schema_version: {version!r} is not a schema version this tool knows "
                    f"({known}); nothing else was checked",
                )
                return problems.finish()
        _check_schema(problems, "run.json", "run", manifest, version)
        if isinstance(manifest, dict):
            threshold, selected = _manifest_facts(manifest, problems)
            models = _manifest_models(manifest, problems)

    top = _load_json(run_dir, "vulnerability_metrics.json", problems)
    if not models and manifest is _MISSING and isinstance(top, dict):
        # no usable run.json: still check the models the metrics file names
        specs = top.get("models")
        if isinstance(specs, dict):
            models = [_Model(spec) for spec in specs]

    for model in models:
        _check_model_folder(run_dir, model, threshold, selected, version, problems)
    if top is not _MISSING:
        _check_top_metrics(top, models, threshold, version, problems)
    _check_summary(run_dir, models, version, problems)
    _check_autonomous(run_dir, models, version, problems)
    return problems.finish()


def _manifest_facts(manifest: dict[str, Any], problems: _Problems) -> tuple[Severity, int | None]:
    status = manifest.get("status")
    if status != "complete":
        problems.add(
            "run.json",
            f"$.status: the run did not finish (status {_short(status)}, expected 'complete')",
        )
    threshold = manifest.get("severity_threshold")
    if threshold not in SEVERITY_ORDER:
        threshold = "medium"  # the schema check has reported it
    source = manifest.get("prompt_source")
    selected = source.get("selected") if isinstance(source, dict) else None
    if not isinstance(selected, int) or isinstance(selected, bool):
        selected = None
    return cast(Severity, threshold), selected


def _manifest_models(manifest: dict[str, Any], problems: _Problems) -> list[_Model]:
    entries = manifest.get("models")
    if not isinstance(entries, list):
        return []
    models: list[_Model] = []
    seen_specs: set[str] = set()
    seen_folders: dict[str, str] = {}
    for index, entry in enumerate(entries):
        spec = entry.get("spec") if isinstance(entry, dict) else None
        if not isinstance(spec, str) or not spec:
            continue  # the schema check has reported it
        model = _Model(spec)
        where = f"$.models[{index}]"
        if spec in seen_specs:
            problems.add("run.json", f"{where}.spec: model {spec!r} is listed twice")
            continue
        recorded = entry.get("slug")
        if isinstance(recorded, str) and recorded != model.folder:
            problems.add(
                "run.json",
                f"{where}.slug: expected {model.folder!r} (the folder for {spec!r}), "
                f"found {recorded!r}",
            )
        if model.folder in seen_folders:
            problems.add(
                "run.json",
                f"{where}.spec: models {seen_folders[model.folder]!r} and {spec!r} would "
                f"share the folder {model.folder!r}",
            )
        seen_specs.add(spec)
        seen_folders[model.folder] = spec
        models.append(model)
    return models


# --- one model's folder -------------------------------------------------------------------


def _check_model_folder(
    run_dir: Path,
    model: _Model,
    threshold: Severity,
    selected: int | None,
    version: str,
    problems: _Problems,
) -> None:
    folder = run_dir / model.folder
    if not folder.is_dir():
        problems.add(f"{model.folder}/", f"missing (the folder of model {model.spec!r})")
        return
    _check_samples(run_dir, model, threshold, selected, version, problems)
    rel = f"{model.folder}/vulnerability_metrics.json"
    metrics = _load_json(run_dir, rel, problems)
    if metrics is not _MISSING:
        _check_schema(problems, rel, "model_metrics", metrics, version)
        if model.aggregate is not None:
            _report_diff(
                problems, rel, model.spec, f"{model.folder}/samples.jsonl",
                model.aggregate.metrics(), metrics, "$",
            )
    for name in PNG_FILES:
        _check_png(run_dir, f"{model.folder}/{name}", problems)


def _check_png(run_dir: Path, rel: str, problems: _Problems) -> None:
    path = run_dir / rel
    if not path.is_file():
        problems.add(rel, "missing")
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(len(PNG_MAGIC))
    except OSError as exc:
        problems.add(rel, f"cannot be read ({exc.strerror or exc})")
        return
    if head != PNG_MAGIC:
        problems.add(rel, f"not a PNG image (starts with {head!r}, expected {PNG_MAGIC!r})")


class _ResultsCsv:
    """``results.csv`` read one row at a time, alongside ``samples.jsonl``."""

    def __init__(self, run_dir: Path, rel: str, problems: _Problems) -> None:
        self.rel = rel
        self.problems = problems
        self.rows = 0
        self.broken = False
        self._handle = (run_dir / rel).open(encoding="utf-8", newline="")
        self._reader = csv.DictReader(self._handle)
        header = self._guard(lambda: list(self._reader.fieldnames or [])) or []
        if not self.broken and header != RESULTS_COLUMNS:
            missing = [c for c in RESULTS_COLUMNS if c not in header]
            extra = [c for c in header if c not in RESULTS_COLUMNS]
            problems.add(
                rel,
                f"header: missing columns {missing or 'none'}, unexpected columns "
                f"{extra or 'none'}" + ("" if missing or extra else " (order differs)"),
            )

    def _guard(self, read: Callable[[], _T]) -> _T | None:
        if self.broken:
            return None
        try:
            return read()
        except (csv.Error, UnicodeDecodeError) as exc:
            self.problems.add(self.rel, f"not valid CSV text after row {self.rows} ({exc})")
            self.broken = True
            return None

    def next_row(self) -> dict[str, str] | None:
        row = self._guard(lambda: next(self._reader, None))
        self.rows += row is not None
        return row

    def finish(self) -> int:
        """Count the rows left and close; the total number of rows."""
        while self.next_row() is not None:
            pass
        self._handle.close()
        return self.rows


def _check_samples(
    run_dir: Path,
    model: _Model,
    threshold: Severity,
    selected: int | None,
    version: str,
    problems: _Problems,
) -> None:
    """Stream ``samples.jsonl`` and ``results.csv`` side by side; set ``model.aggregate``."""
    rel = f"{model.folder}/samples.jsonl"
    rel_csv = f"{model.folder}/results.csv"
    path = run_dir / rel
    results: _ResultsCsv | None = None
    if (run_dir / rel_csv).is_file():
        results = _ResultsCsv(run_dir, rel_csv, problems)
    else:
        problems.add(rel_csv, "missing")
    if not path.is_file():
        problems.add(rel, "missing")
        if results is not None:
            results.finish()
        return
    aggregate = ModelAggregate(model.spec, threshold)
    first_line: dict[str, int] = {}
    unreadable = records = csv_differs = 0
    first_difference = ""
    try:
        with path.open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                records += 1
                row = results.next_row() if results is not None else None
                sample = _read_sample(rel, lineno, line, model.spec, version, problems)
                if sample is None:
                    unreadable += 1
                    continue
                if sample.prompt_id in first_line:
                    problems.add(
                        rel,
                        f"line {lineno}: duplicate prompt_id {sample.prompt_id!r} "
                        f"(first on line {first_line[sample.prompt_id]})",
                    )
                else:
                    first_line[sample.prompt_id] = lineno
                aggregate.add(sample)
                difference = _row_difference(sample, row) if row is not None else ""
                if difference:
                    csv_differs += 1
                    first_difference = first_difference or (
                        f"row {records} (prompt_id {sample.prompt_id!r}): {difference}"
                    )
    except UnicodeDecodeError as exc:
        problems.add(rel, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        unreadable += 1
    except OSError as exc:
        problems.add(rel, f"cannot be read ({exc.strerror or exc})")
        unreadable += 1
    if results is not None:
        csv_rows = results.finish()
        if csv_rows != records and not results.broken:
            problems.add(
                rel_csv, f"has {csv_rows} rows, expected {records} (one per sample in {rel})"
            )
        if csv_differs:
            problems.add(
                rel_csv, f"{csv_differs} row(s) disagree with {rel}; first: {first_difference}"
            )
    if selected is not None and records != selected:
        problems.add(
            rel,
            f"has {records} samples, expected {selected} "
            "(run.json $.prompt_source.selected prompts, one sample each)",
        )
    if unreadable:
        problems.add(
            rel,
            f"{unreadable} unreadable line(s): the metrics of model {model.spec!r} were not "
            "cross-checked against the samples",
        )
    else:
        model.aggregate = aggregate


def _read_sample(
    rel: str, lineno: int, line: str, spec: str, version: str, problems: _Problems
) -> Sample | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        if not line.endswith("\n"):
            problems.add(
                rel,
                f"line {lineno}: last line is cut short ({exc.msg} at column {exc.colno}); "
                "was the run interrupted?",
            )
        else:
            problems.add(rel, f"line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})")
        return None
    schema_ok = _check_schema(problems, rel, "sample", data, version, where=f"line {lineno}: ")
    try:
        sample = Sample.model_validate_json(line)
    except ValidationError as exc:
        if schema_ok:
            first = exc.errors()[0]
            where = _json_path(list(first["loc"]))
            problems.add(rel, f"line {lineno}: {where}: {first['msg']}")
        return None
    if sample.model != spec:
        problems.add(
            rel, f"line {lineno}: $.model: expected {spec!r} (this folder's model), "
            f"found {sample.model!r}",
        )
    return sample


def _row_difference(sample: Sample, row: dict[str, str]) -> str:
    for column, value in result_row(sample).items():
        expected = "" if value is None else str(value)
        found = row.get(column)
        if found != expected:
            return f"column {column!r}: expected {_short(expected)}, found {_short(found)}"
    return ""


# --- files over all models ----------------------------------------------------------------


def _check_top_metrics(
    top: Any, models: list[_Model], threshold: Severity, version: str, problems: _Problems
) -> None:
    rel = "vulnerability_metrics.json"
    _check_schema(problems, rel, "vulnerability_metrics", top, version)
    if not isinstance(top, dict):
        return
    if top.get("severity_threshold") not in (threshold, None):
        problems.add(
            rel,
            f"$.severity_threshold: expected {threshold!r} (from run.json), "
            f"found {_short(top['severity_threshold'])}",
        )
    found = top.get("models")
    if not isinstance(found, dict):
        return
    specs = {model.spec for model in models}
    for model in models:
        where = _json_path(["models", model.spec])
        if model.spec not in found:
            problems.add(rel, f"{where}: missing (model {model.spec!r} is in run.json)")
        elif model.aggregate is not None:
            _report_diff(
                problems, rel, model.spec, f"{model.folder}/samples.jsonl",
                model.aggregate.metrics(), found[model.spec], where,
            )
    for spec in found:
        if models and spec not in specs:
            problems.add(
                rel, f"{_json_path(['models', spec])}: unexpected model (not in run.json)"
            )


def _summary_types(version: str) -> dict[str, str]:
    schema = _schema("summary_row", version)
    types: dict[str, str] = {}
    for column, prop in schema["properties"].items():
        if "$ref" in prop:
            prop = schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]]
        types[column] = str(prop.get("type", "string"))
    return types


def _coerce(value: str, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            number = float(value)
            return number if math.isfinite(number) else value
    except ValueError:
        return value
    return value


def _check_summary(run_dir: Path, models: list[_Model], version: str, problems: _Problems) -> None:
    rel = "multi_model_summary.csv"
    path = run_dir / rel
    if not path.is_file():
        problems.add(rel, "missing")
        return
    by_spec = {model.spec: model for model in models}
    seen: dict[str, int] = {}
    types = _summary_types(version)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            missing = [c for c in SUMMARY_COLUMNS if c not in header]
            extra = [c for c in header if c not in SUMMARY_COLUMNS]
            if missing or extra:
                problems.add(
                    rel, f"header: missing columns {missing or 'none'}, "
                    f"unexpected columns {extra or 'none'}",
                )
            for raw in reader:
                lineno = reader.line_num
                row = {
                    column: _coerce(value or "", types.get(column, "string"))
                    for column, value in raw.items()
                    if column is not None and column in types
                }
                spec = str(raw.get("model") or "")
                label = f"line {lineno} (model {spec!r}): "
                _check_schema(problems, rel, "summary_row", row, version, where=label)
                if spec in seen:
                    problems.add(rel, f"line {lineno}: second row for model {spec!r} "
                                 f"(first on line {seen[spec]})")
                    continue
                seen[spec] = lineno
                model = by_spec.get(spec)
                if model is None:
                    if models:
                        problems.add(rel, f"line {lineno}: unexpected row for model {spec!r} "
                                     "(not in run.json)")
                    continue
                if model.aggregate is not None:
                    _compare_summary_row(rel, model, row, problems)
    except (csv.Error, UnicodeDecodeError) as exc:
        problems.add(rel, f"not valid CSV text ({exc})")
    for model in models:
        if model.spec not in seen:
            problems.add(rel, f"no row for model {model.spec!r}")


def _compare_summary_row(
    rel: str, model: _Model, row: dict[str, Any], problems: _Problems
) -> None:
    assert model.aggregate is not None
    source = f"{model.folder}/samples.jsonl"
    for column, expected in model.aggregate.summary_row().items():
        found = row.get(column, _MISSING)
        if isinstance(expected, float):
            step = 0.5 * 10.0 ** -_SUMMARY_DECIMALS.get(column, 4)
            ok = _floats_agree(expected, found, max(FLOAT_TOLERANCE, step))
        elif isinstance(expected, int) and not isinstance(expected, bool):
            ok = isinstance(found, int) and not isinstance(found, bool) and found == expected
        else:
            ok = found == expected
        if not ok:
            problems.add(
                rel,
                f"model {model.spec!r}, column {column!r}: expected {_short(expected)} "
                f"(recomputed from {source}), found {_short(found)}",
            )


def _check_autonomous(
    run_dir: Path, models: list[_Model], version: str, problems: _Problems
) -> None:
    rel = "autonomous_metrics.json"
    data = _load_json(run_dir, rel, problems, required=False)
    trial_files = {
        model.spec: f"{model.folder}/agent_trials.jsonl"
        for model in models
        if (run_dir / model.folder / "agent_trials.jsonl").is_file()
    }
    if data is _MISSING:
        if not (run_dir / rel).exists():
            for spec, trials_rel in trial_files.items():
                problems.add(trials_rel, f"present, but {rel} (with model {spec!r}) is missing")
        return
    _check_schema(problems, rel, "autonomous_metrics", data, version)
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return
    for spec, entry in entries.items():
        if not isinstance(entry, dict):
            continue
        _check_agent_intervals(rel, spec, entry, problems)
        trials_rel = f"{model_slug(spec)}/agent_trials.jsonl"
        trials = entry.get("trials")
        if (run_dir / trials_rel).is_file() and isinstance(trials, int):
            lines = _count_jsonl_objects(run_dir, trials_rel, problems)
            if lines is not None and lines != trials:
                problems.add(
                    trials_rel,
                    f"has {lines} trials, expected {trials} "
                    f"({rel} {_json_path(['models', spec, 'trials'])})",
                )
    for spec, trials_rel in trial_files.items():
        if spec not in entries:
            problems.add(trials_rel, f"present, but {rel} has no entry for model {spec!r}")


def _check_agent_intervals(rel: str, spec: str, entry: dict[str, Any], problems: _Problems) -> None:
    intervals = entry.get("intervals")
    if not isinstance(intervals, dict):
        return
    for key in _AGENT_RATE_KEYS:
        interval = intervals.get(key)
        value = entry.get(key)
        if not isinstance(interval, dict):
            continue
        successes, total = interval.get("successes"), interval.get("total")
        if not (isinstance(successes, int) and isinstance(total, int)):
            continue
        where = _json_path(["models", spec, "intervals", key])
        if not 0 <= successes <= total:
            problems.add(rel, f"{where}: successes {successes} outside 0..{total}")
        elif total > 0 and _is_number(value) and not _floats_agree(successes / total, value):
            problems.add(
                rel,
                f"{_json_path(['models', spec, key])}: expected {successes / total:.6g} "
                f"({successes}/{total} from {where}), found {_short(value)}",
            )


def _count_jsonl_objects(run_dir: Path, rel: str, problems: _Problems) -> int | None:
    count = 0
    try:
        with (run_dir / rel).open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                count += 1
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    problems.add(rel, f"line {lineno}: not valid JSON ({exc.msg})")
                    continue
                if not isinstance(record, dict):
                    problems.add(rel, f"line {lineno}: expected a JSON object")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(rel, f"cannot be read ({exc})")
        return None
    return count
