"""The vLLM adapter, with vLLM faked at its API boundary (``LLM`` / ``SamplingParams``
/ ``RequestOutput``): vLLM needs a CUDA GPU and cannot be installed here."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from safety_eval.models.base import BackendError, GenerationParams, ModelBackend
from safety_eval.models.vllm_backend import (
    DEFAULT_MAX_BATCH,
    FallbackSamplingParams,
    VLLMBackend,
    check_vllm_spec,
    parse_vllm_spec,
)
from tests.models import test_backend_contract as contract


@dataclass
class CompletionOutput:
    """Shaped like ``vllm.outputs.CompletionOutput``."""

    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None = None
    logprobs: Any = None
    finish_reason: str | None = "stop"
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    """Shaped like ``vllm.outputs.RequestOutput``."""

    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    prompt_logprobs: Any
    outputs: list[CompletionOutput]
    finished: bool = True


@dataclass
class EngineCore:
    shut: int = 0

    def shutdown(self) -> None:
        self.shut += 1


@dataclass
class LLMEngine:
    engine_core: EngineCore = field(default_factory=EngineCore)


class FakeLLM:
    """``vllm.LLM`` with the same ``chat``/``generate`` signatures; deterministic replies.

    The reply to a conversation is ``reply to <last user message>`` cut to max_tokens
    words; ``max_model_len`` makes over-long conversations raise ValueError for the whole
    call, as vLLM does.
    """

    instances: ClassVar[list[FakeLLM]] = []

    def __init__(self, model: str, **kwargs: Any) -> None:
        self.model = model
        self.kwargs = kwargs
        self.chat_calls: list[tuple[list[list[dict[str, str]]], Any, dict[str, Any]]] = []
        self.llm_engine = LLMEngine()
        self.max_len = kwargs.get("max_model_len") or 10_000
        self.drop_outputs = False
        self.short_by_one = False
        FakeLLM.instances.append(self)

    def _reply(self, conversation: list[dict[str, str]], sampling: Any) -> RequestOutput:
        prompt = "".join(f"<{m['role']}>{m['content']}" for m in conversation)
        words = f"reply to {conversation[-1]['content']}".split()[: sampling.max_tokens]
        if sampling.temperature > 0:
            words.append(f"seed={sampling.seed}")
        out = CompletionOutput(0, " ".join(words), list(range(len(words))))
        return RequestOutput(f"req-{len(self.chat_calls)}", prompt, [1, 2, 3], None,
                             [] if self.drop_outputs else [out])

    def chat(
        self,
        messages: list[dict[str, str]] | list[list[dict[str, str]]],
        sampling_params: Any = None,
        use_tqdm: bool = True,
        lora_request: Any = None,
        chat_template: str | None = None,
        chat_template_content_format: str = "auto",
        add_generation_prompt: bool = True,
        continue_final_message: bool = False,
        tools: list[dict[str, Any]] | None = None,
        chat_template_kwargs: dict[str, Any] | None = None,
        mm_processor_kwargs: dict[str, Any] | None = None,
    ) -> list[RequestOutput]:
        conversations: list[list[dict[str, str]]] = (
            messages if messages and isinstance(messages[0], list) else [messages]  # type: ignore[list-item]
        )
        self.chat_calls.append((conversations, sampling_params, {"use_tqdm": use_tqdm}))
        for conversation in conversations:
            if sum(len(m["content"]) for m in conversation) > self.max_len:
                raise ValueError(
                    f"The decoder prompt (length {self.max_len + 1}) is longer than the "
                    "maximum model length"
                )
        outputs = [self._reply(c, sampling_params) for c in conversations]
        return outputs[:-1] if self.short_by_one else outputs

    def generate(
        self, prompts: Any, sampling_params: Any = None, *, use_tqdm: bool = True,
        lora_request: Any = None,
    ) -> list[RequestOutput]:
        raise AssertionError("the adapter uses LLM.chat")


@pytest.fixture(autouse=True)
def _no_real_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behave the same whether or not vLLM is installed: ``import vllm`` fails."""
    monkeypatch.setitem(sys.modules, "vllm", None)
    FakeLLM.instances.clear()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text("{}")
    return tmp_path


def make(model_dir: Path, **kwargs: Any) -> VLLMBackend:
    return VLLMBackend(str(model_dir), llm_factory=FakeLLM, **kwargs)


# ----------------------------------------------------------------------- the contract


@pytest.fixture
def backend_factory(model_dir: Path) -> Callable[[], ModelBackend]:
    shared = make(model_dir)
    return lambda: shared


test_contract_one_generation_per_prompt_in_order = (
    contract.test_one_generation_per_prompt_in_order
)
test_contract_chat_returns_a_reply = contract.test_chat_returns_a_reply


def test_is_a_model_backend(model_dir: Path) -> None:
    backend = make(model_dir, name="vllm:test")
    assert isinstance(backend, ModelBackend)
    assert backend.name == "vllm:test" and backend.max_batch == DEFAULT_MAX_BATCH == 256
    assert make(model_dir).name == f"vllm:{model_dir}"


def test_engine_arguments(model_dir: Path) -> None:
    make(model_dir, quantization="awq", tensor_parallel_size=2, gpu_memory_utilization=0.8,
         max_model_len=8192, seed=5)
    llm = FakeLLM.instances[-1]
    assert llm.model == str(model_dir)
    assert llm.kwargs == {
        "quantization": "awq", "tensor_parallel_size": 2, "gpu_memory_utilization": 0.8,
        "max_model_len": 8192, "dtype": "auto", "seed": 5, "trust_remote_code": False,
    }
    make(model_dir)
    assert "max_model_len" not in FakeLLM.instances[-1].kwargs
    assert FakeLLM.instances[-1].kwargs["quantization"] is None


def test_one_batched_chat_call_with_the_system_prompt(model_dir: Path) -> None:
    backend = make(model_dir)
    params = GenerationParams(max_tokens=50, system_prompt="SYS")
    out = backend.generate(["first", "second one", "third"], params)
    assert [g.text for g in out] == ["reply to first", "reply to second one", "reply to third"]
    assert [g.tokens for g in out] == [3, 4, 3]
    assert all(g.error is None for g in out)
    assert len({g.latency_s for g in out}) == 1
    llm = FakeLLM.instances[-1]
    assert len(llm.chat_calls) == 1
    conversations, _, options = llm.chat_calls[0]
    assert conversations[1] == [{"role": "system", "content": "SYS"},
                                {"role": "user", "content": "second one"}]
    assert options == {"use_tqdm": False}
    assert backend.generate([], params) == []


def test_sampling_params_mapping(model_dir: Path) -> None:
    backend = make(model_dir)
    backend.generate(["x"], GenerationParams(temperature=0.7, top_p=0.9, max_tokens=77, seed=3))
    sampling = FakeLLM.instances[-1].chat_calls[-1][1]
    assert isinstance(sampling, FallbackSamplingParams)
    assert sampling == FallbackSamplingParams(temperature=0.7, top_p=0.9, max_tokens=77,
                                              seed=3, ignore_eos=False)
    greedy = make(model_dir, ignore_eos=True).sampling_params(GenerationParams())
    assert (greedy.temperature, greedy.max_tokens, greedy.ignore_eos) == (0.0, 384, True)


def test_a_custom_sampling_params_factory_is_used(model_dir: Path) -> None:
    made: list[dict[str, Any]] = []

    def factory(**kwargs: Any) -> Any:
        made.append(kwargs)
        return FallbackSamplingParams(**kwargs)

    backend = VLLMBackend(str(model_dir), llm_factory=FakeLLM, sampling_params_factory=factory)
    backend.generate(["x"], GenerationParams(max_tokens=5))
    assert made == [{"temperature": 0.0, "top_p": 1.0, "max_tokens": 5, "seed": 0,
                     "ignore_eos": False}]


def test_chat_sends_the_conversation_as_is(model_dir: Path) -> None:
    backend = make(model_dir)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"}, {"role": "user", "content": "again"}]
    reply = backend.chat(messages, GenerationParams())
    assert reply.text == "reply to again" and reply.tokens == 3
    assert FakeLLM.instances[-1].chat_calls[-1][0] == [messages]


def test_a_rejected_prompt_fails_alone(model_dir: Path) -> None:
    backend = make(model_dir, max_model_len=400)
    out = backend.generate(["short", "x" * 500, "also short"],
                           GenerationParams(system_prompt="s", max_tokens=8))
    assert [g.text for g in out] == ["reply to short", "", "reply to also short"]
    assert out[1].error is not None and "maximum model length" in out[1].error
    # the batch call, then one call per prompt
    assert len(FakeLLM.instances[-1].chat_calls) == 4


def test_a_missing_completion_is_a_per_prompt_error(model_dir: Path) -> None:
    backend = make(model_dir)
    FakeLLM.instances[-1].drop_outputs = True
    out = backend.generate(["a"], GenerationParams())
    assert out[0].error == "vllm: no completion returned" and out[0].text == ""


def test_a_wrong_number_of_outputs_means_the_backend_is_broken(model_dir: Path) -> None:
    backend = make(model_dir)
    FakeLLM.instances[-1].short_by_one = True
    with pytest.raises(BackendError, match="returned 1 outputs for 2 requests"):
        backend.generate(["a", "b"], GenerationParams())


def test_close_shuts_the_engine_down_once(model_dir: Path) -> None:
    backend = make(model_dir)
    core = FakeLLM.instances[-1].llm_engine.engine_core
    backend.close()
    backend.close()
    assert core.shut == 1
    with pytest.raises(BackendError, match="closed"):
        backend.generate(["a"], GenerationParams())


# ------------------------------------------------------------------------ load errors


@dataclass
class SamplingParams:
    """Stands in for ``vllm.SamplingParams`` (keyword fields of the same names)."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = 16
    seed: int | None = None
    ignore_eos: bool = False


def test_the_installed_vllm_module_is_used(model_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    torn_down: list[str] = []
    vllm = types.ModuleType("vllm")
    vllm.LLM = FakeLLM  # type: ignore[attr-defined]
    vllm.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    parallel = types.ModuleType("vllm.distributed.parallel_state")
    parallel.destroy_model_parallel = lambda: torn_down.append("model")  # type: ignore[attr-defined]
    parallel.destroy_distributed_environment = (  # type: ignore[attr-defined]
        lambda: torn_down.append("dist")
    )
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.distributed", types.ModuleType("vllm.distributed"))
    monkeypatch.setitem(sys.modules, "vllm.distributed.parallel_state", parallel)
    backend = VLLMBackend(str(model_dir), quantization="awq")
    assert FakeLLM.instances[-1].kwargs["quantization"] == "awq"
    assert backend.generate(["a"], GenerationParams(max_tokens=4))[0].text == "reply to a"
    assert FakeLLM.instances[-1].chat_calls[-1][1] == SamplingParams(0.0, 1.0, 4, 0, False)
    backend.close()
    assert torn_down == ["model", "dist"]


def test_without_vllm_the_error_says_how_to_install(model_dir: Path) -> None:
    with pytest.raises(BackendError) as info:
        VLLMBackend(str(model_dir))
    message = str(info.value)
    assert "pip install -e '.[vllm]'" in message and "CUDA" in message
    assert "openai:" in message and "vllm serve" in message


def test_import_error_comes_before_the_path_check(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"pip install -e '\.\[vllm\]'"):
        VLLMBackend(str(tmp_path / "missing"))


def test_missing_local_path(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="model path not found"):
        VLLMBackend(str(tmp_path / "missing"), llm_factory=FakeLLM)
    with pytest.raises(BackendError, match="model path not found"):
        VLLMBackend("relative-folder-that-is-not-here", llm_factory=FakeLLM)


def test_a_hub_id_is_passed_through() -> None:
    backend = VLLMBackend("Qwen/Qwen2.5-Coder-7B-Instruct-AWQ", llm_factory=FakeLLM)
    assert FakeLLM.instances[-1].model == "Qwen/Qwen2.5-Coder-7B-Instruct-AWQ"
    backend.close()


def test_engine_failure_is_a_backend_error(model_dir: Path) -> None:
    def failing(**kwargs: Any) -> Any:
        raise RuntimeError("CUDA out of memory while allocating the KV cache")

    with pytest.raises(BackendError, match=r"vLLM could not load .*KV cache.*gpu_mem"):
        VLLMBackend(str(model_dir), llm_factory=failing)


# ------------------------------------------------------------------------------ specs


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("vllm:/models/Qwen2.5-Coder-7B-Instruct-AWQ?quant=awq",
         {"path": "/models/Qwen2.5-Coder-7B-Instruct-AWQ", "quantization": "awq"}),
        ("vllm:/m?tp=2&gpu_mem=0.85&max_len=8192&dtype=bfloat16",
         {"path": "/m", "tensor_parallel_size": 2, "gpu_memory_utilization": 0.85,
          "max_model_len": 8192, "dtype": "bfloat16"}),
        ("vllm:/m?quant=none&ignore_eos=1&trust_remote_code=true",
         {"path": "/m", "quantization": None, "ignore_eos": True, "trust_remote_code": True}),
        ("vllm:Qwen/Qwen2.5-Coder-7B-Instruct", {"path": "Qwen/Qwen2.5-Coder-7B-Instruct"}),
    ],
)
def test_parse_vllm_spec(spec: str, expected: dict[str, Any]) -> None:
    assert parse_vllm_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("vllm:", "bad vllm model spec"),
        ("vllm:/m?tp=0", "must be >= 1"),
        ("vllm:/m?gpu_mem=1.5", r"must be in \(0, 1\]"),
        ("vllm:/m?max_len=big", "invalid literal"),
        ("vllm:/m?ignore_eos=maybe", "expected 1/0"),
        ("vllm:/m?colour=red", "unknown vllm spec option 'colour'"),
    ],
)
def test_parse_vllm_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        parse_vllm_spec(spec)


def test_check_vllm_spec(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BackendError, match="pip install"):
        check_vllm_spec(f"vllm:{model_dir}")
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    assert check_vllm_spec(f"vllm:{model_dir}?tp=2") == {
        "path": str(model_dir), "tensor_parallel_size": 2,
    }
    with pytest.raises(BackendError, match="model path not found"):
        check_vllm_spec(f"vllm:{model_dir}/missing")


def test_spec_to_backend(model_dir: Path) -> None:
    kwargs = parse_vllm_spec(f"vllm:{model_dir}?quant=awq&max_len=4096")
    backend = VLLMBackend(**kwargs, name="vllm:spec", llm_factory=FakeLLM)
    assert FakeLLM.instances[-1].kwargs["quantization"] == "awq"
    assert FakeLLM.instances[-1].kwargs["max_model_len"] == 4096
    assert backend.generate(["a"], GenerationParams())[0].text == "reply to a"
