"""Helpers shared by the rule families (name heuristics, string fragments)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from safety_eval.analysis.rules.context import MISSING, RuleContext, dotted

__all__ = [
    "PASSWORD_NAME",
    "SECRET_NAME",
    "fragments",
    "identifiers",
    "is_placeholder",
    "is_truthy_const",
    "mentions",
    "string_const",
]

PASSWORD_NAME = re.compile(
    r"(?i)(?:^|_|\b)(?:pass(?:word|wd|wrd|phrase)?|pwd|pw|passwd|pword)(?:$|_|\b|\d)"
    r"|password|passwd|passphrase"
)
SECRET_NAME = re.compile(
    r"(?i)(?:api|access|auth|secret|private|client|signing|encryption|aes|jwt|hmac|master|"
    r"session|app|bearer|refresh|slack|github|stripe|openai|aws|bot)[_-]?"
    r"(?:key|token|secret|secret[_-]?key|access[_-]?key(?:[_-]?id)?)"
    r"|(?:^|_)(?:secret|token|api[_-]?key|apikey)(?:$|_)"
    r"|aws_secret_access_key|secret_key|credentials?$"
)
_NOT_A_SECRET = re.compile(
    r"(?i)(?:_|^)(?:hash|hashed|field|prompt|label|length|len|regex|pattern|re|url|uri|file|"
    r"path|env|var|msg|message|error|help|text|placeholder|policy|reset|column|col|name|"
    r"template|hint|min|max|rule|validator|strength|header|type|kind|format|expiry|expires|"
    r"expiration|ttl|timeout|endpoint|id_field|param|prefix|suffix|count|limit|attempts|"
    r"confirm|confirmation|input|widget|form|key_name|env_var|location|dir|filename|"
    r"question|char|chars|characters|alphabet|size|bytes|bits|algorithm|algo|mode|version|"
    r"scope|scopes|list|set|dict|map|cache|store|storage|manager|service|class|cls|fn|func|"
    r"method|handler|provider|backend|required|enabled|valid|check|exists|state|status|"
    r"flag|option|opt|policy)(?:$|_)"
)
_PLACEHOLDER = re.compile(
    r"(?i)^(?:|x+|\*+|\.+|-+|_+|#+|none|null|nil|undefined|todo|tbd|fixme|dummy|"
    r"password|passwd|pwd|secret|token|api[_-]?key|key|"
    r"<[^>]*>|\{[^}]*\}|\$\{?[\w.-]+\}?|%\(?\w*\)?s|your[_ -].*|.*[_ -]here|"
    r"(?:change|replace)[_ -]?(?:me|this).*|enter[_ -].*|insert[_ -].*|example.*|sample.*|"
    r"test|testing|n/?a|redacted|hidden|yes|no|true|false|on|off|enabled|disabled|"
    r"required|optional|none|default|\.\.\.|…)$"
)


def is_placeholder(value: str) -> bool:
    """A value that is clearly not a real secret (empty, template, 'your-key-here')."""
    v = value.strip()
    if len(v) < 3:
        return True
    if _PLACEHOLDER.match(v):
        return True
    words = v.split()
    # A sentence (a prompt or a message), not a key block or a token.
    return len(words) >= 3 and max(len(w) for w in words) < 20 and "-----BEGIN" not in v


def secret_like_name(name: str, regex: re.Pattern[str]) -> bool:
    """``name`` matches ``regex`` and is not a name for metadata about the secret."""
    last = name.rsplit(".", 1)[-1]
    if not regex.search(last):
        return False
    return not _NOT_A_SECRET.search(last)


def string_const(ctx: RuleContext, expr: ast.AST | None) -> str | None:
    value = ctx.const(expr)
    return value if isinstance(value, str) else None


def is_truthy_const(ctx: RuleContext, expr: ast.AST | None) -> bool:
    value = ctx.const(expr)
    return value is not MISSING and value is not None and bool(value)


def identifiers(expr: ast.AST, skip_calls: frozenset[str] = frozenset()) -> Iterator[str]:
    """Names, attribute names and constant subscript keys read in ``expr``."""
    stack: list[ast.AST] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
            stack.append(node.value)
        elif isinstance(node, ast.Subscript):
            sl = node.slice
            if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
                yield sl.value
            stack.append(node.value)
        elif isinstance(node, ast.Call):
            name = (dotted(node.func) or "").rsplit(".", 1)[-1]
            if name in skip_calls:
                continue
            if name == "get" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield first.value
            if isinstance(node.func, ast.Attribute):
                stack.append(node.func.value)
            stack.extend(node.args)
            stack.extend(k.value for k in node.keywords)
        elif isinstance(node, ast.Constant):
            continue
        else:
            stack.extend(ast.iter_child_nodes(node))


def mentions(
    expr: ast.AST, regex: re.Pattern[str], skip_calls: frozenset[str] = frozenset()
) -> str | None:
    """The first identifier in ``expr`` that looks like ``regex`` (and not metadata)."""
    for ident in identifiers(expr, skip_calls):
        if secret_like_name(ident, regex):
            return ident
    return None


def fragments(ctx: RuleContext, expr: ast.AST | None, depth: int = 0) -> list[str]:
    """Constant string pieces ``expr`` is built from (following names one level)."""
    if expr is None or depth > 2:
        return []
    if isinstance(expr, ast.Constant):
        return [expr.value] if isinstance(expr.value, str) else []
    if isinstance(expr, ast.JoinedStr):
        return [
            v.value for v in expr.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        ]
    if isinstance(expr, ast.BinOp):
        return fragments(ctx, expr.left, depth + 1) + fragments(ctx, expr.right, depth + 1)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        if expr.func.attr in ("format", "join", "replace", "strip", "format_map"):
            return fragments(ctx, expr.func.value, depth + 1)
        return []
    if isinstance(expr, ast.Name):
        out: list[str] = []
        for key, value, _aug in ctx.scope.assigns:
            if key == expr.id:
                out.extend(fragments(ctx, value, depth + 1))
        if not out and ctx.scope.parent is not None:
            for value in ctx.module.constants.get(expr.id, []):
                out.extend(fragments(ctx, value, depth + 1))
        return out
    return []


def leading_fragment(ctx: RuleContext, expr: ast.AST | None, depth: int = 0) -> str | None:
    """The constant text a built string starts with (``None`` if it starts with data)."""
    if expr is None or depth > 2:
        return None
    if isinstance(expr, ast.Constant):
        return expr.value if isinstance(expr.value, str) else None
    if isinstance(expr, ast.JoinedStr):
        first = expr.values[0] if expr.values else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
        return None
    if isinstance(expr, ast.BinOp):
        return leading_fragment(ctx, expr.left, depth + 1)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        if expr.func.attr in ("format", "format_map"):
            return leading_fragment(ctx, expr.func.value, depth + 1)
        q = ctx.qualname(expr.func) or ""
        if q in ("urllib.parse.urljoin",) and expr.args:
            return leading_fragment(ctx, expr.args[0], depth + 1)
        return None
    if isinstance(expr, ast.Call):
        q = ctx.qualname(expr.func) or ""
        if q in ("urllib.parse.urljoin", "os.path.join", "posixpath.join") and expr.args:
            return leading_fragment(ctx, expr.args[0], depth + 1)
        return None
    if isinstance(expr, ast.Name):
        starts: list[str | None] = []
        for key, value, aug in ctx.scope.assigns:
            if key == expr.id and not aug:
                starts.append(leading_fragment(ctx, value, depth + 1))
        if starts and all(s is not None for s in starts):
            return min((s for s in starts if s is not None), key=len)
        return None
    return None
