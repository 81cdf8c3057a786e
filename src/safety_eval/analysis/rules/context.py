"""What rules see: import-alias resolution, scopes and intra-procedural taint.

One walk over the tree (:meth:`ModuleInfo.walk`) records, per scope, every assignment,
return and validation guard, and collects the nodes rules are registered for. Taint is
solved lazily (only when a rule asks) as a flow-insensitive fixpoint over those
assignments, so the order of statements does not matter and a variable is tainted if
any assignment to it is.

Taint levels: ``USER`` (2) for data an attacker controls (HTTP request, ``input()``,
``sys.argv``, stdin, sockets, route/CLI parameters) and ``PARAM`` (1) for plain
function parameters and environment variables: a sink reached only from those is
reported with lower confidence.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from safety_eval.analysis.rules.registry import Hit
from safety_eval.results.records import Confidence

__all__ = [
    "PARAM",
    "SINK_SANITIZERS",
    "USER",
    "ModuleInfo",
    "RuleContext",
    "Scope",
    "Taint",
    "downgrade",
]

USER: Final = 2
PARAM: Final = 1

_DOWN: dict[Confidence, Confidence] = {"high": "medium", "medium": "low", "low": "low"}


def downgrade(confidence: Confidence) -> Confidence:
    """One step lower confidence."""
    return _DOWN[confidence]


@dataclass(frozen=True, slots=True)
class Taint:
    """Where a value may come from and what was done to it on every path."""

    level: int
    origins: frozenset[str]
    sanitized: frozenset[str] = frozenset()
    """Sanitiser kinds applied on every path (intersection when paths merge)."""
    built: bool = False
    """The value went through string building (f-string, ``%``, ``+``, ``.format``...)."""

    def merge(self, other: Taint | None) -> Taint:
        if other is None or other == self:
            return self
        return Taint(
            level=max(self.level, other.level),
            origins=self.origins | other.origins,
            sanitized=self.sanitized & other.sanitized,
            built=self.built or other.built,
        )

    def sanitize(self, kind: str) -> Taint:
        return Taint(self.level, self.origins, self.sanitized | {kind}, self.built)

    def as_built(self) -> Taint:
        if self.built:
            return self
        return Taint(self.level, self.origins, self.sanitized, True)

    def with_origin(self, origin: str) -> Taint:
        return Taint(self.level, self.origins | {origin}, self.sanitized, self.built)

    @property
    def confidence(self) -> Confidence:
        return "high" if self.level >= USER else "medium"


def _merge(a: Taint | None, b: Taint | None) -> Taint | None:
    if a is None:
        return b
    return a.merge(b)


_ALL_INJECTION = frozenset({"numeric", "validated"})
SINK_SANITIZERS: dict[str, frozenset[str]] = {
    "shell": _ALL_INJECTION | {"shell"},
    "code": _ALL_INJECTION,
    "sql": _ALL_INJECTION | {"sql"},
    "nosql": _ALL_INJECTION | {"nosql"},
    "path": _ALL_INJECTION | {"path", "prefix"},
    "upload": frozenset({"path", "validated"}),
    "url": _ALL_INJECTION | {"prefix"},
    "redirect": _ALL_INJECTION | {"prefix", "url"},
    "html": frozenset({"html", "numeric"}),
    "ldap": _ALL_INJECTION | {"ldap"},
    "xpath": _ALL_INJECTION | {"xpath"},
    "log": frozenset({"newline", "numeric", "validated"}),
    "template": _ALL_INJECTION,
    "regex": _ALL_INJECTION | {"regex"},
    "deser": frozenset({"validated"}),
    "xml": frozenset({"validated"}),
    "import": _ALL_INJECTION,
    "size": frozenset({"bounded"}),
    "decision": frozenset(),
    "header": frozenset({"newline", "numeric", "validated"}),
}
"""For each sink kind, the sanitiser kinds that make tainted data safe for it."""

# ----------------------------------------------------------------------------- tables

CLASS_OF: dict[str, str] = {
    "tarfile.open": "tarfile.TarFile",
    "tarfile.TarFile.open": "tarfile.TarFile",
    "sqlite3.connect": "sqlite3.Connection",
    "requests.session": "requests.Session",
    "ssl.create_default_context": "ssl.SSLContext",
    "ssl._create_unverified_context": "ssl.SSLContext",
    "random.Random": "random.Random",
    "flask.Flask": "flask.Flask",
    "smtplib.SMTP": "smtplib.SMTP",
    "ftplib.FTP": "ftplib.FTP",
    "paramiko.SSHClient": "paramiko.SSHClient",
}
"""Factories whose result is better known by its class name."""

_MODULE_RENAMES = (("Cryptodome.", "Crypto."), ("cPickle.", "pickle."), ("_pickle.", "pickle."))

REQUEST_OBJECTS = frozenset(
    {
        "flask.request",
        "quart.request",
        "bottle.request",
        "sanic.request",
        "werkzeug.local.request",
        "request",
        "req",
    }
)
_REQUEST_SAFE_ATTRS = frozenset(
    {
        "method",
        "endpoint",
        "blueprint",
        "is_json",
        "is_secure",
        "user",
        "session",
        "auth",
        "url_rule",
        "app",
        "scheme",
        "mimetype",
        "content_length",
        "max_content_length",
    }
)
_REQUEST_BODY_ATTRS = frozenset(
    {"stream", "files", "FILES", "get_data", "input_stream", "body", "wsgi.input"}
)
_ATTR_SOURCES: dict[str, tuple[int, str]] = {
    "sys.argv": (USER, "argv"),
    "sys.stdin": (USER, "stdin"),
    "os.environ": (PARAM, "env"),
    "os.environb": (PARAM, "env"),
}
_CALL_SOURCES: dict[str, tuple[int, str]] = {
    "input": (USER, "input"),
    "raw_input": (USER, "input"),
    "fileinput.input": (USER, "stdin"),
    "os.getenv": (PARAM, "env"),
    "os.getenvb": (PARAM, "env"),
    "getpass.getpass": (USER, "input"),
    "click.prompt": (USER, "input"),
}
_METHOD_SOURCES: dict[str, tuple[int, str]] = {
    "get_argument": (USER, "request"),
    "get_query_argument": (USER, "request"),
    "get_body_argument": (USER, "request"),
    "get_arguments": (USER, "request"),
    "parse_args": (USER, "argv"),
    "parse_known_args": (USER, "argv"),
    "recv": (USER, "socket"),
    "recvfrom": (USER, "socket"),
    "recv_json": (USER, "socket"),
    "recv_string": (USER, "socket"),
    "receive_text": (USER, "socket"),
    "receive_json": (USER, "socket"),
    "receive_bytes": (USER, "socket"),
}
_SANITIZERS: dict[str, str] = {
    "shlex.quote": "shell",
    "pipes.quote": "shell",
    "shlex.join": "shell",
    "int": "numeric",
    "float": "numeric",
    "bool": "numeric",
    "abs": "numeric",
    "round": "numeric",
    "ord": "numeric",
    "uuid.UUID": "numeric",
    "decimal.Decimal": "numeric",
    "ipaddress.ip_address": "numeric",
    "os.path.basename": "path",
    "posixpath.basename": "path",
    "ntpath.basename": "path",
    "werkzeug.utils.secure_filename": "path",
    "werkzeug.secure_filename": "path",
    "secure_filename": "path",
    "django.utils.text.get_valid_filename": "path",
    "html.escape": "html",
    "cgi.escape": "html",
    "markupsafe.escape": "html",
    "flask.escape": "html",
    "jinja2.escape": "html",
    "django.utils.html.escape": "html",
    "django.utils.html.conditional_escape": "html",
    "bleach.clean": "html",
    "xml.sax.saxutils.escape": "html",
    "re.escape": "regex",
    "ldap.filter.escape_filter_chars": "ldap",
    "ldap3.utils.conv.escape_filter_chars": "ldap",
    "escape_filter_chars": "ldap",
    "json.dumps": "newline",
    "repr": "newline",
    "urllib.parse.quote": "url",
    "urllib.parse.quote_plus": "url",
    "urllib.parse.urlencode": "url",
    "min": "bounded",
    "str": "nosql",
}
_CLEAN_CALLS = frozenset(
    {
        "isinstance",
        "issubclass",
        "len",
        "open",
        "io.open",
        "codecs.open",
        "os.path.exists",
        "os.path.isfile",
        "os.path.isdir",
        "os.path.getsize",
        "hasattr",
        "callable",
        "id",
        "type",
        "hash",
        "flask.url_for",
        "url_for",
        "django.urls.reverse",
        "reverse",
        "uuid.uuid4",
        "secrets.token_hex",
        "secrets.token_urlsafe",
        "time.time",
        "datetime.datetime.now",
    }
)
_NUMERIC_METHODS = frozenset(
    {
        "startswith",
        "endswith",
        "isdigit",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isnumeric",
        "isidentifier",
        "count",
        "find",
        "rfind",
        "index",
        "__len__",
        "hexdigest",
        "digest",
    }
)
_BUILD_CALLS = frozenset(
    {"os.path.join", "posixpath.join", "ntpath.join", "pathlib.Path", "pathlib.PurePath"}
)
_BUILD_METHODS = frozenset({"format", "format_map", "join", "joinpath", "replace", "substitute"})
_ROUTE_DECORATORS = frozenset(
    {
        "route",
        "get",
        "post",
        "put",
        "delete",
        "patch",
        "head",
        "options",
        "websocket",
        "api_route",
        "api_view",
        "action",
        "command",
        "option",
        "argument",
        "view_config",
        "expose",
    }
)
_GUARD_NAME = re.compile(r"valid|allowed|safe|whitelist|allowlist|permitted|trusted", re.I)
_VALIDATING_METHODS = frozenset(
    {
        "match",
        "fullmatch",
        "isdigit",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isnumeric",
        "isidentifier",
    }
)
_PREFIX_METHODS = frozenset(
    {"startswith", "commonpath", "commonprefix", "is_relative_to", "relative_to"}
)
_NUMERIC_ANNOTATIONS = frozenset({"int", "float", "bool", "UUID", "uuid.UUID", "datetime"})
_STAT_BITS: dict[str, int] = {
    "stat.S_IRWXU": 0o700,
    "stat.S_IRUSR": 0o400,
    "stat.S_IWUSR": 0o200,
    "stat.S_IXUSR": 0o100,
    "stat.S_IRWXG": 0o070,
    "stat.S_IRGRP": 0o040,
    "stat.S_IWGRP": 0o020,
    "stat.S_IXGRP": 0o010,
    "stat.S_IRWXO": 0o007,
    "stat.S_IROTH": 0o004,
    "stat.S_IWOTH": 0o002,
    "stat.S_IXOTH": 0o001,
}
_LEAF_TYPES = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)


def _normalize_qualname(name: str) -> str:
    for old, new in _MODULE_RENAMES:
        if name.startswith(old):
            return new + name[len(old) :]
    return name


def dotted(expr: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else ``None``."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return ".".join(reversed(parts))
    return None


def names_in(expr: ast.AST) -> Iterator[str]:
    """Variable names read in ``expr`` (not the names of called functions)."""
    stack: list[ast.AST] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                stack.append(node.func.value)
            stack.extend(node.args)
            stack.extend(k.value for k in node.keywords)
        elif isinstance(node, ast.Attribute):
            key = dotted(node)
            if key:
                yield key
            stack.append(node.value)
        else:
            stack.extend(ast.iter_child_nodes(node))


# ----------------------------------------------------------------------------- scopes


class Scope:
    """A module or function body: its assignments, returns and validated names."""

    __slots__ = (
        "assigns",
        "env",
        "is_route",
        "name",
        "node",
        "params",
        "parent",
        "returns",
        "validated",
    )

    def __init__(self, node: ast.AST, parent: Scope | None, name: str = "") -> None:
        self.node = node
        self.parent = parent
        self.name = name
        self.assigns: list[tuple[str, ast.expr, bool]] = []
        self.returns: list[ast.expr] = []
        self.validated: dict[str, str] = {}
        self.env: dict[str, Taint] = {}
        self.params: dict[str, Taint] = {}
        self.is_route = False


Wanted = tuple[ast.AST, Scope, "ast.FunctionDef | ast.AsyncFunctionDef | None", "ast.stmt | None"]


class ModuleInfo:
    """Facts about one module, shared by every rule of one scan."""

    def __init__(self, tree: ast.Module, lines: list[str], known: Iterable[str] = ()) -> None:
        self.tree = tree
        self.lines = lines
        self.known = frozenset(known)
        self.aliases: dict[str, str] = {}
        self.star_modules: list[str] = []
        self.var_types: dict[str, str] = {}
        self.defined: set[str] = set()
        self.functions: dict[str, Scope] = {}
        self.scopes: list[Scope] = []
        self.module_scope = Scope(tree, None, "<module>")
        self.scopes.append(self.module_scope)
        self.attr_env: dict[str, Taint] = {}
        self.nodes: list[Wanted] = []
        self.constants: dict[str, list[ast.expr]] = {}
        self._pending: list[tuple[str, ast.expr]] = []
        self._qual_cache: dict[int, str | None] = {}
        self._taint_cache: dict[int, Taint | None] = {}
        self._solved = False
        self._summaries: dict[str, Taint | None] = {}
        self._in_summary: set[str] = set()
        self._wanted: frozenset[type[ast.AST]] = frozenset()
        self._final = False
        self.except_names: dict[int, set[str]] = {}
        """``except ... as name`` names per enclosing function (``id(func)``)."""
        self.cache: dict[object, object] = {}
        """Scratch space for rules that compute per-module facts once."""

    # ------------------------------------------------------------------ walk
    def walk(self, wanted: Iterable[type[ast.AST]]) -> None:
        """Collect scopes, aliases and the nodes of the ``wanted`` types (one pass)."""
        self._wanted = frozenset(wanted)
        for stmt in self.tree.body:
            self._visit(stmt, self.module_scope, None, stmt)
        self._resolve_pending()
        for scope in self.scopes:
            self._expand_validated(scope)

    def _visit(
        self,
        node: ast.AST,
        scope: Scope,
        func: ast.FunctionDef | ast.AsyncFunctionDef | None,
        stmt: ast.stmt | None,
    ) -> None:
        t = type(node)
        if isinstance(node, ast.stmt):
            stmt = node
        if t in self._wanted:
            self.nodes.append((node, scope, func, stmt))
        if t is ast.FunctionDef or t is ast.AsyncFunctionDef:
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            self._function(node, scope)
            return
        if t is ast.Import or t is ast.ImportFrom:
            assert isinstance(node, ast.Import | ast.ImportFrom)
            self._import(node)
            return
        if t is ast.Assign:
            assert isinstance(node, ast.Assign)
            for target in node.targets:
                self._bind(target, node.value, scope, False)
        elif t is ast.AnnAssign:
            assert isinstance(node, ast.AnnAssign)
            if node.value is not None:
                self._bind(node.target, node.value, scope, False)
        elif t is ast.AugAssign:
            assert isinstance(node, ast.AugAssign)
            self._bind(node.target, node.value, scope, True)
        elif t is ast.For or t is ast.AsyncFor or t is ast.comprehension:
            assert isinstance(node, ast.For | ast.AsyncFor | ast.comprehension)
            self._bind(node.target, node.iter, scope, False)
        elif t is ast.withitem:
            assert isinstance(node, ast.withitem)
            if node.optional_vars is not None:
                self._bind(node.optional_vars, node.context_expr, scope, False)
        elif t is ast.NamedExpr:
            assert isinstance(node, ast.NamedExpr)
            self._bind(node.target, node.value, scope, False)
        elif t is ast.Return:
            assert isinstance(node, ast.Return)
            if node.value is not None:
                scope.returns.append(node.value)
        elif t is ast.If or t is ast.While or t is ast.Assert or t is ast.IfExp:
            assert isinstance(node, ast.If | ast.While | ast.Assert | ast.IfExp)
            self._guard(node.test, scope)
        elif t is ast.Call:
            assert isinstance(node, ast.Call)
            self._mutation(node, scope)
        elif t is ast.ExceptHandler:
            assert isinstance(node, ast.ExceptHandler)
            if node.name:
                self.except_names.setdefault(id(func), set()).add(node.name)
        elif t is ast.ClassDef:
            assert isinstance(node, ast.ClassDef)
            self.defined.add(node.name)
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST) and not isinstance(item, _LEAF_TYPES):
                        self._visit(item, scope, func, stmt)
            elif isinstance(value, ast.AST) and not isinstance(value, _LEAF_TYPES):
                self._visit(value, scope, func, stmt)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, parent: Scope) -> None:
        scope = Scope(node, parent, node.name)
        self.scopes.append(scope)
        self.functions[node.name] = scope
        self.defined.add(node.name)
        for deco in node.decorator_list:
            self._visit(deco, parent, None, node)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self._visit(default, parent, None, node)
        scope.is_route = self._is_route(node)
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        if node.args.vararg:
            args.append(node.args.vararg)
        if node.args.kwarg:
            args.append(node.args.kwarg)
        level = USER if scope.is_route else PARAM
        origin = "route" if scope.is_route else "param"
        for i, arg in enumerate(args):
            if i == 0 and arg.arg in ("self", "cls"):
                continue
            taint = Taint(level, frozenset({origin}))
            ann = arg.annotation
            ann_name = dotted(ann) if ann is not None else None
            if ann_name in _NUMERIC_ANNOTATIONS:
                taint = taint.sanitize("numeric")
            scope.params[arg.arg] = taint
            scope.env[arg.arg] = taint
        for stmt in node.body:
            self._visit(stmt, scope, node, stmt)

    def _is_route(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            name = dotted(target) or ""
            last = name.rsplit(".", 1)[-1]
            if "." in name and last in _ROUTE_DECORATORS:
                return True
            if name.startswith("click.") or last in ("api_view", "csrf_exempt"):
                return True
        params = [a.arg for a in node.args.args]
        if params and params[0] in ("request", "req"):
            return True
        if len(params) > 1 and params[0] == "self" and params[1] in ("request", "req"):
            return True
        return "handler" in node.name and "event" in params

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.aliases[alias.asname] = _normalize_qualname(alias.name)
                else:
                    root = alias.name.split(".", 1)[0]
                    self.aliases.setdefault(root, _normalize_qualname(root))
            return
        if node.level or not node.module:
            return
        module = _normalize_qualname(node.module + ".")[:-1]
        for alias in node.names:
            if alias.name == "*":
                self.star_modules.append(module)
                continue
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"

    def _bind(self, target: ast.AST, value: ast.expr, scope: Scope, aug: bool) -> None:
        if isinstance(target, ast.Name):
            scope.assigns.append((target.id, value, aug))
            self.defined.add(target.id)
            self.constants.setdefault(target.id, []).append(value)
            if isinstance(value, ast.Call | ast.Attribute | ast.Name) and not aug:
                self._pending.append((target.id, value))
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self._bind(elt, value, scope, aug)
        elif isinstance(target, ast.Starred):
            self._bind(target.value, value, scope, aug)
        elif isinstance(target, ast.Attribute):
            key = dotted(target)
            if key:
                scope.assigns.append(("@" + key, value, aug))
        elif isinstance(target, ast.Subscript):
            base = target.value
            while isinstance(base, ast.Subscript):
                base = base.value
            key = dotted(base)
            if key:
                scope.assigns.append((key if "." not in key else "@" + key, value, True))

    def _mutation(self, call: ast.Call, scope: Scope) -> None:
        func = call.func
        if not isinstance(func, ast.Attribute) or not call.args:
            return
        if func.attr not in ("append", "extend", "insert", "add", "update", "appendleft", "write"):
            return
        key = dotted(func.value)
        if key:
            value = call.args[-1]
            scope.assigns.append((key if "." not in key else "@" + key, value, True))

    def _guard(self, test: ast.expr, scope: Scope) -> None:
        stack: list[ast.expr] = [test]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.BoolOp):
                stack.extend(node.values)
            elif isinstance(node, ast.UnaryOp):
                stack.append(node.operand)
            elif isinstance(node, ast.Compare):
                ops = node.ops
                if any(isinstance(op, ast.In | ast.NotIn) for op in ops):
                    for name in names_in(node.left):
                        scope.validated.setdefault(name, "validated")
                elif any(isinstance(op, ast.Eq | ast.NotEq) for op in ops):
                    sides = [node.left, *node.comparators]
                    if any(
                        isinstance(s, ast.Constant) and isinstance(s.value, str) and s.value
                        for s in sides
                    ):
                        for side in sides:
                            for name in names_in(side):
                                scope.validated.setdefault(name, "validated")
                for side in [node.left, *node.comparators]:
                    if isinstance(side, ast.Call):
                        stack.append(side)
            elif isinstance(node, ast.Call):
                name = dotted(node.func) or ""
                last = name.rsplit(".", 1)[-1]
                if last in _PREFIX_METHODS:
                    kind = "prefix"
                elif last in _VALIDATING_METHODS or _GUARD_NAME.search(last):
                    kind = "validated"
                else:
                    continue
                operands: list[ast.expr] = [*node.args, *(k.value for k in node.keywords)]
                if isinstance(node.func, ast.Attribute) and last in (
                    _PREFIX_METHODS | _VALIDATING_METHODS
                ) - {"match", "fullmatch", "commonpath", "commonprefix"}:
                    operands = [node.func.value]
                elif last in ("match", "fullmatch"):
                    operands = node.args[1:2] or operands
                for operand in operands:
                    for n in names_in(operand):
                        if scope.validated.get(n) != "validated":
                            scope.validated[n] = kind

    def _expand_validated(self, scope: Scope) -> None:
        """A guard on ``p = urlparse(url)`` also validates ``url`` (one hop back)."""
        if not scope.validated:
            return
        extra: dict[str, str] = {}
        for key, value, _aug in scope.assigns:
            kind = scope.validated.get(key)
            if kind and isinstance(value, ast.Call):
                for arg in value.args[:1]:
                    for n in names_in(arg):
                        extra.setdefault(n, kind)
        for n, kind in extra.items():
            scope.validated.setdefault(n, kind)

    def _resolve_pending(self) -> None:
        for name, value in self._pending:
            if isinstance(value, ast.Call):
                q = self.qualname(value.func)
                if q and ("." in q or q in CLASS_OF):
                    self.var_types[name] = CLASS_OF.get(q, q)
            else:
                root = value
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in self.aliases:
                    q = self.qualname(value)
                    if q:
                        self.aliases.setdefault(name, q)
        self._qual_cache.clear()

    # ------------------------------------------------------------------ names
    def qualname(self, expr: ast.AST | None) -> str | None:
        """Fully qualified dotted name of ``expr`` after import aliases and known types."""
        if expr is None:
            return None
        key = id(expr)
        if key in self._qual_cache:
            return self._qual_cache[key]
        result = self._qualname(expr)
        self._qual_cache[key] = result
        return result

    def _qualname(self, expr: ast.AST) -> str | None:
        if isinstance(expr, ast.Name):
            n = expr.id
            q = self.aliases.get(n)
            if q:
                return q
            t = self.var_types.get(n)
            if t:
                return t
            if self.star_modules and n not in self.defined:
                for module in self.star_modules:
                    candidate = f"{module}.{n}"
                    if candidate in self.known:
                        return candidate
            return n
        if isinstance(expr, ast.Attribute):
            base = self.qualname(expr.value)
            return f"{base}.{expr.attr}" if base else None
        if isinstance(expr, ast.Call):
            base = self.qualname(expr.func)
            return CLASS_OF.get(base, base) if base else None
        return None

    def is_request(self, expr: ast.AST) -> bool:
        """``expr`` is a web framework's request object."""
        if isinstance(expr, ast.Name):
            return (self.qualname(expr) or "") in REQUEST_OBJECTS
        if isinstance(expr, ast.Attribute):
            return expr.attr == "request" and isinstance(expr.value, ast.Name)
        return False

    # ------------------------------------------------------------------ taint
    def solve(self) -> None:
        """Fixpoint over every scope's assignments (bounded)."""
        if self._solved:
            return
        self._solved = True
        for _ in range(4):
            changed = False
            for scope in self.scopes:
                changed |= self._solve_scope(scope)
            if not changed:
                break
        self._taint_cache.clear()
        self._summaries.clear()
        self._final = True

    def _solve_scope(self, scope: Scope) -> bool:
        changed_any = False
        for _ in range(6):
            changed = False
            for key, value, aug in scope.assigns:
                taint = self._taint(value, scope)
                if taint is None:
                    continue
                if aug:
                    taint = taint.as_built()
                env = self.attr_env if key.startswith("@") else scope.env
                k = key[1:] if key.startswith("@") else key
                current = env.get(k)
                new = taint if current is None else current.merge(taint)
                if new != current:
                    env[k] = new
                    changed = True
            if not changed:
                break
            changed_any = True
        return changed_any

    def taint(self, expr: ast.AST | None, scope: Scope) -> Taint | None:
        """Taint of ``expr`` read in ``scope`` (solves the module on first use)."""
        if expr is None:
            return None
        self.solve()
        key = id(expr)
        if key in self._taint_cache:
            return self._taint_cache[key]
        result = self._taint(expr, scope)
        self._taint_cache[key] = result
        return result

    def _lookup(self, name: str, scope: Scope) -> Taint | None:
        s: Scope | None = scope
        while s is not None:
            t = s.env.get(name)
            if t is not None:
                kind = self._validated(name, scope)
                return t.sanitize(kind) if kind else t
            s = s.parent
        return None

    def _validated(self, name: str, scope: Scope) -> str | None:
        s: Scope | None = scope
        while s is not None:
            kind = s.validated.get(name)
            if kind:
                return kind
            s = s.parent
        return None

    def _taint(self, e: ast.AST, scope: Scope) -> Taint | None:
        t = type(e)
        if t is ast.Name:
            assert isinstance(e, ast.Name)
            return self._lookup(e.id, scope)
        if t is ast.Constant:
            return None
        if t is ast.Attribute:
            assert isinstance(e, ast.Attribute)
            return self._attr_taint(e, scope)
        if t is ast.Call:
            assert isinstance(e, ast.Call)
            return self._call_taint(e, scope)
        if t is ast.JoinedStr:
            assert isinstance(e, ast.JoinedStr)
            out: Taint | None = None
            for v in e.values:
                if isinstance(v, ast.FormattedValue):
                    out = _merge(out, self._taint(v.value, scope))
            return out.as_built() if out else None
        if t is ast.BinOp:
            assert isinstance(e, ast.BinOp)
            res = _merge(self._taint(e.left, scope), self._taint(e.right, scope))
            if res and isinstance(e.op, ast.Add | ast.Mod | ast.Div):
                return res.as_built()
            return res
        if t is ast.Subscript:
            assert isinstance(e, ast.Subscript)
            return self._taint(e.value, scope)
        if t in (ast.List, ast.Tuple, ast.Set):
            assert isinstance(e, ast.List | ast.Tuple | ast.Set)
            out = None
            for elt in e.elts:
                out = _merge(out, self._taint(elt, scope))
            return out
        if t is ast.Dict:
            assert isinstance(e, ast.Dict)
            out = None
            for v in e.values:
                out = _merge(out, self._taint(v, scope))
            return out
        if t is ast.IfExp:
            assert isinstance(e, ast.IfExp)
            return _merge(self._taint(e.body, scope), self._taint(e.orelse, scope))
        if t is ast.BoolOp:
            assert isinstance(e, ast.BoolOp)
            out = None
            for v in e.values:
                out = _merge(out, self._taint(v, scope))
            return out
        if t in (ast.Starred, ast.Await, ast.NamedExpr, ast.FormattedValue):
            return self._taint(e.value, scope)  # type: ignore[attr-defined]
        if t in (ast.ListComp, ast.SetComp, ast.GeneratorExp):
            assert isinstance(e, ast.ListComp | ast.SetComp | ast.GeneratorExp)
            return self._taint(e.elt, scope)
        if t is ast.DictComp:
            assert isinstance(e, ast.DictComp)
            return _merge(self._taint(e.key, scope), self._taint(e.value, scope))
        if t is ast.UnaryOp:
            assert isinstance(e, ast.UnaryOp)
            return None if isinstance(e.op, ast.Not) else self._taint(e.operand, scope)
        return None

    def _attr_taint(self, e: ast.Attribute, scope: Scope) -> Taint | None:
        q = self.qualname(e)
        if q in _ATTR_SOURCES:
            level, origin = _ATTR_SOURCES[q]
            return Taint(level, frozenset({origin}))
        if self.is_request(e.value):
            if e.attr in _REQUEST_SAFE_ATTRS:
                return None
            origins = {"request"}
            if e.attr in _REQUEST_BODY_ATTRS:
                origins.add("body")
            if e.attr in ("files", "FILES"):
                origins.add("files")
            if e.attr in ("json", "get_json", "data", "body", "get_data", "media"):
                origins.add("json")
            return Taint(USER, frozenset(origins))
        key = dotted(e)
        own = self.attr_env.get(key) if key else None
        base = self._taint(e.value, scope)
        if base is not None:
            if e.attr == "filename" and "files" in base.origins:
                base = base.with_origin("filename")
            elif e.attr in ("stream",):
                base = base.with_origin("body")
        return _merge(own, base)

    def _call_taint(self, call: ast.Call, scope: Scope) -> Taint | None:
        func = call.func
        q = self.qualname(func) or ""
        last = func.attr if isinstance(func, ast.Attribute) else q.rsplit(".", 1)[-1]
        if q in _CALL_SOURCES:
            level, origin = _CALL_SOURCES[q]
            return Taint(level, frozenset({origin}))
        if isinstance(func, ast.Attribute) and last in _METHOD_SOURCES:
            level, origin = _METHOD_SOURCES[last]
            return Taint(level, frozenset({origin}))
        if q in _CLEAN_CALLS:
            return None
        args_taint: Taint | None = None
        for arg in call.args:
            args_taint = _merge(args_taint, self._taint(arg, scope))
        for kw in call.keywords:
            args_taint = _merge(args_taint, self._taint(kw.value, scope))
        receiver: Taint | None = None
        if isinstance(func, ast.Attribute):
            if self.is_request(func.value):
                receiver = self._attr_taint(func, scope)
            else:
                receiver = self._taint(func.value, scope)
        kind = _SANITIZERS.get(q)
        if kind is None and isinstance(func, ast.Attribute):
            if last in _NUMERIC_METHODS:
                return receiver.sanitize("numeric") if receiver else None
            if last == "replace" and call.args and _is_newline(call.args[0]):
                return receiver.sanitize("newline") if receiver else None
        if kind is not None:
            inner = _merge(receiver, args_taint)
            if inner is None:
                return None
            if kind == "bounded" and not any(isinstance(a, ast.Constant) for a in call.args):
                return inner
            return inner.sanitize(kind)
        if isinstance(func, ast.Name) and func.id in self.functions and func.id not in self.aliases:
            return self._local_call(func.id, args_taint)
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in ("self", "cls")
            and func.attr in self.functions
        ):
            return self._local_call(func.attr, args_taint)
        result = _merge(receiver, args_taint)
        if result is not None and (q in _BUILD_CALLS or last in _BUILD_METHODS):
            result = result.as_built()
        if result is not None and last == "filename":
            result = result.with_origin("filename")
        return result

    def _local_call(self, name: str, args_taint: Taint | None) -> Taint | None:
        summary = self._summary(name)
        if summary is None:
            return None
        result: Taint | None = None
        if "param" in summary.origins and args_taint is not None:
            result = Taint(
                args_taint.level,
                args_taint.origins,
                args_taint.sanitized | summary.sanitized,
                args_taint.built or summary.built,
            )
        other = summary.origins - {"param"}
        if other:
            result = _merge(
                result, Taint(summary.level, frozenset(other), summary.sanitized, summary.built)
            )
        return result

    def _summary(self, name: str) -> Taint | None:
        if name in self._summaries:
            return self._summaries[name]
        if name in self._in_summary:
            return None
        scope = self.functions[name]
        self._in_summary.add(name)
        out: Taint | None = None
        try:
            for r in scope.returns:
                out = _merge(out, self._taint(r, scope))
        finally:
            self._in_summary.discard(name)
        if self._final:
            self._summaries[name] = out
        return out

    # ------------------------------------------------------------------ constants
    def const_value(self, expr: ast.AST | None, depth: int = 0) -> object:
        """The constant ``expr`` stands for (through names bound once), else ``MISSING``."""
        if expr is None:
            return MISSING
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Attribute | ast.Name):
            q = self.qualname(expr)
            if q in _STAT_BITS:
                return _STAT_BITS[q]
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr | ast.Add) and depth < 6:
            left = self.const_value(expr.left, depth + 1)
            right = self.const_value(expr.right, depth + 1)
            if type(left) is int and type(right) is int:
                return left | right if isinstance(expr.op, ast.BitOr) else left + right
            if (
                isinstance(expr.op, ast.Add)
                and type(left) is type(right)
                and isinstance(left, str | bytes)
            ):
                return left + right  # type: ignore[operator]
            return MISSING
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult) and depth < 6:
            left = self.const_value(expr.left, depth + 1)
            right = self.const_value(expr.right, depth + 1)
            if isinstance(left, str | bytes) and type(right) is int and 0 <= right <= 4096:
                return left * right
            if isinstance(right, str | bytes) and type(left) is int and 0 <= left <= 4096:
                return right * left
            return MISSING
        if isinstance(expr, ast.Name) and depth < 3:
            values = self.constants.get(expr.id)
            if values and len(values) == 1:
                return self.const_value(values[0], depth + 1)
        if isinstance(expr, ast.Call) and depth < 3:
            q = self.qualname(expr.func) or ""
            if q in ("str.encode", "bytes", "bytes.fromhex", "bytearray") or q.endswith(".encode"):
                inner: ast.AST | None = (
                    expr.func.value
                    if isinstance(expr.func, ast.Attribute) and q.endswith(".encode")
                    else (expr.args[0] if expr.args else None)
                )
                value = self.const_value(inner, depth + 1)
                if isinstance(value, str):
                    return value.encode("utf-8", "replace")
                return value
        return MISSING


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


def _is_newline(expr: ast.expr) -> bool:
    return (
        isinstance(expr, ast.Constant)
        and isinstance(expr.value, str)
        and ("\n" in expr.value or "\r" in expr.value)
    )


# ----------------------------------------------------------------------------- rule context


class RuleContext:
    """Handed to each rule call: the node plus the module facts and taint queries."""

    __slots__ = ("func", "module", "node", "scope", "stmt")

    def __init__(self, module: ModuleInfo) -> None:
        self.module = module
        self.node: ast.AST = module.tree
        self.scope: Scope = module.module_scope
        self.func: ast.FunctionDef | ast.AsyncFunctionDef | None = None
        self.stmt: ast.stmt | None = None

    @property
    def tree(self) -> ast.Module:
        return self.module.tree

    @property
    def lines(self) -> list[str]:
        return self.module.lines

    @property
    def in_route(self) -> bool:
        """The enclosing function is a web route / view / CLI command."""
        return self.scope.is_route

    @property
    def func_name(self) -> str:
        return self.func.name if self.func is not None else ""

    def qualname(self, expr: ast.AST | None) -> str | None:
        return self.module.qualname(expr)

    def call_name(self, call: ast.Call | None = None) -> str:
        """Qualified name of the called function ('' when unknown)."""
        node = call if call is not None else self.node
        if not isinstance(node, ast.Call):
            return ""
        return self.module.qualname(node.func) or ""

    def taint(self, expr: ast.AST | None) -> Taint | None:
        return self.module.taint(expr, self.scope)

    def sink(
        self,
        expr: ast.AST | None,
        kind: str,
        *,
        min_level: int = PARAM,
        built: bool = False,
    ) -> Taint | None:
        """Taint of ``expr`` if it is dangerous for a sink of ``kind``, else ``None``."""
        t = self.taint(expr)
        if t is None or t.level < min_level:
            return None
        if t.sanitized & SINK_SANITIZERS[kind]:
            return None
        if built and not t.built:
            return None
        return t

    def const(self, expr: ast.AST | None) -> object:
        return self.module.const_value(expr)

    def hit(
        self,
        node: ast.AST | None = None,
        *,
        confidence: Confidence | None = None,
        detail: str = "",
        taint: Taint | None = None,
        symbol: str | None = None,
    ) -> Hit:
        """A hit at ``node`` (default: the current node)."""
        target = node if node is not None else self.node
        line = getattr(target, "lineno", None) or getattr(self.stmt, "lineno", 1) or 1
        end = getattr(target, "end_lineno", None)
        if taint is not None:
            origin = ", ".join(sorted(taint.origins))
            detail = f"{detail} (data from: {origin})" if detail else f"data from: {origin}"
            if taint.level < USER and confidence is None:
                confidence = "medium"
        if symbol is None and isinstance(target, ast.Call):
            symbol = self.call_name(target) or None
        return Hit(line=line, confidence=confidence, detail=detail, symbol=symbol, end_line=end)


def arg(call: ast.Call, name: str | None = None, pos: int | None = None) -> ast.expr | None:
    """The argument passed as keyword ``name`` or at position ``pos`` (``None`` if absent)."""
    if name is not None:
        for kw in call.keywords:
            if kw.arg == name:
                return kw.value
    if pos is not None and pos < len(call.args):
        if any(isinstance(a, ast.Starred) for a in call.args[: pos + 1]):
            return None
        return call.args[pos]
    return None


def has_kwargs(call: ast.Call) -> bool:
    """The call passes ``**something`` (so a missing keyword may still be given)."""
    return any(kw.arg is None for kw in call.keywords)
