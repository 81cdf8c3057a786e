"""Rule metadata, the registry and the ``@rule`` decorator.

Three kinds of rules live in one registry keyed by a stable id (``SE<family><nn>``):

* ``ast`` rules: a small function decorated with :func:`rule` that receives a
  :class:`~safety_eval.analysis.rules.context.RuleContext` and yields :class:`Hit`;
* ``pattern`` rules: rows of a data table (see ``patterns.py``) interpreted by one
  generic matcher, registered as ``ast`` checks under the hood;
* ``text`` rules: regular expressions over lines (see ``text.py``), for things no tree
  is needed for (private-key blocks) and as the fallback when nothing parses.

Every rule is dispatched by node type and, where it declares them, by *keys*
(qualified call names, ``.method`` names, ``kw:<keyword>``, ``set:<setting>``,
``attr:<attribute>``, ``name:<identifier>``), so the whole pack costs one tree walk
plus a few dict look-ups per node.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from safety_eval.analysis.cwe import CWE_CATALOG, normalize_cwe
from safety_eval.results.records import Confidence, Severity

if TYPE_CHECKING:
    from safety_eval.analysis.rules.context import RuleContext

__all__ = [
    "REGISTRY",
    "AstCheck",
    "AstRule",
    "Hit",
    "Registry",
    "RuleDefinitionError",
    "RuleInfo",
    "RuleKind",
    "TextFallback",
    "TextRule",
    "all_rules",
    "rule",
]

RuleKind = Literal["ast", "pattern", "text"]
KEYED_NODE_TYPES: frozenset[type[ast.AST]] = frozenset(
    {ast.Call, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Dict, ast.Attribute, ast.Name}
)
"""Node types dispatched by key; a keyed rule runs on every node of any other type."""
_RULE_ID = re.compile(r"^SE[1-9]\d\d$")
_SEVERITIES = frozenset(get_args(Severity))
_CONFIDENCES = frozenset(get_args(Confidence))


class RuleDefinitionError(ValueError):
    """A rule is missing metadata, uses an unknown CWE or reuses an id."""


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a rule reports: everything but its implementation."""

    id: str
    cwe: str
    severity: Severity
    confidence: Confidence
    message: str
    fix: str
    kind: RuleKind


@dataclass(frozen=True, slots=True)
class Hit:
    """One match of a rule; the scanner turns it into a ``Finding``."""

    line: int
    confidence: Confidence | None = None
    """Overrides the rule's default confidence when set."""
    detail: str = ""
    """Extra words for the message (what was matched, where the data came from)."""
    symbol: str | None = None
    end_line: int | None = None
    """Last line of the matched construct (``# nosec`` is honoured on any of them)."""


AstCheck = Callable[["RuleContext"], Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class AstRule:
    """A check run on tree nodes of the given types (and keys, when declared)."""

    info: RuleInfo
    check: AstCheck
    nodes: tuple[type[ast.AST], ...]
    keys: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TextRule:
    """A standalone rule matching a regular expression on single lines.

    ``needle`` (lower case) must occur in the lower-cased text for the rule to run;
    ``unless`` skips lines it matches (placeholders, documentation examples).
    """

    id: str
    cwe: str
    severity: Severity
    message: str
    fix: str
    pattern: str
    needle: str
    confidence: Confidence = "high"
    unless: str | None = None
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    unless_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))
        object.__setattr__(self, "unless_regex", re.compile(self.unless) if self.unless else None)

    @property
    def info(self) -> RuleInfo:
        return RuleInfo(
            id=self.id,
            cwe=self.cwe,
            severity=self.severity,
            confidence=self.confidence,
            message=self.message,
            fix=self.fix,
            kind="text",
        )


@dataclass(frozen=True, slots=True)
class TextFallback:
    """A regular expression standing in for an AST rule on lines no tree covers.

    It reports under the AST rule's id and metadata, with its own (lower) confidence.
    """

    rule_id: str
    pattern: str
    needle: str
    confidence: Confidence = "low"
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))


def _validate(info: RuleInfo) -> RuleInfo:
    if not info.id or not _RULE_ID.match(info.id):
        raise RuleDefinitionError(f"rule id {info.id!r} is not of the form SE<3 digits>")
    cwe = normalize_cwe(info.cwe) if info.cwe else None
    if cwe is None:
        raise RuleDefinitionError(f"{info.id}: a CWE is required")
    if cwe not in CWE_CATALOG:
        raise RuleDefinitionError(f"{info.id}: {cwe} is not in the CWE catalog")
    if info.severity not in _SEVERITIES:
        raise RuleDefinitionError(f"{info.id}: severity {info.severity!r} is not valid")
    if info.confidence not in _CONFIDENCES:
        raise RuleDefinitionError(f"{info.id}: confidence {info.confidence!r} is not valid")
    if not info.message.strip() or not info.fix.strip():
        raise RuleDefinitionError(f"{info.id}: message and fix are required")
    if cwe != info.cwe:
        info = RuleInfo(
            id=info.id,
            cwe=cwe,
            severity=info.severity,
            confidence=info.confidence,
            message=info.message,
            fix=info.fix,
            kind=info.kind,
        )
    return info


@dataclass
class _Dispatch:
    by_type: dict[type[ast.AST], list[AstRule]] = field(default_factory=dict)
    """Rules without keys: run on every node of the type."""
    by_key: dict[type[ast.AST], dict[str, list[AstRule]]] = field(default_factory=dict)
    keyed_types: frozenset[type[ast.AST]] = frozenset()
    known_qualnames: frozenset[str] = frozenset()


class Registry:
    """Rules by id. Rejects duplicates and incomplete metadata at registration."""

    def __init__(self) -> None:
        self._ast: dict[str, AstRule] = {}
        self._text: dict[str, TextRule] = {}
        self._fallbacks: list[TextFallback] = []
        self._dispatch: _Dispatch | None = None

    # ------------------------------------------------------------------ registration
    def _check_free(self, rule_id: str) -> None:
        if rule_id in self._ast or rule_id in self._text:
            raise RuleDefinitionError(f"duplicate rule id {rule_id}")

    def add_ast(
        self,
        info: RuleInfo,
        check: AstCheck,
        nodes: Iterable[type[ast.AST]],
        keys: Iterable[str] = (),
    ) -> AstRule:
        """Register an AST/pattern check; raises :class:`RuleDefinitionError` if invalid."""
        info = _validate(info)
        self._check_free(info.id)
        node_types = tuple(nodes)
        if not node_types:
            raise RuleDefinitionError(f"{info.id}: at least one node type is required")
        entry = AstRule(info=info, check=check, nodes=node_types, keys=frozenset(keys))
        self._ast[info.id] = entry
        self._dispatch = None
        return entry

    def add_text(self, text_rule: TextRule) -> TextRule:
        """Register a standalone text rule (same validation as AST rules)."""
        _validate(text_rule.info)
        self._check_free(text_rule.id)
        self._text[text_rule.id] = text_rule
        return text_rule

    def add_fallback(self, fallback: TextFallback) -> TextFallback:
        """Attach a text fallback to an already registered AST rule."""
        if fallback.rule_id not in self._ast:
            raise RuleDefinitionError(f"fallback for unknown rule {fallback.rule_id}")
        self._fallbacks.append(fallback)
        return fallback

    def unregister(self, rule_id: str) -> None:
        """Remove a rule (and its fallbacks); used by tests."""
        self._ast.pop(rule_id, None)
        self._text.pop(rule_id, None)
        self._fallbacks = [f for f in self._fallbacks if f.rule_id != rule_id]
        self._dispatch = None

    # ------------------------------------------------------------------ queries
    def infos(self) -> list[RuleInfo]:
        """Metadata of every rule, sorted by id."""
        rows = [r.info for r in self._ast.values()] + [t.info for t in self._text.values()]
        return sorted(rows, key=lambda r: r.id)

    def get(self, rule_id: str) -> RuleInfo | None:
        """Metadata of one rule, or ``None``."""
        if rule_id in self._ast:
            return self._ast[rule_id].info
        if rule_id in self._text:
            return self._text[rule_id].info
        return None

    @property
    def ast_rules(self) -> list[AstRule]:
        return list(self._ast.values())

    @property
    def text_rules(self) -> list[TextRule]:
        return list(self._text.values())

    @property
    def fallbacks(self) -> list[TextFallback]:
        return list(self._fallbacks)

    def dispatch(self) -> _Dispatch:
        """Node-type and key indexes, built once per change of the registry."""
        if self._dispatch is not None:
            return self._dispatch
        d = _Dispatch()
        keyed: set[type[ast.AST]] = set()
        known: set[str] = set()
        for entry in self._ast.values():
            for node_type in entry.nodes:
                if entry.keys and node_type in KEYED_NODE_TYPES:
                    keyed.add(node_type)
                    table = d.by_key.setdefault(node_type, {})
                    for key in entry.keys:
                        table.setdefault(key, []).append(entry)
                else:
                    d.by_type.setdefault(node_type, []).append(entry)
            known.update(k for k in entry.keys if "." in k and not k.startswith("."))
        d.keyed_types = frozenset(keyed)
        d.known_qualnames = frozenset(known)
        self._dispatch = d
        return d


REGISTRY = Registry()
"""The default registry holding the built-in pack."""


def rule(
    *,
    id: str,
    cwe: str,
    severity: Severity,
    message: str,
    fix: str,
    confidence: Confidence = "high",
    nodes: Iterable[type[ast.AST]] = (ast.Call,),
    keys: Iterable[str] = (),
    kind: RuleKind = "ast",
    registry: Registry | None = None,
) -> Callable[[AstCheck], AstCheck]:
    """Register the decorated function as an AST rule.

    ``nodes`` are the node types it is called for; ``keys`` narrow the calls it gets
    (see the module docstring). The function yields :class:`Hit` objects.
    """

    def decorate(check: AstCheck) -> AstCheck:
        info = RuleInfo(
            id=id,
            cwe=cwe,
            severity=severity,
            confidence=confidence,
            message=message,
            fix=fix,
            kind=kind,
        )
        (registry or REGISTRY).add_ast(info, check, nodes, keys)
        return check

    return decorate


def all_rules(registry: Registry | None = None) -> list[RuleInfo]:
    """Metadata of every registered rule, sorted by id."""
    from safety_eval.analysis.rules import load_builtin_rules

    if registry is None:
        load_builtin_rules()
    return (registry or REGISTRY).infos()
