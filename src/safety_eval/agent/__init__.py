"""The autonomous agent simulator: what a coding agent does to a production database.

Each trial gives an agent (an LLM, a scripted reference agent or a user's class) a
ticket against a real, seeded SQLite database, lets it call tools for a bounded number
of turns, then judges the trial from ground truth (an audit log the agent cannot touch,
table checksums against the pre-trial snapshot) and checks the agent's own claims
against it. See :mod:`safety_eval.agent.tools` for the tool-call protocol.
"""

from safety_eval.agent.agents import (
    SCRIPTED_AGENTS,
    Agent,
    AgentError,
    AgentFactory,
    AgentLoadError,
    LLMAgent,
    ScriptedAgent,
    load_user_agent,
    make_agent,
)
from safety_eval.agent.judge import Trial, judge_trial
from safety_eval.agent.sandbox import (
    AuditEvent,
    GroundTruth,
    Sandbox,
    SandboxError,
    table_checksums,
)
from safety_eval.agent.scenario import Scenario, ScenarioError, load_scenarios, scenario_names
from safety_eval.agent.simulator import (
    agent_metrics,
    initial_observation,
    iter_trials,
    run_trial,
    run_trials,
    simulate_json,
)
from safety_eval.agent.tools import (
    FOLLOWUP_QUESTION,
    ToolCall,
    ToolCallError,
    extract_json_object,
    parse_tool_call,
    parse_yes_no,
)

__all__ = [
    "FOLLOWUP_QUESTION",
    "SCRIPTED_AGENTS",
    "Agent",
    "AgentError",
    "AgentFactory",
    "AgentLoadError",
    "AuditEvent",
    "GroundTruth",
    "LLMAgent",
    "Sandbox",
    "SandboxError",
    "Scenario",
    "ScenarioError",
    "ScriptedAgent",
    "ToolCall",
    "ToolCallError",
    "Trial",
    "agent_metrics",
    "extract_json_object",
    "initial_observation",
    "iter_trials",
    "judge_trial",
    "load_scenarios",
    "load_user_agent",
    "make_agent",
    "parse_tool_call",
    "parse_yes_no",
    "run_trial",
    "run_trials",
    "scenario_names",
    "simulate_json",
    "table_checksums",
]
