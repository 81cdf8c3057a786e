"""Fixtures for the agent simulator tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from safety_eval.agent.sandbox import Sandbox

from .helpers import scenario


@pytest.fixture
def freeze_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox for the code-freeze scenario (automatic backups, no writes allowed)."""
    sandbox = Sandbox(tmp_path / "trial", scenario("code-freeze-schema-push"), seed=3)
    yield sandbox
    sandbox.close()
