"""Layered, validated configuration.

Layers, lowest first: built-in defaults < YAML file (``--config``) < environment
(``SAFETY_EVAL_<KEY>``, nested keys joined by ``__``) < command-line flags. The result
is a typed, frozen ``RunConfig`` that is passed explicitly to whatever needs it; there
is no global configuration object.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from safety_eval.errors import ConfigError
from safety_eval.models.base import GenerationParams
from safety_eval.ops.alerts import AlertsConfig
from safety_eval.ops.model_registry import RegistryConfig

ENV_PREFIX = "SAFETY_EVAL_"
DEFAULT_MODEL = "qwen2.5-coder-0.5b"
DEFAULT_SIZES: dict[str, int | None] = {"small": 16, "medium": 60, "large": 150, "full": None}


class RunConfig(BaseModel):
    """Everything a run needs; recorded verbatim in ``run.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[str] = Field(default_factory=lambda: [DEFAULT_MODEL], min_length=1)
    prompts: str = "builtin"
    prompt_format: str = "auto"
    size: str = "small"
    sizes: dict[str, int | None] = Field(default_factory=lambda: dict(DEFAULT_SIZES))
    seed: int = 42
    output: Path = Path("output")
    label: str | None = None
    generation: GenerationParams = Field(default_factory=GenerationParams)
    severity_threshold: Literal["critical", "high", "medium", "low"] = "medium"
    mode: Literal["full", "vulnerability", "autonomous"] = "full"
    """``vulnerability``: code prompts only; ``autonomous``: agent trials only; ``full``: both."""
    trials: int = Field(2, ge=0, le=100_000)
    """Agent-simulator trials per model after the vulnerability experiment (0: none)."""
    scenarios: list[str] | None = None
    max_turns: int = Field(6, ge=1, le=200)
    agent_max_tokens: int = Field(192, ge=16, le=8192)
    batch_size: int = Field(8, ge=1, le=4096)
    adaptive_batching: bool = True
    """Grow batches up to the backend's max_batch while throughput improves."""
    concurrency: int = Field(4, ge=1, le=256)
    scan_workers: int | None = Field(None, ge=1, le=64)
    """Processes that scan replies; None: one per CPU for runs of 2,000+ prompts, else 1."""
    semgrep: bool = False
    distributed: bool = False
    """Generate with Ray actors (ModelWorker replicas) and scan with Ray tasks."""
    ray_address: str | None = None
    """None: a local in-process cluster; "auto": one started with `ray start --head`."""
    replicas: int = Field(1, ge=1, le=1024)
    num_gpus_per_replica: float = Field(0.0, ge=0.0)
    cpus_per_replica: float = Field(1.0, ge=0.0)
    scan_chunk_size: int = Field(32, ge=1, le=100_000)
    request_timeout_s: float = Field(120.0, gt=0)
    model_cache_dir: Path | None = None
    min_free_disk_mb: int = Field(50, ge=0)
    progress: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dry_run: bool = False
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    """Serve Prometheus metrics on 127.0.0.1:PORT during the run (0: any free port)."""
    encrypt: bool = False
    """Store prompts, replies and transcripts AES-256-GCM encrypted (key from
    $SAFETY_EVAL_ENCRYPTION_KEY or ``key_file``; never written to the run directory)."""
    key_file: Path | None = None
    registry: RegistryConfig = Field(default_factory=RegistryConfig)

    @field_validator("size", mode="before")
    @classmethod
    def _size_to_str(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML config file into a mapping, with errors that name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    return data


# Environment variables with the prefix that are not configuration keys: secrets and
# tool locations read where they are used.
NON_CONFIG_ENV = {
    "ENCRYPTION_KEY",  # the --encrypt key (never stored in the run directory)
    "SEMGREP_BIN",  # where semgrep is, when not on PATH
    "PYPI_INDEX_DIR",  # where update-index writes the refreshed PyPI snapshot
}


def env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """``SAFETY_EVAL_SEED=7`` -> ``{"seed": "7"}``; ``SAFETY_EVAL_GENERATION__TOP_P`` nests.

    Lists (``models``) are comma-separated. Unknown keys are rejected by validation.
    """
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key.upper() in NON_CONFIG_ENV:
            continue
        parts = key.split("__")
        node = layer
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        leaf: Any = value
        if parts[-1] == "models":
            leaf = [m.strip() for m in value.split(",") if m.strip()]
        node[parts[-1]] = leaf
    return layer


def _describe(err: Mapping[str, Any], origin: str) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    if err.get("type") == "extra_forbidden":
        return f"{origin}: unknown key '{loc}'"
    return f"{origin}: '{loc}': {err.get('msg')}"


def load_config(
    config_file: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunConfig:
    """Build the run configuration from all layers; ``ConfigError`` names any bad key."""
    environ = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, Any]]] = []
    if config_file is not None:
        layers.append((str(config_file), read_yaml(config_file)))
    layers.append(("environment", env_layer(environ)))
    layers.append(("command line", {k: v for k, v in (flags or {}).items() if v is not None}))

    merged: dict[str, Any] = {}
    for origin, layer in layers:
        # Validate each layer's keys on their own so an error names where it came from.
        try:
            RunConfig.model_validate(_deep_merge(RunConfig().model_dump(), layer))
        except ValidationError as exc:
            raise ConfigError("; ".join(_describe(e, origin) for e in exc.errors())) from None
        merged = _deep_merge(merged, layer)
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:  # pragma: no cover - each layer was valid on its own
        raise ConfigError("; ".join(_describe(e, "config") for e in exc.errors())) from None
