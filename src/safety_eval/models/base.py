"""The model backend protocol: one small interface every backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from safety_eval.results.records import Generation

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful coding assistant. Answer with working Python code in a "
    "```python fenced block, followed by a short explanation."
)


class GenerationParams(BaseModel):
    """Sampling settings; deterministic at temperature 0 with a fixed seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(384, ge=1, le=32768)
    seed: int = 0
    system_prompt: str = DEFAULT_SYSTEM_PROMPT


def chat_messages(prompt: str, params: GenerationParams) -> list[dict[str, str]]:
    """The conversation a single coding prompt becomes: the system prompt, then the task."""
    return [
        {"role": "system", "content": params.system_prompt},
        {"role": "user", "content": prompt},
    ]


class BackendError(Exception):
    """A backend could not be created or loaded; the message says what to do."""


@runtime_checkable
class ModelBackend(Protocol):
    """A model that turns prompts into replies.

    ``generate`` takes a batch of user messages (the backend applies the chat
    template and the system prompt) and returns one Generation per prompt, in
    order. A failure for one prompt is a Generation with ``error`` set, not an
    exception; an exception means the whole backend is unusable.

    A backend may set ``max_batch`` (an int) to cap the batches the runner sends it;
    sequential backends set 1 so each sample is written as soon as it exists.
    """

    name: str

    def generate(self, prompts: list[str], params: GenerationParams) -> list[Generation]: ...

    def chat(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        """One reply to a multi-turn conversation (used by the agent simulator)."""
        ...

    def close(self) -> None: ...
