"""llama.cpp backend (``llamacpp:PATH.gguf``; the default model is a preset of it)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from safety_eval.models.base import BackendError, GenerationParams, chat_messages
from safety_eval.results.records import Generation

GGUF_MAGIC = b"GGUF"


def check_gguf(path: Path) -> None:
    """Refuse a missing file or one that is not GGUF, before llama.cpp sees it."""
    if not path.is_file():
        raise BackendError(f"model file not found: {path}")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise BackendError(f"{path} is not a GGUF model file (bad magic bytes)")


def import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise BackendError(
            "the llama.cpp backend needs llama-cpp-python: pip install -e '.[local]'"
        ) from None
    return llama_cpp


class LlamaCppBackend:
    """Runs a GGUF model in-process with llama-cpp-python, one prompt at a time."""

    max_batch = 1

    def __init__(
        self,
        path: Path,
        name: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        check_gguf(path)
        llama_cpp = import_llama()
        self.name = name or f"llamacpp:{path}"
        self.path = path
        started = time.perf_counter()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads or os.cpu_count() or 1,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp could not load {path}: {exc}") from None
        self.load_s = time.perf_counter() - started

    def generate(self, prompts: list[str], params: GenerationParams) -> list[Generation]:
        results = []
        for prompt in prompts:
            results.append(self.chat(chat_messages(prompt, params), params))
        return results

    def chat(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        started = time.perf_counter()
        try:
            out = self._llm.create_chat_completion(
                messages=messages,
                temperature=params.temperature,
                top_p=params.top_p,
                max_tokens=params.max_tokens,
                seed=params.seed,
            )
        except (ValueError, RuntimeError) as exc:
            # e.g. a prompt longer than the context window: that sample fails, the run goes on
            return Generation(text="", error=f"llama.cpp: {exc}",
                              latency_s=time.perf_counter() - started)
        text = out["choices"][0]["message"].get("content") or ""
        tokens = int(out.get("usage", {}).get("completion_tokens", 0))
        return Generation(text=text, tokens=tokens, latency_s=time.perf_counter() - started)

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None
