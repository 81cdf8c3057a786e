"""The Dockerfile is not built here (no engine); check what it promises."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_promises() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert "FROM ${BASE_IMAGE}" in text
    assert '".[local]"' in text and "cmake" in text and "build-essential" in text
    assert 'ENTRYPOINT ["safety-eval"]' in text
    assert "USER safety" in text and "VOLUME" in text
    user_line = text.index("USER safety")
    assert text.index("ENTRYPOINT") > user_line  # the entry point runs unprivileged


def test_dockerignore_keeps_secrets_and_clutter_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "output", "*.key", ".env"} <= ignored
