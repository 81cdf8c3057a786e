"""Shared fixtures. The embedded model is real: it is loaded once per test session."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from safety_eval.models.base import GenerationParams


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SAFETY_EVAL_* variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("SAFETY_EVAL_") and name != "SAFETY_EVAL_MODEL_CACHE_DIR":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def embedded_model_file() -> Path:
    from safety_eval.models.embedded import ensure_model_file

    return ensure_model_file().path


@pytest.fixture(scope="session")
def embedded_backend(embedded_model_file: Path) -> Iterator[object]:
    from safety_eval.models.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(embedded_model_file, name="qwen2.5-coder-0.5b")
    yield backend
    backend.close()


@pytest.fixture
def short_params() -> GenerationParams:
    return GenerationParams(max_tokens=96, temperature=0.0, seed=7)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
