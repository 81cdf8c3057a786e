"""The project's own rule pack: rules, registry, scanner and self-check.

Importing this package registers nothing by itself; :func:`load_builtin_rules` (called
by :class:`RulePackScanner` and :func:`all_rules`) imports the rule families once.
"""

from __future__ import annotations

import importlib

from safety_eval.analysis.rules.registry import (
    REGISTRY,
    Hit,
    Registry,
    RuleDefinitionError,
    RuleInfo,
    TextFallback,
    TextRule,
    all_rules,
    rule,
)
from safety_eval.analysis.rules.scanner import TOOL_NAME, RulePackScanner
from safety_eval.analysis.rules.selfcheck import SelfCheckReport, format_report, self_check

__all__ = [
    "REGISTRY",
    "TOOL_NAME",
    "Hit",
    "Registry",
    "RuleDefinitionError",
    "RuleInfo",
    "RulePackScanner",
    "SelfCheckReport",
    "TextFallback",
    "TextRule",
    "all_rules",
    "format_report",
    "load_builtin_rules",
    "rule",
    "self_check",
]

_FAMILIES = (
    "injection",
    "crypto",
    "deserialization",
    "secrets",
    "network",
    "files",
    "web",
    "xmlregex",
    "auth",
    "fallbacks",
)
_loaded = False


def load_builtin_rules() -> None:
    """Import every rule family into the default registry (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for family in _FAMILIES:
        importlib.import_module(f"safety_eval.analysis.rules.{family}")
