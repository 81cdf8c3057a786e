"""Named models: a registry in the configuration, listed with hashes and smoke-tested.

Configuration (a ``registry:`` block; :class:`RegistryConfig`)::

    registry:
      models:
        - name: qwen-small
          backend: embedded              # the built-in qwen2.5-coder-0.5b preset
        - name: local-7b
          backend: llamacpp
          path: /models/qwen2.5-coder-7b-instruct-q4_k_m.gguf
          quantization: Q4_K_M
          sha256: 3f0d...                # optional: checked by list/check
          generation: {temperature: 0.2, max_tokens: 512}
        - name: lab-server
          backend: openai
          model: qwen2.5-coder
          base_url: http://127.0.0.1:8000/v1
        - name: offline
          backend: mock

:func:`spec_of` maps an entry to the model spec the rest of the tool understands
(``llamacpp:PATH``, ``openai:MODEL@URL``, ``mock``, ``qwen2.5-coder-0.5b``, ...);
:func:`resolve_model` lets ``-m NAME`` name a registry entry; :func:`list_models`
reports each entry with the size and SHA-256 of its local files; :func:`check_model`
loads an entry through :func:`safety_eval.models.registry.create` and generates one
short reply.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safety_eval.errors import ConfigError
from safety_eval.models.base import GenerationParams
from safety_eval.models.registry import BackendOptions, create
from safety_eval.ops.structured_logging import get_logger

__all__ = [
    "DEFAULT_CHECK_PROMPT",
    "CheckResult",
    "GenerationOverrides",
    "ModelRow",
    "RegistryConfig",
    "RegistryEntry",
    "check_model",
    "file_sha256",
    "generation_params",
    "list_models",
    "load_registry",
    "resolve_model",
    "spec_of",
]

Backend = Literal["mock", "embedded", "llamacpp", "openai", "hf", "vllm"]
DEFAULT_CHECK_PROMPT = "Write a Python function add(a, b) that returns the sum of a and b."
_CHUNK = 1 << 20

log = get_logger("safety_eval.model_registry")


class GenerationOverrides(BaseModel):
    """Sampling settings an entry sets on top of the run's (unset: the run's value)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    seed: int | None = None
    system_prompt: str | None = None


class RegistryEntry(BaseModel):
    """One named model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    backend: Backend
    path: str | None = None
    """A GGUF file (llamacpp), a model folder or hub id (hf, vllm)."""
    model: str | None = None
    """The served model name (openai)."""
    base_url: str | None = None
    """The server's OpenAI-compatible base URL (openai), e.g. http://127.0.0.1:8000/v1."""
    quantization: str | None = None
    sha256: str | None = None
    """Expected SHA-256 of the local model file (checked by list_models/check_model)."""
    description: str | None = None
    generation: GenerationOverrides = Field(default_factory=GenerationOverrides)

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ValueError("sha256 must be 64 hex digits")
        return value

    @model_validator(mode="after")
    def _complete(self) -> RegistryEntry:
        if self.backend in ("llamacpp", "hf", "vllm") and not self.path:
            raise ValueError(f"backend '{self.backend}' needs 'path'")
        if self.backend == "openai":
            if not (self.model or self.path):
                raise ValueError("backend 'openai' needs 'model' (the served model name)")
            if not self.base_url or not self.base_url.startswith(("http://", "https://")):
                raise ValueError("backend 'openai' needs 'base_url' (http:// or https://)")
        return self


class RegistryConfig(BaseModel):
    """The ``registry:`` configuration block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[RegistryEntry] = Field(default_factory=list)

    @field_validator("models")
    @classmethod
    def _unique(cls, models: list[RegistryEntry]) -> list[RegistryEntry]:
        seen: set[str] = set()
        for entry in models:
            if entry.name in seen:
                raise ValueError(f"two registry models are named '{entry.name}'")
            seen.add(entry.name)
        return models

    def get(self, name: str) -> RegistryEntry | None:
        return next((entry for entry in self.models if entry.name == name), None)


def load_registry(source: Path | Mapping[str, Any]) -> RegistryConfig:
    """A registry from a YAML file or mapping holding ``registry: {models: [...]}`` (or
    just ``models: [...]``); ``ConfigError`` names the problem."""
    origin = str(source) if isinstance(source, Path) else "registry"
    if isinstance(source, Path):
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"{source}: cannot read the registry ({exc})") from None
    else:
        data = dict(source)
    if isinstance(data, Mapping) and "registry" in data:
        data = data["registry"] or {}
    try:
        return RegistryConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{origin}: {problems}") from None


def spec_of(entry: RegistryEntry) -> str:
    """The model spec for ``entry``: ``llamacpp:PATH``, ``openai:MODEL@URL``, ``mock``,
    ``qwen2.5-coder-0.5b`` (embedded), ``hf:PATH``, ``vllm:PATH``."""
    if entry.backend == "embedded":
        from safety_eval.models.embedded import PRESET_NAME

        return PRESET_NAME
    if entry.backend == "mock":
        return "mock"
    if entry.backend == "openai":
        return f"openai:{entry.model or entry.path}@{entry.base_url}"
    return f"{entry.backend}:{entry.path}"


def resolve_model(name_or_spec: str, registry: RegistryConfig | None) -> str:
    """``-m`` values: a registry name becomes its spec; anything else is a spec already."""
    entry = registry.get(name_or_spec) if registry is not None else None
    return spec_of(entry) if entry is not None else name_or_spec


def generation_params(entry: RegistryEntry, base: GenerationParams | None = None
                      ) -> GenerationParams:
    """``base`` (default: the defaults) with the entry's overrides applied."""
    base = base or GenerationParams()
    overrides = entry.generation.model_dump(exclude_none=True)
    return base.model_copy(update=overrides) if overrides else base


_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) for this process."""
    info = path.stat()
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns)
    with _hash_lock:
        cached = _hash_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


@dataclass(frozen=True)
class ModelRow:
    """One line of ``list_models``."""

    name: str
    backend: str
    spec: str
    quantization: str | None
    path: str | None
    exists: bool | None
    """None: not a local file (a server, the mock, a hub id)."""
    size_bytes: int | None
    sha256: str | None
    expected_sha256: str | None
    sha256_ok: bool | None
    description: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _local_path(entry: RegistryEntry) -> Path | None:
    if entry.backend == "embedded":
        from safety_eval.models.embedded import FILE_NAME, cache_dir

        return cache_dir() / FILE_NAME
    if entry.backend in ("llamacpp", "hf", "vllm") and entry.path:
        path = Path(entry.path).expanduser()
        if entry.backend != "llamacpp" and not path.exists() and not entry.path.startswith(
            ("/", ".", "~")
        ):
            return None  # a hub id such as Qwen/Qwen2.5-Coder-7B
        return path
    return None


def _expected(entry: RegistryEntry) -> str | None:
    if entry.sha256 is not None:
        return entry.sha256
    if entry.backend == "embedded":
        from safety_eval.models.embedded import SHA256

        return SHA256
    return None


def _row(entry: RegistryEntry, hash_files: bool) -> ModelRow:
    path = _local_path(entry)
    expected = _expected(entry)
    exists: bool | None = None
    size: int | None = None
    digest: str | None = None
    note: str | None = None
    if path is not None:
        exists = path.exists()
        if path.is_file():
            size = path.stat().st_size
            if hash_files:
                digest = file_sha256(path)
        elif path.is_dir():
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            note = "a folder: size is the sum of its files, no single hash"
        elif entry.backend == "embedded":
            note = "not joined yet: the first run (or check) writes it"
        else:
            note = "file not found"
    ok = None if digest is None or expected is None else digest == expected
    return ModelRow(
        name=entry.name,
        backend=entry.backend,
        spec=spec_of(entry),
        quantization=entry.quantization,
        path=str(path) if path is not None else entry.path,
        exists=exists,
        size_bytes=size,
        sha256=digest,
        expected_sha256=expected,
        sha256_ok=ok,
        description=entry.description,
        note=note,
    )


def list_models(registry: RegistryConfig, hash_files: bool = True) -> list[ModelRow]:
    """Every entry with its spec and, for local files, existence, size and SHA-256."""
    return [_row(entry, hash_files) for entry in registry.models]


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check_model` found."""

    name: str
    spec: str
    ok: bool
    load_s: float = 0.0
    generate_s: float = 0.0
    reply: str = ""
    tokens: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_model(
    entry: RegistryEntry,
    prompt: str = DEFAULT_CHECK_PROMPT,
    max_tokens: int = 48,
    options: BackendOptions | None = None,
    reply_chars: int = 400,
) -> CheckResult:
    """Load ``entry`` and generate one short reply; never raises for a broken model.

    A local file with a known SHA-256 is verified first.
    """
    spec = spec_of(entry)
    path = _local_path(entry)
    expected = entry.sha256
    if expected is not None and path is not None and path.is_file():
        actual = file_sha256(path)
        if actual != expected:
            return CheckResult(entry.name, spec, False,
                               error=f"{path}: sha256 {actual} does not match the expected "
                                     f"{expected}")
    params = generation_params(entry).model_copy(update={"max_tokens": max_tokens})
    started = time.perf_counter()
    try:
        backend = create(spec, options or BackendOptions())
    except Exception as exc:  # a model that does not load is a result, not a crash
        return CheckResult(entry.name, spec, False, time.perf_counter() - started,
                           error=f"load failed: {type(exc).__name__}: {exc}")
    load_s = time.perf_counter() - started
    try:
        t0 = time.perf_counter()
        generation = backend.generate([prompt], params)[0]
        generate_s = time.perf_counter() - t0
    except Exception as exc:
        return CheckResult(entry.name, spec, False, load_s,
                           error=f"generation failed: {type(exc).__name__}: {exc}")
    finally:
        try:
            backend.close()
        except Exception as exc:  # pragma: no cover - a close error is only logged
            log.warning("closing the model failed", model=entry.name, error=str(exc))
    if generation.error:
        return CheckResult(entry.name, spec, False, load_s, generate_s,
                           error=f"generation failed: {generation.error}")
    text = generation.text.strip()
    if not text:
        return CheckResult(entry.name, spec, False, load_s, generate_s,
                           error="the model returned an empty reply")
    return CheckResult(entry.name, spec, True, load_s, generate_s, text[:reply_chars],
                       generation.tokens)
