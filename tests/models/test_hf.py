"""The transformers backend: the backend contract, left padding, OOM halving, spec
parsing, load errors, and the embedded GGUF through ``gguf_file=`` (slow).

Fast tests use a tiny randomly initialised Qwen2 (2 layers, hidden 64) with an
in-memory byte-level BPE tokenizer, saved to a temporary folder: no download.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import subprocess
import sys
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from safety_eval.models import embedded
from safety_eval.models import hf as hf_module
from safety_eval.models.base import BackendError, GenerationParams, ModelBackend
from safety_eval.models.hf import (
    HFBackend,
    build_test_tokenizer,
    parse_hf_spec,
    qwen2_config,
    resolve_source,
)
from tests.models import test_backend_contract as contract

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[2]

PROMPTS = [
    "hi",
    "Write a Python function that reverses a string, with tests and a docstring please.",
    "x" * 50,
    "def f(): pass",
    "Say hello.",
    "import os",
]
MAX_TOKENS = 24


def tiny_config(vocab_size: int, **overrides: Any) -> Any:
    # initializer_range 0.5: well separated logits, so greedy decoding does not hinge
    # on float noise between a padded batch and a single prompt
    values: dict[str, Any] = {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": vocab_size,
        "max_position_embeddings": 512,
        "initializer_range": 0.5,
    }
    values.update(overrides)
    return qwen2_config(**values)


def tiny_model(vocab_size: int, seed: int = 0, **overrides: Any) -> Any:
    torch.manual_seed(seed)
    return transformers.Qwen2ForCausalLM(tiny_config(vocab_size, **overrides)).eval()


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return build_test_tokenizer()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> Path:
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    tiny_model(len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def backend(model_dir: Path) -> Iterator[HFBackend]:
    loaded = HFBackend(str(model_dir), name="hf:tiny", batch_size=8, device="cpu")
    yield loaded
    loaded.close()


@pytest.fixture
def params() -> GenerationParams:
    return GenerationParams(max_tokens=MAX_TOKENS, temperature=0.0, seed=7)


def _conversation(prompt: str, params: GenerationParams) -> list[dict[str, str]]:
    return [{"role": "system", "content": params.system_prompt},
            {"role": "user", "content": prompt}]


@pytest.fixture(scope="module")
def stopping_backend(tokenizer: Any) -> Iterator[HFBackend]:
    """The tiny model with a common token declared as a second EOS, so replies in one
    batch end at different lengths and the batch carries padding."""
    model = tiny_model(len(tokenizer))
    probe = HFBackend.from_model(model, tokenizer, batch_size=8, warmup=False)
    params = GenerationParams(max_tokens=MAX_TOKENS)
    rows = []
    for prompt in PROMPTS:
        ids = probe.encode(_conversation(prompt, params))
        with torch.inference_mode():
            out = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=MAX_TOKENS,
                                 do_sample=False, min_new_tokens=MAX_TOKENS)
        rows.append(out[0, len(ids):].tolist())
    # the token whose first occurrences spread over the most distinct positions
    best, spread = None, -1
    counts = collections.Counter(t for row in rows for t in set(row[1:]))
    for token, _ in counts.most_common(40):
        firsts = {row.index(token) if token in row else MAX_TOKENS for row in rows}
        if token > 2 and len(firsts) > spread:
            best, spread = token, len(firsts)
    assert best is not None
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, best]
    loaded = HFBackend.from_model(model, tokenizer, name="hf:tiny-stopping", batch_size=8)
    yield loaded
    loaded.close()


# ----------------------------------------------------------------------- the contract


@pytest.fixture
def backend_factory(backend: HFBackend) -> Callable[[], ModelBackend]:
    return lambda: backend


# the shared contract (tests/models/test_backend_contract.py), run against hf
test_contract_one_generation_per_prompt_in_order = (
    contract.test_one_generation_per_prompt_in_order
)
test_contract_chat_returns_a_reply = contract.test_chat_returns_a_reply


def test_is_a_model_backend(backend: HFBackend) -> None:
    assert isinstance(backend, ModelBackend)
    assert backend.name == "hf:tiny"
    assert backend.max_batch == 8
    assert backend.dtype == torch.float32
    assert str(backend.device) == "cpu"
    assert backend.load_s > 0


def test_one_generation_per_prompt_in_order(backend: HFBackend, params: GenerationParams) -> None:
    out = backend.generate(PROMPTS, params)
    assert len(out) == len(PROMPTS)
    assert all(g.error is None and g.tokens > 0 for g in out)
    assert [backend.generate([p], params)[0].text for p in PROMPTS] == [g.text for g in out]
    assert backend.generate([], params) == []


def test_deterministic_at_temperature_zero(backend: HFBackend, params: GenerationParams) -> None:
    first = [(g.text, g.tokens) for g in backend.generate(PROMPTS[:3], params)]
    assert first == [(g.text, g.tokens) for g in backend.generate(PROMPTS[:3], params)]


def test_latency_is_the_batch_share(backend: HFBackend, params: GenerationParams) -> None:
    out = backend.generate(PROMPTS[:4], params)
    assert len({g.latency_s for g in out}) == 1 and out[0].latency_s > 0


def test_chat_multi_turn(backend: HFBackend, params: GenerationParams) -> None:
    reply = backend.chat(
        [{"role": "system", "content": "Answer briefly."},
         {"role": "user", "content": "Say hello."},
         {"role": "assistant", "content": "Hello."},
         {"role": "user", "content": "Again."}],
        params,
    )
    assert reply.error is None and reply.text and reply.tokens == MAX_TOKENS


def test_system_prompt_reaches_the_template(backend: HFBackend) -> None:
    text = backend.render(_conversation("hello", GenerationParams(system_prompt="SYS-XYZ")))
    assert text == (
        "<|im_start|>system\nSYS-XYZ<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


# ----------------------------------------------------------- padding and token counts


def test_left_padding_batch_equals_singles(
    stopping_backend: HFBackend, params: GenerationParams
) -> None:
    batch = stopping_backend.generate(PROMPTS, params)
    singles = [stopping_backend.generate([p], params)[0] for p in PROMPTS]
    assert [(g.text, g.tokens) for g in batch] == [(g.text, g.tokens) for g in singles]
    lengths = {len(stopping_backend.encode(_conversation(p, params))) for p in PROMPTS}
    assert len(lengths) > 1, "prompts of different lengths: the batch is padded"
    tokens = [g.tokens for g in batch]
    assert len(set(tokens)) > 1, f"replies should stop at different lengths: {tokens}"
    assert min(tokens) < MAX_TOKENS
    assert stopping_backend.tokenizer.padding_side == "left"


def test_ignore_eos_and_min_new_tokens(stopping_backend: HFBackend,
                                       params: GenerationParams) -> None:
    free = [g.tokens for g in stopping_backend.generate(PROMPTS, params)]
    assert min(free) < MAX_TOKENS
    try:
        stopping_backend.ignore_eos = True
        fixed = stopping_backend.generate(PROMPTS, params)
        assert [g.tokens for g in fixed] == [MAX_TOKENS] * len(PROMPTS)
        stopping_backend.ignore_eos = False
        stopping_backend.min_new_tokens = 10
        floor = [g.tokens for g in stopping_backend.generate(PROMPTS, params)]
        assert min(floor) >= 10
        assert floor != free
    finally:
        stopping_backend.ignore_eos = False
        stopping_backend.min_new_tokens = None


_Module: Any = torch.nn.Module


class ScriptedModel(_Module):
    """Returns fixed new tokens per row, padded like transformers pads finished rows."""

    def __init__(self, rows: list[list[int]]) -> None:
        super().__init__()
        self.rows = rows
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.config = transformers.Qwen2Config(max_position_embeddings=4096)
        self.generation_config = transformers.GenerationConfig(eos_token_id=2)
        self.calls: list[dict[str, Any]] = []

    @property
    def device(self) -> Any:
        return torch.device("cpu")

    def generate(self, input_ids: Any, attention_mask: Any, **kwargs: Any) -> Any:
        self.calls.append({"input_ids": input_ids, "attention_mask": attention_mask, **kwargs})
        new = torch.tensor(self.rows[: input_ids.shape[0]], dtype=torch.long)
        return torch.cat([input_ids, new], dim=1)


def test_token_counts_exclude_eos_and_padding(tokenizer: Any) -> None:
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    a, b = tokenizer.convert_tokens_to_ids(["a", "b"])
    model = ScriptedModel([[a, b, eos, pad, pad], [a, a, a, b, b], [b, eos, pad, pad, pad]])
    backend = HFBackend.from_model(model, tokenizer, batch_size=3, warmup=False)
    out = backend.generate(["one", "a longer prompt here", "3"], GenerationParams(max_tokens=5))
    assert [(g.text, g.tokens) for g in out] == [("ab", 2), ("aaabb", 5), ("b", 1)]
    call = model.calls[0]
    # left padding: every row ends with real tokens, padding sits on the left
    assert call["attention_mask"][:, -1].tolist() == [1, 1, 1]
    assert call["attention_mask"][0, 0].item() == 0 and call["attention_mask"][1, 0].item() == 1
    assert call["input_ids"][0, 0].item() == pad
    assert call["do_sample"] is False and call["repetition_penalty"] == 1.0
    assert call["pad_token_id"] == pad and eos in call["eos_token_id"]


def test_sampling_is_seeded(backend: HFBackend) -> None:
    hot = GenerationParams(max_tokens=12, temperature=2.0, top_p=0.99, seed=1)
    first = [g.text for g in backend.generate(PROMPTS, hot)]
    assert first == [g.text for g in backend.generate(PROMPTS, hot)]
    other = [g.text for g in backend.generate(PROMPTS, hot.model_copy(update={"seed": 2}))]
    assert other != first
    greedy = [g.text for g in backend.generate(PROMPTS, GenerationParams(max_tokens=12))]
    assert greedy != first


def test_sampling_arguments(tokenizer: Any) -> None:
    model = ScriptedModel([[5, 6]])
    backend = HFBackend.from_model(model, tokenizer, batch_size=1, warmup=False)
    backend.generate(["x"], GenerationParams(max_tokens=2, temperature=0.7, top_p=0.9, seed=3))
    call = model.calls[-1]
    assert (call["do_sample"], call["temperature"], call["top_p"], call["top_k"]) == (
        True, 0.7, 0.9, 0
    )
    assert call["max_new_tokens"] == 2 and call["min_new_tokens"] == 0


def test_prompt_longer_than_the_context_is_a_per_prompt_error(
    backend: HFBackend, params: GenerationParams
) -> None:
    out = backend.generate(["short", "word " * 600, "also short"], params)
    assert out[0].error is None and out[2].error is None
    assert out[1].error is not None and "context" in out[1].error
    assert out[0].text == backend.generate(["short"], params)[0].text


# ------------------------------------------------------------------------ OOM halving


def _fresh(tokenizer: Any, batch_size: int = 8) -> HFBackend:
    return HFBackend.from_model(tiny_model(len(tokenizer)), tokenizer, batch_size=batch_size)


@pytest.mark.parametrize(
    "oom",
    [lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
     lambda: RuntimeError("CUDA error: out of memory")],
    ids=["OutOfMemoryError", "RuntimeError"],
)
def test_oom_halves_the_batch_and_retries(
    tokenizer: Any, params: GenerationParams, monkeypatch: pytest.MonkeyPatch,
    oom: Callable[[], Exception],
) -> None:
    backend = _fresh(tokenizer)
    prompts = [*PROMPTS, "two more", "prompts"]
    expected = [g.text for g in backend.generate(prompts, params)]
    real = backend.model.generate
    sizes: list[int] = []

    def flaky(**kwargs: Any) -> Any:
        sizes.append(kwargs["input_ids"].shape[0])
        if len(sizes) == 1:
            raise oom()
        return real(**kwargs)

    monkeypatch.setattr(backend.model, "generate", flaky)
    freed: list[bool] = []
    monkeypatch.setattr(hf_module, "_free_accelerator_memory", lambda: freed.append(True))
    out = backend.generate(prompts, params)
    assert sizes == [8, 4, 4]
    assert [g.text for g in out] == expected and all(g.error is None for g in out)
    assert backend.batch_size == 4 and backend.oom_retries == 1 and freed
    assert backend.max_batch == 8


def test_oom_down_to_one_then_a_per_prompt_error(
    tokenizer: Any, params: GenerationParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = _fresh(tokenizer)
    expected = [g.text for g in backend.generate(PROMPTS, params)]
    lengths = [len(backend.encode(_conversation(p, params))) for p in PROMPTS]
    longest = lengths.index(max(lengths))
    real = backend.model.generate
    sizes: list[int] = []

    def too_big(**kwargs: Any) -> Any:
        sizes.append(kwargs["input_ids"].shape[0])
        if kwargs["input_ids"].shape[1] >= max(lengths):  # any batch holding the longest
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return real(**kwargs)

    monkeypatch.setattr(backend.model, "generate", too_big)
    out = backend.generate(PROMPTS, params)
    assert sizes[:2] == [6, 3] and backend.batch_size == 1 and sizes[-1] == 1
    error = out[longest].error
    assert error is not None and "out of memory even with a batch of 1" in error
    assert out[longest].text == "" and out[longest].tokens == 0
    assert [g.text for i, g in enumerate(out) if i != longest] == [
        t for i, t in enumerate(expected) if i != longest
    ]


def test_other_errors_propagate(
    tokenizer: Any, params: GenerationParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = _fresh(tokenizer)

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("device-side assert triggered")

    monkeypatch.setattr(backend.model, "generate", broken)
    with pytest.raises(RuntimeError, match="device-side assert"):
        backend.generate(PROMPTS, params)


# ------------------------------------------------------------------- close and caches


def test_close_frees_the_model(tokenizer: Any, params: GenerationParams) -> None:
    backend = _fresh(tokenizer)
    ref = weakref.ref(backend.model)
    backend.close()
    gc.collect()
    assert ref() is None
    backend.close()  # idempotent
    with pytest.raises(BackendError, match="closed"):
        backend.generate(["x"], params)


def test_tokenizer_is_cached_per_model(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hf_module.clear_tokenizer_cache()
    seen: list[str | None] = []
    real = transformers.AutoTokenizer.from_pretrained

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(os.environ.get("HF_HUB_OFFLINE"))
        assert kwargs["local_files_only"] is True
        return real(*args, **kwargs)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", spy)
    first = HFBackend(str(model_dir), device="cpu", warmup=False)
    second = HFBackend(str(model_dir) + "/", device="cpu", warmup=False)
    try:
        assert first.tokenizer is second.tokenizer
        assert seen == ["1"], "one tokenizer load, with HF_HUB_OFFLINE=1 set while loading"
        assert "HF_HUB_OFFLINE" not in os.environ
        assert first.model is not second.model
    finally:
        first.close()
        second.close()


def test_missing_pad_token_uses_eos(params: GenerationParams) -> None:
    tokenizer = build_test_tokenizer(pad=False)
    assert tokenizer.pad_token is None
    backend = HFBackend.from_model(tiny_model(len(tokenizer)), tokenizer, batch_size=4)
    assert tokenizer.pad_token == tokenizer.eos_token and tokenizer.padding_side == "left"
    out = backend.generate(PROMPTS[:3], params)
    assert all(g.error is None for g in out)


def test_no_chat_template_falls_back_to_chatml(params: GenerationParams) -> None:
    tokenizer = build_test_tokenizer()
    tokenizer.chat_template = None
    backend = HFBackend.from_model(tiny_model(len(tokenizer)), tokenizer, warmup=False)
    assert backend.chat_template_fallback
    assert backend.render([{"role": "user", "content": "hi"}]).startswith("<|im_start|>user\nhi")


def test_template_without_a_system_role_gets_it_folded_in(params: GenerationParams) -> None:
    tokenizer = build_test_tokenizer()
    tokenizer.chat_template = (
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system role') }}"
        "{% endif %}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    backend = HFBackend.from_model(tiny_model(len(tokenizer)), tokenizer, warmup=False)
    text = backend.render(_conversation("hello", GenerationParams(system_prompt="SYS")))
    assert text == "[user] SYS\n\nhello\n[assistant] "
    assert backend.generate(["hello"], params)[0].error is None


def test_warmup_failure_is_a_backend_error(tokenizer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model(len(tokenizer))

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("no kernel image is available")

    monkeypatch.setattr(model, "generate", broken)
    with pytest.raises(BackendError, match="warmup generation failed"):
        HFBackend.from_model(model, tokenizer)


# ------------------------------------------------------------------------ load errors


def test_missing_path_is_a_backend_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="model path not found"):
        HFBackend(str(tmp_path / "nope"))
    with pytest.raises(BackendError, match=r"no config\.json"):
        HFBackend(str(tmp_path))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(BackendError, match="not a model directory"):
        HFBackend(str(tmp_path / "weights.bin"))
    with pytest.raises(BackendError, match="GGUF model file not found"):
        HFBackend(str(tmp_path / "model.gguf"))
    (tmp_path / "fake.gguf").write_bytes(b"NOPE" + b"\0" * 16)
    with pytest.raises(BackendError, match="bad magic"):
        HFBackend(str(tmp_path), gguf_file="fake.gguf")


def test_hub_id_not_in_the_local_cache_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="could not load the tokenizer"):
        HFBackend("nobody-here/no-such-model", device="cpu")


def test_broken_weights_are_a_backend_error(tmp_path: Path, tokenizer: Any) -> None:
    tiny_config(len(tokenizer)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(BackendError, match="transformers could not load"):
        HFBackend(str(tmp_path), device="cpu")


def test_without_torch_the_error_names_the_extra(model_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(BackendError, match=r"pip install -e '\.\[hf\]'"):
        HFBackend(str(model_dir))


def test_bad_arguments(model_dir: Path) -> None:
    with pytest.raises(BackendError, match="batch_size"):
        HFBackend(str(model_dir), batch_size=0)
    with pytest.raises(BackendError, match="quantization"):
        HFBackend(str(model_dir), quantization="3bit")  # type: ignore[arg-type]
    with pytest.raises(BackendError, match="needs a CUDA GPU"):
        HFBackend(str(model_dir), device="cpu", quantization="4bit")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu_is_a_backend_error(model_dir: Path) -> None:
    with pytest.raises(BackendError, match="no CUDA GPU"):
        HFBackend(str(model_dir), device="cuda")


def test_4bit_without_bitsandbytes_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    with pytest.raises(BackendError, match="pip install bitsandbytes"):
        HFBackend._bnb_config(torch, transformers, "4bit", "cuda", torch.bfloat16)


def test_bnb_config_when_bitsandbytes_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bitsandbytes", object())
    config = HFBackend._bnb_config(torch, transformers, "4bit", "cuda", torch.bfloat16)
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_compute_dtype == torch.bfloat16
    assert HFBackend._bnb_config(torch, transformers, "8bit", "cuda:0", None).load_in_8bit


def test_check_hf_spec_loads_nothing(model_dir: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def no_loading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("check_hf_spec must not load the model")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_loading)
    assert hf_module.check_hf_spec(f"hf:{model_dir}?batch=2") == {
        "path_or_id": str(model_dir), "batch_size": 2,
    }
    with pytest.raises(BackendError, match="model path not found"):
        hf_module.check_hf_spec(f"hf:{tmp_path}/missing")
    (tmp_path / "m.gguf").write_bytes(b"GGUF" + b"\0" * 16)
    monkeypatch.setattr(transformers.utils, "is_gguf_available", lambda: False)
    with pytest.raises(BackendError, match="pip install gguf"):
        hf_module.check_hf_spec(f"hf:{tmp_path}/m.gguf")


def test_offline_env_restores_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
    with hf_module.offline_env():
        assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
        assert hub.HF_HUB_OFFLINE is True
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"
    assert hub.HF_HUB_OFFLINE is False
    with hf_module.offline_env(False):
        assert "HF_HUB_OFFLINE" not in os.environ


def test_resolve_source_splits_a_gguf_path(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF" + b"\0" * 16)
    assert resolve_source(str(tmp_path / "m.gguf"), None, True) == (str(tmp_path), "m.gguf")
    assert resolve_source("Qwen/Qwen2.5-0.5B", None, True) == ("Qwen/Qwen2.5-0.5B", None)


# ------------------------------------------------------------------------------ specs


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("hf:/models/qwen", {"path_or_id": "/models/qwen"}),
        ("hf:/models/qwen?quant=4bit&batch=16",
         {"path_or_id": "/models/qwen", "quantization": "4bit", "batch_size": 16}),
        ("hf:/m/model-q4.gguf", {"path_or_id": "/m", "gguf_file": "model-q4.gguf"}),
        ("hf:/m/dir?gguf=x.gguf&device=cuda:1&dtype=fp16",
         {"path_or_id": "/m/dir", "gguf_file": "x.gguf", "device": "cuda:1",
          "dtype": "float16"}),
        ("hf:Qwen/Qwen2.5-Coder-7B-Instruct?offline=0&trust_remote_code=1",
         {"path_or_id": "Qwen/Qwen2.5-Coder-7B-Instruct", "local_files_only": False,
          "trust_remote_code": True}),
        ("hf:/m?quant=none&ignore_eos=1&min_new_tokens=32&quant=8bit",
         {"path_or_id": "/m", "quantization": "8bit", "ignore_eos": True,
          "min_new_tokens": 32}),
        ("hf:~/models/q", {"path_or_id": os.path.expanduser("~/models/q")}),
    ],
)
def test_parse_hf_spec(spec: str, expected: dict[str, Any]) -> None:
    assert parse_hf_spec(spec) == expected


def test_parse_hf_spec_embedded_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / embedded.FILE_NAME
    calls: list[Path | None] = []

    def fake(cache: Path | None = None) -> embedded.ModelFile:
        calls.append(cache)
        return embedded.ModelFile(target, "0" * 64, 1)

    monkeypatch.setattr(embedded, "ensure_model_file", fake)
    assert parse_hf_spec("hf:qwen2.5-coder-0.5b?batch=4", model_cache_dir=tmp_path) == {
        "path_or_id": str(tmp_path), "gguf_file": embedded.FILE_NAME, "batch_size": 4,
    }
    assert calls == [tmp_path]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hf:", "bad hf model spec"),
        ("hf:?batch=2", "bad hf model spec"),
        ("hf:/m?quant=3bit", "expected 4bit, 8bit or none"),
        ("hf:/m?batch=0", "must be >= 1"),
        ("hf:/m?batch=lots", "expected an integer"),
        ("hf:/m?dtype=int3", "dtype"),
        ("hf:/m?offline=maybe", "expected 1/0"),
        ("hf:/m?color=blue", "unknown hf spec option 'color'"),
        ("hf:/m/a.gguf?gguf=b.gguf", "GGUF file twice"),
    ],
)
def test_parse_hf_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        parse_hf_spec(spec)


def test_from_spec_loads_a_folder(model_dir: Path, params: GenerationParams) -> None:
    backend = HFBackend.from_spec(f"hf:{model_dir}?batch=3&device=cpu&dtype=fp32")
    try:
        assert backend.name == f"hf:{model_dir}?batch=3&device=cpu&dtype=fp32"
        assert backend.max_batch == 3 and backend.dtype == torch.float32
        assert backend.generate(["hi"], params)[0].tokens == MAX_TOKENS
    finally:
        backend.close()


# ------------------------------------------------------------------- the real model


@pytest.mark.slow
def test_embedded_gguf_generates_code(embedded_model_file: Path) -> None:
    """The embedded Q4_K_M GGUF through ``gguf_file=``, dequantized to fp32 by
    transformers (~50 s load, ~3.8 GB RSS on CPU); closed at once to free the memory."""
    backend = HFBackend(str(embedded_model_file.parent), gguf_file=embedded_model_file.name,
                        name="hf:qwen2.5-coder-0.5b", batch_size=2, device="cpu")
    try:
        assert backend.gguf_file == embedded.FILE_NAME and backend.dtype == torch.float32
        out = backend.generate(
            ["Write a Python function that reverses a string.",
             "Write a Python function that returns the square of a number."],
            GenerationParams(max_tokens=24, seed=7),
        )
        assert all(g.error is None for g in out)
        assert all(0 < g.tokens <= 24 for g in out)
        assert "def " in out[0].text and "def " in out[1].text
        assert "reverse" in out[0].text.lower() and "square" in out[1].text.lower()
        reply = backend.chat([{"role": "user", "content": "Say hello in one word."}],
                             GenerationParams(max_tokens=4))
        assert reply.error is None and reply.text.strip()
    finally:
        backend.close()


# ------------------------------------------------------------------------ gpu check


@pytest.mark.slow
def test_gpu_check_smoke_on_cpu(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OUT=str(tmp_path), PYTHON=sys.executable)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu-check.sh"), "--device", "cpu", "--prompts", "4",
         "--new-tokens", "8", "--layers", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "batched/sequential (prompts/hour)" in done.stdout
    result = json.loads((tmp_path / "gpu-check.json").read_text())
    assert result["ok"] is True
    assert result["device"] == "cpu" and result["gpu"] is None
    assert result["torch"] == torch.__version__
    assert result["transformers"] == transformers.__version__
    assert (result["prompts"], result["new_tokens"], result["layers"]) == (4, 8, 2)
    assert result["quantization"] == "none" and result["dtype"] == "float32"
    modes = result["modes"]
    assert [(m["mode"], m["batch_size"]) for m in modes] == [
        ("sequential", 1), ("batched", 64), ("batched", 128)
    ]
    for mode in modes:
        assert mode["prompts_done"] == 4 and mode["tokens"] == 4 * 8 and mode["errors"] == 0
        assert mode["prompts_per_hour"] > 0 and mode["tokens_per_s"] > 0
    assert set(result["ratio_batched_over_sequential"]) == {"64", "128"}
