"""Read prompt sets: our own CSV / JSONL / JSON files and public benchmark formats.

Every problem with an input file is raised as :class:`PromptLoadError`, whose message
names the file, the line (or, for a JSON list, the record number) when known, and the
problem, e.g. ``prompts.csv, line 7: missing value for 'content'``. No raw decoding or
parsing exception escapes :func:`load_prompts`.

Formats (``fmt``):

``csv``
    Header row with ``prompt_id, content`` and optionally ``category, complexity, cwe,
    language``; header names are trimmed and case-insensitive, other columns ignored.
``jsonl``
    One JSON object per line with the same keys; blank lines are skipped.
``json``
    A list of such objects, or ``{"prompts": [...]}``.
``cyberseceval``
    CyberSecEval instruct / autocomplete JSON (``test_case_prompt``, ``cwe_identifier``,
    ``language``, optional ``variant``, ``pattern_id``).
``securityeval``
    SecurityEval JSONL (``ID``, ``Prompt``); the CWE comes from the ID.
``llmseceval``
    LLMSecEval JSON or CSV (``Prompt ID``, ``NL Prompt`` / ``Manually-fixed NL Prompt`` /
    ``LLM-generated NL Prompt``, ``CWE Name``, ``Language``).
``auto``
    Container from the extension (and the first character when it is ambiguous),
    schema from the keys / columns of the first record.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safety_eval.results.records import Prompt

__all__ = [
    "FORMATS",
    "PromptLoadError",
    "load_builtin",
    "load_prompts",
    "load_source",
    "normalize_cwe",
]

FORMATS: tuple[str, ...] = (
    "auto",
    "csv",
    "jsonl",
    "json",
    "cyberseceval",
    "securityeval",
    "llmseceval",
)

BUILTIN_SPEC = "builtin"
_BUILTIN_DISPLAY = "safety_eval/prompts/builtin/prompts.jsonl"
_UTF8_BOM = b"\xef\xbb\xbf"
_MAX_FOUND_SHOWN = 12


class PromptLoadError(Exception):
    """A prompt file that cannot be used; the message says where and why."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        column: int | None = None,
        record: int | None = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.column = column
        self.record = record
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.record is not None:
            parts.append(f"record {self.record}")
        return f"{', '.join(parts)}: {self.problem}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (self.path, self.problem, self.line, self.column, self.record))


def _rebuild_error(
    path: str, problem: str, line: int | None, column: int | None, record: int | None
) -> PromptLoadError:
    return PromptLoadError(path, problem, line=line, column=column, record=record)


# --------------------------------------------------------------------------- CWE ids

_CWE_FIELD = re.compile(r"^\s*(?:cwe)?[\s_:#-]*0*(\d+)(?!\d)", re.IGNORECASE)
_CWE_IN_ID = re.compile(r"^\s*cwe[\s_:#-]*0*(\d+)(?!\d)", re.IGNORECASE)


def normalize_cwe(value: object) -> str | None:
    """``CWE-020`` / ``cwe_89`` / ``89`` / ``"CWE-79: XSS"`` -> ``CWE-20`` / ``CWE-89`` / ...

    Anything without a recognisable CWE number (including ``None`` and ``""``) gives None.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"CWE-{value}" if value > 0 else None
    match = _CWE_FIELD.match(str(value))
    if match is None or int(match.group(1)) == 0:
        return None
    return f"CWE-{int(match.group(1))}"


def _cwe_from_id(identifier: str) -> str | None:
    """The CWE at the start of an identifier such as ``CWE-020_author_1.py``."""
    match = _CWE_IN_ID.match(identifier)
    if match is None or int(match.group(1)) == 0:
        return None
    return f"CWE-{int(match.group(1))}"


# --------------------------------------------------------------------------- records


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


@dataclass(frozen=True)
class _Where:
    """Where a record sits in its file: a line (CSV, JSONL) or a list index (JSON)."""

    line: int | None = None
    record: int | None = None

    def describe(self) -> str:
        if self.line is not None:
            return f"line {self.line}"
        if self.record is not None:
            return f"record {self.record}"
        return "an earlier record"


@dataclass
class _Record:
    """One raw record, keys normalised (trimmed, lower-case); original keys kept."""

    name: str
    where: _Where
    values: dict[str, Any]
    keys: list[str]
    word: str  # "column" (CSV) or "key" (JSON)

    def error(self, problem: str) -> PromptLoadError:
        return PromptLoadError(self.name, problem, line=self.where.line, record=self.where.record)

    def require_key(self, key: str) -> None:
        if key.strip().lower() not in self.values:
            raise self.error(f"missing {self.word} {key!r}")

    def text(self, key: str) -> str | None:
        """The value under ``key`` as a string; None when absent, null or blank."""
        norm = key.strip().lower()
        if norm not in self.values:
            return None
        value = self.values[norm]
        if value is None:
            return None
        if isinstance(value, str):
            text = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            text = str(value)
        else:
            raise self.error(f"{key!r} must be a string, got {_json_type(value)}")
        return text if text.strip() else None

    def short(self, key: str) -> str | None:
        """Like :meth:`text`, trimmed (for ids, categories, languages)."""
        value = self.text(key)
        return None if value is None else value.strip()

    def required_text(self, key: str) -> str:
        """The non-blank value under ``key``; its absence is an error naming ``key``."""
        self.require_key(key)
        value = self.text(key)
        if value is None:
            raise self.error(f"missing value for {key!r}")
        return value

    def required_short(self, key: str) -> str:
        return self.required_text(key).strip()


@dataclass
class _Table:
    """The records of one file, plus the CSV header when there is one."""

    name: str
    container: str  # "csv", "jsonl" or "json"
    records: list[_Record]
    columns: list[str] | None = None
    header_line: int | None = None

    @property
    def word(self) -> str:
        return "column" if self.container == "csv" else "key"

    def first_keys(self) -> tuple[list[str], _Where]:
        """The keys that decide the schema, and where they were read."""
        if self.columns is not None:
            return self.columns, _Where(line=self.header_line)
        first = self.records[0]
        return first.keys, first.where


# --------------------------------------------------------------------------- reading


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise PromptLoadError(path, "file not found")
    if path.is_dir():
        raise PromptLoadError(path, "is a directory, not a prompt file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PromptLoadError(path, f"cannot read file: {exc.strerror or exc}") from exc


def _decode(data: bytes, name: str) -> str:
    base = 0
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
        base = len(_UTF8_BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise PromptLoadError(
            name,
            f"not UTF-8{hint}: invalid byte 0x{bad} at byte offset {exc.start + base}; "
            "save the file as UTF-8",
            line=line,
        ) from exc


def _first_char(text: str) -> str:
    stripped = text.lstrip()
    return stripped[:1]


_UNPARSED = object()


def _try_json(text: str) -> object:
    """The parsed document, or ``_UNPARSED`` when ``text`` is not valid JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _UNPARSED


def _looks_like_jsonl(text: str) -> bool:
    """Several JSON objects one per line (or a single bare object), not one document."""
    doc = _try_json(text)
    if doc is _UNPARSED:
        first = next((ln for ln in text.split("\n") if ln.strip()), "")
        return isinstance(_try_json(first), dict)
    return isinstance(doc, dict) and "prompts" not in doc


def _sniff_container(text: str, suffix: str) -> str:
    first = _first_char(text)
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "json" if first == "[" else "jsonl"
    if suffix == ".json":
        return "jsonl" if first == "{" and _looks_like_jsonl(text) else "json"
    if first == "[":
        return "json"
    if first == "{":
        return "jsonl" if _looks_like_jsonl(text) else "json"
    return "csv"


def _norm_key(key: object) -> str:
    return str(key).strip().lower()


def _json_record(name: str, obj: object, where: _Where) -> _Record:
    if not isinstance(obj, dict):
        raise PromptLoadError(
            name,
            f"expected a JSON object, got {_json_type(obj)}",
            line=where.line,
            record=where.record,
        )
    values: dict[str, Any] = {}
    for key, value in obj.items():
        values.setdefault(_norm_key(key), value)
    return _Record(name, where, values, [str(k) for k in obj], "key")


def _read_jsonl(text: str, name: str) -> _Table:
    records: list[_Record] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PromptLoadError(
                name, f"malformed JSON: {exc.msg}", line=number, column=exc.colno
            ) from exc
        except (ValueError, RecursionError) as exc:
            raise PromptLoadError(name, f"malformed JSON: {exc}", line=number) from exc
        records.append(_json_record(name, obj, _Where(line=number)))
    return _Table(name, "jsonl", records)


def _read_json(text: str, name: str) -> _Table:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = ""
        if exc.msg == "Extra data":
            hint = " (more than one JSON document; if this is JSON Lines, use format 'jsonl')"
        raise PromptLoadError(
            name, f"malformed JSON: {exc.msg}{hint}", line=exc.lineno, column=exc.colno
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise PromptLoadError(name, f"malformed JSON: {exc}") from exc
    items: object = doc
    if isinstance(doc, dict) and isinstance(doc.get("prompts"), list):
        items = doc["prompts"]
    if not isinstance(items, list):
        raise PromptLoadError(
            name,
            "expected a JSON list of prompt objects or an object with a 'prompts' list, "
            f"got {_json_type(doc)}",
        )
    records = [
        _json_record(name, obj, _Where(record=index)) for index, obj in enumerate(items, start=1)
    ]
    return _Table(name, "json", records)


def _read_csv(text: str, name: str, delimiter: str) -> _Table:
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        strict=True,
        skipinitialspace=True,
    )
    rows: list[tuple[int, list[str]]] = []
    previous = 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if any(cell.strip() for cell in row):
                rows.append((start, row))
    except csv.Error as exc:
        problem = f"malformed CSV: {exc}"
        if "end of data" in str(exc):
            problem += " (a quote that is never closed?)"
        raise PromptLoadError(name, problem, line=previous + 1) from exc
    if not rows:
        raise PromptLoadError(name, "no header row")
    header_line, header = rows[0]
    columns = [cell.strip() for cell in header]
    normalized = [_norm_key(cell) for cell in columns]
    seen: dict[str, str] = {}
    for column, norm in zip(columns, normalized, strict=True):
        if not norm:
            continue
        if norm in seen:
            raise PromptLoadError(name, f"duplicate column {column!r}", line=header_line)
        seen[norm] = column
    records: list[_Record] = []
    for line, row in rows[1:]:
        values: dict[str, Any] = {}
        for index, norm in enumerate(normalized):
            if norm:
                values[norm] = row[index] if index < len(row) else ""
        records.append(_Record(name, _Where(line=line), values, columns, "column"))
    return _Table(name, "csv", records, columns=[c for c in columns if c], header_line=header_line)


def _read_container(text: str, name: str, container: str, suffix: str) -> _Table:
    if container == "csv":
        return _read_csv(text, name, "\t" if suffix == ".tsv" else ",")
    if container == "jsonl":
        return _read_jsonl(text, name)
    return _read_json(text, name)


# --------------------------------------------------------------------------- schemas


@dataclass
class _Context:
    """Per-file state handed to the record builders."""

    source: str
    index: int = 0  # 0-based position of the record being built


_Builder = Callable[[_Record, _Context], Prompt]


@dataclass(frozen=True)
class _Schema:
    name: str
    label: str
    required: tuple[str, ...]
    signature: tuple[str, ...]  # keys whose presence identifies the format in auto mode
    one_of: tuple[str, ...] = field(default=())
    optional: tuple[str, ...] = field(default=())

    def missing(self, keys: Iterable[str]) -> str | None:
        """The first required key absent from ``keys`` (None when all are there)."""
        present = {_norm_key(k) for k in keys}
        for key in self.required:
            if key.lower() not in present:
                return key
        if self.one_of and not any(k.lower() in present for k in self.one_of):
            return self.one_of[0]
        return None

    def expected(self) -> str:
        parts = list(self.required)
        if self.one_of:
            parts.append(" or ".join(self.one_of))
        text = ", ".join(parts)
        if self.optional:
            text += f"; optional: {', '.join(self.optional)}"
        return text


_GENERIC = _Schema(
    "generic",
    "a plain prompt file",
    ("prompt_id", "content"),
    ("prompt_id", "content"),
    optional=("category", "complexity", "cwe", "language"),
)
_CYBERSECEVAL = _Schema(
    "cyberseceval",
    "CyberSecEval data",
    ("test_case_prompt", "cwe_identifier", "language"),
    ("test_case_prompt",),
    optional=("variant", "pattern_id"),
)
_SECURITYEVAL = _Schema("securityeval", "SecurityEval data", ("ID", "Prompt"), ("ID", "Prompt"))
_LLMSECEVAL_PROMPTS = ("NL Prompt", "Manually-fixed NL Prompt", "LLM-generated NL Prompt")
_LLMSECEVAL = _Schema(
    "llmseceval",
    "LLMSecEval data",
    ("Prompt ID",),
    ("Prompt ID",),
    one_of=_LLMSECEVAL_PROMPTS,
    optional=("CWE Name", "Language"),
)

# Detection order matters: the most specific signatures first.
_DETECTION_ORDER = (_CYBERSECEVAL, _LLMSECEVAL, _GENERIC, _SECURITYEVAL)


def _detect(keys: Iterable[str]) -> _Schema | None:
    present = {_norm_key(k) for k in keys}
    for schema in _DETECTION_ORDER:
        if all(k.lower() in present for k in schema.signature) and (
            not schema.one_of or any(k.lower() in present for k in schema.one_of)
        ):
            return schema
    return None


def _found(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_FOUND_SHOWN]) or "none"
    if len(keys) > _MAX_FOUND_SHOWN:
        shown += f", ... ({len(keys) - _MAX_FOUND_SHOWN} more)"
    return shown


def _overlaps(keys: Iterable[str], wanted: Iterable[str]) -> bool:
    present = {_norm_key(k) for k in keys}
    return any(w.lower() in present for w in wanted)


def _choose_schema(table: _Table, forced: _Schema | None, fmt: str) -> _Schema:
    keys, where = table.first_keys()
    word = table.word
    if forced is None:
        schema = _detect(keys)
        absent = _GENERIC.missing(keys)
        if schema is None and absent is not None and _overlaps(keys, _GENERIC.required):
            # half of our own format (prompt_id without content, or the reverse)
            raise PromptLoadError(
                table.name,
                f"missing required {word} {absent!r} "
                f"(expected {word}s: {_GENERIC.expected()}; found: {_found(keys)})",
                line=where.line,
                record=where.record,
            )
        if schema is None:
            raise PromptLoadError(
                table.name,
                f"cannot tell the prompt format from the {word}s (found: {_found(keys)}); "
                f"expected {word}s prompt_id and content, or a benchmark format: "
                "CyberSecEval (test_case_prompt), SecurityEval (ID, Prompt), "
                "LLMSecEval (Prompt ID, NL Prompt)",
                line=where.line,
                record=where.record,
            )
        return schema
    absent = forced.missing(keys)
    if absent is None:
        return forced
    problem = (
        f"missing required {word} {absent!r} for format {fmt!r} "
        f"(expected {word}s: {forced.expected()}; found: {_found(keys)})"
    )
    guess = _detect(keys)
    if guess is not None and guess is not forced:
        suggestion = table.container if guess is _GENERIC else guess.name
        problem += f"; this looks like {guess.label}, use format {suggestion!r} or 'auto'"
    raise PromptLoadError(table.name, problem, line=where.line, record=where.record)


def _language(value: str | None, default: str = "python") -> str:
    return value.strip().lower() if value and value.strip() else default


def _build_generic(rec: _Record, ctx: _Context) -> Prompt:
    prompt_id = rec.required_short("prompt_id")
    content = rec.required_text("content")
    return Prompt(
        prompt_id=prompt_id,
        content=content,
        category=rec.short("category") or "uncategorized",
        complexity=rec.short("complexity"),
        cwe=normalize_cwe(rec.short("cwe")),
        language=_language(rec.short("language")),
        source=ctx.source,
    )


def _build_cyberseceval(rec: _Record, ctx: _Context) -> Prompt:
    content = rec.required_text("test_case_prompt")
    rec.require_key("cwe_identifier")
    language = rec.required_short("language")
    pattern_id = rec.short("pattern_id")
    prompt_id = f"{pattern_id}-{ctx.index}" if pattern_id else str(ctx.index)
    return Prompt(
        prompt_id=prompt_id,
        content=content,
        category=rec.short("variant") or "cyberseceval",
        cwe=normalize_cwe(rec.short("cwe_identifier")),
        language=_language(language),
        source="cyberseceval",
    )


def _build_securityeval(rec: _Record, ctx: _Context) -> Prompt:
    prompt_id = rec.required_short("ID")
    content = rec.required_text("Prompt")
    cwe = _cwe_from_id(prompt_id)
    return Prompt(
        prompt_id=prompt_id,
        content=content,
        category=cwe or "securityeval",
        cwe=cwe,
        language="python",
        source="securityeval",
    )


_LANGUAGE_PLACEHOLDER = re.compile(r"<\s*(?:language|lanuage)\s*>", re.IGNORECASE)
_EXTENSION_LANGUAGES = {".c": "c", ".py": "python", ".cpp": "cpp", ".java": "java"}


def _build_llmseceval(rec: _Record, ctx: _Context) -> Prompt:
    prompt_id = rec.required_short("Prompt ID")
    content = next(
        (text for key in _LLMSECEVAL_PROMPTS if (text := rec.text(key)) is not None), None
    )
    if content is None:
        raise rec.error(f"missing value for {_LLMSECEVAL_PROMPTS[0]!r}")
    language_name = rec.short("Language")
    if language_name is None:
        filename = rec.short("Filename") or rec.short("Source Code Filepath") or ""
        language = _EXTENSION_LANGUAGES.get(Path(filename).suffix.lower(), "python")
        language_name = {"c": "C", "python": "Python"}.get(language, language)
    else:
        language = _language(language_name)
    # LLMSecEval prompts read "Generate <language> code for ..." (one has "<lanuage>").
    content = _LANGUAGE_PLACEHOLDER.sub(language_name, content)
    cwe = _cwe_from_id(prompt_id)
    return Prompt(
        prompt_id=prompt_id,
        content=content,
        category=cwe or rec.short("CWE Name") or "llmseceval",
        cwe=cwe,
        language=language,
        source="llmseceval",
    )


_BUILDERS: dict[str, _Builder] = {
    "generic": _build_generic,
    "cyberseceval": _build_cyberseceval,
    "securityeval": _build_securityeval,
    "llmseceval": _build_llmseceval,
}

# format name -> (container or None for sniffing, schema or None for detection)
_FORMAT_PLAN: dict[str, tuple[str | None, _Schema | None]] = {
    "auto": (None, None),
    "csv": ("csv", _GENERIC),
    "jsonl": ("jsonl", _GENERIC),
    "json": ("json", _GENERIC),
    "cyberseceval": (None, _CYBERSECEVAL),
    "securityeval": (None, _SECURITYEVAL),
    "llmseceval": (None, _LLMSECEVAL),
}


# --------------------------------------------------------------------------- loading


def _check_format(fmt: str, name: str) -> str:
    normalized = str(fmt).strip().lower()
    if normalized not in FORMATS:
        raise PromptLoadError(name, f"unknown format {fmt!r} (choose one of: {', '.join(FORMATS)})")
    return normalized


def _build_all(table: _Table, schema: _Schema, source: str) -> list[Prompt]:
    builder = _BUILDERS[schema.name]
    ctx = _Context(source=source)
    prompts: list[Prompt] = []
    first_seen: dict[str, _Where] = {}
    for index, rec in enumerate(table.records):
        ctx.index = index
        try:
            prompt = builder(rec, ctx)
        except ValidationError as exc:  # defensive: builders pass checked strings
            raise rec.error(f"invalid prompt: {exc.errors()[0]['msg']}") from exc
        earlier = first_seen.get(prompt.prompt_id)
        if earlier is not None:
            raise rec.error(
                f"duplicate prompt_id {prompt.prompt_id!r} (first seen on {earlier.describe()})"
            )
        first_seen[prompt.prompt_id] = rec.where
        prompts.append(prompt)
    return prompts


def _load_bytes(data: bytes, name: str, suffix: str, fmt: str, source: str) -> list[Prompt]:
    if not data.strip():
        raise PromptLoadError(name, "file is empty")
    text = _decode(data, name)
    if not text.strip():
        raise PromptLoadError(name, "file is empty")
    container, forced = _FORMAT_PLAN[fmt]
    sniffed = _sniff_container(text, suffix)
    try:
        table = _read_container(text, name, container or sniffed, suffix)
        if table.columns is None and not table.records:
            raise PromptLoadError(name, "no prompts found (the list is empty)")
        schema = _choose_schema(table, forced, fmt)
    except PromptLoadError as exc:
        if container is None or container == sniffed or "format 'auto'" in exc.problem:
            raise
        raise PromptLoadError(
            exc.path,
            f"{exc.problem}; the file looks like {sniffed.upper()}, try format 'auto'",
            line=exc.line,
            column=exc.column,
            record=exc.record,
        ) from exc
    if not table.records:
        raise PromptLoadError(name, "no prompts found (the file has a header but no rows)")
    return _build_all(table, schema, source)


def load_prompts(path: Path | str, fmt: str = "auto") -> list[Prompt]:
    """Load every prompt in ``path``; ``fmt`` is one of :data:`FORMATS`.

    Raises :class:`PromptLoadError` for anything wrong with the file or the format name.
    Prompts come back in file order. Prompts from our own formats get ``source`` = the
    file name; benchmark adapters set the benchmark name.
    """
    path = Path(path)
    name = str(path)
    fmt = _check_format(fmt, name)
    data = _read_bytes(path)
    return _load_bytes(data, name, path.suffix.lower(), fmt, path.name)


def _builtin_resource() -> Traversable:
    return resources.files("safety_eval.prompts") / "builtin" / "prompts.jsonl"


def load_builtin() -> list[Prompt]:
    """The prompt set shipped with the package (``builtin/prompts.jsonl``)."""
    resource = _builtin_resource()
    try:
        data = resource.read_bytes()
    except OSError as exc:
        raise PromptLoadError(
            _BUILTIN_DISPLAY,
            "built-in prompt set is missing (is the package installed with its data?)",
        ) from exc
    return _load_bytes(data, _BUILTIN_DISPLAY, ".jsonl", "jsonl", "builtin")


def load_source(spec: str | None, fmt: str = "auto") -> list[Prompt]:
    """``None`` or ``"builtin"`` -> :func:`load_builtin`; anything else is a file path."""
    if spec is None or spec.strip().lower() == BUILTIN_SPEC:
        _check_format(fmt, BUILTIN_SPEC)
        return load_builtin()
    if not spec.strip():
        raise PromptLoadError("''", "no prompt file given")
    return load_prompts(Path(spec).expanduser(), fmt)
