"""model_registry: named models, their files and a one-reply check."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from safety_eval.errors import ConfigError
from safety_eval.models.base import GenerationParams
from safety_eval.ops.model_registry import (
    RegistryConfig,
    RegistryEntry,
    check_model,
    generation_params,
    list_models,
    load_registry,
    resolve_model,
    spec_of,
)

YAML = """
registry:
  models:
    - {name: offline, backend: mock}
    - {name: small, backend: embedded, quantization: Q4_K_M}
    - name: local
      backend: llamacpp
      path: /models/coder.gguf
      quantization: Q5_K_M
      generation: {temperature: 0.3, max_tokens: 64}
    - {name: lab, backend: openai, model: qwen-coder, base_url: "http://127.0.0.1:8000/v1"}
    - {name: hub, backend: hf, path: Qwen/Qwen2.5-Coder-7B}
"""


def test_entries_map_to_model_specs(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(YAML)
    registry = load_registry(path)
    assert [spec_of(e) for e in registry.models] == [
        "mock", "qwen2.5-coder-0.5b", "llamacpp:/models/coder.gguf",
        "openai:qwen-coder@http://127.0.0.1:8000/v1", "hf:Qwen/Qwen2.5-Coder-7B"]
    assert resolve_model("local", registry) == "llamacpp:/models/coder.gguf"
    assert resolve_model("llamacpp:/x.gguf", registry) == "llamacpp:/x.gguf"
    assert resolve_model("local", None) == "local"
    entry = registry.get("local")
    assert entry is not None
    params = generation_params(entry, GenerationParams(seed=9))
    assert (params.temperature, params.max_tokens, params.seed) == (0.3, 64, 9)
    assert generation_params(registry.models[0]) == GenerationParams()


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "x", "backend": "llamacpp"}, "needs 'path'"),
    ({"name": "x", "backend": "openai", "model": "m"}, "base_url"),
    ({"name": "x", "backend": "openai", "base_url": "http://h/v1"}, "model"),
    ({"name": "x y", "backend": "mock"}, "name"),
    ({"name": "x", "backend": "tpu"}, "backend"),
    ({"name": "x", "backend": "mock", "sha256": "abc"}, "64 hex"),
    ({"name": "x", "backend": "mock", "generation": {"temperature": 9}}, "temperature"),
])
def test_bad_entries_are_refused(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_registry({"models": [entry]})


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="named 'a'"):
        load_registry({"models": [{"name": "a", "backend": "mock"},
                                  {"name": "a", "backend": "mock"}]})


def test_list_reports_sizes_and_hashes_of_local_files(tmp_path: Path) -> None:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 1000)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    folder = tmp_path / "hf-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    registry = RegistryConfig(models=[
        RegistryEntry(name="good", backend="llamacpp", path=str(model), sha256=digest),
        RegistryEntry(name="bad", backend="llamacpp", path=str(model), sha256="0" * 64),
        RegistryEntry(name="gone", backend="llamacpp", path=str(tmp_path / "gone.gguf")),
        RegistryEntry(name="dir", backend="hf", path=str(folder)),
        RegistryEntry(name="hub", backend="hf", path="Qwen/Qwen2.5-Coder-7B"),
        RegistryEntry(name="m", backend="mock"),
    ])
    rows = {row.name: row for row in list_models(registry)}
    assert (rows["good"].size_bytes, rows["good"].sha256, rows["good"].sha256_ok) == (
        1004, digest, True)
    assert rows["bad"].sha256_ok is False
    assert rows["gone"].exists is False and rows["gone"].note == "file not found"
    assert rows["dir"].size_bytes == 2 and rows["dir"].sha256 is None
    assert rows["hub"].exists is None and rows["m"].exists is None
    assert rows["m"].as_dict()["spec"] == "mock"
    assert list_models(registry, hash_files=False)[0].sha256 is None


def test_check_generates_one_reply_with_the_mock() -> None:
    result = check_model(RegistryEntry(name="offline", backend="mock"))
    assert result.ok and result.reply and result.error is None
    assert result.spec == "mock" and result.as_dict()["ok"] is True


def test_check_reports_broken_models(tmp_path: Path) -> None:
    missing = check_model(RegistryEntry(name="gone", backend="llamacpp",
                                        path=str(tmp_path / "gone.gguf")))
    assert not missing.ok and "load failed" in str(missing.error)
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model")
    mismatch = check_model(RegistryEntry(name="fake", backend="llamacpp", path=str(fake),
                                         sha256="1" * 64))
    assert not mismatch.ok and "does not match" in str(mismatch.error)
    later = check_model(RegistryEntry(name="v", backend="vllm", path="/m"))  # no GPU here
    assert not later.ok and "vLLM is not installed" in str(later.error)


@pytest.mark.slow
def test_check_the_embedded_model(embedded_model_file: Path) -> None:
    entry = RegistryEntry(name="small", backend="embedded")
    result = check_model(entry, max_tokens=24)
    assert result.ok, result.error
    assert result.reply and result.tokens > 0 and result.load_s > 0
    row = list_models(RegistryConfig(models=[entry]))[0]
    assert row.exists and row.sha256_ok is True and row.size_bytes
