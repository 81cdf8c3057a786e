"""vLLM offline batch backend (``vllm:PATH[?OPTIONS]``).

vLLM runs the model in this process on a CUDA GPU and batches continuously, so the
runner may hand it large batches (``max_batch`` = 256): every prompt of a call is
submitted at once with ``LLM.chat`` (the model's chat template plus the run's system
prompt) and vLLM schedules them itself.

How to run it (Linux, NVIDIA GPU, CUDA; vLLM is not installable on a CPU-only box)::

    pip install -e '.[vllm]'
    safety-eval run -m 'vllm:/models/Qwen2.5-Coder-7B-Instruct-AWQ?quant=awq'

Spec grammar (``parse_vllm_spec``)::

    vllm:PATH[?KEY=VALUE[&KEY=VALUE...]]

    PATH    a local model folder (or a hub id vLLM may download)
    KEY     quant=awq|gptq|fp8|bitsandbytes|...   vLLM's ``quantization`` (default: from the
                                                  model's config)
            tp=N                                  tensor_parallel_size (GPUs), default 1
            gpu_mem=F                             gpu_memory_utilization in (0, 1], default 0.9
            max_len=N                             max_model_len (caps the KV cache), default:
                                                  the model's
            dtype=auto|bfloat16|float16           default auto
            ignore_eos=0|1                        always generate max_tokens (benchmarks)
            trust_remote_code=0|1                 default 0

The alternative, which keeps vLLM out of this process (and lets several runs share one
server): start an OpenAI-compatible server and use the ``openai:`` backend::

    vllm serve /models/Qwen2.5-Coder-7B-Instruct-AWQ --quantization awq \\
        --served-model-name qwen7b --port 8000
    safety-eval run -m 'openai:qwen7b@http://127.0.0.1:8000/v1'

Sampling maps one to one onto ``SamplingParams``: temperature (0 = greedy), top_p,
max_tokens and seed (a per-request seed, so sampled runs are reproducible). Token counts
are ``len(CompletionOutput.token_ids)``.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from safety_eval.models.base import BackendError, GenerationParams, chat_messages
from safety_eval.results.records import Generation

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "vLLM is not installed: on a Linux machine with an NVIDIA GPU and CUDA run "
    "pip install -e '.[vllm]'. Without a GPU use hf: or llamacpp:, or point openai: at a "
    "`vllm serve` server running elsewhere"
)

DEFAULT_MAX_BATCH = 256

SPEC_OPTIONS = ("quant", "tp", "gpu_mem", "max_len", "dtype", "ignore_eos", "trust_remote_code")


@dataclass(frozen=True)
class FallbackSamplingParams:
    """The SamplingParams fields this adapter sets; used only with a fake ``llm_factory``
    when vLLM itself is not importable (tests)."""

    temperature: float
    top_p: float
    max_tokens: int
    seed: int | None
    ignore_eos: bool = False


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise BackendError(f"{INSTALL_HINT} ({exc})") from None
    return vllm


def _flag(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise BackendError(f"vllm spec option {key}={value!r}: expected 1/0, true/false")


def parse_vllm_spec(spec: str) -> dict[str, Any]:
    """``vllm:PATH?k=v&...`` -> keyword arguments for ``VLLMBackend`` (grammar: module doc)."""
    body = spec[len("vllm:"):] if spec.startswith("vllm:") else spec
    source, _, query = body.partition("?")
    source = source.strip()
    if not source:
        raise BackendError(
            f"bad vllm model spec {spec!r}: expected vllm:/path/to/model[?quant=awq&tp=2]"
        )
    kwargs: dict[str, Any] = {"path": os.path.expanduser(source)}
    for key, value in parse_qsl(query, keep_blank_values=True):
        key = key.strip().lower().replace("-", "_")
        value = value.strip()
        try:
            if key == "quant":
                kwargs["quantization"] = None if value.lower() in {"", "none"} else value.lower()
            elif key in {"tp", "tensor_parallel_size"}:
                kwargs["tensor_parallel_size"] = int(value)
                if kwargs["tensor_parallel_size"] < 1:
                    raise ValueError("must be >= 1")
            elif key in {"gpu_mem", "gpu_memory_utilization"}:
                kwargs["gpu_memory_utilization"] = float(value)
                if not 0.0 < kwargs["gpu_memory_utilization"] <= 1.0:
                    raise ValueError("must be in (0, 1]")
            elif key in {"max_len", "max_model_len"}:
                kwargs["max_model_len"] = int(value)
                if kwargs["max_model_len"] < 1:
                    raise ValueError("must be >= 1")
            elif key == "dtype":
                kwargs["dtype"] = value or "auto"
            elif key == "ignore_eos":
                kwargs["ignore_eos"] = _flag(key, value)
            elif key in {"trust_remote_code", "trust"}:
                kwargs["trust_remote_code"] = _flag(key, value)
            else:
                raise BackendError(
                    f"unknown vllm spec option {key!r} in {spec!r}; known: "
                    f"{', '.join(SPEC_OPTIONS)}"
                )
        except ValueError as exc:
            raise BackendError(f"vllm spec option {key}={value!r}: {exc}") from None
    return kwargs


def check_vllm_spec(spec: str) -> dict[str, Any]:
    """Pre-flight for ``vllm:`` specs: parse, check vLLM imports and a local model path
    exists, without starting the engine. Returns the constructor kwargs."""
    kwargs = parse_vllm_spec(spec)
    import_vllm()
    path = str(kwargs["path"])
    if _looks_local(path) and not os.path.exists(path):
        raise BackendError(f"model path not found: {path}")
    return kwargs


def _looks_local(path: str) -> bool:
    """A path (not a hub id ``ORG/NAME``) that must exist on this machine."""
    if path.startswith(("/", "./", "../", "~")) or os.path.isabs(path):
        return True
    return path.count("/") != 1


class VLLMBackend:
    """vLLM's offline ``LLM`` engine behind the ModelBackend protocol.

    ``llm_factory`` replaces ``vllm.LLM`` (it is called with the same keyword arguments)
    and ``sampling_params_factory`` replaces ``vllm.SamplingParams``; tests use them to
    fake vLLM at its API boundary.
    """

    def __init__(
        self,
        path: str,
        *,
        name: str | None = None,
        quantization: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        llm_factory: Callable[..., Any] | None = None,
        sampling_params_factory: Callable[..., Any] | None = None,
        dtype: str = "auto",
        seed: int = 0,
        ignore_eos: bool = False,
        trust_remote_code: bool = False,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self.name = name or f"vllm:{path}"
        self.path = path
        self.max_batch = max_batch
        self.ignore_eos = ignore_eos
        if llm_factory is None or sampling_params_factory is None:
            try:
                vllm = import_vllm()
            except BackendError:
                if llm_factory is None:
                    raise
                vllm = None
            if llm_factory is None:
                llm_factory = vllm.LLM
            if sampling_params_factory is None:
                sampling_params_factory = (
                    vllm.SamplingParams if vllm is not None else FallbackSamplingParams
                )
        self._sampling_params_factory: Callable[..., Any] = sampling_params_factory
        if _looks_local(path) and not os.path.exists(os.path.expanduser(path)):
            raise BackendError(
                f"model path not found: {path}; give vLLM a local model folder "
                "(config.json plus weights)"
            )
        engine_kwargs: dict[str, Any] = {
            "model": os.path.expanduser(path),
            "quantization": quantization,
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization,
            "dtype": dtype,
            "seed": seed,
            "trust_remote_code": trust_remote_code,
        }
        if max_model_len is not None:
            engine_kwargs["max_model_len"] = max_model_len
        self.engine_kwargs = engine_kwargs
        started = time.perf_counter()
        try:
            self._llm: Any = llm_factory(**engine_kwargs)
        except BackendError:
            raise
        except Exception as exc:  # vLLM raises many types (ValueError, RuntimeError, OSError)
            raise BackendError(
                f"vLLM could not load {path}: {type(exc).__name__}: {exc} (check the GPU is "
                "free, lower ?gpu_mem= or ?max_len=, or set ?quant= for a quantized model)"
            ) from None
        self.load_s = time.perf_counter() - started

    def sampling_params(self, params: GenerationParams) -> Any:
        return self._sampling_params_factory(
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            seed=params.seed,
            ignore_eos=self.ignore_eos,
        )

    @property
    def llm(self) -> Any:
        if self._llm is None:
            raise BackendError(f"{self.name} is closed")
        return self._llm

    def generate(self, prompts: list[str], params: GenerationParams) -> list[Generation]:
        conversations = [chat_messages(prompt, params) for prompt in prompts]
        return self.generate_conversations(conversations, params)

    def chat(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        return self.generate_conversations([messages], params)[0]

    def generate_conversations(
        self, conversations: list[list[dict[str, str]]], params: GenerationParams
    ) -> list[Generation]:
        if not conversations:
            return []
        llm = self.llm
        sampling = self.sampling_params(params)
        started = time.perf_counter()
        try:
            outputs = llm.chat(conversations, sampling, use_tqdm=False)
        except (ValueError, TypeError) as exc:
            # vLLM rejects the whole call when one request is invalid (e.g. a prompt longer
            # than max_model_len): retry one by one so only that sample fails.
            if len(conversations) == 1:
                return [Generation(text="", error=f"vllm: {exc}",
                                   latency_s=time.perf_counter() - started)]
            log.warning("%s: batch rejected (%s); retrying prompt by prompt", self.name, exc)
            return [self.generate_conversations([c], params)[0] for c in conversations]
        elapsed = time.perf_counter() - started
        if len(outputs) != len(conversations):
            raise BackendError(
                f"{self.name}: vLLM returned {len(outputs)} outputs for "
                f"{len(conversations)} requests"
            )
        share = elapsed / len(conversations)
        return [self._to_generation(output, share) for output in outputs]

    @staticmethod
    def _to_generation(output: Any, latency_s: float) -> Generation:
        completions = getattr(output, "outputs", None) or []
        if not completions:
            return Generation(text="", error="vllm: no completion returned", latency_s=latency_s)
        first = completions[0]
        text = str(getattr(first, "text", "") or "")
        token_ids = getattr(first, "token_ids", None) or []
        return Generation(text=text, tokens=len(token_ids), latency_s=latency_s)

    def close(self) -> None:
        """Shut the engine down and free its GPU memory; safe to call twice."""
        llm = getattr(self, "_llm", None)
        if llm is None:
            return
        self._llm = None
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        shutdown = getattr(core, "shutdown", None)
        if callable(shutdown):
            try:
                shutdown()
            except Exception as exc:  # best effort: freeing must not fail the run
                log.debug("vLLM engine shutdown failed: %s", exc)
        del llm, engine, core
        try:
            from vllm.distributed.parallel_state import (
                destroy_distributed_environment,
                destroy_model_parallel,
            )
        except ImportError:
            pass
        else:
            try:
                destroy_model_parallel()
                destroy_distributed_environment()
            except Exception as exc:
                log.debug("vLLM parallel state teardown failed: %s", exc)
        gc.collect()
        try:
            import torch
        except ImportError:
            return
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
