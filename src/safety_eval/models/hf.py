"""Hugging Face transformers backend (``hf:SOURCE[?OPTIONS]``).

Loads a causal LM with ``AutoTokenizer`` / ``AutoModelForCausalLM`` and generates in
batches with LEFT padding, the model's own chat template and the run's system prompt.

Offline by default: only local directories (or models already in the local Hugging Face
cache) are loaded, with ``local_files_only=True`` and ``HF_HUB_OFFLINE=1`` set while
loading; ``?offline=0`` lets transformers download.

Spec grammar (``parse_hf_spec``)::

    hf:SOURCE[?KEY=VALUE[&KEY=VALUE...]]

    SOURCE  /path/to/model-dir         a transformers model folder (config.json, weights)
            /path/to/model.gguf        a GGUF file (transformers dequantizes it on load)
            qwen2.5-coder-0.5b         the embedded Qwen2.5-Coder-0.5B-Instruct GGUF
            ORG/NAME                   a hub id, loaded from the local HF cache only
    KEY     quant=4bit|8bit|none       BitsAndBytes quantization (CUDA only)
            batch=N                    prompts per forward batch (also ``max_batch``)
            device=cpu|cuda|cuda:N     default: cuda when available, else cpu
            dtype=bf16|fp16|fp32|auto  default: bf16 on CUDA, fp32 on CPU
            gguf=FILE                  GGUF file name inside a SOURCE directory
            offline=1|0                0 allows downloads from the Hub (default 1)
            trust_remote_code=0|1      run the model repo's own Python code (default 0)
            ignore_eos=0|1             always generate max_tokens tokens (benchmarks)
            min_new_tokens=N           suppress EOS before N new tokens

Per-sample latency is the sample's share of its batch's wall time, so summed latencies
equal the generation wall time and tokens / latency is the real throughput.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

from safety_eval.models.base import BackendError, GenerationParams, chat_messages
from safety_eval.results.records import Generation

log = logging.getLogger(__name__)

Quantization = Literal["4bit", "8bit"]

INSTALL_HINT = "pip install -e '.[hf]'"

# One tokenizer per (source, gguf file, trust_remote_code): a second backend on the same
# model (or a reload after close) does not parse the tokenizer again. A GGUF tokenizer
# takes ~12 s to build.
_TOKENIZER_CACHE: dict[tuple[str, str | None, bool], Any] = {}
_TOKENIZER_LOCK = threading.Lock()

_DTYPE_NAMES = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "fp32": "float32",
    "float32": "float32",
    "float": "float32",
    "auto": "auto",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

SPEC_OPTIONS = (
    "quant",
    "batch",
    "device",
    "dtype",
    "gguf",
    "offline",
    "trust_remote_code",
    "ignore_eos",
    "min_new_tokens",
)

WARMUP_MESSAGES = [{"role": "user", "content": "Say hi."}]

# A minimal ChatML template for tokenizers that ship none (base models, test tokenizers).
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


# --------------------------------------------------------------------------- imports


def import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise BackendError(
            f"the hf backend needs PyTorch and transformers: {INSTALL_HINT} "
            "(on a CPU-only machine install torch from the CPU wheel index first)"
        ) from None
    return torch


def import_transformers() -> Any:
    import_torch()
    try:
        import transformers
    except ImportError:
        raise BackendError(f"the hf backend needs transformers: {INSTALL_HINT}") from None
    return transformers


def _transformers_major() -> int:
    transformers = import_transformers()
    try:
        return int(str(transformers.__version__).split(".")[0])
    except ValueError:  # pragma: no cover - odd dev versions
        return 5


@contextmanager
def offline_env(enabled: bool = True) -> Iterator[None]:
    """Set HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE for the duration of a load, then restore.

    huggingface_hub reads the variable once, at import, so its ``constants.HF_HUB_OFFLINE``
    flag is switched too when the hub library is already imported.
    """
    if not enabled:
        yield
        return
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ[name] = "1"
    hub_constants = sys.modules.get("huggingface_hub.constants")
    hub_saved = getattr(hub_constants, "HF_HUB_OFFLINE", None)
    if hub_constants is not None and hub_saved is not None:
        hub_constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if hub_constants is not None and hub_saved is not None:
            hub_constants.HF_HUB_OFFLINE = hub_saved  # type: ignore[attr-defined]


def clear_tokenizer_cache() -> None:
    with _TOKENIZER_LOCK:
        _TOKENIZER_CACHE.clear()


# ----------------------------------------------------------------------------- specs


def _flag(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BackendError(f"hf spec option {key}={value!r}: expected 1/0, true/false, yes/no")


def _positive_int(key: str, value: str, minimum: int = 1) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BackendError(f"hf spec option {key}={value!r}: expected an integer") from None
    if number < minimum:
        raise BackendError(f"hf spec option {key}={value!r}: must be >= {minimum}")
    return number


def parse_hf_spec(spec: str, *, model_cache_dir: Path | None = None) -> dict[str, Any]:
    """``hf:SOURCE?k=v&...`` -> keyword arguments for ``HFBackend`` (grammar: module doc).

    The embedded preset (``hf:qwen2.5-coder-0.5b``) is resolved here with
    ``ensure_model_file`` (joins and verifies the GGUF once); every other form is
    parsed without touching the file system.
    """
    from safety_eval.models.embedded import PRESET_NAME, ensure_model_file

    body = spec[len("hf:"):] if spec.startswith("hf:") else spec
    source, _, query = body.partition("?")
    source = source.strip()
    if not source:
        raise BackendError(
            f"bad hf model spec {spec!r}: expected hf:/path/to/model-dir, hf:/path/model.gguf "
            f"or hf:{PRESET_NAME}, optionally followed by ?quant=4bit&batch=16"
        )
    kwargs: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        key = key.strip().lower().replace("-", "_")
        if key == "quant":
            lowered = value.strip().lower()
            if lowered in {"none", "", "no", "off"}:
                kwargs["quantization"] = None
            elif lowered in {"4bit", "4", "nf4", "int4"}:
                kwargs["quantization"] = "4bit"
            elif lowered in {"8bit", "8", "int8"}:
                kwargs["quantization"] = "8bit"
            else:
                raise BackendError(f"hf spec option quant={value!r}: expected 4bit, 8bit or none")
        elif key == "batch":
            kwargs["batch_size"] = _positive_int(key, value)
        elif key == "device":
            kwargs["device"] = value.strip() or None
        elif key == "dtype":
            if value.strip().lower() not in _DTYPE_NAMES:
                known = ", ".join(sorted(_DTYPE_NAMES))
                raise BackendError(f"hf spec option dtype={value!r}: expected one of {known}")
            kwargs["dtype"] = _DTYPE_NAMES[value.strip().lower()]
        elif key == "gguf":
            kwargs["gguf_file"] = value.strip() or None
        elif key == "offline":
            kwargs["local_files_only"] = _flag(key, value)
        elif key in {"trust_remote_code", "trust"}:
            kwargs["trust_remote_code"] = _flag(key, value)
        elif key == "ignore_eos":
            kwargs["ignore_eos"] = _flag(key, value)
        elif key == "min_new_tokens":
            kwargs["min_new_tokens"] = _positive_int(key, value, minimum=0)
        else:
            raise BackendError(
                f"unknown hf spec option {key!r} in {spec!r}; known: {', '.join(SPEC_OPTIONS)}"
            )

    if source == PRESET_NAME:
        model_file = ensure_model_file(model_cache_dir)
        kwargs["path_or_id"] = str(model_file.path.parent)
        kwargs["gguf_file"] = model_file.path.name
        return kwargs
    expanded = os.path.expanduser(source)
    if expanded.lower().endswith(".gguf"):
        if "gguf_file" in kwargs:
            raise BackendError(f"hf spec {spec!r} names a GGUF file twice (path and ?gguf=)")
        path = Path(expanded)
        kwargs["path_or_id"] = str(path.parent)
        kwargs["gguf_file"] = path.name
        return kwargs
    kwargs["path_or_id"] = expanded
    return kwargs


def resolve_source(
    path_or_id: str, gguf_file: str | None, local_files_only: bool
) -> tuple[str, str | None]:
    """Check the model exists before transformers sees it; return (source, gguf file name).

    A ``.gguf`` path becomes (its directory, its file name). A hub id (``ORG/NAME``) is
    allowed: with ``local_files_only`` it loads from the local HF cache or fails there.
    """
    source = os.path.expanduser(path_or_id)
    path = Path(source)
    if gguf_file is None and source.lower().endswith(".gguf"):
        path, gguf_file = path.parent, path.name
        source = str(path)
    if gguf_file is not None:
        gguf_path = path / gguf_file
        if not gguf_path.is_file():
            raise BackendError(f"GGUF model file not found: {gguf_path}")
        with gguf_path.open("rb") as handle:
            if handle.read(4) != b"GGUF":
                raise BackendError(f"{gguf_path} is not a GGUF model file (bad magic bytes)")
        return str(path), gguf_file
    if path.exists():
        if not path.is_dir():
            raise BackendError(
                f"{path} is a file, not a model directory; give the folder holding "
                "config.json, or a .gguf file"
            )
        if not (path / "config.json").is_file():
            raise BackendError(
                f"{path} has no config.json: not a transformers model folder "
                "(save one with model.save_pretrained(DIR) or download it with "
                "`hf download ORG/NAME --local-dir DIR`)"
            )
        return str(path), None
    is_hub_id = (
        source.count("/") == 1
        and not source.startswith(("/", ".", "~"))
        and all(part for part in source.split("/"))
    )
    if is_hub_id:
        return source, None
    hint = (
        "download it first (e.g. `hf download ORG/NAME --local-dir DIR`) and pass the folder; "
        "the hf backend loads local files only unless the spec says ?offline=0"
        if local_files_only
        else "give a local model folder, a .gguf file or a hub id ORG/NAME"
    )
    raise BackendError(f"model path not found: {source}; {hint}")


def check_hf_spec(spec: str, *, model_cache_dir: Path | None = None) -> dict[str, Any]:
    """Pre-flight for ``hf:`` specs: parse, check the model files exist and that torch and
    transformers import, without loading anything. Returns the constructor kwargs;
    raises BackendError saying what is wrong."""
    kwargs = parse_hf_spec(spec, model_cache_dir=model_cache_dir)
    resolve_source(
        kwargs["path_or_id"], kwargs.get("gguf_file"), kwargs.get("local_files_only", True)
    )
    transformers = import_transformers()
    if kwargs.get("gguf_file"):
        require_gguf(transformers)
    return kwargs


def require_gguf(transformers: Any) -> None:
    """transformers reads GGUF files through the ``gguf`` package."""
    try:
        available = bool(transformers.utils.is_gguf_available())
    except AttributeError:  # pragma: no cover - very old transformers
        available = importlib.util.find_spec("gguf") is not None
    if not available:
        raise BackendError(
            f"loading a GGUF file with transformers {transformers.__version__} needs the gguf "
            f"package: pip install gguf (part of {INSTALL_HINT})"
        )


# --------------------------------------------------------------------------- helpers


def _is_oom(exc: BaseException) -> bool:
    torch = import_torch()
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return "out of memory" in text or "can't allocate memory" in text
    return False


def _free_accelerator_memory() -> None:
    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is present whenever a model was loaded
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _resolve_device(torch: Any, device: str | None) -> str:
    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    assert device is not None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError(
            f"device {device!r} asked for, but PyTorch sees no CUDA GPU "
            f"(torch {torch.__version__}); use device=cpu or install a CUDA build of torch"
        )
    return device


def _resolve_dtype(torch: Any, dtype: Any, device: str) -> Any:
    """None -> bf16 on CUDA (fp16 where bf16 is unsupported), fp32 elsewhere."""
    if dtype is None:
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if isinstance(dtype, str):
        name = _DTYPE_NAMES.get(dtype.lower())
        if name is None:
            raise BackendError(f"unknown dtype {dtype!r}; use one of {', '.join(_DTYPE_NAMES)}")
        return "auto" if name == "auto" else getattr(torch, name)
    return dtype


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (config_eos, tokenizer.eos_token_id):
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            if int(item) not in ids:
                ids.append(int(item))
    return ids


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Left padding, a pad token (the EOS token when the tokenizer has none)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        elif getattr(tokenizer, "unk_token", None) is not None:
            tokenizer.pad_token = tokenizer.unk_token
        else:
            raise BackendError("the tokenizer has neither a pad, EOS nor UNK token to pad with")
    return tokenizer


# ---------------------------------------------------------------------------- backend


class HFBackend:
    """A transformers causal LM, batched, in-process.

    ``generate`` encodes every prompt with the chat template (system prompt + user
    message), splits them into batches of ``batch_size`` and runs ``model.generate``
    with left padding. When a batch runs out of GPU memory it is retried at half the
    size, down to 1; a single prompt that still does not fit gets an error Generation.
    The halved size is kept for later calls (``batch_size`` shows the size in use).
    """

    def __init__(
        self,
        path_or_id: str,
        *,
        name: str | None = None,
        device: str | None = None,
        quantization: Quantization | None = None,
        dtype: Any = None,
        batch_size: int = 8,
        gguf_file: str | None = None,
        local_files_only: bool = True,
        trust_remote_code: bool = False,
        ignore_eos: bool = False,
        min_new_tokens: int | None = None,
        warmup: bool = True,
    ) -> None:
        if batch_size < 1:
            raise BackendError(f"batch_size must be >= 1, got {batch_size}")
        if quantization not in (None, "4bit", "8bit"):
            raise BackendError(f"quantization must be '4bit', '8bit' or None, not {quantization!r}")
        torch = import_torch()
        transformers = import_transformers()
        source, gguf = resolve_source(path_or_id, gguf_file, local_files_only)
        if gguf is not None:
            require_gguf(transformers)
        resolved_device = _resolve_device(torch, device)
        resolved_dtype = _resolve_dtype(torch, dtype, resolved_device)

        load_kwargs: dict[str, Any] = {
            "local_files_only": local_files_only,
            "trust_remote_code": trust_remote_code,
        }
        if gguf is not None:
            load_kwargs["gguf_file"] = gguf
        model_kwargs = dict(load_kwargs)
        model_kwargs["dtype" if _transformers_major() >= 5 else "torch_dtype"] = resolved_dtype
        if quantization is not None:
            model_kwargs["quantization_config"] = self._bnb_config(
                torch, transformers, quantization, resolved_device, resolved_dtype
            )
            model_kwargs["device_map"] = {"": resolved_device}

        started = time.perf_counter()
        tokenizer = self._load_tokenizer(transformers, source, gguf, load_kwargs)
        try:
            with offline_env(local_files_only):
                model = transformers.AutoModelForCausalLM.from_pretrained(source, **model_kwargs)
            if quantization is None:
                model = model.to(resolved_device)
        except (OSError, ValueError, RuntimeError, ImportError, KeyError, MemoryError) as exc:
            model = None
            if _is_oom(exc):
                _free_accelerator_memory()
            where = f"{source}/{gguf}" if gguf else source
            raise BackendError(f"transformers could not load {where}: {exc}") from None
        model.eval()
        self.path = source
        self.gguf_file = gguf
        self.quantization: Quantization | None = quantization
        self._setup(
            model,
            tokenizer,
            name=name or f"hf:{source}" + (f"/{gguf}" if gguf else ""),
            batch_size=batch_size,
            ignore_eos=ignore_eos,
            min_new_tokens=min_new_tokens,
            warmup=warmup,
        )
        self.load_s = time.perf_counter() - started

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "hf:in-memory",
        batch_size: int = 8,
        ignore_eos: bool = False,
        min_new_tokens: int | None = None,
        warmup: bool = True,
    ) -> HFBackend:
        """Wrap an already loaded model and tokenizer (tests, the GPU check, notebooks)."""
        if batch_size < 1:
            raise BackendError(f"batch_size must be >= 1, got {batch_size}")
        import_torch()
        backend = cls.__new__(cls)
        backend.path = name
        backend.gguf_file = None
        backend.quantization = None
        started = time.perf_counter()
        model.eval()
        backend._setup(
            model,
            prepare_tokenizer(tokenizer),
            name=name,
            batch_size=batch_size,
            ignore_eos=ignore_eos,
            min_new_tokens=min_new_tokens,
            warmup=warmup,
        )
        backend.load_s = time.perf_counter() - started
        return backend

    @classmethod
    def from_spec(
        cls, spec: str, *, name: str | None = None, model_cache_dir: Path | None = None
    ) -> HFBackend:
        """``hf:...`` spec -> loaded backend named after the spec."""
        kwargs = parse_hf_spec(spec, model_cache_dir=model_cache_dir)
        path_or_id = kwargs.pop("path_or_id")
        return cls(path_or_id, name=name or spec, **kwargs)

    @staticmethod
    def _bnb_config(
        torch: Any, transformers: Any, quantization: str, device: str, dtype: Any
    ) -> Any:
        if not device.startswith("cuda"):
            raise BackendError(
                f"{quantization} quantization (bitsandbytes) needs a CUDA GPU, and the device "
                f"is {device!r}; drop ?quant={quantization} to run unquantized on the CPU"
            )
        try:
            importlib.import_module("bitsandbytes")
        except ImportError:
            raise BackendError(
                f"{quantization} quantization needs bitsandbytes: pip install bitsandbytes "
                f"(part of {INSTALL_HINT} on Linux), or drop ?quant={quantization}"
            ) from None
        compute = dtype if dtype not in (None, "auto") else torch.bfloat16
        if quantization == "4bit":
            return transformers.BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=compute,
            )
        return transformers.BitsAndBytesConfig(load_in_8bit=True)

    @staticmethod
    def _load_tokenizer(
        transformers: Any, source: str, gguf: str | None, load_kwargs: dict[str, Any]
    ) -> Any:
        key = (os.path.abspath(source) if os.path.exists(source) else source, gguf,
               bool(load_kwargs.get("trust_remote_code")))
        with _TOKENIZER_LOCK:
            cached = _TOKENIZER_CACHE.get(key)
            if cached is not None:
                return cached
            try:
                with offline_env(bool(load_kwargs.get("local_files_only"))):
                    tokenizer = transformers.AutoTokenizer.from_pretrained(source, **load_kwargs)
            except (OSError, ValueError, KeyError, ImportError) as exc:
                raise BackendError(f"could not load the tokenizer of {source}: {exc}") from None
            _TOKENIZER_CACHE[key] = prepare_tokenizer(tokenizer)
            return tokenizer

    def _setup(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        batch_size: int,
        ignore_eos: bool,
        min_new_tokens: int | None,
        warmup: bool,
    ) -> None:
        self.name = name
        self.max_batch = batch_size
        self.batch_size = batch_size
        self.ignore_eos = ignore_eos
        self.min_new_tokens = min_new_tokens
        self._model: Any = model
        self._tokenizer = tokenizer
        self._lock = threading.Lock()
        self._eos_ids = _eos_ids(model, tokenizer)
        self._pad_id = int(tokenizer.pad_token_id)
        self._context = getattr(model.config, "max_position_embeddings", None)
        self.chat_template_fallback = getattr(tokenizer, "chat_template", None) is None
        if self.chat_template_fallback:
            log.warning("%s: the tokenizer has no chat template; using plain ChatML", name)
        self.oom_retries = 0
        if warmup:
            try:
                ids = self.encode(WARMUP_MESSAGES)
                self._generate_batch([ids], GenerationParams(max_tokens=2), ignore_eos=True)
            except Exception as exc:  # the model cannot generate at all: unusable
                self.close()
                raise BackendError(f"{name}: warmup generation failed: {exc}") from exc

    # --------------------------------------------------------------------- properties

    @property
    def model(self) -> Any:
        if self._model is None:
            raise BackendError(f"{self.name} is closed")
        return self._model

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def device(self) -> Any:
        return self.model.device

    @property
    def dtype(self) -> Any:
        return self.model.dtype

    # ------------------------------------------------------------------------ encoding

    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text for a conversation, ending with the assistant turn's header."""
        tokenizer = self._tokenizer
        template = CHATML_TEMPLATE if self.chat_template_fallback else None
        try:
            text = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, chat_template=template
            )
        except Exception:
            # Some templates (e.g. Gemma's) refuse a system turn: fold it into the user turn.
            if not messages or messages[0].get("role") != "system" or len(messages) < 2:
                raise
            merged = [
                {"role": messages[1]["role"],
                 "content": f"{messages[0]['content']}\n\n{messages[1]['content']}"},
                *messages[2:],
            ]
            text = tokenizer.apply_chat_template(
                merged, tokenize=False, add_generation_prompt=True, chat_template=template
            )
        return str(text)

    def encode(self, messages: list[dict[str, str]]) -> list[int]:
        # The template already holds the special tokens (BOS and the like).
        encoded = self._tokenizer(self.render(messages), add_special_tokens=False)
        return [int(i) for i in encoded["input_ids"]]

    # ---------------------------------------------------------------------- generation

    def generate(self, prompts: list[str], params: GenerationParams) -> list[Generation]:
        conversations = [chat_messages(prompt, params) for prompt in prompts]
        return self.generate_conversations(conversations, params)

    def chat(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        return self.generate_conversations([messages], params)[0]

    def generate_conversations(
        self, conversations: list[list[dict[str, str]]], params: GenerationParams
    ) -> list[Generation]:
        """One Generation per conversation, in order; failures are per-sample errors."""
        self.model  # noqa: B018 - raises BackendError when closed
        results: list[Generation | None] = [None] * len(conversations)
        todo: list[tuple[int, list[int]]] = []
        for index, messages in enumerate(conversations):
            try:
                ids = self.encode(messages)
            except Exception as exc:  # a template that rejects this conversation
                results[index] = Generation(text="", error=f"chat template: {exc}")
                continue
            if self._context is not None and len(ids) + params.max_tokens > self._context:
                results[index] = Generation(
                    text="",
                    error=(
                        f"prompt is {len(ids)} tokens and max_tokens {params.max_tokens}: more "
                        f"than the model's context of {self._context} tokens"
                    ),
                )
                continue
            todo.append((index, ids))
        with self._lock:
            for index, generation in self._run(todo, params):
                results[index] = generation
        return [g if g is not None else Generation(text="", error="no result") for g in results]

    def _run(
        self, todo: list[tuple[int, list[int]]], params: GenerationParams
    ) -> Iterable[tuple[int, Generation]]:
        position = 0
        while position < len(todo):
            size = max(1, min(self.batch_size, len(todo) - position))
            chunk = todo[position : position + size]
            started = time.perf_counter()
            try:
                outputs = self._generate_batch([ids for _, ids in chunk], params)
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                _free_accelerator_memory()
                self.oom_retries += 1
                if size > 1:
                    self.batch_size = max(1, size // 2)
                    log.warning(
                        "%s: out of memory on a batch of %d; retrying with %d",
                        self.name, size, self.batch_size,
                    )
                    continue
                index = chunk[0][0]
                yield index, Generation(
                    text="",
                    error=f"out of memory even with a batch of 1: {exc}",
                    latency_s=time.perf_counter() - started,
                )
                position += 1
                continue
            share = (time.perf_counter() - started) / len(chunk)
            for (index, _), (text, tokens) in zip(chunk, outputs, strict=True):
                yield index, Generation(text=text, tokens=tokens, latency_s=share)
            position += len(chunk)

    def _generate_batch(
        self,
        batch: list[list[int]],
        params: GenerationParams,
        *,
        ignore_eos: bool | None = None,
    ) -> list[tuple[str, int]]:
        """Left-pad ``batch``, generate, return (text, new-token count) per row."""
        torch = import_torch()
        model = self.model
        ignore = self.ignore_eos if ignore_eos is None else ignore_eos
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            if ids:
                input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
                attention[row, width - len(ids):] = 1
        device = model.device
        input_ids = input_ids.to(device)
        attention = attention.to(device)

        min_new = params.max_tokens if ignore else min(self.min_new_tokens or 0, params.max_tokens)
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "min_new_tokens": min_new,
            "pad_token_id": self._pad_id,
            "eos_token_id": self._eos_ids or None,
            "num_beams": 1,
            # explicit values so the model's generation_config (e.g. Qwen's
            # repetition_penalty 1.05 and top_k 20) does not change the run's settings
            "repetition_penalty": 1.0,
        }
        if params.temperature > 0:
            torch.manual_seed(params.seed)
            kwargs.update(
                do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0
            )
        else:
            kwargs.update(do_sample=False, temperature=1.0, top_p=1.0, top_k=50)
        with torch.inference_mode():
            output = model.generate(input_ids=input_ids, attention_mask=attention, **kwargs)
        new = output[:, width:].tolist()
        # transformers pads a row only after its EOS, so the reply is everything before
        # the first EOS (a pad id generated mid-reply, where pad != EOS, is a real token)
        stops = set() if ignore else set(self._eos_ids)
        results: list[tuple[str, int]] = []
        for row in new:
            count = len(row)
            for position, token in enumerate(row):
                if token in stops:
                    count = position
                    break
            text = self._tokenizer.decode(row[:count], skip_special_tokens=True)
            results.append((str(text), count))
        return results

    # --------------------------------------------------------------------------- close

    def close(self) -> None:
        """Drop the model and free its (GPU) memory; safe to call twice."""
        model = getattr(self, "_model", None)
        if model is None:
            return
        self._model = None
        del model
        _free_accelerator_memory()


# ------------------------------------------------------------- in-memory test models

# Qwen2.5-0.5B / Qwen2.5-Coder-0.5B(-Instruct) config.json sizes.
QWEN25_05B_SIZES: dict[str, Any] = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": True,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
}

_TEST_CORPUS = [
    "You are a helpful coding assistant. Answer with working Python code in a "
    "```python fenced block, followed by a short explanation.",
    "Write a Python function that returns the square of a number.",
    "Write a Python function that reverses a string.",
    "def main():\n    print('hello world')\n    return 0\n",
    "import os, subprocess, sqlite3, hashlib, json, re, pathlib",
]


def qwen2_config(**overrides: Any) -> Any:
    """A ``Qwen2Config`` with Qwen2.5-0.5B's sizes, ``overrides`` applied (no download)."""
    transformers = import_transformers()
    values = dict(QWEN25_05B_SIZES)
    values.update(overrides)
    rope_theta = values.pop("rope_theta")
    config = transformers.Qwen2Config(**values)
    # transformers 5 keeps rope settings in rope_parameters, 4.x in rope_theta
    if isinstance(getattr(config, "rope_parameters", None), dict):
        config.rope_parameters["rope_theta"] = rope_theta
    config.rope_theta = rope_theta
    return config


def build_test_tokenizer(
    corpus: Iterable[str] | None = None, vocab_size: int = 1000, *, pad: bool = True
) -> Any:
    """A byte-level BPE tokenizer trained in memory on ``corpus`` (no download).

    Every text encodes (the 256 byte symbols are in the vocabulary); the special tokens
    are ``<|endoftext|>`` (pad, id 0), ``<|im_start|>`` (1) and ``<|im_end|>`` (EOS, 2);
    the chat template is ChatML.
    """
    import_transformers()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(corpus) if corpus is not None else list(_TEST_CORPUS)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>" if pad else None,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer
