from __future__ import annotations

from pathlib import Path

import pytest

from safety_eval.models.base import BackendError
from safety_eval.models.registry import BackendOptions, create, probe, slug


def test_slug() -> None:
    assert slug("openai:qwen@http://127.0.0.1:8000/v1") == "openai-qwen-127.0.0.1-8000-v1"
    assert slug("qwen2.5-coder-0.5b") == "qwen2.5-coder-0.5b"
    assert slug("llamacpp:/a/b/My Model.gguf") == "llamacpp-a-b-my-model.gguf"


def test_unknown_spec_lists_backends() -> None:
    with pytest.raises(BackendError, match="unknown model 'nope:x'"):
        create("nope:x")


@pytest.mark.parametrize("spec", ["hf:/models/missing-x", "vllm:/models/missing-x"])
def test_missing_hf_and_vllm_models_are_refused_before_loading(spec: str) -> None:
    with pytest.raises(BackendError):
        probe(spec, BackendOptions())


def test_probe_missing_gguf(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="model file not found"):
        probe(f"llamacpp:{tmp_path / 'nope.gguf'}", BackendOptions())


def test_probe_non_gguf(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(BackendError, match="not a GGUF model file"):
        probe(f"llamacpp:{bad}", BackendOptions())


def test_probe_embedded_preset() -> None:
    info = probe("qwen2.5-coder-0.5b", BackendOptions())
    assert info.file is not None and info.sha256 and info.size and info.size > 400_000_000
