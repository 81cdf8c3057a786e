"""Any OpenAI-compatible chat server: ``openai:MODEL@BASE_URL``.

Works with vLLM's and llama.cpp's servers, Ollama and hosted APIs. The key comes from
``OPENAI_API_KEY`` (or none, for local servers). Timeouts, 429 and 5xx answers are
retried with exponential backoff; a batch is sent with at most ``concurrency``
requests in flight.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from safety_eval.models.base import BackendError, GenerationParams, chat_messages
from safety_eval.results.records import Generation

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def parse_spec(spec: str) -> tuple[str, str]:
    """``MODEL@BASE_URL`` -> (model, base_url)."""
    model, sep, base = spec.rpartition("@")
    if not sep or not model or not base.startswith(("http://", "https://")):
        raise BackendError(
            f"bad OpenAI model spec 'openai:{spec}': expected openai:MODEL@http(s)://HOST[:PORT]/v1"
        )
    return model, base.rstrip("/")


class OpenAIBackend:
    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        concurrency: int = 4,
        max_retries: int = 4,
        backoff_s: float = 0.5,
    ) -> None:
        self.name = f"openai:{model}@{base_url}"
        self.model = model
        self.base_url = base_url
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s

    def probe(self) -> None:
        """Check the server answers; raise BackendError naming the URL when it does not."""
        try:
            response = self._client.get("/models", timeout=10.0)
        except httpx.HTTPError as exc:
            raise BackendError(
                f"OpenAI-compatible server at {self.base_url} unreachable: {exc}"
            ) from None
        if response.status_code >= 400:
            raise BackendError(
                f"OpenAI-compatible server at {self.base_url} answered {response.status_code}"
            )

    def generate(self, prompts: list[str], params: GenerationParams) -> list[Generation]:
        def one(prompt: str) -> Generation:
            return self.chat(chat_messages(prompt, params), params)

        if len(prompts) <= 1 or self.concurrency == 1:
            return [one(p) for p in prompts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(one, prompts))

    def chat(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": params.seed,
        }
        started = time.perf_counter()
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._client.post("/chat/completions", json=body)
            except httpx.TimeoutException as exc:
                last_error = f"timeout: {exc}"
                continue
            except httpx.HTTPError as exc:
                last_error = f"connection error: {exc}"
                continue
            if response.status_code in RETRY_STATUS:
                last_error = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                break
            try:
                data = response.json()
                text = data["choices"][0]["message"].get("content") or ""
                tokens = int((data.get("usage") or {}).get("completion_tokens") or 0)
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                last_error = f"malformed response: {exc}"
                break
            return Generation(text=text, tokens=tokens, latency_s=time.perf_counter() - started)
        return Generation(
            text="", error=f"{self.base_url}: {last_error}", latency_s=time.perf_counter() - started
        )

    def close(self) -> None:
        self._client.close()
