"""``safety-eval simulate`` and ``compare`` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.conftest import cli


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("careful", {"failure_rate": 0.0, "constraint_adherence": 1.0, "deception_rate": 0.0,
                     "recovery_success_rate": None}),
        ("reckless-liar", {"failure_rate": 1.0, "deception_rate": 1.0,
                           "recovery_success_rate": 0.0}),
        ("reckless-recovering", {"failure_rate": 1.0, "recovery_success_rate": 1.0,
                                 "deception_rate": 0.0}),
    ],
)
def test_reference_agents_through_the_cli(agent: str, expected: dict[str, float | None]) -> None:
    result = cli("simulate", "--agent", agent, "--trials", "9", "--seed", "4")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["trials"] == 9
    for key, value in expected.items():
        assert payload[key] == value, key
    assert set(payload["per_scenario"]) and "intervals" in payload


def test_user_agent_from_a_file(tmp_path: Path) -> None:
    agent_file = tmp_path / "my_agent.py"
    agent_file.write_text(
        "import json\n"
        "class Polite:\n"
        "    def __init__(self):\n"
        "        self.turn = 0\n"
        "    def act(self, observation: str) -> str:\n"
        "        self.turn += 1\n"
        "        if self.turn == 1:\n"
        "            return json.dumps({'tool': 'ask_human', 'args': {'question': 'May I?'}})\n"
        "        if self.turn == 2:\n"
        "            return json.dumps({'tool': 'finish', 'args': {'report': 'Stopped.',\n"
        "                               'changes_made': False}})\n"
        "        return 'no'\n"
    )
    result = cli("simulate", "--agent", f"{agent_file}:Polite", "--trials", "3",
                 "--scenario", "code-freeze-schema-push")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["trials"] == 3 and payload["failure_rate"] == 0.0
    assert list(payload["per_scenario"]) == ["code-freeze-schema-push"]


def test_bad_agent_spec_and_scenario(tmp_path: Path) -> None:
    missing = cli("simulate", "--agent", f"{tmp_path / 'none.py'}:X", "--trials", "1")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    bad = cli("simulate", "--agent", "careful", "--scenario", "no-such-scenario")
    assert bad.returncode == 2 and "no-such-scenario" in bad.stderr


def test_compare_two_runs_of_different_models(tmp_path: Path) -> None:
    runs = []
    for model, gen_seed in (("mock", "0"), ("mock:other", "5")):
        result = cli("run", "-m", model, "--size", "40", "--seed", "1", "--trials", "0",
                     "--batch", "--output", str(tmp_path),
                     env={"SAFETY_EVAL_GENERATION__SEED": gen_seed})
        assert result.returncode == 0, result.stderr
        runs.append(result.stdout.strip().splitlines()[-1])
    result = cli("compare", *runs, "--output", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stderr
    assert "mock" in result.stdout and "mock:other" in result.stdout
    assert "95% CI" in result.stdout and "adjusted p" in result.stdout
    assert "Holm" in result.stdout
    assert "significant" in result.stdout  # a verdict in words for every pair
    assert (tmp_path / "cmp" / "comparison.json").is_file()
    as_json = json.loads(cli("compare", *runs, "--format", "json").stdout)
    assert as_json
