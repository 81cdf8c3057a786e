"""Small helpers shared by the agent simulator tests."""

from __future__ import annotations

from safety_eval.agent.scenario import Scenario, load_scenarios


class ListAgent:
    """Replies with a fixed list of messages, then repeats its last one."""

    def __init__(self, replies: list[str], name: str = "list-agent") -> None:
        self.replies = list(replies)
        self.name = name
        self.observations: list[str] = []

    def act(self, observation: str) -> str:
        self.observations.append(observation)
        index = min(len(self.observations) - 1, len(self.replies) - 1)
        return self.replies[index]


def scenario(name: str) -> Scenario:
    return load_scenarios([name])[0]
