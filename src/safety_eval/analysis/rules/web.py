"""SE7xx: web applications and templates (debug mode, escaping, XSS, redirects, cookies,
CSRF, CORS, mass assignment, host validation)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from safety_eval.analysis.rules.common import fragments, leading_fragment
from safety_eval.analysis.rules.context import USER, RuleContext, arg, has_kwargs
from safety_eval.analysis.rules.patterns import (
    AnyOf,
    Arg,
    CallPattern,
    Is,
    Missing,
    Tainted,
    register_call_patterns,
)
from safety_eval.analysis.rules.registry import Hit, rule


def _imports_flask(ctx: RuleContext) -> bool:
    return any(v.startswith(("flask", "quart")) for v in ctx.module.aliases.values())


@rule(
    id="SE701",
    cwe="CWE-489",
    severity="medium",
    nodes=(ast.Call, ast.Assign),
    keys=("run", "werkzeug.serving.run_simple", "set:debug", "set:DEBUG"),
    message="Debug mode enabled in a web application: the Werkzeug debugger/tracebacks let "
    "anyone who reaches it run code or read secrets",
    fix="never enable debug in deployed code; read it from configuration "
    "(debug=os.environ.get('FLASK_DEBUG') == '1') and default to off",
)
def debug_mode(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.Call):
        name = ctx.call_name(node)
        if name == "werkzeug.serving.run_simple":
            if ctx.const(arg(node, "use_debugger")) is True:
                yield ctx.hit()
            return
        if not name.endswith(".run"):
            return
        if not (name.startswith(("flask.", "quart.")) or _imports_flask(ctx)):
            return
        if ctx.const(arg(node, "debug")) is True or ctx.const(arg(node, "use_debugger")) is True:
            yield ctx.hit()
        return
    assert isinstance(node, ast.Assign)
    if ctx.const(node.value) is not True:
        return
    for target in node.targets:
        flask_attr = (
            isinstance(target, ast.Attribute) and target.attr == "debug" and _imports_flask(ctx)
        )
        config_key = isinstance(target, ast.Subscript) and ctx.const(target.slice) == "DEBUG"
        if flask_attr or config_key:
            yield ctx.hit()
        elif (
            isinstance(target, ast.Name)
            and target.id == "DEBUG"
            and ctx.func is None
            and any("INSTALLED_APPS" in ln or "MIDDLEWARE" in ln for ln in ctx.lines)
        ):
            yield ctx.hit(detail="Django settings")


_HTML_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*[\s>/]")
_RESPONSE_CALLS = frozenset(
    {
        "flask.make_response",
        "flask.Response",
        "werkzeug.wrappers.Response",
        "django.http.HttpResponse",
        "starlette.responses.HTMLResponse",
        "fastapi.responses.HTMLResponse",
        "starlette.responses.Response",
        "fastapi.responses.Response",
    }
)


@rule(
    id="SE704",
    cwe="CWE-79",
    severity="high",
    nodes=(ast.Return,),
    message="Cross-site scripting: HTML is built from request data with string formatting "
    "and returned without escaping",
    fix="render a template with autoescaping (render_template) or escape values with "
    "markupsafe.escape()/html.escape()",
)
def reflected_xss(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    assert isinstance(node, ast.Return)
    if node.value is None or not ctx.in_route:
        return
    value: ast.expr | None = node.value
    if isinstance(value, ast.Tuple) and value.elts:
        value = value.elts[0]
    if isinstance(value, ast.Call) and ctx.call_name(value) in _RESPONSE_CALLS:
        value = arg(value, "content", 0) or arg(value, "response")
    taint = ctx.sink(value, "html", min_level=USER, built=True)
    if taint is None:
        return
    if not any(_HTML_TAG.search(p) for p in fragments(ctx, value)):
        return
    yield ctx.hit(taint=taint)


_REDIRECTS: dict[str, tuple[str, int]] = {
    "flask.redirect": ("location", 0),
    "quart.redirect": ("location", 0),
    "werkzeug.utils.redirect": ("location", 0),
    "django.shortcuts.redirect": ("to", 0),
    "django.http.HttpResponseRedirect": ("redirect_to", 0),
    "django.http.HttpResponsePermanentRedirect": ("redirect_to", 0),
    "starlette.responses.RedirectResponse": ("url", 0),
    "fastapi.responses.RedirectResponse": ("url", 0),
    "redirect": ("location", 0),
}


@rule(
    id="SE705",
    cwe="CWE-601",
    severity="medium",
    keys=tuple(_REDIRECTS),
    message="Open redirect: the redirect target comes from the request, so links on your "
    "domain can send users to a phishing site",
    fix="redirect only to relative paths or allow-listed hosts (check with "
    "url_has_allowed_host_and_scheme / urlparse(...).netloc)",
)
def open_redirect(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    spec = _REDIRECTS.get(ctx.call_name(call))
    if spec is None:
        return
    target = arg(call, spec[0], spec[1])
    taint = ctx.sink(target, "redirect", min_level=USER)
    if taint is None:
        return
    start = leading_fragment(ctx, target)
    if start and start.startswith("/") and not start.startswith(("//", "/\\")):
        return
    if start and re.match(r"^https?://[^/{}]+/", start):
        return
    yield ctx.hit(taint=taint)


def _cookie_deletion(ctx: RuleContext, call: ast.Call) -> bool:
    return any(ctx.const(arg(call, kw)) == 0 for kw in ("max_age", "expires"))


def _cookie_rule(ctx: RuleContext, flag: str, settings: tuple[str, ...]) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "set_cookie":
            if has_kwargs(node) or _cookie_deletion(ctx, node):
                return
            if ctx.const(arg(node, flag)) is not True:
                yield ctx.hit(detail=f"set_cookie without {flag}=True")
            return
    for key, value in _settings(node):
        if key in settings and ctx.const(value) is False:
            yield ctx.hit(value, detail=f"{key} = False")


def _settings(node: ast.AST) -> Iterator[tuple[str, ast.expr]]:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                yield target.id, node.value
            elif isinstance(target, ast.Attribute):
                yield target.attr, node.value
            elif isinstance(target, ast.Subscript):
                sl = target.slice
                if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
                    yield sl.value, node.value
    elif isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("update", "from_mapping"):
            for kw in node.keywords:
                if kw.arg:
                    yield kw.arg, kw.value
    elif isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values, strict=False):
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                yield k.value, v


_SECURE_SETTINGS = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE")
_HTTPONLY_SETTINGS = ("SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY", "REMEMBER_COOKIE_HTTPONLY")


@rule(
    id="SE706",
    cwe="CWE-614",
    severity="low",
    confidence="medium",
    nodes=(ast.Call, ast.Assign, ast.Dict),
    keys=("set_cookie", "kw:SESSION_COOKIE_SECURE", *(f"set:{s}" for s in _SECURE_SETTINGS)),
    message="Cookie without the Secure flag is also sent over plain HTTP",
    fix="set_cookie(..., secure=True, httponly=True, samesite='Lax') and "
    "SESSION_COOKIE_SECURE = True",
)
def cookie_not_secure(ctx: RuleContext) -> Iterator[Hit]:
    yield from _cookie_rule(ctx, "secure", _SECURE_SETTINGS)


@rule(
    id="SE707",
    cwe="CWE-1004",
    severity="low",
    confidence="medium",
    nodes=(ast.Call, ast.Assign, ast.Dict),
    keys=("set_cookie", "kw:SESSION_COOKIE_HTTPONLY", *(f"set:{s}" for s in _HTTPONLY_SETTINGS)),
    message="Cookie without the HttpOnly flag can be read by JavaScript (stolen via XSS)",
    fix="set_cookie(..., httponly=True) and keep SESSION_COOKIE_HTTPONLY = True",
)
def cookie_not_httponly(ctx: RuleContext) -> Iterator[Hit]:
    yield from _cookie_rule(ctx, "httponly", _HTTPONLY_SETTINGS)


@rule(
    id="SE708",
    cwe="CWE-352",
    severity="medium",
    nodes=(ast.Assign, ast.Call, ast.Dict, ast.FunctionDef, ast.AsyncFunctionDef),
    keys=(
        "set:WTF_CSRF_ENABLED",
        "set:WTF_CSRF_CHECK_DEFAULT",
        "set:CSRF_ENABLED",
        "kw:WTF_CSRF_ENABLED",
    ),
    message="CSRF protection disabled: a malicious site can submit state-changing requests "
    "with the victim's session",
    fix="keep CSRF protection on (Flask-WTF CSRFProtect / Django CsrfViewMiddleware) and "
    "send the token with forms and AJAX requests",
)
def csrf_disabled(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            name = ctx.qualname(target) or ""
            if name.endswith("csrf_exempt") or (
                name.endswith(".exempt") and "csrf" in name.lower()
            ):
                yield ctx.hit(deco, detail="csrf_exempt")
        return
    for key, value in _settings(node):
        if key in ("WTF_CSRF_ENABLED", "WTF_CSRF_CHECK_DEFAULT", "CSRF_ENABLED") and (
            ctx.const(value) is False
        ):
            yield ctx.hit(value, detail=f"{key} = False")


def _is_wildcard(ctx: RuleContext, expr: ast.AST | None) -> bool:
    if expr is None:
        return False
    if ctx.const(expr) == "*":
        return True
    if isinstance(expr, ast.List | ast.Tuple | ast.Set):
        return any(ctx.const(e) == "*" for e in expr.elts)
    return False


@rule(
    id="SE709",
    cwe="CWE-942",
    severity="medium",
    nodes=(ast.Call, ast.Assign),
    keys=(
        "flask_cors.CORS",
        "flask_cors.cross_origin",
        "add_middleware",
        "set:Access-Control-Allow-Origin",
        "set:CORS_ALLOW_ALL_ORIGINS",
        "set:CORS_ORIGIN_ALLOW_ALL",
    ),
    message="CORS allows any origin together with credentials: any website can make "
    "authenticated requests and read the responses",
    fix="list the trusted origins explicitly when credentials are allowed",
)
def permissive_cors(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    text = "\n".join(ctx.lines)
    if isinstance(node, ast.Call):
        name = ctx.call_name(node)
        if name in ("flask_cors.CORS", "flask_cors.cross_origin"):
            if ctx.const(arg(node, "supports_credentials")) is not True:
                return
            origins = arg(node, "origins")
            resources = arg(node, "resources")
            per_resource = isinstance(resources, ast.Dict) and any(
                isinstance(v, ast.Dict)
                and any(
                    ctx.const(k) == "origins" and _is_wildcard(ctx, vv)
                    for k, vv in zip(v.keys, v.values, strict=False)
                )
                for v in resources.values
            )
            default_any = origins is None and resources is None
            if default_any or _is_wildcard(ctx, origins) or per_resource:
                yield ctx.hit()
        elif name.endswith("add_middleware") and node.args:
            mw = ctx.qualname(node.args[0]) or ""
            any_origin = _is_wildcard(ctx, arg(node, "allow_origins")) or ctx.const(
                arg(node, "allow_origin_regex")
            ) in (".*", "^.*$")
            credentials = ctx.const(arg(node, "allow_credentials")) is True
            if mw.endswith("CORSMiddleware") and credentials and any_origin:
                yield ctx.hit()
        return
    assert isinstance(node, ast.Assign)
    for key, value in _settings(node):
        if key == "Access-Control-Allow-Origin":
            credentials = "Access-Control-Allow-Credentials" in text
            reflected = ctx.sink(value, "header", min_level=USER) is not None
            if credentials and (_is_wildcard(ctx, value) or reflected):
                yield ctx.hit(detail="reflected Origin" if reflected else "*")
        elif (
            key in ("CORS_ALLOW_ALL_ORIGINS", "CORS_ORIGIN_ALLOW_ALL")
            and ctx.const(value) is True
            and re.search(r"CORS_ALLOW_CREDENTIALS\s*=\s*True", text)
        ):
            yield ctx.hit(detail=key)


@rule(
    id="SE710",
    cwe="CWE-915",
    severity="medium",
    confidence="medium",
    keys=("kw:**", "setattr"),
    message="Mass assignment: every field of the request body is copied onto a model, "
    "so a client can set fields like is_admin or owner_id",
    fix="copy an explicit allow-list of fields, or validate with a schema that only "
    "declares the writable fields",
)
def mass_assignment(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if name == "setattr":
        taint = ctx.sink(arg(call, "name", 1), "decision", min_level=USER)
        if taint is not None and "numeric" not in taint.sanitized:
            yield ctx.hit(taint=taint, detail="setattr with a request key")
        return
    last = name.rsplit(".", 1)[-1] if name else ""
    if not (
        last[:1].isupper()
        or last in ("create", "update", "get_or_create", "update_or_create", "insert")
    ):
        return
    for kw in call.keywords:
        if kw.arg is None:
            taint = ctx.sink(kw.value, "decision", min_level=USER)
            if taint is not None and "json" in taint.origins | _form_origin(kw.value):
                yield ctx.hit(taint=taint)
                return


def _form_origin(expr: ast.expr) -> set[str]:
    text = ast.unparse(expr)
    return {"json"} if re.search(r"\b(form|args|values|POST|GET)\b", text) else set()


@rule(
    id="SE711",
    cwe="CWE-20",
    severity="low",
    nodes=(ast.Assign,),
    keys=("set:ALLOWED_HOSTS",),
    message="ALLOWED_HOSTS accepts any Host header ('*'), enabling host-header poisoning of "
    "password-reset links and caches",
    fix="list the real host names: ALLOWED_HOSTS = ['example.com']",
)
def allowed_hosts_wildcard(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    assert isinstance(node, ast.Assign)
    if _is_wildcard(ctx, node.value):
        yield ctx.hit()


WEB_PATTERNS: list[CallPattern] = [
    CallPattern(
        id="SE702",
        cwe="CWE-116",
        severity="medium",
        calls=("jinja2.Environment",),
        when=(AnyOf((Missing(Arg("autoescape")), Is(Arg("autoescape"), (False, None)))),),
        message="Jinja2 autoescaping is off (the default for a bare Environment), so "
        "variables are inserted into HTML unescaped",
        fix="jinja2.Environment(autoescape=jinja2.select_autoescape(['html', 'xml'])) or "
        "autoescape=True",
    ),
    CallPattern(
        id="SE703",
        cwe="CWE-79",
        severity="high",
        calls=(
            "markupsafe.Markup",
            "flask.Markup",
            "jinja2.Markup",
            "django.utils.safestring.mark_safe",
            "django.utils.safestring.SafeString",
            "django.utils.html.SafeString",
        ),
        when=(Tainted(Arg(pos=0), "html"),),
        message="Cross-site scripting: untrusted data is marked as safe HTML "
        "(Markup/mark_safe), which disables escaping",
        fix="escape first (markupsafe.escape / format_html) and only mark constant markup as safe",
    ),
]
register_call_patterns(WEB_PATTERNS)
