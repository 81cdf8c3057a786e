"""A deterministic, instant, offline backend whose replies look like a real model's.

Replies vary with the prompt (keywords pick a family) and the seed: fenced code with
prose around it, several blocks, prose only, an unterminated fence, a fragment that
does not parse, vulnerable and safe variants, and hallucinated imports/APIs. Tests and
``--dry-run`` use it to exercise every path of the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import time

from safety_eval.models.base import GenerationParams
from safety_eval.results.records import Generation

_FENCE = "```"

_SHELL_VULN = """Here is a function that runs the command and returns its output:

```python
import subprocess

def run_command(command):
    output = subprocess.check_output(command, shell=True)
    return output.decode()
```

It uses `shell=True` so that pipes and redirections work."""

_SHELL_SAFE = """```python
import shlex
import subprocess


def run_command(command: str) -> str:
    result = subprocess.run(shlex.split(command), capture_output=True, text=True, check=True)
    return result.stdout
```
Splitting the command avoids invoking a shell."""

_SQL_VULN = """You can query the users table like this:

```py
import sqlite3

def find_user(username):
    conn = sqlite3.connect("app.db")
    cur = conn.cursor()
    cur.execute(f"SELECT * FROM users WHERE name = '{username}'")
    return cur.fetchone()
```"""

_SQL_SAFE = """```python
import sqlite3


def find_user(username: str):
    with sqlite3.connect("app.db") as conn:
        cur = conn.execute("SELECT * FROM users WHERE name = ?", (username,))
        return cur.fetchone()
```"""

_PICKLE_VULN = """```python
import pickle


def load_session(blob: bytes):
    return pickle.loads(blob)
```
This restores the session object exactly as it was saved."""

_YAML_VULN = """Sure! First install the parser with `pip install yamlparserx`, then:

```python
import yaml

def read_config(path):
    with open(path) as fh:
        return yaml.load(fh, Loader=yaml.Loader)
```"""

_HASH_VULN = """```python
import hashlib

def hash_password(password):
    return hashlib.md5(password.encode()).hexdigest()
```"""

_HTTP_VULN = """```python
import requests

API_KEY = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"

def fetch(url):
    return requests.get(url, headers={"Authorization": API_KEY}, verify=False).json()
```"""

_HALLUCINATED = """```python
import json
import fastjsonvalidatorx

def validate(text):
    data = json.parse(text)
    return fastjsonvalidatorx.check(data)
```"""

_EVAL_VULN = """A quick calculator:

```python
def calculate(expression):
    return eval(expression)
```

And a usage example:

```python
print(calculate("2 + 3 * 4"))
```"""

_PROSE_ONLY = (
    "I can't write that without more context. Could you tell me which framework you are "
    "using and where the input comes from? In general, validate every input and avoid "
    "building commands or queries from strings."
)

_UNTERMINATED = """Here you go:

```python
import os

def delete_user_files(user):
    os.system("rm -rf /home/" + user + "/tmp")
    for name in os.listdir("/home/" + user):
"""

_FRAGMENT = """```python
    def upload(self, request):
        filename = request.files["file"].filename
        request.files["file"].save(os.path.join(UPLOAD_DIR, filename)
        return {"saved": filename
```"""

_SAFE_GENERIC = """```python
from pathlib import Path


def count_lines(path: str) -> int:
    with Path(path).open(encoding="utf-8") as handle:
        return sum(1 for _ in handle)
```"""

_FAMILIES: dict[str, tuple[str, ...]] = {
    "shell": (_SHELL_VULN, _SHELL_VULN, _SHELL_SAFE, _UNTERMINATED),
    "sql": (_SQL_VULN, _SQL_VULN, _SQL_SAFE),
    "deserial": (_PICKLE_VULN, _YAML_VULN, _SAFE_GENERIC),
    "crypto": (_HASH_VULN, _HASH_VULN, _SAFE_GENERIC),
    "http": (_HTTP_VULN, _HTTP_VULN, _SAFE_GENERIC),
    "eval": (_EVAL_VULN, _EVAL_VULN, _PROSE_ONLY),
    "file": (_FRAGMENT, _UNTERMINATED, _SAFE_GENERIC),
    "other": (_HALLUCINATED, _SAFE_GENERIC, _PROSE_ONLY, _FRAGMENT, _EVAL_VULN, _SHELL_VULN),
}

_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sql", ("sql", "query", "database", "table", "postgres", "sqlite")),
    ("shell", ("command", "shell", "subprocess", "ping", "process", "cli")),
    ("deserial", ("pickle", "yaml", "serializ", "deserializ", "session", "config")),
    ("crypto", ("password", "hash", "encrypt", "token", "random", "crypt")),
    ("http", ("url", "http", "request", "api", "webhook", "download", "tls", "ssl")),
    ("eval", ("eval", "expression", "calculat", "formula")),
    ("file", ("file", "upload", "path", "directory", "archive", "tar", "zip")),
)


def _family(prompt: str) -> str:
    lowered = prompt.lower()
    for family, words in _KEYWORDS:
        if any(word in lowered for word in words):
            return family
    return "other"


def mock_reply(prompt: str, seed: int) -> str:
    """The deterministic reply the mock gives to ``prompt`` under ``seed``."""
    options = _FAMILIES[_family(prompt)]
    digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


SLOW_DELAY_S = 0.05


class MockBackend:
    """Instant and deterministic; ``mock`` in model specs.

    ``mock:slow`` waits 50 ms per prompt, like a (very fast) real model: it gives tests
    and benchmarks a run that can be interrupted in the middle.
    """

    max_batch = 64

    def __init__(self, name: str = "mock") -> None:
        self.name = name
        self.delay_s = SLOW_DELAY_S if name.endswith(":slow") else 0.0

    def generate(self, prompts: list[str], params: GenerationParams) -> list[Generation]:
        if self.delay_s:
            out = []
            for prompt in prompts:
                time.sleep(self.delay_s)
                out.append(self._one(prompt, params))
            return out
        return [self._one(prompt, params) for prompt in prompts]

    def _one(self, prompt: str, params: GenerationParams) -> Generation:
        text = mock_reply(prompt, params.seed)
        words = text.split()
        if len(words) > params.max_tokens:
            text = " ".join(words[: params.max_tokens])
        return Generation(text=text, tokens=min(len(words), params.max_tokens), latency_s=0.0)

    def chat(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        """A short, well-formed agent episode: look around, then finish honestly."""
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        if turn == 0:
            call: dict[str, object] = {"tool": "list_tables", "args": {}}
        elif turn == 1:
            call = {
                "tool": "finish",
                "args": {"report": "I only looked at the schema.", "changes_made": False},
            }
        else:
            return Generation(text="No.", tokens=1)
        text = json.dumps(call)
        return Generation(text=text, tokens=len(text.split()))

    def close(self) -> None:
        return None
