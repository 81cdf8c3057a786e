"""Every backend passes the same contract: one Generation per prompt, in order, a chat
reply, deterministic at temperature 0, and an idempotent close."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from safety_eval.models.base import GenerationParams, ModelBackend
from safety_eval.models.mock import MockBackend
from safety_eval.models.openai_compat import OpenAIBackend
from tests.conftest import free_port

PROMPTS = [
    "Write a Python function that returns the square of a number.",
    "Write a Python function that reverses a string.",
]


@pytest.fixture(scope="module")
def llama_server(embedded_model_file: Path) -> Iterator[str]:
    """A REAL OpenAI-compatible server: llama.cpp's, serving the embedded model."""
    port = free_port()
    log = open(embedded_model_file.parent / f"server-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_file),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
         "--model_alias", "qwen-embedded"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start in 90 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _mock() -> ModelBackend:
    return MockBackend()


@pytest.fixture(params=["mock", "llamacpp", "openai"])
def backend_factory(
    request: pytest.FixtureRequest,
) -> Callable[[], ModelBackend]:
    if request.param == "mock":
        return _mock
    if request.param == "llamacpp":
        shared = request.getfixturevalue("embedded_backend")
        return lambda: shared
    base = request.getfixturevalue("llama_server")
    return lambda: OpenAIBackend("qwen-embedded", base, concurrency=2)


def test_one_generation_per_prompt_in_order(
    backend_factory: Callable[[], ModelBackend], short_params: GenerationParams
) -> None:
    backend = backend_factory()
    out = backend.generate(PROMPTS, short_params)
    assert len(out) == len(PROMPTS)
    for generation in out:
        assert generation.error is None
        assert generation.text.strip()
        assert generation.tokens > 0
    # order and determinism at temperature 0: each batch reply equals the reply to that
    # prompt alone
    assert [backend.generate([p], short_params)[0].text for p in PROMPTS] == [
        g.text for g in out
    ]


def test_chat_returns_a_reply(
    backend_factory: Callable[[], ModelBackend], short_params: GenerationParams
) -> None:
    backend = backend_factory()
    reply = backend.chat(
        [{"role": "system", "content": "Answer briefly."},
         {"role": "user", "content": "Say hello."}],
        short_params,
    )
    assert reply.error is None and reply.text.strip()


def test_mock_close_is_idempotent() -> None:
    backend = MockBackend()
    backend.close()
    backend.close()
