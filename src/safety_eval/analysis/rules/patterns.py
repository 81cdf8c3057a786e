"""Pattern rules as data, and the one generic matcher per table kind.

* :class:`CallPattern`: a call to one of ``calls`` (qualified names after alias
  resolution, or ``*.method`` for any receiver) for which every ``when`` condition
  holds and no ``unless`` condition does.
* :class:`SettingPattern`: a setting (``KEY = value``, ``obj.KEY = value``,
  ``cfg["KEY"] = value``, ``cfg.update(KEY=value)``, ``{"KEY": value}``) set to one of
  the dangerous ``values``.

Conditions are small frozen dataclasses (:class:`Has`, :class:`Missing`, :class:`Is`,
:class:`IsNot`, :class:`Below`, :class:`BitsSet`, :class:`Literal`, :class:`Tainted`,
:class:`AnyOf`) evaluated against the call by :func:`match_call`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from safety_eval.analysis.rules.context import (
    MISSING,
    PARAM,
    RuleContext,
    Taint,
    arg,
    has_kwargs,
)
from safety_eval.analysis.rules.registry import (
    REGISTRY,
    Hit,
    Registry,
    RuleInfo,
    TextFallback,
    TextRule,
)
from safety_eval.results.records import Confidence, Severity

__all__ = [
    "AllOf",
    "AnyOf",
    "Arg",
    "Below",
    "BitsClear",
    "BitsSet",
    "CallIs",
    "CallPattern",
    "Cond",
    "Has",
    "Is",
    "IsNot",
    "Literal",
    "Missing",
    "Q",
    "SettingPattern",
    "Tainted",
    "match_call",
    "register_call_patterns",
    "register_fallbacks",
    "register_setting_patterns",
    "register_text_rules",
    "value_matches",
]


@dataclass(frozen=True, slots=True)
class Q:
    """A qualified name used as a value (``Q("yaml.SafeLoader")``)."""

    name: str


@dataclass(frozen=True, slots=True)
class Arg:
    """An argument selected by keyword ``name`` and/or position ``pos``."""

    name: str | None = None
    pos: int | None = None

    def get(self, call: ast.Call) -> ast.expr | None:
        return arg(call, self.name, self.pos)


def value_matches(ctx: RuleContext, expr: ast.AST, values: Sequence[object]) -> bool:
    """``expr`` is one of ``values``: constants (type-strict) or :class:`Q` names."""
    qual: str | None = None
    const = ctx.const(expr)
    for v in values:
        if isinstance(v, Q):
            if qual is None:
                target = expr.func if isinstance(expr, ast.Call) else expr
                qual = ctx.qualname(target) or ""
            if qual == v.name or qual.endswith("." + v.name):
                return True
        elif const is not MISSING and type(const) is type(v) and const == v:
            return True
    return False


class Cond:
    """A condition on a call; ``test`` returns a truthy value (maybe a :class:`Taint`)."""

    def test(self, ctx: RuleContext, call: ast.Call) -> object:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Has(Cond):
    arg: Arg

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        return self.arg.get(call) is not None


@dataclass(frozen=True, slots=True)
class Missing(Cond):
    """The argument is absent (and no ``**kwargs`` could carry it)."""

    arg: Arg

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        return self.arg.get(call) is None and not has_kwargs(call)


@dataclass(frozen=True, slots=True)
class Is(Cond):
    arg: Arg
    values: tuple[object, ...]

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        value = self.arg.get(call)
        return value is not None and value_matches(ctx, value, self.values)


@dataclass(frozen=True, slots=True)
class IsNot(Cond):
    """Absent (unless ``**kwargs``) or present with a value not in ``values``."""

    arg: Arg
    values: tuple[object, ...]

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        value = self.arg.get(call)
        if value is None:
            return not has_kwargs(call)
        return not value_matches(ctx, value, self.values)


@dataclass(frozen=True, slots=True)
class Below(Cond):
    """An integer constant lower than ``limit``."""

    arg: Arg
    limit: int

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        value = ctx.const(self.arg.get(call))
        return type(value) is int and value < self.limit


@dataclass(frozen=True, slots=True)
class BitsSet(Cond):
    """An integer constant with any of ``mask``'s bits set."""

    arg: Arg
    mask: int

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        value = ctx.const(self.arg.get(call))
        return type(value) is int and bool(value & self.mask)


@dataclass(frozen=True, slots=True)
class Literal(Cond):
    """A non-empty ``str``/``bytes`` constant (directly or through a name bound once)."""

    arg: Arg

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        value = ctx.const(self.arg.get(call))
        return isinstance(value, str | bytes) and len(value) > 0


@dataclass(frozen=True, slots=True)
class Tainted(Cond):
    """The argument carries untrusted data not sanitised for a sink of ``kind``."""

    arg: Arg
    kind: str
    min_level: int = PARAM
    built: bool = False

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        value = self.arg.get(call)
        if value is None:
            return None
        return ctx.sink(value, self.kind, min_level=self.min_level, built=self.built)


@dataclass(frozen=True, slots=True)
class BitsClear(Cond):
    """An integer constant with none of ``mask``'s bits set."""

    arg: Arg
    mask: int

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        value = ctx.const(self.arg.get(call))
        return type(value) is int and not value & self.mask


@dataclass(frozen=True, slots=True)
class CallIs(Cond):
    """The call itself is one of ``names`` (to mix call shapes in one row)."""

    names: tuple[str, ...]

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        return ctx.call_name(call) in self.names


@dataclass(frozen=True, slots=True)
class AllOf(Cond):
    conds: tuple[Cond, ...]

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        result: object = True
        for cond in self.conds:
            result = cond.test(ctx, call)
            if not result:
                return None
        return result


@dataclass(frozen=True, slots=True)
class AnyOf(Cond):
    conds: tuple[Cond, ...]

    def test(self, ctx: RuleContext, call: ast.Call) -> object:
        for cond in self.conds:
            result = cond.test(ctx, call)
            if result:
                return result
        return None


@dataclass(frozen=True, slots=True)
class CallPattern:
    """One row of a call-pattern table."""

    id: str
    cwe: str
    severity: Severity
    message: str
    fix: str
    calls: tuple[str, ...]
    when: tuple[Cond, ...] = ()
    unless: tuple[Cond, ...] = ()
    confidence: Confidence = "high"
    exclude: tuple[str, ...] = ()
    """Qualified-name prefixes never matched (e.g. ``re.`` for ``*.search``)."""

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(c[2:] if c.startswith("*.") else c for c in self.calls)


def match_call(pattern: CallPattern, ctx: RuleContext, call: ast.Call) -> Hit | None:
    """Evaluate one :class:`CallPattern` row on one call."""
    if pattern.exclude:
        name = ctx.call_name(call)
        if any(name.startswith(prefix) for prefix in pattern.exclude):
            return None
    taint: Taint | None = None
    for cond in pattern.when:
        result = cond.test(ctx, call)
        if not result:
            return None
        if isinstance(result, Taint):
            taint = result if taint is None else taint.merge(result)
    for cond in pattern.unless:
        if cond.test(ctx, call):
            return None
    return ctx.hit(call, taint=taint)


def _call_check(pattern: CallPattern) -> object:
    def check(ctx: RuleContext) -> Iterator[Hit]:
        node = ctx.node
        if isinstance(node, ast.Call):
            hit = match_call(pattern, ctx, node)
            if hit is not None:
                yield hit

    return check


def register_call_patterns(table: Iterable[CallPattern], registry: Registry | None = None) -> None:
    """Register every row of a call-pattern table as a ``pattern`` rule."""
    reg = registry or REGISTRY
    for row in table:
        info = RuleInfo(
            id=row.id,
            cwe=row.cwe,
            severity=row.severity,
            confidence=row.confidence,
            message=row.message,
            fix=row.fix,
            kind="pattern",
        )
        reg.add_ast(info, _call_check(row), (ast.Call,), row.keys)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SettingPattern:
    """One row of a setting-pattern table."""

    id: str
    cwe: str
    severity: Severity
    message: str
    fix: str
    keys: tuple[str, ...]
    values: tuple[object, ...]
    confidence: Confidence = "high"
    bare: bool = True
    """Also match a bare module-level name (``KEY = value``)."""
    requires: tuple[str, ...] = ()
    """For bare names: the module text must contain one of these (e.g. Django settings)."""


_CONFIG_CALLS = frozenset({"update", "from_mapping", "dict", "setdefault", "Config", "Settings"})


def _setting_targets(node: ast.AST) -> Iterator[tuple[str, ast.expr, bool]]:
    """(key, value, is_bare_name) for every setting written by ``node``."""
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        if value is None:
            return
        for target in targets:
            if isinstance(target, ast.Name):
                yield target.id, value, True
            elif isinstance(target, ast.Attribute):
                yield target.attr, value, False
            elif isinstance(target, ast.Subscript):
                sl = target.slice
                if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
                    yield sl.value, value, False
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in _CONFIG_CALLS:
            return
        for kw in node.keywords:
            if kw.arg:
                yield kw.arg, kw.value, False
    elif isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values, strict=False):
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                yield k.value, v, False


def _setting_check(pattern: SettingPattern) -> object:
    keys = frozenset(pattern.keys)

    def check(ctx: RuleContext) -> Iterator[Hit]:
        for key, value, bare in _setting_targets(ctx.node):
            if key not in keys:
                continue
            if bare:
                if not pattern.bare:
                    continue
                if pattern.requires and not any(
                    r in line for r in pattern.requires for line in ctx.lines
                ):
                    continue
            if value_matches(ctx, value, pattern.values):
                yield ctx.hit(
                    value if isinstance(ctx.node, ast.Dict | ast.Call) else ctx.node,
                    detail=f"{key} set to {ast.unparse(value)[:40]}",
                )

    return check


def register_setting_patterns(
    table: Iterable[SettingPattern], registry: Registry | None = None
) -> None:
    """Register every row of a setting-pattern table as a ``pattern`` rule."""
    reg = registry or REGISTRY
    for row in table:
        info = RuleInfo(
            id=row.id,
            cwe=row.cwe,
            severity=row.severity,
            confidence=row.confidence,
            message=row.message,
            fix=row.fix,
            kind="pattern",
        )
        keys = [f"set:{k}" for k in row.keys] + [f"kw:{k}" for k in row.keys]
        reg.add_ast(
            info,
            _setting_check(row),  # type: ignore[arg-type]
            (ast.Assign, ast.AnnAssign, ast.Call, ast.Dict),
            keys,
        )


def register_text_rules(table: Iterable[TextRule], registry: Registry | None = None) -> None:
    for row in table:
        (registry or REGISTRY).add_text(row)


def register_fallbacks(table: Iterable[TextFallback], registry: Registry | None = None) -> None:
    for row in table:
        (registry or REGISTRY).add_fallback(row)
