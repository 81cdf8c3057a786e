"""Take the code out of a model's reply (which keeps its raw text elsewhere).

Handles fenced blocks (```python, ```py, ```python3, bare ```), several blocks (the
Python ones are joined), an unterminated last fence (taken to the end), and replies
with no fence at all (taken whole when most lines look like code, else no code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ExtractKind = Literal["fenced", "unterminated", "unfenced", "none"]

_FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+.#-]*)[^\n]*$", re.MULTILINE)
_PY_LANGS = {"python", "py", "python3", "py3", "ipython", "pycon"}
_OTHER_CODE_LANGS = {"", "text", "txt", "code"}
_CODE_LINE_RE = re.compile(
    r"^\s*(?:import |from \S+ import |def |class |async def |@|if |elif |else:|for |while |"
    r"try:|except|finally:|with |return\b|raise\b|yield\b|pass$|#|print\(|[\w.\[\]'\"]+\s*"
    r"(?:=|\+=|-=)|[\w.]+\(.*\)\s*$|[)\]}]\s*$)"
)


@dataclass(frozen=True)
class Extracted:
    code: str
    kind: ExtractKind
    blocks: int


def _blocks(reply: str) -> tuple[list[tuple[str, str]], bool]:
    """(lang, body) for each fenced block, and whether the last fence was left open."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        opening = _FENCE_RE.search(reply, pos)
        if opening is None:
            return blocks, False
        fence, lang = opening.group(1), opening.group(2).lower()
        body_start = opening.end() + 1
        closing_re = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.M)
        closing = closing_re.search(reply, body_start)
        if closing is None:
            blocks.append((lang, reply[body_start:]))
            return blocks, True
        blocks.append((lang, reply[body_start : closing.start()]))
        pos = closing.end()


def looks_like_code(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    code_like = sum(1 for line in lines if _CODE_LINE_RE.match(line))
    return code_like / len(lines) >= 0.6


def extract_code(reply: str) -> Extracted:
    blocks, open_last = _blocks(reply)
    if blocks:
        python = [body for lang, body in blocks if lang in _PY_LANGS]
        if not python:
            python = [
                body for lang, body in blocks if lang in _OTHER_CODE_LANGS and looks_like_code(body)
            ]
        if python:
            code = "\n\n".join(body.rstrip("\n") for body in python)
            kind: ExtractKind = "unterminated" if open_last else "fenced"
            return Extracted(code + "\n", kind, len(python))
        return Extracted("", "none", 0)
    if looks_like_code(reply):
        return Extracted(reply.strip("\n") + "\n", "unfenced", 1)
    return Extracted("", "none", 0)
