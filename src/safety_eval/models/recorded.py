"""Pre-recorded replies (``--generations FILE.jsonl``): evaluate outputs with no model.

Each line: ``{"prompt_id": ..., "model": ..., "completion": ...[, "prompt": ...]}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from safety_eval.errors import UserError
from safety_eval.models.base import GenerationParams
from safety_eval.results.records import Generation, Prompt


@dataclass
class Recordings:
    """Replies per model, keyed by prompt id, and the prompt texts the file carried."""

    replies: dict[str, dict[str, str]] = field(default_factory=dict)
    prompts: dict[str, str] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(self.replies)


def load_generations(path: Path) -> Recordings:
    """Read a generations file; ``UserError`` names the file, line and problem."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read generations file ({exc.strerror})") from None
    rec = Recordings()
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}, line {number}"
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise UserError(f"{where}: invalid JSON ({exc})") from None
                if not isinstance(obj, dict):
                    raise UserError(f"{where}: expected a JSON object")
                for key in ("prompt_id", "model", "completion"):
                    if not isinstance(obj.get(key), str):
                        raise UserError(f"{where}: missing or non-string '{key}'")
                per_model = rec.replies.setdefault(obj["model"], {})
                if obj["prompt_id"] in per_model:
                    raise UserError(
                        f"{where}: duplicate reply for prompt '{obj['prompt_id']}' and model "
                        f"'{obj['model']}'"
                    )
                per_model[obj["prompt_id"]] = obj["completion"]
                if isinstance(obj.get("prompt"), str):
                    rec.prompts[obj["prompt_id"]] = obj["prompt"]
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8") from None
    if not rec.replies:
        raise UserError(f"{path}: no generations in the file")
    return rec


def prompts_for(rec: Recordings, source: list[Prompt] | None) -> list[Prompt]:
    """The prompts the recordings answer: from the file's own ``prompt`` fields, else
    looked up by id in ``source``."""
    ids = sorted({pid for replies in rec.replies.values() for pid in replies})
    by_id = {p.prompt_id: p for p in source or []}
    prompts = []
    for pid in ids:
        if pid in by_id:
            prompts.append(by_id[pid])
        elif pid in rec.prompts:
            prompts.append(Prompt(prompt_id=pid, content=rec.prompts[pid], source="generations"))
        else:
            raise UserError(
                f"prompt '{pid}' has no 'prompt' text in the generations file and is not in the "
                "prompt source; add a 'prompt' field or pass --prompts"
            )
    return prompts


class RecordedBackend:
    """Returns the recorded reply for each prompt text (an error sample when none)."""

    def __init__(self, name: str, replies: dict[str, str], prompts: list[Prompt]) -> None:
        self.name = name
        self._by_text = {p.content: replies[p.prompt_id] for p in prompts if p.prompt_id in replies}

    def generate(self, prompts: list[str], params: GenerationParams) -> list[Generation]:
        out = []
        for prompt in prompts:
            text = self._by_text.get(prompt)
            if text is None:
                out.append(Generation(text="", error=f"no recorded reply from {self.name}"))
            else:
                out.append(Generation(text=text, tokens=len(text.split())))
        return out

    def chat(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        return Generation(text="", error="recorded generations cannot hold a conversation")

    def close(self) -> None:
        return None
