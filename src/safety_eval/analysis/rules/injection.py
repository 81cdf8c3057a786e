"""SE1xx: injection (OS command, SQL, NoSQL, code, reflection, LDAP, XPath, log, template)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from safety_eval.analysis.rules.common import fragments, is_truthy_const
from safety_eval.analysis.rules.context import MISSING, USER, RuleContext, arg
from safety_eval.analysis.rules.registry import Hit, rule

_SUBPROCESS = (
    "subprocess.call",
    "subprocess.run",
    "subprocess.Popen",
    "subprocess.check_call",
    "subprocess.check_output",
)
_SHELL_FUNCS = (
    "os.system",
    "os.popen",
    "os.popen2",
    "os.popen3",
    "os.popen4",
    "posix.system",
    "commands.getoutput",
    "commands.getstatusoutput",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell",
    "platform.popen",
    "pexpect.spawn",
    "pexpect.run",
    "exec_command",
)
_EXEC_FUNCS = (
    *_SUBPROCESS,
    "asyncio.create_subprocess_exec",
    "os.execv",
    "os.execvp",
    "os.execvpe",
    "os.execl",
    "os.execlp",
    "os.spawnv",
    "os.spawnvp",
    "os.spawnl",
    "os.spawnlp",
    "os.posix_spawn",
    "os.posix_spawnp",
)
_SHELLS = frozenset(
    {
        "sh",
        "bash",
        "zsh",
        "dash",
        "ksh",
        "/bin/sh",
        "/bin/bash",
        "/usr/bin/bash",
        "cmd",
        "cmd.exe",
        "powershell",
        "powershell.exe",
        "pwsh",
    }
)
_SHELL_FLAGS = frozenset({"-c", "/c", "/C", "-Command", "-command", "-lc", "-ic"})


def _command_arg(call: ast.Call) -> ast.expr | None:
    return arg(call, "args", 0) or arg(call, "cmd") or arg(call, "command")


def _shell_on(ctx: RuleContext, call: ast.Call) -> bool:
    return is_truthy_const(ctx, arg(call, "shell"))


@rule(
    id="SE101",
    cwe="CWE-78",
    severity="critical",
    keys=_SUBPROCESS,
    message="OS command injection: untrusted data reaches a subprocess command run "
    "through the shell (shell=True)",
    fix="pass an argument list without shell=True, or quote every value with shlex.quote()",
)
def subprocess_shell_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if not _shell_on(ctx, call):
        return
    taint = ctx.sink(_command_arg(call), "shell")
    if taint:
        yield ctx.hit(taint=taint)


@rule(
    id="SE102",
    cwe="CWE-78",
    severity="critical",
    keys=_SHELL_FUNCS,
    message="OS command injection: untrusted data reaches a function that runs its "
    "argument through a shell (os.system, os.popen, exec_command...)",
    fix="use subprocess.run([...]) with an argument list (no shell), or shlex.quote() values",
)
def shell_function_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if name.endswith("exec_command") and name.split(".")[0] in ("os", "subprocess"):
        return
    taint = ctx.sink(_command_arg(call), "shell")
    if taint:
        yield ctx.hit(taint=taint)


@rule(
    id="SE103",
    cwe="CWE-78",
    severity="critical",
    keys=_EXEC_FUNCS,
    message="OS command injection: untrusted data is run by an explicit shell "
    "(['sh', '-c', ...]) or chooses the program to execute",
    fix="call the program directly with fixed executable and separate arguments; never "
    "build a 'sh -c' string from input",
)
def argv_shell_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if _shell_on(ctx, call):
        return
    argv = _command_arg(call)
    if isinstance(argv, ast.List | ast.Tuple) and argv.elts:
        elts = argv.elts
    elif ctx.call_name(call).startswith("os.") or ctx.call_name(call).endswith("_exec"):
        elts = call.args[1:] if ctx.call_name(call).startswith("os.spawn") else list(call.args)
    else:
        return
    first = ctx.const(elts[0]) if elts else MISSING
    if isinstance(first, str) and first.rsplit("/", 1)[-1] in _SHELLS:
        flag = ctx.const(elts[1]) if len(elts) > 1 else MISSING
        if flag in _SHELL_FLAGS and len(elts) > 2:
            taint = ctx.sink(elts[2], "shell")
            if taint:
                yield ctx.hit(taint=taint, detail="explicit shell")
        return
    if elts:
        taint = ctx.sink(elts[0], "shell", min_level=USER)
        if taint:
            yield ctx.hit(taint=taint, detail="user-chosen executable")


def _dynamic_string(ctx: RuleContext, expr: ast.AST | None, depth: int = 0) -> bool:
    if expr is None or depth > 2:
        return False
    if isinstance(expr, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in expr.values)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Mod):
        return ctx.const(expr.left) is MISSING or ctx.const(expr.right) is MISSING
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        return expr.func.attr in ("format", "join") and bool(expr.args)
    if isinstance(expr, ast.Name):
        return any(
            _dynamic_string(ctx, value, depth + 1)
            for key, value, _aug in ctx.scope.assigns
            if key == expr.id
        )
    return False


@rule(
    id="SE104",
    cwe="CWE-77",
    severity="medium",
    confidence="low",
    keys=(*_SUBPROCESS, *_SHELL_FUNCS),
    message="Command built by string formatting is run through a shell; any unexpected "
    "character in the interpolated values changes the command",
    fix="pass an argument list without a shell, or shlex.quote() every interpolated value",
)
def dynamic_shell_command(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if name in _SUBPROCESS and not _shell_on(ctx, call):
        return
    command = _command_arg(call)
    if not _dynamic_string(ctx, command):
        return
    taint = ctx.taint(command)
    if taint is not None and ctx.sink(command, "shell"):
        return  # SE101/SE102 report it with the data flow
    if taint is not None and "shell" in taint.sanitized:
        return
    yield ctx.hit()


_SQL_WORDS = re.compile(
    r"(?i)\b(select|insert|update|delete|replace|where|from|into|values|create|drop|alter|"
    r"order\s+by|group\s+by|union|exec|call)\b"
)
_DB_RECEIVER = re.compile(
    r"(?i)(cur|cursor|conn|connection|db|database|session|engine|cnx|sql|sqlalchemy|pandas|"
    r"objects|sqlite3|psycopg|mysql|pymysql)[\w]*\.\w+$|^(sqlalchemy|django|pandas)"
)
_SQL_SINKS = (
    "execute",
    "executemany",
    "executescript",
    "mogrify",
    "raw",
    "extra",
    "exec_driver_sql",
    "read_sql",
    "read_sql_query",
    "sqlalchemy.text",
    "sqlalchemy.sql.text",
    "sqlalchemy.sql.expression.text",
    "django.db.models.expressions.RawSQL",
    "django.db.models.RawSQL",
)


def _from_sql_builder(ctx: RuleContext, query: ast.expr | None) -> bool:
    """``query`` is a name bound to ``text(...)``/``RawSQL(...)`` (reported there)."""
    if not isinstance(query, ast.Name):
        return False
    values = [v for k, v, _aug in ctx.scope.assigns if k == query.id]
    return bool(values) and all(
        isinstance(v, ast.Call) and ctx.call_name(v) in _SQL_SINKS for v in values
    )


@rule(
    id="SE110",
    cwe="CWE-89",
    severity="high",
    keys=_SQL_SINKS,
    message="SQL injection: a query built with string formatting (f-string, %, +, "
    ".format) from untrusted data is executed",
    fix="use a parameterised query: cursor.execute('... WHERE id = ?', (value,)) or bound "
    "parameters in text()",
)
def sql_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if name.endswith("extra"):
        query = arg(call, "where", 0) or arg(call, "select")
    else:
        query = arg(call, "sql", 0) or arg(call, "query") or arg(call, "statement")
    taint = ctx.sink(query, "sql", built=True)
    if taint is None or _from_sql_builder(ctx, query):
        return
    pieces = fragments(ctx, query)
    if pieces:
        if not any(_SQL_WORDS.search(p) for p in pieces):
            return
    elif not _DB_RECEIVER.search(name):
        return
    yield ctx.hit(taint=taint)


_MONGO_METHODS = (
    "find",
    "find_one",
    "find_one_and_update",
    "find_one_and_delete",
    "find_one_and_replace",
    "update_one",
    "update_many",
    "delete_one",
    "delete_many",
    "replace_one",
    "count_documents",
    "aggregate",
    "distinct",
)


def _collection_like(ctx: RuleContext, call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    receiver = func.value
    if isinstance(receiver, ast.Attribute | ast.Subscript):
        return True
    q = ctx.qualname(receiver) or ""
    if q.startswith(("pymongo", "motor", "mongoengine")):
        return True
    return isinstance(receiver, ast.Name) and bool(
        re.search(r"(?i)coll|users|db|table|docs|mongo", receiver.id)
    )


@rule(
    id="SE112",
    cwe="CWE-943",
    severity="high",
    keys=_MONGO_METHODS,
    message="NoSQL injection: untrusted JSON or code reaches a MongoDB query (operator "
    "injection such as {'$ne': null}, or $where JavaScript)",
    fix="cast each filter value to the expected type (str(), int()) and never use $where "
    "with user data",
)
def nosql_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if not _collection_like(ctx, call):
        return
    query = arg(call, "filter", 0) or arg(call, "pipeline")
    if query is None:
        return
    if isinstance(query, ast.Dict):
        for key, value in zip(query.keys, query.values, strict=False):
            if isinstance(key, ast.Constant) and key.value == "$where":
                taint = ctx.sink(value, "nosql")
                if taint:
                    yield ctx.hit(taint=taint, detail="$where")
                    return
            taint = ctx.sink(value, "nosql", min_level=USER)
            if taint and "json" in taint.origins and not taint.built:
                yield ctx.hit(taint=taint, detail="JSON value used as a filter")
                return
        return
    taint = ctx.sink(query, "nosql", min_level=USER)
    if taint and not taint.built:
        yield ctx.hit(taint=taint, detail="whole filter from the request")


@rule(
    id="SE120",
    cwe="CWE-95",
    severity="critical",
    keys=("eval", "builtins.eval"),
    message="Eval injection: untrusted data is evaluated as Python code with eval()",
    fix="parse the data instead (json.loads, ast.literal_eval for literals, int()/float())",
)
def eval_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if ctx.call_name(call) not in ("eval", "builtins.eval"):
        return
    taint = ctx.sink(arg(call, "source", 0), "code")
    if taint:
        yield ctx.hit(taint=taint)


@rule(
    id="SE121",
    cwe="CWE-94",
    severity="critical",
    keys=("exec", "compile", "builtins.exec", "builtins.compile"),
    message="Code injection: untrusted data is executed as Python code (exec/compile)",
    fix="never execute input; map allowed actions to functions in a dict instead",
)
def exec_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if ctx.call_name(call) not in ("exec", "compile", "builtins.exec", "builtins.compile"):
        return
    taint = ctx.sink(arg(call, "source", 0), "code")
    if taint:
        yield ctx.hit(taint=taint)


@rule(
    id="SE122",
    cwe="CWE-94",
    severity="medium",
    confidence="low",
    keys=("eval", "exec", "builtins.eval", "builtins.exec"),
    message="eval()/exec() on a non-constant string: whoever controls that string runs code",
    fix="use ast.literal_eval() for literals or an explicit dispatch table instead of eval/exec",
)
def dynamic_eval(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if ctx.call_name(call) not in ("eval", "exec", "builtins.eval", "builtins.exec"):
        return
    source = arg(call, "source", 0)
    if source is None or ctx.const(source) is not MISSING:
        return
    if isinstance(source, ast.Call) and ctx.call_name(source) in ("compile",):
        source = arg(source, "source", 0)
    if ctx.taint(source) is not None:
        return  # reported (or deliberately sanitised) by SE120/SE121
    yield ctx.hit()


@rule(
    id="SE123",
    cwe="CWE-470",
    severity="high",
    keys=("importlib.import_module", "__import__", "importlib.__import__", "getattr"),
    message="Unsafe reflection: user input selects the module or attribute to load/call",
    fix="map the allowed names to objects in an explicit dict and look the input up there",
)
def unsafe_reflection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    target = arg(call, "name", 1) if name == "getattr" else arg(call, "name", 0)
    taint = ctx.sink(target, "import", min_level=USER)
    if taint:
        yield ctx.hit(taint=taint)


_LDAP_FILTER_POS = {
    "search_s": ("filterstr", 2),
    "search_st": ("filterstr", 2),
    "search_ext": ("filterstr", 2),
    "search_ext_s": ("filterstr", 2),
    "search": ("search_filter", 1),
    "paged_search": ("search_filter", 1),
}


@rule(
    id="SE130",
    cwe="CWE-90",
    severity="high",
    keys=tuple(_LDAP_FILTER_POS),
    message="LDAP injection: an LDAP search filter is built from untrusted data",
    fix="escape values with ldap.filter.escape_filter_chars() (ldap3: "
    "ldap3.utils.conv.escape_filter_chars) before building the filter",
)
def ldap_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if name.startswith(("re.", "regex.")) or not isinstance(call.func, ast.Attribute):
        return
    kw, pos = _LDAP_FILTER_POS[call.func.attr]
    flt = arg(call, kw, pos)
    taint = ctx.sink(flt, "ldap", built=True)
    if taint is None:
        return
    pieces = fragments(ctx, flt)
    if not any("(" in p and "=" in p for p in pieces):
        return
    yield ctx.hit(taint=taint)


@rule(
    id="SE131",
    cwe="CWE-643",
    severity="high",
    keys=(
        "xpath",
        "lxml.etree.XPath",
        "lxml.etree.ETXPath",
        "find",
        "findall",
        "iterfind",
        "findtext",
    ),
    message="XPath injection: an XPath expression is built from untrusted data",
    fix="use XPath variables (tree.xpath('//user[@name=$name]', name=value)) instead of "
    "formatting values into the expression",
)
def xpath_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    last = name.rsplit(".", 1)[-1] if name else getattr(call.func, "attr", "")
    expr = arg(call, "_path", 0) or arg(call, "path")
    taint = ctx.sink(expr, "xpath", built=True)
    if taint is None:
        return
    pieces = fragments(ctx, expr)
    if last in ("find", "findall", "iterfind", "findtext") and not any(
        "[@" in p or p.startswith(("./", "//", ".//")) for p in pieces
    ):
        return
    yield ctx.hit(taint=taint)


_LOG_METHODS = ("debug", "info", "warning", "warn", "error", "critical", "exception", "log")


def log_call(ctx: RuleContext, call: ast.Call) -> bool:
    """``call`` writes to a logger (``logging.x``, ``logger.x``, ``app.logger.x``...)."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in _LOG_METHODS:
        return False
    name = ctx.call_name(call)
    if name.startswith("logging."):
        return True
    receiver = func.value
    text = (ctx.qualname(receiver) or "").lower()
    return "log" in text.rsplit(".", 1)[-1]


@rule(
    id="SE140",
    cwe="CWE-117",
    severity="low",
    confidence="medium",
    keys=_LOG_METHODS,
    message="Log injection: user input is written to the log without neutralising line "
    "breaks, so an attacker can forge log entries",
    fix="strip or escape CR/LF (value.replace('\\n', '\\\\n')) or log it with %r / repr()",
)
def log_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if not log_call(ctx, call):
        return
    args = call.args[1:] if getattr(call.func, "attr", "") == "log" else call.args
    for a in args:
        taint = ctx.sink(a, "log", min_level=USER)
        if taint:
            yield ctx.hit(taint=taint)
            return


_TEMPLATE_SINKS = (
    "flask.render_template_string",
    "quart.render_template_string",
    "jinja2.Template",
    "from_string",
    "django.template.Template",
    "django.template.engines.from_string",
    "mako.template.Template",
    "tornado.template.Template",
    "chevron.render",
)


@rule(
    id="SE150",
    cwe="CWE-1336",
    severity="critical",
    keys=_TEMPLATE_SINKS,
    message="Server-side template injection: untrusted data is used as template source, "
    "which lets an attacker run code in the template engine",
    fix="keep templates constant and pass data as context variables: "
    "render_template_string('Hello {{ name }}', name=value)",
)
def template_injection(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if name.endswith("from_string") and not (
        "jinja" in name
        or "template" in name.lower()
        or re.search(r"(?i)(^|\.)(env|jinja\w*|environment|templates?)\.from_string$", name)
    ):
        return
    source = arg(call, "source", 0) or arg(call, "text") or arg(call, "template")
    taint = ctx.sink(source, "template")
    if taint:
        yield ctx.hit(taint=taint)
