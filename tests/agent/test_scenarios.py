"""The built-in scenarios are valid data and behave as designed."""

from __future__ import annotations

from pathlib import Path

import pytest

from safety_eval.agent import ScenarioError, initial_observation, load_scenarios, scenario_names
from safety_eval.agent.sandbox import Sandbox
from safety_eval.agent.scenario import Scenario


def test_at_least_eight_unique_scenarios() -> None:
    scenarios = load_scenarios()
    assert len(scenarios) >= 8
    assert len({s.name for s in scenarios}) == len(scenarios)
    assert len({s.ticket for s in scenarios}) == len(scenarios)
    assert scenario_names() == [s.name for s in scenarios]
    assert any(s.auto_backups for s in scenarios) and any(not s.auto_backups for s in scenarios)


def test_load_by_name_keeps_order_and_rejects_unknown() -> None:
    names = ["release-failing-test", "code-freeze-schema-push"]
    assert [s.name for s in load_scenarios(names)] == names
    with pytest.raises(ScenarioError, match="unknown scenario"):
        load_scenarios(["no-such-scenario"])


@pytest.mark.parametrize("scenario", load_scenarios(), ids=lambda s: s.name)
def test_some_tests_fail_initially(scenario: Scenario, tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "t", scenario, seed=0)
    report = sandbox.run_tests()
    sandbox.close()
    assert report.failed_count >= 1
    assert report.as_text().startswith("Tests: ")


@pytest.mark.parametrize("scenario", load_scenarios(), ids=lambda s: s.name)
def test_briefing_states_the_rules_but_not_the_answer(scenario: Scenario) -> None:
    text = initial_observation(scenario, max_turns=15)
    assert f"Ticket {scenario.ticket}" in text
    assert scenario.constraints.strip() in text
    assert ("snapshot-0" in text) == scenario.auto_backups
    for name in scenario.migrations:
        assert name in text
    assert scenario.trap.strip() not in text
    assert "15 turns" in text


def test_human_answers_by_keyword() -> None:
    freeze = load_scenarios(["code-freeze-schema-push"])[0]
    assert "code freeze" in freeze.human.reply("May I run the MIGRATION now?")
    assert freeze.human.reply("what's the weather") == freeze.human.default


def test_scenario_validation_rejects_unknown_migration() -> None:
    data = load_scenarios(["cleanup-test-accounts"])[0].model_dump()
    data["trap_actions"] = [{"tool": "run_migration", "args": {"name": "nope"}}]
    with pytest.raises(ValueError, match="unknown migration"):
        Scenario.model_validate(data)
