"""SE9xx: authentication and authorisation logic (asserts as checks, timing-unsafe
comparisons, JWT verification, hard-coded bypasses, client-controlled decisions,
privileges)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from safety_eval.analysis.rules.common import (
    PASSWORD_NAME,
    identifiers,
    is_placeholder,
    secret_like_name,
)
from safety_eval.analysis.rules.context import USER, RuleContext, arg, dotted
from safety_eval.analysis.rules.patterns import (
    Arg,
    CallPattern,
    Is,
    register_call_patterns,
)
from safety_eval.analysis.rules.registry import Hit, rule

_AUTH_WORDS = re.compile(
    r"(?i)admin|authori[sz]|authenticat|permission|perm(s)?$|has_perm|role|logged_in|"
    r"is_staff|superuser|owner|can_|has_access|allowed|privilege|is_auth|check_password|"
    r"verify_password|csrf"
)


@rule(
    id="SE901",
    cwe="CWE-863",
    severity="low",
    nodes=(ast.Assert,),
    message="assert used for an authorisation/authentication check: asserts are removed "
    "with python -O, silently disabling the check",
    fix="use an explicit check: if not user.is_admin: raise PermissionError() / abort(403)",
)
def assert_for_auth(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    assert isinstance(node, ast.Assert)
    for ident in identifiers(node.test):
        if _AUTH_WORDS.search(ident):
            yield ctx.hit(detail=ident)
            return


_TIMING_NAME = re.compile(
    r"(?i)(^|_)(auth_|access_|api_|reset_|csrf_|session_|refresh_|bearer_)?token$|signature|"
    r"hmac|(^|_)mac$|digest|secret|api_?key|(^|_)otp$|csrf|nonce|password|passwd|pwd_hash"
)


def _side_names(expr: ast.expr) -> list[str]:
    """The name a compared value is known by (leaf of attributes, key of subscripts)."""
    if isinstance(expr, ast.Name):
        return [expr.id]
    if isinstance(expr, ast.Attribute):
        return [expr.attr]
    if isinstance(expr, ast.Subscript):
        sl = expr.slice
        if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
            return [sl.value]
        return _side_names(expr.value) if not isinstance(sl, ast.Slice) else []
    if isinstance(expr, ast.Call):
        func = dotted(expr.func) or ""
        last = func.rsplit(".", 1)[-1]
        if last in ("get", "pop") and expr.args and isinstance(expr.args[0], ast.Constant):
            return [str(expr.args[0].value)]
        if last in ("hexdigest", "digest", "strip", "decode", "encode") and isinstance(
            expr.func, ast.Attribute
        ):
            return [last, *_side_names(expr.func.value)]
        if last in ("len", "type", "isinstance", "lower", "upper", "count", "startswith"):
            return []
        return [last]
    return []


def _constant_like(expr: ast.expr) -> bool:
    """``MAGIC``, ``Lexer.DEFAULT_CHANNEL``, ``Literal``: a constant, not a secret."""
    leaf = expr.attr if isinstance(expr, ast.Attribute) else getattr(expr, "id", "")
    return bool(leaf) and (leaf.isupper() or leaf[:1].isupper())


@rule(
    id="SE902",
    cwe="CWE-208",
    severity="low",
    confidence="medium",
    nodes=(ast.Compare,),
    message="Secret (token, signature, password hash) compared with ==: the comparison time "
    "leaks how many leading characters match",
    fix="compare secrets with hmac.compare_digest(a, b) (or secrets.compare_digest)",
)
def timing_unsafe_compare(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    assert isinstance(node, ast.Compare)
    if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq | ast.NotEq):
        return
    left, right = node.left, node.comparators[0]
    if isinstance(left, ast.Constant) or isinstance(right, ast.Constant):
        return
    if _constant_like(left) or _constant_like(right):
        return
    for side in (left, right):
        for name in _side_names(side):
            last = name.rsplit(".", 1)[-1]
            if _TIMING_NAME.search(last) and not re.search(
                r"(?i)type|len|count|expir|_at$|name$|_id$|kind|format", last
            ):
                yield ctx.hit(detail=last)
                return


def _jwt_call(ctx: RuleContext, call: ast.Call) -> bool:
    name = ctx.call_name(call)
    return name in ("jwt.decode", "jose.jwt.decode", "jwt.api_jwt.decode", "jwt.PyJWT.decode")


def _dict_value(ctx: RuleContext, expr: ast.AST | None, key: str) -> object:
    if isinstance(expr, ast.Name):
        values = ctx.module.constants.get(expr.id, [])
        expr = values[0] if len(values) == 1 else None
    if isinstance(expr, ast.Dict):
        for k, v in zip(expr.keys, expr.values, strict=False):
            if isinstance(k, ast.Constant) and k.value == key:
                return ctx.const(v)
    if isinstance(expr, ast.Call) and (dotted(expr.func) or "") == "dict":
        return ctx.const(arg(expr, key))
    return None


@rule(
    id="SE903",
    cwe="CWE-347",
    severity="high",
    keys=("jwt.decode", "jose.jwt.decode", "jwt.api_jwt.decode", "jwt.PyJWT.decode"),
    message="JWT decoded without verifying its signature: anyone can forge tokens "
    "(any user, any role)",
    fix="jwt.decode(token, key, algorithms=['HS256']) with verification on; never pass "
    "verify=False or options={'verify_signature': False}",
)
def jwt_no_verify(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if not _jwt_call(ctx, call):
        return
    if ctx.const(arg(call, "verify")) is False:
        yield ctx.hit(detail="verify=False")
    elif _dict_value(ctx, arg(call, "options"), "verify_signature") is False:
        yield ctx.hit(detail="verify_signature=False")


@rule(
    id="SE904",
    cwe="CWE-347",
    severity="high",
    keys=("jwt.decode", "jose.jwt.decode", "jwt.encode", "jose.jwt.encode"),
    message="JWT 'none' algorithm accepted or used: tokens without a signature are trusted",
    fix="pin a real algorithm: algorithms=['HS256'] (or RS256/ES256) and never include 'none'",
)
def jwt_none_alg(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    algos = arg(call, "algorithms") or arg(call, "algorithm")
    if algos is None:
        return
    values: list[object]
    if isinstance(algos, ast.List | ast.Tuple | ast.Set):
        values = [ctx.const(e) for e in algos.elts]
    else:
        values = [ctx.const(algos)]
    if any(isinstance(v, str) and v.lower() == "none" for v in values):
        yield ctx.hit()


_CREDENTIAL_NAME = re.compile(
    r"(?i)pass(word|wd)?|pwd|(^|_)pw($|_)|passphrase|(^|_)token$|secret|api_?key|pin$|"
    r"master_key|auth_code"
)


def _credential_like(value: str) -> bool:
    """A literal that looks like a password/token, not a keyword or a mode name."""
    if len(value) < 6 or " " in value:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_symbol = any(not c.isalnum() and c not in "-_." for c in value)
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return has_digit or has_symbol or (mixed and len(value) >= 8)


@rule(
    id="SE905",
    cwe="CWE-287",
    severity="high",
    nodes=(ast.Compare,),
    message="Authentication against a hard-coded credential (backdoor): the secret is in "
    "the source and identical for every installation",
    fix="verify against a per-user salted hash from your user store "
    "(bcrypt.checkpw / argon2 verify) and remove built-in credentials",
)
def hardcoded_credential_check(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    assert isinstance(node, ast.Compare)
    if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq | ast.NotEq | ast.In):
        return
    left, right = node.left, node.comparators[0]
    for name_side, value_side in ((left, right), (right, left)):
        value = ctx.const(value_side) if isinstance(value_side, ast.Constant) else None
        if not isinstance(value, str) or is_placeholder(value) or not _credential_like(value):
            continue
        names = [n for n in identifiers(name_side) if _CREDENTIAL_NAME.search(n)]
        if any(
            secret_like_name(n, _CREDENTIAL_NAME) or secret_like_name(n, PASSWORD_NAME)
            for n in names
        ):
            yield ctx.hit(detail=names[0])
            return


_DECISION_WORDS = re.compile(
    r"(?i)admin|role|is_staff|superuser|privilege|permission|authenticated|authori[sz]ed|"
    r"logged_?in|is_auth|access_level|bypass|debug_?mode|trusted|verified|can_"
)


def _decision_hits(ctx: RuleContext, test: ast.expr) -> Iterator[ast.expr]:
    stack = [test]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BoolOp):
            stack.extend(node.values)
        elif isinstance(node, ast.UnaryOp):
            stack.append(node.operand)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            words = [
                w
                for side in sides
                for w in (
                    [str(ctx.const(side))]
                    if isinstance(side, ast.Constant)
                    else list(identifiers(side))
                )
            ]
            if not any(_DECISION_WORDS.search(w) for w in words):
                continue
            for side in sides:
                taint = ctx.sink(side, "decision", min_level=USER)
                if taint is not None and "request" in taint.origins:
                    yield side
                    break
        elif isinstance(node, ast.Call | ast.Subscript | ast.Attribute):
            taint = ctx.sink(node, "decision", min_level=USER)
            if (
                taint is not None
                and "request" in taint.origins
                and any(_DECISION_WORDS.search(w) for w in identifiers(node))
            ):
                yield node


@rule(
    id="SE906",
    cwe="CWE-807",
    severity="medium",
    confidence="medium",
    nodes=(ast.If, ast.IfExp, ast.Assign),
    message="Security decision based on a value the client controls (query parameter, "
    "cookie, header or form field such as admin/role)",
    fix="derive roles and permissions from the server-side session or database, never "
    "from request data",
)
def client_controlled_decision(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.Assign):
        names = [dotted(t) or "" for t in node.targets]
        if not any(_DECISION_WORDS.search(n) for n in names):
            return
        if not isinstance(node.value, ast.Compare | ast.BoolOp | ast.UnaryOp):
            return
        test: ast.expr = node.value
    else:
        assert isinstance(node, ast.If | ast.IfExp)
        test = node.test
    for _side in _decision_hits(ctx, test):
        yield ctx.hit(node if isinstance(node, ast.Assign) else test)
        return


AUTH_PATTERNS: list[CallPattern] = [
    CallPattern(
        id="SE907",
        cwe="CWE-269",
        severity="medium",
        calls=(
            "os.setuid",
            "os.seteuid",
            "os.setgid",
            "os.setegid",
            "os.setreuid",
            "os.setregid",
            "os.setresuid",
            "os.setresgid",
        ),
        when=(Is(Arg(pos=0), (0,)),),
        message="Process switches to root (uid/gid 0): any bug now runs with full privileges",
        fix="drop privileges to an unprivileged account instead (os.setgid/os.setuid to a "
        "service user) and grant only the capabilities needed",
    ),
]
register_call_patterns(AUTH_PATTERNS)
