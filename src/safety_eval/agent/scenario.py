"""Scenarios for the autonomous agent simulator, stored as data.

Each scenario is one YAML file in ``safety_eval/agent/scenarios/`` (shipped as package
data and read through :mod:`importlib.resources`). A scenario says what the agent is
asked to do (``task``), what it must not do (``constraints``, in words for the agent and
``rules`` for the simulator), which trap makes the wrong move tempting, how the
production database differs from the common seed (``setup_sql``), which migration files
exist, which test suite ``run_tests`` runs, how the scripted human answers questions,
and which backups exist.

``trap_actions`` and ``safe_actions`` are tool calls used by the scripted reference
agents: the reckless agents take the trap, the careful agent takes only the safe
actions. They are never shown to the agent under test.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCENARIO_PACKAGE = "safety_eval.agent"
SCENARIO_DIR = "scenarios"

_BACKUP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SuiteTest(_Strict):
    """One assertion of a scenario's test suite: ``sql`` returns one value equal to ``expect``."""

    name: str
    sql: str
    expect: int | float | str | None


class HumanAnswer(_Strict):
    """Answer given when the question contains any of ``keywords`` (case-insensitive)."""

    keywords: list[str] = Field(min_length=1)
    answer: str


class HumanScript(_Strict):
    """The scripted engineer on call that ``ask_human`` talks to."""

    answers: list[HumanAnswer] = Field(default_factory=list)
    default: str

    def reply(self, question: str) -> str:
        lowered = question.lower()
        for entry in self.answers:
            if any(word.lower() in lowered for word in entry.keywords):
                return entry.answer
        return self.default


class ProtectedRows(_Strict):
    """Rows of ``table`` that match ``where`` in the pre-trial snapshot must not change."""

    table: str
    where: str


class Rules(_Strict):
    """Machine-checked constraints; every breach is a constraint violation.

    ``no_writes``: no row changes, schema changes or restores that change a table.
    ``no_schema_changes``: no CREATE/DROP/ALTER on the production schema.
    ``protected_tables``: no row or schema change to these tables.
    ``protected_rows``: no UPDATE/DELETE of snapshot rows matching the condition.
    ``protected_columns``: these columns (table -> names) must keep existing.
    ``max_rows_deleted``: at most this many rows deleted (by DELETE) in the trial.
    """

    no_writes: bool = False
    no_schema_changes: bool = False
    protected_tables: list[str] = Field(default_factory=list)
    protected_rows: list[ProtectedRows] = Field(default_factory=list)
    protected_columns: dict[str, list[str]] = Field(default_factory=dict)
    max_rows_deleted: int | None = Field(default=None, ge=0)


class ScriptedCall(_Strict):
    """A tool call used by the scripted reference agents."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class Scenario(_Strict):
    """One simulated production situation (see the module docstring)."""

    name: str
    ticket: str
    title: str
    task: str
    constraints: str
    trap: str
    setup_sql: str = ""
    migrations: dict[str, str] = Field(default_factory=dict)
    tests: list[SuiteTest] = Field(min_length=1)
    human: HumanScript
    auto_backups: bool = False
    backups_before_setup: list[str] = Field(default_factory=list)
    rules: Rules = Field(default_factory=Rules)
    trap_actions: list[ScriptedCall] = Field(min_length=1)
    safe_actions: list[ScriptedCall] = Field(default_factory=list)
    careful_question: str

    @field_validator("ticket")
    @classmethod
    def _ticket_shape(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]+-\d+", value):
            raise ValueError(f"ticket {value!r} must look like ABC-123")
        return value

    @field_validator("backups_before_setup")
    @classmethod
    def _backup_ids(cls, value: list[str]) -> list[str]:
        for backup_id in value:
            if not _BACKUP_ID.match(backup_id) or backup_id == "snapshot-0":
                raise ValueError(f"bad backup id {backup_id!r}")
        return value

    @model_validator(mode="after")
    def _actions_refer_to_known_things(self) -> Scenario:
        for call in [*self.trap_actions, *self.safe_actions]:
            if call.tool == "run_migration" and call.args.get("name") not in self.migrations:
                raise ValueError(f"{self.name}: unknown migration {call.args.get('name')!r}")
            if call.tool == "restore":
                known = {*self.backups_before_setup, *(["snapshot-0"] if self.auto_backups else [])}
                if call.args.get("backup_id") not in known:
                    raise ValueError(f"{self.name}: unknown backup {call.args.get('backup_id')!r}")
        return self


class ScenarioError(ValueError):
    """A scenario file is invalid or a requested scenario does not exist."""


@lru_cache(maxsize=1)
def _builtin_scenarios() -> tuple[Scenario, ...]:
    folder = resources.files(SCENARIO_PACKAGE).joinpath(SCENARIO_DIR)
    entries = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith((".yaml", ".yml"))),
        key=lambda entry: entry.name,
    )
    scenarios: list[Scenario] = []
    for entry in entries:
        try:
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            scenarios.append(Scenario.model_validate(data))
        except (yaml.YAMLError, ValueError) as exc:
            raise ScenarioError(f"invalid scenario file {entry.name}: {exc}") from exc
    names = [scenario.name for scenario in scenarios]
    tickets = [scenario.ticket for scenario in scenarios]
    if len(set(names)) != len(names) or len(set(tickets)) != len(tickets):
        raise ScenarioError("scenario names and tickets must be unique")
    return tuple(scenarios)


def scenario_names() -> list[str]:
    """Names of the built-in scenarios, in their fixed order."""
    return [scenario.name for scenario in _builtin_scenarios()]


def load_scenarios(names: list[str] | None = None) -> list[Scenario]:
    """The built-in scenarios (all of them when ``names`` is None or empty), in order given."""
    available = {scenario.name: scenario for scenario in _builtin_scenarios()}
    if not names:
        return list(_builtin_scenarios())
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ScenarioError(
            f"unknown scenario(s): {', '.join(unknown)}; available: {', '.join(available)}"
        )
    return [available[name] for name in names]


def scenario_for_ticket(ticket: str) -> Scenario | None:
    """The built-in scenario with this ticket id, if any."""
    for scenario in _builtin_scenarios():
        if scenario.ticket == ticket:
            return scenario
    return None
