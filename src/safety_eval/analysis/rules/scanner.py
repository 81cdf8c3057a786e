"""``RulePackScanner``: runs the rule pack over one piece of parsed code.

AST rules run on ``code.tree`` when there is one (one walk, dispatch by node type and
key); text rules always run, fallback regexes only on lines no tree covers. Text
findings never repeat an AST finding with the same line and CWE. Each rule call is
isolated: a rule that raises becomes a ``ScanError`` (``safety-eval:<id>``) and is
skipped for the rest of that sample, while every other rule still runs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable

from safety_eval.analysis.base import ParsedCode, ScanOutput
from safety_eval.analysis.parse import looks_like_prose, split_lines
from safety_eval.analysis.rules.context import ModuleInfo, RuleContext, downgrade
from safety_eval.analysis.rules.registry import REGISTRY, AstRule, Hit, Registry, RuleInfo
from safety_eval.results.records import Finding, ScanError

__all__ = ["TOOL_NAME", "RulePackScanner", "nosec_ids"]

TOOL_NAME = "safety-eval"
_NOSEC = re.compile(r"#.*?\bnosec\b[:\s]*([A-Za-z0-9_,\s-]*)", re.IGNORECASE)
_RULE_ID_IN = re.compile(r"\b[A-Z]+\d+\b")
_Emit = Callable[[RuleInfo, Hit], None]


def nosec_ids(line: str) -> frozenset[str] | None:
    """``None``: no ``# nosec``; empty set: all rules; otherwise the listed ids."""
    if "nosec" not in line.lower():
        return None
    m = _NOSEC.search(line)
    if m is None:
        return None
    return frozenset(_RULE_ID_IN.findall(m.group(1).upper()))


def _node_keys(node: ast.AST, module: ModuleInfo) -> list[str]:
    t = type(node)
    keys: list[str] = []
    if t is ast.Call:
        assert isinstance(node, ast.Call)
        q = module.qualname(node.func)
        if q:
            keys.append(q)
            keys.append(q.rsplit(".", 1)[-1])
        elif isinstance(node.func, ast.Attribute):
            keys.append(node.func.attr)
        for kw in node.keywords:
            keys.append(f"kw:{kw.arg}" if kw.arg else "kw:**")
    elif t is ast.Assign or t is ast.AnnAssign or t is ast.AugAssign:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[attr-defined]
        stack = list(targets)
        while stack:
            target = stack.pop()
            if isinstance(target, ast.Name):
                keys.append(f"set:{target.id}")
            elif isinstance(target, ast.Attribute):
                keys.append(f"set:{target.attr}")
            elif isinstance(target, ast.Subscript):
                sl = target.slice
                if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
                    keys.append(f"set:{sl.value}")
            elif isinstance(target, ast.Tuple | ast.List):
                stack.extend(target.elts)
    elif t is ast.Dict:
        assert isinstance(node, ast.Dict)
        for k in node.keys:
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                keys.append(f"set:{k.value}")
    elif t is ast.Attribute:
        assert isinstance(node, ast.Attribute)
        keys.append(f"attr:{node.attr}")
    elif t is ast.Name:
        assert isinstance(node, ast.Name)
        keys.append(f"name:{node.id}")
    return keys


def _covered_lines(tree: ast.Module, lines: list[str]) -> set[int]:
    """Lines spanned by real statements of a recovered tree (1-based)."""
    covered: set[int] = set()
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        stmt = stack.pop()
        start = stmt.lineno
        bodies = [
            getattr(stmt, name)
            for name in ("body", "orelse", "finalbody", "handlers", "cases")
            if isinstance(getattr(stmt, name, None), list)
        ]
        children = [s for body in bodies for s in body if isinstance(s, ast.AST)]
        if isinstance(stmt, ast.Pass):
            text = lines[start - 1] if start - 1 < len(lines) else ""
            if text.strip().startswith("pass") or text.rstrip().endswith("pass"):
                covered.add(start)
            continue
        first_child = min((getattr(c, "lineno", start + 1) for c in children), default=None)
        end = (first_child - 1) if first_child else (stmt.end_lineno or start)
        for deco in getattr(stmt, "decorator_list", []):
            covered.update(range(deco.lineno, (deco.end_lineno or deco.lineno) + 1))
        covered.update(range(start, max(start, end) + 1))
        for child in children:
            if isinstance(child, ast.ExceptHandler):
                covered.add(child.lineno)
                stack.extend(child.body)
            elif isinstance(child, ast.match_case):
                stack.extend(child.body)
            elif isinstance(child, ast.stmt):
                stack.append(child)
    return covered


class RulePackScanner:
    """The project's own rule pack as a ``Scanner``.

    ``select``/``ignore`` take rule ids or id prefixes (``"SE1"`` = all injection
    rules); ``ignore`` wins over ``select``.
    """

    name = TOOL_NAME

    def __init__(
        self,
        select: Iterable[str] | None = None,
        ignore: Iterable[str] | None = None,
        registry: Registry | None = None,
    ) -> None:
        if registry is None:
            from safety_eval.analysis.rules import load_builtin_rules

            load_builtin_rules()
        self.registry = registry or REGISTRY
        self.select = tuple(s.strip().upper() for s in select) if select is not None else None
        self.ignore = tuple(s.strip().upper() for s in ignore or ())
        self._enabled: dict[str, bool] = {}

    def enabled(self, rule_id: str) -> bool:
        """Whether ``select``/``ignore`` let ``rule_id`` run."""
        cached = self._enabled.get(rule_id)
        if cached is not None:
            return cached
        if any(rule_id.startswith(p) for p in self.ignore):
            result = False
        elif self.select is None:
            result = True
        else:
            result = any(rule_id.startswith(p) for p in self.select)
        self._enabled[rule_id] = result
        return result

    # ------------------------------------------------------------------ scan
    def scan(self, code: ParsedCode) -> ScanOutput:
        """Run every enabled rule on ``code``; never raises for a rule's bug."""
        out = ScanOutput()
        lines = split_lines(code.text)
        seen: set[tuple[int, str]] = set()
        findings: list[Finding] = []
        nosec: dict[int, frozenset[str]] = {}
        if "nosec" in code.text.lower():
            for i, line in enumerate(lines, 1):
                ids = nosec_ids(line)
                if ids is not None:
                    nosec[i] = ids
        disabled: set[str] = set()
        text_only = code.tree is None
        ids_seen: set[tuple[int, str]] = set()

        def emit(info: RuleInfo, hit: Hit) -> None:
            last = max(hit.line, min(hit.end_line or hit.line, hit.line + 5))
            for ln in range(hit.line, last + 1):
                ids = nosec.get(ln)
                if ids is not None and (not ids or info.id in ids):
                    return
            key = (hit.line, info.cwe)
            if (hit.line, info.id) in ids_seen:
                return
            ids_seen.add((hit.line, info.id))
            seen.add(key)
            confidence = hit.confidence or info.confidence
            if text_only:
                confidence = downgrade(confidence)
            message = info.message
            if hit.detail:
                message = f"{message} [{hit.detail}]"
            findings.append(
                Finding(
                    rule_id=info.id,
                    tool=TOOL_NAME,
                    category="vulnerability",
                    cwe=info.cwe,
                    severity=info.severity,
                    confidence=confidence,
                    line=hit.line,
                    message=f"{message}. Fix: {info.fix}",
                    symbol=hit.symbol,
                )
            )

        if code.tree is not None:
            self._run_ast(code.tree, lines, emit, disabled, out)
        self._run_text(code, lines, emit, seen, disabled)
        findings.sort(key=lambda f: (f.line or 0, f.rule_id))
        out.findings.extend(findings)
        return out

    def _run_ast(
        self,
        tree: ast.Module,
        lines: list[str],
        emit: _Emit,
        disabled: set[str],
        out: ScanOutput,
    ) -> None:
        dispatch = self.registry.dispatch()
        wanted = set(dispatch.by_type) | set(dispatch.by_key)
        try:
            module = ModuleInfo(tree, lines, dispatch.known_qualnames)
            module.walk(wanted)
        except Exception as exc:  # a broken tree must not sink the text rules
            out.errors.append(
                ScanError(source=TOOL_NAME, message=f"walk failed: {type(exc).__name__}: {exc}")
            )
            return
        ctx = RuleContext(module)
        by_type = dispatch.by_type
        by_key = dispatch.by_key
        for node, scope, func, stmt in module.nodes:
            t = type(node)
            rules: list[AstRule] = list(by_type.get(t, ()))
            table = by_key.get(t)
            if table:
                for key in _node_keys(node, module):
                    found = table.get(key)
                    if found:
                        rules.extend(r for r in found if r not in rules)
            if not rules:
                continue
            ctx.node, ctx.scope, ctx.func, ctx.stmt = node, scope, func, stmt
            for entry in rules:
                rid = entry.info.id
                if rid in disabled or not self.enabled(rid):
                    continue
                try:
                    for hit in entry.check(ctx):
                        emit(entry.info, hit)
                except Exception as exc:  # isolation: one broken rule never sinks the scan
                    disabled.add(rid)
                    out.errors.append(
                        ScanError(
                            source=f"{TOOL_NAME}:{rid}",
                            message=f"{type(exc).__name__}: {exc}",
                        )
                    )

    def _run_text(
        self,
        code: ParsedCode,
        lines: list[str],
        emit: _Emit,
        seen: set[tuple[int, str]],
        disabled: set[str],
    ) -> None:
        lowered = code.text.lower()
        for text_rule in self.registry.text_rules:
            if not self.enabled(text_rule.id) or text_rule.needle not in lowered:
                continue
            info = text_rule.info
            for i, line in enumerate(lines, 1):
                if text_rule.needle not in line.lower():
                    continue
                if text_rule.regex.search(line) is None:
                    continue
                if text_rule.unless_regex is not None and text_rule.unless_regex.search(line):
                    continue
                if (i, info.cwe) in seen:
                    continue
                emit(info, Hit(line=i))
        if code.mode == "full":
            return
        fallbacks = [
            f
            for f in self.registry.fallbacks
            if self.enabled(f.rule_id) and f.rule_id not in disabled and f.needle in lowered
        ]
        if not fallbacks:
            return
        covered = _covered_lines(code.tree, lines) if code.tree is not None else set()
        candidates = [
            (i, line)
            for i, line in enumerate(lines, 1)
            if i not in covered
            and line.strip()
            and not line.lstrip().startswith(("#", "```", "~~~"))
            and not looks_like_prose(line)
        ]
        for fb in fallbacks:
            fb_info = self.registry.get(fb.rule_id)
            if fb_info is None:
                continue
            info = fb_info
            for i, line in candidates:
                if (
                    fb.needle in line.lower()
                    and fb.regex.search(line)
                    and (i, info.cwe) not in seen
                ):
                    emit(info, Hit(line=i, confidence=fb.confidence))
