"""Anonymized exports of a run: secrets redacted, paths and hosts removed.

:func:`export_anonymized` writes a copy of a run directory that can be shared:

* every text a model, a prompt or the simulator wrote (``prompt``, ``completion``,
  ``code``, errors, transcripts, claims, ``prompts.jsonl``) has its secrets replaced by
  ``[REDACTED:<kind>]``: API keys (``sk-...``, AWS, GitHub, Slack, Google, Stripe),
  private key blocks, JWTs, ``password = "..."``-style assignments, bearer tokens,
  credentials in URLs, e-mail addresses and IPv4/IPv6 addresses (loopback and
  ``0.0.0.0``/``::`` are kept: they identify nobody and matter to a security review);
* model specs lose their paths and hosts everywhere (``llamacpp:/home/a/m.gguf`` ->
  ``llamacpp:m.gguf``, ``openai:gpt@http://10.0.0.5:8000/v1`` -> ``openai:gpt@[host]``),
  model folders are renamed to match, and the charts that show a spec are redrawn;
* ``run.json`` loses model file paths, the output and cache folders, absolute paths,
  process ids and host/user names, and gains ``"anonymized": true``;
* every other file is copied (text files with the same scrubbing), an encrypted run is
  decrypted first (``cipher``), ``report.html`` is re-rendered from the anonymized data
  when the report module is available (never copied), and an ``ANONYMIZED`` marker file
  (JSON: what was done, redaction counts) is added.

The export is built in a temporary folder next to ``out_dir`` and moved into place at
the end, so a reader never sees half an export.
"""

from __future__ import annotations

import contextlib
import csv
import io
import ipaddress
import json
import os
import re
import shutil
import socket
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safety_eval.models.registry import slug as model_slug
from safety_eval.ops.crypto import (
    MARKER_FILE as ENCRYPTION_MARKER,
)
from safety_eval.ops.crypto import (
    Cipher,
    KeyMissingError,
    RecordKind,
    check_key,
    record_is_encrypted,
    run_is_encrypted,
)
from safety_eval.ops.structured_logging import get_logger
from safety_eval.results.writers import atomic_write_json

__all__ = [
    "MARKER",
    "AnonymizeError",
    "AnonymizeReport",
    "anonymize_spec",
    "anonymized_run_name",
    "export_anonymized",
    "folder_map",
    "is_anonymized",
    "redact",
    "redact_text",
    "spec_map",
]

MARKER = "ANONYMIZED"
log = get_logger("safety_eval.anonymize")


class AnonymizeError(Exception):
    """The export cannot be made (the message says why)."""


# -- secrets ----------------------------------------------------------------------------

_NAME = (
    r"[\w.-]*(?:passw(?:or)?d|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|"
    r"auth[_-]?token|access[_-]?token|token|private[_-]?key|credentials?)[\w.-]*"
)
_ASSIGN = re.compile(
    rf"""(?ix)
    (?P<name>\b{_NAME})
    (?P<op>["']?\]?(?:\s*:\s*[A-Za-z_][\w.\[\]|, ]*?)?\s*(?::=|=>|=|:)\s*)
    (?P<prefix>[rbuRBU]?)(?P<q>["'])
    (?P<value>(?:(?!(?P=q))[^\n\\]|\\.){{1,500}}?)
    (?P=q)
    """
)
_ENV_ASSIGN = re.compile(
    r"(?m)^(?P<head>[ \t]*(?:export[ \t]+)?[A-Z0-9_]*"
    r"(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|ACCESS_KEY)[A-Z0-9_]*[ \t]*=[ \t]*)"
    r"(?P<value>[^\s\"'#]{4,})"
)
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w]|\.\d)"
)
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:.])")

# (kind, pattern, group to keep before the redaction or None)
_SIMPLE: list[tuple[str, re.Pattern[str]]] = [
    ("private_key", re.compile(
        r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY((?: BLOCK)?)-----"
        r"[\s\S]*?(?:-----END \1PRIVATE KEY\2-----|(?=[\"'`])|\Z)")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("aws_access_key", re.compile(
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b")),
    ("github_token", re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b")),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("stripe_key", re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{16,}")),
    ("api_key", re.compile(r"\bsk-(?:proj-|ant-(?:api\d+-)?)?[A-Za-z0-9_-]{16,}")),
]
_AWS_SECRET = re.compile(
    r"(?i)(?P<head>aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
_URL_CREDENTIALS = re.compile(
    r"(?i)\b(?P<head>[a-z][a-z0-9+.-]*://)(?P<value>[^\s:/@\"'<>]+:[^\s@/\"'<>]+)@"
)
_BEARER = re.compile(r"(?i)\b(?P<head>bearer\s+)(?P<value>[A-Za-z0-9._~+/-]{8,}=*)")
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)

_KEEP_IPS = {"0.0.0.0", "::", "::1"}


def _tag(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def _is_redacted(value: str) -> bool:
    return value.startswith("[REDACTED:")


def redact_text(text: str) -> tuple[str, Counter[str]]:
    """``text`` with its secrets replaced by ``[REDACTED:<kind>]``, and the counts."""
    counts: Counter[str] = Counter()
    if not text:
        return text, counts

    def whole(kind: str) -> Callable[[re.Match[str]], str]:
        def sub(match: re.Match[str]) -> str:
            counts[kind] += 1
            return _tag(kind)

        return sub

    def keep_head(kind: str) -> Callable[[re.Match[str]], str]:
        def sub(match: re.Match[str]) -> str:
            if _is_redacted(match.group("value")):
                return match.group(0)
            counts[kind] += 1
            return match.group("head") + _tag(kind) + match.group(0)[match.end("value") -
                                                                       match.start():]

        return sub

    for kind, pattern in _SIMPLE:
        text = pattern.sub(whole(kind), text)
    text = _AWS_SECRET.sub(keep_head("aws_secret_key"), text)
    text = _URL_CREDENTIALS.sub(keep_head("url_credentials"), text)
    text = _BEARER.sub(keep_head("bearer_token"), text)

    def assignment(match: re.Match[str]) -> str:
        value = match.group("value")
        if _is_redacted(value) or not value.strip():
            return match.group(0)
        name = match.group("name").lower()
        kind = "password" if re.search(r"pass|pwd", name) else "secret"
        counts[kind] += 1
        return (match.group("name") + match.group("op") + match.group("prefix")
                + match.group("q") + _tag(kind) + match.group("q"))

    text = _ASSIGN.sub(assignment, text)

    def env_assignment(match: re.Match[str]) -> str:
        if _is_redacted(match.group("value")):
            return match.group(0)
        counts["secret"] += 1
        return match.group("head") + _tag("secret")

    text = _ENV_ASSIGN.sub(env_assignment, text)
    text = _EMAIL.sub(whole("email"), text)

    def ipv6(match: re.Match[str]) -> str:
        candidate = match.group(0)
        if sum(1 for part in candidate.split(":") if part) < 2 or candidate in _KEEP_IPS:
            return candidate
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            return candidate
        if address.is_loopback or address.is_unspecified:
            return candidate
        counts["ipv6"] += 1
        return _tag("ipv6")

    text = _IPV6.sub(ipv6, text)

    def ipv4(match: re.Match[str]) -> str:
        candidate = match.group(0)
        if candidate in _KEEP_IPS or candidate.startswith("127."):
            return candidate
        counts["ipv4"] += 1
        return _tag("ipv4")

    text = _IPV4.sub(ipv4, text)
    return text, counts


def redact(text: str) -> str:
    """``text`` with its secrets replaced (see :func:`redact_text`)."""
    return redact_text(text)[0]


# -- model specs and paths --------------------------------------------------------------

_MODEL_SUFFIXES = {".gguf", ".ggml", ".bin", ".safetensors", ".pt", ".pth", ".onnx", ".model"}
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+")


def _looks_like_path(text: str) -> bool:
    if not text:
        return False
    if text.startswith(("/", "~", "./", "../", "\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return True
    return ("/" in text or "\\" in text) and Path(text).suffix.lower() in _MODEL_SUFFIXES


def _basename(text: str) -> str:
    return re.split(r"[\\/]", text.rstrip("/\\"))[-1] or "[path]"


def anonymize_spec(spec: str) -> str:
    """A model spec without paths or hosts (the model's name stays)."""
    kind, sep, rest = spec.partition(":")
    if not sep:
        return spec
    if kind == "openai":
        match = re.match(r"^(?P<model>.*)@(?P<base>[a-zA-Z][a-zA-Z0-9+.-]*://.*)$", rest)
        if match:
            return f"openai:{match.group('model')}@[host]"
    if _URL.search(rest):
        return f"{kind}:{_URL.sub('[host]', rest)}"
    if _looks_like_path(rest):
        return f"{kind}:{_basename(rest)}"
    return spec


# -- the export -------------------------------------------------------------------------


@dataclass
class AnonymizeReport:
    """What :func:`export_anonymized` did."""

    out_dir: Path
    source_run_id: str | None
    files: list[str] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)
    models: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    decrypted: bool = False


_STRUCTURAL = {
    "schema_version", "prompt_id", "category", "cwe_tempted", "parse_mode", "rule_id",
    "tool", "tools", "cwe", "severity", "confidence", "symbol", "trial_id", "scenario",
    "role", "snapshot_checksums", "final_checksums", "sha256", "run_id", "level",
    "timestamp", "logger", "slug",
}
_DROP_KEYS = {"host", "hostname", "user", "username", "cwd", "node", "pid", "home"}
_TEXT_SUFFIXES = {".txt", ".md", ".log", ".prom", ".yaml", ".yml", ".html", ".htm", ".tsv"}


class _Scrubber:
    """Spec/path replacements plus secret redaction, counting what it did."""

    def __init__(self, specs: dict[str, str], slugs: dict[str, str], extra: dict[str, str],
                 cipher: Cipher | None) -> None:
        self.specs = specs
        self.cipher = cipher
        self.counts: Counter[str] = Counter()
        pairs = {old: new for old, new in {**extra, **slugs, **specs}.items() if old and old != new}
        self._pairs = pairs
        self._replace = (
            re.compile("|".join(re.escape(old) for old in sorted(pairs, key=len, reverse=True)))
            if pairs else None
        )

    def text(self, value: str) -> str:
        if value in self.specs:
            return self.specs[value]
        if self._replace is not None:
            value = self._replace.sub(lambda m: self._pairs[m.group(0)], value)
        value, counts = redact_text(value)
        self.counts.update(counts)
        return value

    def deep(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {
                (self.specs.get(k, k) if isinstance(k, str) else k): self.deep(v, k)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.deep(v, key) for v in value]
        if isinstance(value, str):
            if key in ("model", "agent", "spec"):
                return self.specs.get(value, anonymize_spec(value))
            if key in _STRUCTURAL:
                return value
            return self.text(value)
        return value

    def record(self, record: dict[str, Any], kind: RecordKind | None) -> dict[str, Any]:
        if kind is not None and record_is_encrypted(record, kind):
            if self.cipher is None:
                raise KeyMissingError("this run is encrypted; set SAFETY_EVAL_ENCRYPTION_KEY "
                                      "or pass --key-file")
            record = self.cipher.decrypt_record(kind, record)
        result: dict[str, Any] = self.deep(record)
        return result


def _jsonl(src: Path, dst: Path, scrub: _Scrubber, kind: RecordKind | None,
           report: AnonymizeReport) -> None:
    out = []
    with src.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if kind is None:  # a plain log line
                    out.append(scrub.text(line.rstrip("\n")) + "\n")
                else:  # a line cut short by a crash: not a record, not exported
                    report.dropped.append(f"{src.name}:{number} (unparseable line)")
                continue
            if not isinstance(record, dict):
                out.append(json.dumps(scrub.deep(record), ensure_ascii=False) + "\n")
                continue
            out.append(json.dumps(scrub.record(record, kind), ensure_ascii=False) + "\n")
    dst.write_text("".join(out), encoding="utf-8")


def _csv(src: Path, dst: Path, scrub: _Scrubber) -> None:
    with src.open(encoding="utf-8", errors="replace", newline="") as handle:
        rows = list(csv.reader(handle))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for index, row in enumerate(rows):
        writer.writerow(row if index == 0 else [scrub.text(cell) for cell in row])
    dst.write_text(buffer.getvalue(), encoding="utf-8")


def _path_value(value: Any) -> Any:
    if isinstance(value, str) and _looks_like_path(value):
        return _basename(value)
    return value


def _manifest(data: dict[str, Any], scrub: _Scrubber) -> dict[str, Any]:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _DROP_KEYS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    data = strip(data)
    for model in data.get("models") or []:
        if isinstance(model, dict):
            if isinstance(model.get("spec"), str):
                original = model["spec"]
                model["spec"] = scrub.specs.get(original, anonymize_spec(original))
                model["slug"] = model_slug(model["spec"])
            if model.get("file"):
                model["file"] = _basename(str(model["file"]))
    config = data.get("config")
    if isinstance(config, dict):
        if "output" in config:
            config["output"] = "[removed]"
        if config.get("model_cache_dir") is not None:
            config["model_cache_dir"] = None
        if isinstance(config.get("models"), list):
            config["models"] = [scrub.specs.get(m, anonymize_spec(m)) if isinstance(m, str)
                                else m for m in config["models"]]
        config["prompts"] = _path_value(config.get("prompts"))
    source = data.get("prompt_source")
    if isinstance(source, dict):
        source["spec"] = _path_value(source.get("spec"))

    def paths(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: paths(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [paths(v, key) for v in value]
        if key in ("spec", "slug", "sha256", "run_id"):
            return value
        return _path_value(value)

    result: dict[str, Any] = scrub.deep(paths(data))
    result["anonymized"] = True
    return result


def _redraw_charts(out_dir: Path, folder: str, spec: str) -> list[str]:
    """Redraw the PNGs of a model whose spec (shown in the chart titles) changed."""
    from safety_eval.report.charts import agent_chart, cwe_chart, severity_chart

    failed = []
    target = out_dir / folder
    metrics_path = target / "vulnerability_metrics.json"
    metrics: dict[str, Any] = {}
    if metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("severity_distribution.png",
         lambda: severity_chart(spec, metrics["severity_distribution"],
                                target / "severity_distribution.png")),
        ("top_cwes.png",
         lambda: cwe_chart(spec, [(c["cwe"], c["count"]) for c in metrics["cwe_classifications"]],
                           target / "top_cwes.png")),
        ("agent_metrics.png", lambda: _agent_chart(target, spec, agent_chart)),
    ]
    for name, job in jobs:
        if not (target / f".{name}.pending").exists():
            continue
        (target / f".{name}.pending").unlink()
        try:
            job()
        except Exception as exc:  # a chart we cannot redraw is dropped, never copied
            log.warning("chart not redrawn", file=f"{folder}/{name}", error=str(exc))
            failed.append(f"{folder}/{name}")
    return failed


def _agent_chart(target: Path, spec: str, draw: Callable[..., Any]) -> None:
    from safety_eval.agent import Trial, agent_metrics

    trials = []
    with (target / "agent_trials.jsonl").open(encoding="utf-8") as handle:
        trials = [Trial.model_validate_json(line) for line in handle if line.strip()]
    draw(spec, agent_metrics(trials), target / "agent_metrics.png")


def _specs_of(manifest: dict[str, Any]) -> list[str]:
    specs = [m.get("spec") for m in manifest.get("models") or [] if isinstance(m, dict)]
    specs += list((manifest.get("config") or {}).get("models") or [])
    return [s for s in specs if isinstance(s, str)]


def spec_map(specs: Iterable[str]) -> dict[str, str]:
    """Each spec -> its anonymized form, made unique (``#2``...) when two specs differ
    only in a path or host. Deterministic: the specs are taken in sorted order."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for spec in sorted(set(specs)):
        anon = base = anonymize_spec(spec)
        n = 1
        while anon in used:
            n += 1
            anon = f"{base}#{n}"
        used.add(anon)
        mapping[spec] = anon
    return mapping


def folder_map(run_dir: Path) -> dict[str, str]:
    """Model folder of the run -> its name in an anonymized export (changed ones only)."""
    try:
        manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(manifest, dict):
        return {}
    return {model_slug(s): model_slug(a) for s, a in spec_map(_specs_of(manifest)).items()
            if s != a}


def anonymized_run_name(run_dir: Path) -> str:
    """The run directory's name with model slugs anonymized (a single-model run is
    named after its model: ``run_<stamp>_llamacpp-home-a-m.gguf``)."""
    name = run_dir.name
    for old in sorted(mapping := folder_map(run_dir), key=len, reverse=True):
        name = name.replace(old, mapping[old])
    return name


def is_anonymized(path: Path) -> bool:
    return (path / MARKER).is_file()


def _prepare_target(out_dir: Path) -> None:
    if out_dir.is_symlink():
        raise AnonymizeError(f"{out_dir} is a symbolic link; refusing to write there")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise AnonymizeError(f"{out_dir} exists and is not a folder")
        if any(out_dir.iterdir()) and not is_anonymized(out_dir):
            raise AnonymizeError(
                f"{out_dir} exists and is not an earlier anonymized export; refusing to "
                "overwrite it"
            )


def _walk(run_dir: Path) -> Iterable[tuple[Path, Path]]:
    """(absolute, relative) for each regular file, skipping temp files, links and
    nested exports."""
    for root, dirs, files in os.walk(run_dir, followlinks=False):
        base = Path(root)
        keep = []
        for name in sorted(dirs):
            sub = base / name
            if name.startswith(".") or sub.is_symlink() or is_anonymized(sub):
                continue
            keep.append(name)
        dirs[:] = keep
        for name in sorted(files):
            yield base / name, (base / name).relative_to(run_dir)


def export_anonymized(
    run_dir: Path, out_dir: Path, cipher: Cipher | None = None
) -> AnonymizeReport:
    """Write an anonymized copy of ``run_dir`` to ``out_dir`` (see the module doc).

    ``out_dir`` must not exist, be empty, or be an earlier export (then replaced).
    An encrypted run needs ``cipher`` (else :class:`KeyMissingError`); the export is
    plaintext, with secrets redacted.
    """
    run_dir = Path(run_dir)
    out_dir = Path(out_dir)
    manifest_path = run_dir / "run.json"
    if not manifest_path.is_file():
        raise AnonymizeError(f"{run_dir}: not a run directory (no run.json)")
    if out_dir.resolve() == run_dir.resolve():
        raise AnonymizeError("the export folder must differ from the run directory")
    encrypted = run_is_encrypted(run_dir)
    if encrypted:
        if cipher is None:
            raise KeyMissingError(f"{run_dir}: this run is encrypted; set "
                                  "SAFETY_EVAL_ENCRYPTION_KEY or pass --key-file")
        check_key(run_dir, cipher)
    _prepare_target(out_dir)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if not isinstance(manifest, dict):
        raise AnonymizeError(f"{manifest_path}: not a JSON object")

    specs = spec_map(_specs_of(manifest))
    slugs = {model_slug(s): model_slug(a) for s, a in specs.items() if s != a}
    extra: dict[str, str] = {str(run_dir.resolve()): run_dir.name}
    for model in manifest.get("models") or []:
        if isinstance(model, dict) and model.get("file"):
            extra[str(model["file"])] = _basename(str(model["file"]))
    config = manifest.get("config") or {}
    for key, label in (("output", "[output]"), ("model_cache_dir", "[cache]")):
        if config.get(key):
            extra[str(config[key])] = label
    with contextlib.suppress(OSError):
        host = socket.gethostname()
        if len(host) >= 3:
            extra[host] = "[host]"
    with contextlib.suppress(RuntimeError):
        extra[str(Path.home())] = "~"
    scrub = _Scrubber(specs, slugs, {k: v for k, v in extra.items() if len(k) > 1}, cipher)

    report = AnonymizeReport(out_dir, manifest.get("run_id"), models=specs, decrypted=encrypted)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # an export is meant to be shared: not mkdtemp's 0700
    try:
        had_report = False
        for src, rel in _walk(run_dir):
            name = rel.name
            if src.is_symlink():
                report.dropped.append(f"{rel} (symbolic link)")
                continue
            if name.startswith("."):
                continue
            if rel.as_posix() in (ENCRYPTION_MARKER, MARKER) and len(rel.parts) == 1:
                continue
            if name == "report.html":
                had_report = had_report or len(rel.parts) == 1
                continue
            parts = list(rel.parts)
            if len(parts) > 1:
                parts[0] = slugs.get(parts[0], parts[0])
            dst = tmp.joinpath(*parts)
            dst.parent.mkdir(parents=True, exist_ok=True)
            suffix = src.suffix.lower()
            if rel.as_posix() == "run.json":
                atomic_write_json(dst, _manifest(manifest, scrub))
            elif name == "samples.jsonl":
                _jsonl(src, dst, scrub, "sample", report)
            elif name == "agent_trials.jsonl":
                _jsonl(src, dst, scrub, "trial", report)
            elif name == "prompts.jsonl":
                _jsonl(src, dst, scrub, "prompt", report)
            elif suffix in (".jsonl", ".log", ".ndjson"):
                _jsonl(src, dst, scrub, None, report)
            elif suffix == ".json":
                raw = src.read_text(encoding="utf-8", errors="replace")
                try:
                    text = json.dumps(scrub.deep(json.loads(raw)), indent=2,
                                      ensure_ascii=False) + "\n"
                except json.JSONDecodeError:
                    text = scrub.text(raw)
                dst.write_text(text, encoding="utf-8")
            elif suffix == ".csv":
                _csv(src, dst, scrub)
            elif suffix == ".png" and len(rel.parts) == 2 and rel.parts[0] in slugs:
                (dst.parent / f".{name}.pending").touch()  # redrawn below with the new spec
                continue
            elif suffix in _TEXT_SUFFIXES:
                dst.write_text(scrub.text(src.read_text(encoding="utf-8", errors="replace")),
                               encoding="utf-8")
            else:
                shutil.copyfile(src, dst)
            report.files.append("/".join(parts))
        for anon in specs.values():
            folder = model_slug(anon)
            if folder in slugs.values() and (tmp / folder).is_dir():
                failed = _redraw_charts(tmp, folder, anon)
                report.dropped.extend(f"{f} (chart not redrawn)" for f in failed)
                for png in sorted((tmp / folder).glob("*.png")):
                    report.files.append(f"{folder}/{png.name}")
        if had_report:
            _render_report(tmp, report)
        report.redactions = scrub.counts
        atomic_write_json(tmp / MARKER, {
            "anonymized": True,
            "anonymized_at": datetime.now(UTC).isoformat(),
            "tool": "safety_eval.ops.anonymize",
            "source_run_id": report.source_run_id,
            "decrypted": encrypted,
            "models_renamed": sum(1 for s, a in specs.items() if s != a),
            "redactions": dict(sorted(scrub.counts.items())),
            "files": len(report.files),
            "dropped": report.dropped,
        })
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("anonymized export written", files=len(report.files),
             redactions=sum(scrub.counts.values()), out_dir=str(out_dir))
    return report


def _render_report(out_dir: Path, report: AnonymizeReport) -> None:
    try:
        from safety_eval.report.html import build_report
    except ImportError:
        report.dropped.append("report.html (report module not available)")
        return
    try:
        build_report(out_dir)
        report.files.append("report.html")
    except Exception as exc:  # the data export is still worth having
        log.warning("anonymized report not rendered", error=str(exc))
        report.dropped.append("report.html (could not be rendered)")


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    old: Path | None = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
