"""Model specs -> backends. Factories import their optional dependency only when used.

Specs:
  ``mock``                       deterministic offline backend (tests, ``--dry-run``)
  ``qwen2.5-coder-0.5b``         the embedded default model (llama.cpp preset)
  ``llamacpp:PATH.gguf``         any GGUF file through llama.cpp
  ``openai:MODEL@BASE_URL``      any OpenAI-compatible server
  ``hf:PATH[?quant=4bit&batch=16]``  Hugging Face transformers (local files; GGUF too)
  ``vllm:PATH[?quant=awq&tp=2]``     vLLM offline batch generation (GPU machines)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safety_eval.models.base import BackendError, ModelBackend


@dataclass(frozen=True)
class BackendOptions:
    """What factories may need from the run configuration."""

    seed: int = 0
    model_cache_dir: Path | None = None
    request_timeout_s: float = 120.0
    concurrency: int = 4


@dataclass(frozen=True)
class ModelInfo:
    """What pre-flight learned about a model without generating anything."""

    spec: str
    backend: str
    file: Path | None = None
    sha256: str | None = None
    size: int | None = None


def slug(spec: str) -> str:
    """A folder name for a model spec: ``openai:qwen@http://h:8/v1`` -> ``openai-qwen-h-8-v1``."""
    text = re.sub(r"https?://", "", spec.lower())
    text = re.sub(r"[^a-z0-9._]+", "-", text).strip("-.")
    return text[:80] or "model"


def _split(spec: str) -> tuple[str, str]:
    kind, sep, rest = spec.partition(":")
    if not sep:
        return spec, ""
    return kind, rest


def _embedded_file(options: BackendOptions) -> ModelInfo:
    from safety_eval.models.embedded import PRESET_NAME, ensure_model_file

    model_file = ensure_model_file(options.model_cache_dir)
    return ModelInfo(PRESET_NAME, "llamacpp", model_file.path, model_file.sha256, model_file.size)


def probe(spec: str, options: BackendOptions) -> ModelInfo:
    """Check that ``spec`` can be loaded (file present and valid, library importable,
    server answering) without loading it; raise BackendError saying what is wrong."""
    from safety_eval.models.embedded import PRESET_NAME

    kind, rest = _split(spec)
    if spec == "mock" or kind == "mock":
        return ModelInfo(spec, "mock")
    if spec == PRESET_NAME:
        from safety_eval.models.llamacpp import check_gguf, import_llama

        import_llama()
        info = _embedded_file(options)
        assert info.file is not None
        check_gguf(info.file)
        return info
    if kind == "llamacpp":
        from safety_eval.models.embedded import sha256_of
        from safety_eval.models.llamacpp import check_gguf, import_llama

        path = Path(rest).expanduser()
        check_gguf(path)
        import_llama()
        return ModelInfo(spec, "llamacpp", path, sha256_of(path), path.stat().st_size)
    if kind == "openai":
        from safety_eval.models.openai_compat import OpenAIBackend, parse_spec

        model, base = parse_spec(rest)
        backend = OpenAIBackend(model, base, timeout_s=options.request_timeout_s)
        try:
            backend.probe()
        finally:
            backend.close()
        return ModelInfo(spec, "openai")
    if kind == "hf":
        from safety_eval.models.hf import check_hf_spec

        found = check_hf_spec(spec, model_cache_dir=options.model_cache_dir)
        source = Path(str(found["path_or_id"]))
        return ModelInfo(spec, "hf", source if source.exists() else None)
    if kind == "vllm":
        from safety_eval.models.vllm_backend import check_vllm_spec

        check_vllm_spec(spec)
        return ModelInfo(spec, "vllm")
    create(spec, options)  # raises the right error for unknown specs
    raise AssertionError("unreachable")  # pragma: no cover


def _mock(spec: str, options: BackendOptions) -> ModelBackend:
    from safety_eval.models.mock import MockBackend

    return MockBackend(spec)


def _llamacpp(spec: str, options: BackendOptions) -> ModelBackend:
    from safety_eval.models.llamacpp import LlamaCppBackend

    _, rest = _split(spec)
    return LlamaCppBackend(Path(rest).expanduser(), name=spec, seed=options.seed)


def _embedded(spec: str, options: BackendOptions) -> ModelBackend:
    from safety_eval.models.llamacpp import LlamaCppBackend

    info = _embedded_file(options)
    assert info.file is not None
    return LlamaCppBackend(info.file, name=spec, seed=options.seed)


def _openai(spec: str, options: BackendOptions) -> ModelBackend:
    from safety_eval.models.openai_compat import OpenAIBackend, parse_spec

    model, base = parse_spec(_split(spec)[1])
    return OpenAIBackend(
        model, base, timeout_s=options.request_timeout_s, concurrency=options.concurrency
    )


def _hf(spec: str, options: BackendOptions) -> ModelBackend:
    from safety_eval.models.hf import HFBackend

    return HFBackend.from_spec(spec, model_cache_dir=options.model_cache_dir)


def _vllm(spec: str, options: BackendOptions) -> ModelBackend:
    from safety_eval.models.vllm_backend import VLLMBackend, parse_vllm_spec

    return VLLMBackend(**parse_vllm_spec(spec), name=spec, seed=options.seed)


FACTORIES: dict[str, Callable[[str, BackendOptions], ModelBackend]] = {
    "mock": _mock,
    "llamacpp": _llamacpp,
    "openai": _openai,
    "hf": _hf,
    "vllm": _vllm,
}


def create(spec: str, options: BackendOptions | None = None) -> ModelBackend:
    """Build (and load) the backend for ``spec``."""
    from safety_eval.models.embedded import PRESET_NAME

    options = options or BackendOptions()
    if spec == PRESET_NAME:
        return _embedded(spec, options)
    kind, _ = _split(spec)
    factory = FACTORIES.get(kind)
    if factory is None:
        known = ", ".join(sorted(FACTORIES))
        raise BackendError(
            f"unknown model '{spec}': use '{PRESET_NAME}' or one of the backends {known} "
            "(e.g. mock, llamacpp:model.gguf, openai:NAME@http://127.0.0.1:8000/v1)"
        )
    return factory(spec, options)
