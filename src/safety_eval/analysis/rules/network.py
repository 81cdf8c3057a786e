"""SE5xx: network and TLS (certificate checks off, old protocols, SSRF, exposed binds,
cleartext protocols and credentials)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from safety_eval.analysis.rules.common import leading_fragment
from safety_eval.analysis.rules.context import USER, RuleContext, arg
from safety_eval.analysis.rules.patterns import (
    Arg,
    CallPattern,
    Is,
    Q,
    SettingPattern,
    register_call_patterns,
    register_setting_patterns,
)
from safety_eval.analysis.rules.registry import Hit, rule

_HTTP_VERBS = frozenset(
    {
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "request",
        "stream",
        "ws_connect",
        "urlopen",
        "send",
    }
)


@rule(
    id="SE501",
    cwe="CWE-295",
    severity="medium",
    nodes=(ast.Call, ast.Assign),
    keys=("kw:verify", "kw:ssl", "set:verify"),
    message="TLS certificate verification disabled (verify=False / ssl=False): anyone on "
    "the network path can impersonate the server",
    fix="keep verification on; for a private CA pass verify='/path/to/ca.pem'",
)
def tls_verify_disabled(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "verify"
                and ctx.const(node.value) is False
            ):
                yield ctx.hit(detail="session.verify = False")
        return
    assert isinstance(node, ast.Call)
    name = ctx.call_name(node)
    if "jwt" in name or "jose" in name:
        return  # SE903
    last = name.rsplit(".", 1)[-1] if name else getattr(node.func, "attr", "")
    http_like = (
        last in _HTTP_VERBS
        or last in ("Client", "AsyncClient", "Session", "PoolManager", "ClientSession")
        or name.startswith(("requests", "httpx", "urllib3", "aiohttp", "elasticsearch"))
    )
    if ctx.const(arg(node, "verify")) is False and http_like:
        yield ctx.hit(detail="verify=False")
        return
    if ctx.const(arg(node, "ssl")) is False and (
        last in _HTTP_VERBS or name.startswith(("aiohttp", "httpx")) or "Connector" in name
    ):
        yield ctx.hit(detail="ssl=False")


@rule(
    id="SE502",
    cwe="CWE-295",
    severity="medium",
    nodes=(ast.Attribute,),
    keys=("attr:_create_unverified_context", "attr:_create_stdlib_context"),
    message="ssl._create_unverified_context() makes an HTTPS context that accepts any certificate",
    fix="use ssl.create_default_context() (add cafile=... for a private CA)",
)
def unverified_context(ctx: RuleContext) -> Iterator[Hit]:
    if (ctx.qualname(ctx.node) or "").startswith("ssl."):
        yield ctx.hit()


@rule(
    id="SE503",
    cwe="CWE-295",
    severity="medium",
    nodes=(ast.Attribute, ast.Name, ast.Call),
    keys=("attr:CERT_NONE", "name:CERT_NONE", "kw:cert_reqs"),
    message="ssl.CERT_NONE: the peer certificate is not verified",
    fix="use ssl.CERT_REQUIRED (the default of ssl.create_default_context())",
)
def cert_none(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.Call):
        if ctx.const(arg(node, "cert_reqs")) == "CERT_NONE":
            yield ctx.hit(detail="cert_reqs='CERT_NONE'")
        return
    if isinstance(node, ast.Name | ast.Attribute) and ctx.qualname(node) == "ssl.CERT_NONE":
        yield ctx.hit()


_OLD_PROTOCOLS = frozenset(
    {
        "PROTOCOL_SSLv2",
        "PROTOCOL_SSLv3",
        "PROTOCOL_TLSv1",
        "PROTOCOL_TLSv1_1",
        "SSLv2",
        "SSLv3",
        "TLSv1",
        "TLSv1_1",
        "SSLv2_METHOD",
        "SSLv3_METHOD",
        "TLSv1_METHOD",
        "TLSv1_1_METHOD",
    }
)


@rule(
    id="SE505",
    cwe="CWE-327",
    severity="medium",
    nodes=(ast.Attribute, ast.Name),
    keys=tuple(f"attr:{p}" for p in _OLD_PROTOCOLS) + tuple(f"name:{p}" for p in _OLD_PROTOCOLS),
    message="Obsolete SSL/TLS protocol version (SSLv2/SSLv3/TLS 1.0/TLS 1.1)",
    fix="use ssl.create_default_context() and set minimum_version = "
    "ssl.TLSVersion.TLSv1_2 or higher",
)
def old_tls(ctx: RuleContext) -> Iterator[Hit]:
    q = ctx.qualname(ctx.node) or ""
    if q.startswith(("ssl.", "OpenSSL.SSL.")):
        yield ctx.hit(detail=q.rsplit(".", 1)[-1])


_SSRF_SINKS: dict[str, tuple[str, int]] = {
    **{
        f"requests.{v}": ("url", 0)
        for v in ("get", "post", "put", "patch", "delete", "head", "options")
    },
    "requests.request": ("url", 1),
    **{
        f"requests.Session.{v}": ("url", 0)
        for v in ("get", "post", "put", "patch", "delete", "head", "options")
    },
    "requests.Session.request": ("url", 1),
    **{
        f"httpx.{v}": ("url", 0)
        for v in ("get", "post", "put", "patch", "delete", "head", "stream")
    },
    **{f"httpx.Client.{v}": ("url", 0) for v in ("get", "post", "put", "patch", "delete")},
    **{f"httpx.AsyncClient.{v}": ("url", 0) for v in ("get", "post", "put", "patch", "delete")},
    **{f"aiohttp.ClientSession.{v}": ("url", 0) for v in ("get", "post", "put", "delete")},
    "urllib.request.urlopen": ("url", 0),
    "urllib.request.Request": ("url", 0),
    "urllib.request.urlretrieve": ("url", 0),
    "urllib3.PoolManager.request": ("url", 1),
    "http.client.HTTPConnection": ("host", 0),
    "http.client.HTTPSConnection": ("host", 0),
    "pycurl.Curl.setopt": ("value", 1),
}
_FIXED_HOST = re.compile(r"^[a-zA-Z][\w+.-]*://[^/?#{}\s]+[/?#]")


@rule(
    id="SE506",
    cwe="CWE-918",
    severity="high",
    keys=tuple(_SSRF_SINKS),
    message="Server-side request forgery: the server fetches a URL (host) chosen by the user",
    fix="only fetch allow-listed hosts: parse the URL, check scheme and hostname against an "
    "allow-list and block private/link-local addresses",
)
def ssrf(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    spec = _SSRF_SINKS.get(ctx.call_name(call))
    if spec is None:
        return
    url = arg(call, spec[0], spec[1])
    taint = ctx.sink(url, "url", min_level=USER)
    if taint is None:
        return
    start = leading_fragment(ctx, url)
    if start is not None and (_FIXED_HOST.match(start) or start.startswith("/")):
        return  # the host is fixed; user data only reaches the path or query
    yield ctx.hit(taint=taint)


_ALL_INTERFACES = frozenset({"0.0.0.0", "::", "0:0:0:0:0:0:0:0"})
_SERVER_CTORS = (
    "http.server.HTTPServer",
    "http.server.ThreadingHTTPServer",
    "socketserver.TCPServer",
    "socketserver.ThreadingTCPServer",
    "socketserver.UDPServer",
    "wsgiref.simple_server.make_server",
    "asyncio.start_server",
    "bind",
    "run",
    "uvicorn.run",
    "listen",
    "create_server",
    "serve",
    "run_simple",
    "run_app",
)


@rule(
    id="SE507",
    cwe="CWE-1327",
    severity="medium",
    confidence="medium",
    keys=(*_SERVER_CTORS, "kw:host", "kw:address"),
    message="Server bound to all network interfaces (0.0.0.0): reachable from every network "
    "the machine is on",
    fix="bind to 127.0.0.1 (or a specific interface) and expose it deliberately through a "
    "reverse proxy or firewall rule",
)
def bind_all_interfaces(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    for kw in ("host", "address", "hostname"):
        if ctx.const(arg(call, kw)) in _ALL_INTERFACES:
            yield ctx.hit(detail=f"{kw}=0.0.0.0")
            return
    if not call.args:
        return
    first = call.args[0]
    name = ctx.call_name(call)
    last = name.rsplit(".", 1)[-1] if name else getattr(call.func, "attr", "")
    if isinstance(first, ast.Tuple) and first.elts:
        if ctx.const(first.elts[0]) in _ALL_INTERFACES:
            yield ctx.hit()
    elif last in ("run", "make_server", "run_simple", "start_server", "create_server") and (
        ctx.const(first) in _ALL_INTERFACES
    ):
        yield ctx.hit()


@rule(
    id="SE508",
    cwe="CWE-319",
    severity="medium",
    keys=(
        "telnetlib.Telnet",
        "ftplib.FTP",
        "smtplib.SMTP.login",
        "imaplib.IMAP4",
        "poplib.POP3",
        "login",
    ),
    message="Cleartext protocol (Telnet/FTP/IMAP/POP3/SMTP without TLS): credentials and data "
    "travel unencrypted",
    fix="use SSH/SFTP, FTP_TLS, IMAP4_SSL, POP3_SSL, or SMTP_SSL / starttls()",
)
def cleartext_protocol(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if name in ("telnetlib.Telnet", "ftplib.FTP", "imaplib.IMAP4", "poplib.POP3"):
        yield ctx.hit()
    elif name == "smtplib.SMTP.login" and not any("starttls" in ln for ln in ctx.lines):
        yield ctx.hit(detail="SMTP login without starttls()")


_CREDENTIAL_KEYS = re.compile(r"(?i)pass(word|wd)?|pwd|token|secret|api[_-]?key|authorization")
_LOCAL = re.compile(r"^http://(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::\d+)?(/|$)")


def _dict_has_credentials(node: ast.AST | None) -> bool:
    if not isinstance(node, ast.Dict):
        return False
    return any(
        isinstance(k, ast.Constant)
        and isinstance(k.value, str)
        and _CREDENTIAL_KEYS.search(k.value)
        for k in node.keys
    )


@rule(
    id="SE509",
    cwe="CWE-523",
    severity="medium",
    keys=tuple(n for n in _SSRF_SINKS if n.startswith(("requests.", "httpx."))),
    message="Credentials sent over plain http://: they can be read by anyone on the path",
    fix="use https:// for every request that carries credentials or tokens",
)
def credentials_over_http(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    url = arg(call, "url", 1 if name.endswith(".request") else 0)
    start = leading_fragment(ctx, url)
    if not start or not start.startswith("http://") or _LOCAL.match(start):
        return
    if arg(call, "auth") is not None or any(
        _dict_has_credentials(arg(call, k)) for k in ("data", "json", "headers", "params")
    ):
        yield ctx.hit()


NETWORK_PATTERNS: list[CallPattern] = [
    CallPattern(
        id="SE510",
        cwe="CWE-322",
        severity="medium",
        calls=("*.set_missing_host_key_policy",),
        when=(
            Is(
                Arg("policy", 0),
                (Q("AutoAddPolicy"), Q("WarningPolicy")),
            ),
        ),
        message="SSH host key not verified (AutoAddPolicy/WarningPolicy): a man in the middle "
        "is trusted on first contact",
        fix="load known hosts (client.load_system_host_keys()) and use RejectPolicy",
    ),
]
register_call_patterns(NETWORK_PATTERNS)

NETWORK_SETTINGS: list[SettingPattern] = [
    SettingPattern(
        id="SE504",
        cwe="CWE-297",
        severity="medium",
        keys=("check_hostname", "assert_hostname"),
        values=(False,),
        bare=False,
        message="TLS hostname checking disabled (check_hostname = False): any valid "
        "certificate for any host is accepted",
        fix="leave check_hostname = True (the default of ssl.create_default_context())",
    ),
]
register_setting_patterns(NETWORK_SETTINGS)
