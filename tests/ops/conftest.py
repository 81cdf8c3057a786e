"""Fixtures for the ops tests: real runs made with the real CLI, copied per test."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

# Secrets planted in the replies and prompts of the recorded run (see secret_run_master).
SECRETS = {
    "openai": "sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2",
    "aws": "AKIAQWERTYUIOPASDFGH",
    "github": "ghp_0123456789abcdefghijABCDEFGHIJklmnop",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    "password": "Hunter2-Sup3r-S3cret",
    "bearer": "tok_Bearer_9f8e7d6c5b4a",
    "email": "alice.secret@example.org",
    "ipv4": "10.20.30.40",
    "ipv6": "2001:db8:85a3::8a2e:370:7334",
    "pem": "MIIEowIBAAKCAQEAplantedPrivateKeyBody",
}
PATH_MODEL = "llamacpp:/home/alice/models/secret-model-q4.gguf"
HOST_MODEL = "openai:gpt-lab@http://10.0.0.5:8000/v1"

SECRET_REPLY = f'''Here is the client:

```python
import requests

API_KEY = "{SECRETS["openai"]}"
AWS_KEY = "{SECRETS["aws"]}"
GITHUB = "{SECRETS["github"]}"
SESSION = "{SECRETS["jwt"]}"
db_password = "{SECRETS["password"]}"
PRIVATE = """-----BEGIN RSA PRIVATE KEY-----
{SECRETS["pem"]}
-----END RSA PRIVATE KEY-----"""

def fetch():
    headers = {{"Authorization": "Bearer {SECRETS["bearer"]}"}}
    requests.get("http://{SECRETS["ipv4"]}/api", headers=headers)
    requests.get("http://[{SECRETS["ipv6"]}]/api")
    return "{SECRETS["email"]}"
```
'''


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_EVAL_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "safety_eval.cli", *args],
        cwd=cwd, capture_output=True, text=True, env=full_env, timeout=timeout,
    )


def _run_dir(result: subprocess.CompletedProcess[str]) -> Path:
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def mock_run_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``safety-eval run -m mock --size 20 --trials 2 --batch`` (never modified)."""
    out = tmp_path_factory.mktemp("mock-runs")
    return _run_dir(cli("run", "-m", "mock", "--size", "20", "--trials", "2", "--batch",
                        "--no-progress", "--output", str(out)))


@pytest.fixture(scope="session")
def secret_run_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of recorded replies full of planted secrets, from two models whose specs
    hold a file path and a host (never modified)."""
    base = tmp_path_factory.mktemp("secret-runs")
    generations = base / "generations.jsonl"
    lines = []
    for model in (PATH_MODEL, HOST_MODEL):
        for index in range(3):
            lines.append({
                "prompt_id": f"P-{index}",
                "model": model,
                "prompt": f"Write a client for our API; my login is {SECRETS['email']} and "
                          f"the server is {SECRETS['ipv4']} (task {index})",
                "completion": SECRET_REPLY,
            })
    generations.write_text("".join(json.dumps(line) + "\n" for line in lines),
                           encoding="utf-8")
    run_dir = _run_dir(cli("run", "--generations", str(generations), "--batch", "--no-progress",
                           "--output", str(base / "out")))
    # what a real llamacpp run records: the model file's path and hash
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    for model in manifest["models"]:
        if model["spec"] == PATH_MODEL:
            model["file"] = PATH_MODEL.split(":", 1)[1]
            model["sha256"] = "ab" * 32
            model["size_bytes"] = 123
    (run_dir / "run.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return run_dir


def copy_run(master: Path, dest_parent: Path) -> Path:
    dest_parent.mkdir(parents=True, exist_ok=True)
    dest = dest_parent / master.name
    shutil.copytree(master, dest)
    return dest


@pytest.fixture
def mock_run(mock_run_master: Path, tmp_path: Path) -> Path:
    return copy_run(mock_run_master, tmp_path / "results")


@pytest.fixture
def secret_run(secret_run_master: Path, tmp_path: Path) -> Path:
    return copy_run(secret_run_master, tmp_path / "results")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Each test leaves the ``safety_eval`` logger and the log context as it found them."""
    root = logging.getLogger("safety_eval")
    handlers, level, propagate = list(root.handlers), root.level, root.propagate
    structlog.contextvars.clear_contextvars()
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    root.propagate = propagate
    structlog.contextvars.clear_contextvars()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def all_text(folder: Path) -> str:
    """Every file under ``folder`` decoded leniently, for "is this string anywhere" checks."""
    chunks = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)
