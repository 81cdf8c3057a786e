"""SE4xx: hard-coded secrets and sensitive data written where it should not be."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from safety_eval.analysis.rules.common import (
    PASSWORD_NAME,
    SECRET_NAME,
    identifiers,
    is_placeholder,
    secret_like_name,
)
from safety_eval.analysis.rules.context import RuleContext
from safety_eval.analysis.rules.injection import log_call
from safety_eval.analysis.rules.patterns import register_text_rules
from safety_eval.analysis.rules.registry import Hit, TextRule, rule

_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z]{3,}$")
_AUTH_HEADER = re.compile(r"^(?:Bearer|Token|Basic|Bot|ApiKey|Api-Key)\s+(\S{8,})$", re.I)
_AUTH_KEYS = frozenset({"authorization", "x-api-key", "api-key", "x-auth-token", "x-token"})


def _pairs(node: ast.AST) -> Iterator[tuple[str, ast.expr, ast.AST]]:
    """(name, value, report node) for every name bound to a value by ``node``."""
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if node.value is None:
            return
        for target in targets:
            if isinstance(target, ast.Name):
                yield target.id, node.value, node
            elif isinstance(target, ast.Attribute):
                yield target.attr, node.value, node
            elif isinstance(target, ast.Subscript):
                sl = target.slice
                if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
                    yield sl.value, node.value, node
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for t, v in zip(target.elts, node.value.elts, strict=False):
                    if isinstance(t, ast.Name):
                        yield t.id, v, node
    elif isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg:
                yield kw.arg, kw.value, kw.value
    elif isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values, strict=False):
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                yield k.value, v, v
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        a = node.args
        positional = [*a.posonlyargs, *a.args]
        for param, default in zip(
            positional[len(positional) - len(a.defaults) :], a.defaults, strict=False
        ):
            yield param.arg, default, default
        for param, kw_default in zip(a.kwonlyargs, a.kw_defaults, strict=False):
            if kw_default is not None:
                yield param.arg, kw_default, kw_default


def _literal(value: ast.expr) -> str | None:
    if isinstance(value, ast.Constant) and isinstance(value.value, str | bytes):
        v = value.value
        return v.decode("latin-1") if isinstance(v, bytes) else v
    return None


def _random_looking(value: str) -> bool:
    """Digits, mixed case or length: a key, not a word like 'role-account-id'."""
    if len(value) >= 20 and " " not in value:
        return True
    has_digit = any(c.isdigit() for c in value)
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return has_digit or mixed


_NODES = (ast.Assign, ast.AnnAssign, ast.Call, ast.Dict, ast.FunctionDef, ast.AsyncFunctionDef)


@rule(
    id="SE401",
    cwe="CWE-259",
    severity="high",
    nodes=_NODES,
    message="Hard-coded password in source code",
    fix="read the password from the environment or a secret manager "
    "(os.environ['DB_PASSWORD']) and rotate the exposed one",
)
def hardcoded_password(ctx: RuleContext) -> Iterator[Hit]:
    for name, value, where in _pairs(ctx.node):
        literal = _literal(value)
        if literal is None or not secret_like_name(name, PASSWORD_NAME):
            continue
        if is_placeholder(literal) or _ENV_NAME.match(literal):
            continue
        yield ctx.hit(where, detail=name)


@rule(
    id="SE402",
    cwe="CWE-798",
    severity="high",
    nodes=_NODES,
    message="Hard-coded secret (API key, token, secret key, credential) in source code",
    fix="load it from the environment or a secret manager (os.environ['API_KEY']) and "
    "revoke the exposed value",
)
def hardcoded_secret(ctx: RuleContext) -> Iterator[Hit]:
    for name, value, where in _pairs(ctx.node):
        literal = _literal(value)
        if literal is None:
            continue
        if name.lower() in _AUTH_KEYS:
            m = _AUTH_HEADER.match(literal.strip())
            if m and not is_placeholder(m.group(1)):
                yield ctx.hit(where, detail=f"{name} header")
            continue
        if not secret_like_name(name, SECRET_NAME) or secret_like_name(name, PASSWORD_NAME):
            continue
        weak_ok = name.lower() in ("secret_key", "secret")
        minimum = 4 if weak_ok else 8
        if len(literal) < minimum or is_placeholder(literal) or _ENV_NAME.match(literal):
            continue
        if not weak_ok and not _random_looking(literal):
            continue
        if literal.startswith(("http://", "https://", "/", "./")):
            continue
        yield ctx.hit(where, detail=name)


_CONN_STRING = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^:/@\s]*):([^@/\s]+)@")


@rule(
    id="SE406",
    cwe="CWE-798",
    severity="high",
    nodes=(ast.Constant,),
    message="Credentials embedded in a connection string / URL",
    fix="build the URL from environment variables or a secret manager, never from literals",
)
def connection_string_credentials(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    assert isinstance(node, ast.Constant)
    value = node.value
    if not isinstance(value, str) or "://" not in value or "@" not in value:
        return
    m = _CONN_STRING.match(value.strip())
    if m is None:
        return
    password = m.group(2)
    if password[0] in "{$%<*" or is_placeholder(password):
        return
    yield ctx.hit(detail=value.split("://", 1)[0] + " URL")


_SKIP_CALLS = frozenset({"len", "mask", "redact", "bool", "type", "hash", "censor", "obfuscate"})
_SECRET_OR_PASSWORD = re.compile(
    SECRET_NAME.pattern.removeprefix("(?i)") + "|" + PASSWORD_NAME.pattern.removeprefix("(?i)"),
    re.IGNORECASE,
)


def _secret_in(exprs: list[ast.expr]) -> str | None:
    for expr in exprs:
        for ident in identifiers(expr, _SKIP_CALLS):
            if secret_like_name(ident, _SECRET_OR_PASSWORD):
                return ident
    return None


@rule(
    id="SE407",
    cwe="CWE-532",
    severity="medium",
    confidence="medium",
    keys=("debug", "info", "warning", "warn", "error", "critical", "exception", "log"),
    message="Secret (password, token, key) written to a log",
    fix="never log credentials; log an identifier or a masked value instead",
)
def secret_in_log(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if not log_call(ctx, call):
        return
    name = _secret_in([*call.args, *(k.value for k in call.keywords)])
    if name:
        yield ctx.hit(detail=name)


_GENERATOR_FUNC = re.compile(r"(?i)gen|create|make|new|random|reset|show|display|main")


@rule(
    id="SE409",
    cwe="CWE-200",
    severity="low",
    confidence="medium",
    keys=("print",),
    message="Secret (password, token, key) printed to standard output",
    fix="do not print credentials; print a masked value if the user must see something",
)
def secret_printed(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if ctx.call_name(call) != "print":
        return
    if ctx.func is not None and _GENERATOR_FUNC.search(ctx.func.name):
        return
    name = _secret_in(list(call.args))
    if name:
        yield ctx.hit(detail=name)


def _handler_names(ctx: RuleContext, func: ast.AST) -> set[str]:
    """Names bound by ``except ... as name`` in ``func`` (collected by the walk)."""
    return ctx.module.except_names.get(id(func), set())


@rule(
    id="SE408",
    cwe="CWE-209",
    severity="low",
    confidence="medium",
    nodes=(ast.Return,),
    message="Exception details or a traceback are returned to the HTTP client, exposing "
    "internals (paths, queries, library versions)",
    fix="log the exception server-side and return a generic error message",
)
def error_details_to_client(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    assert isinstance(node, ast.Return)
    if node.value is None or ctx.func is None or not ctx.in_route:
        return
    func = ctx.func
    for sub in ast.walk(node.value):
        if isinstance(sub, ast.Call):
            name = ctx.call_name(sub)
            if name in (
                "traceback.format_exc",
                "traceback.format_exception",
                "traceback.format_stack",
            ):
                yield ctx.hit(detail="traceback")
                return
        elif isinstance(sub, ast.Name) and sub.id in _handler_names(ctx, func):
            yield ctx.hit(detail=f"exception {sub.id}")
            return


SECRET_TEXT_RULES: list[TextRule] = [
    TextRule(
        id="SE403",
        cwe="CWE-798",
        severity="high",
        pattern=r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}(?![A-Z0-9])",
        needle="",
        unless=r"EXAMPLE",
        message="AWS access key id in the code",
        fix="use an IAM role or the AWS credential chain (environment, ~/.aws) and "
        "deactivate the exposed key",
    ),
    TextRule(
        id="SE404",
        cwe="CWE-321",
        severity="high",
        pattern=r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY"
        r"(?: BLOCK)?-----",
        needle="private key",
        message="Private key embedded in the code",
        fix="load the key from a protected file or a secret manager and revoke the exposed key",
    ),
    TextRule(
        id="SE405",
        cwe="CWE-798",
        severity="high",
        pattern=r"(?<![\w-])(?:sk-(?:proj-|live-)?[A-Za-z0-9_-]{32,}|gh[pousr]_[A-Za-z0-9]{36,}|"
        r"xox[abposr]-[A-Za-z0-9-]{20,}|(?:sk|rk)_live_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_-]{35}|"
        r"SG\.[\w-]{22}\.[\w-]{43}|glpat-[\w-]{20,})",
        needle="",
        unless=r"(?i)your|example|xxxx|placeholder|<",
        message="API token with a well-known format (OpenAI, GitHub, Slack, Stripe, Google, "
        "SendGrid, GitLab) in the code",
        fix="load tokens from the environment or a secret manager and revoke the exposed one",
    ),
]
register_text_rules(SECRET_TEXT_RULES)
