"""Find the imports in generated code, and the module names the snippet itself provides.

Two paths: the ``ast`` tree when the code parses (every ``Import``/``ImportFrom`` at any
depth, plus ``__import__``/``importlib.import_module`` calls with a literal name), and
line regexes in text-only mode (indented, ``;``-separated and comma-separated imports,
parenthesised and backslash-continued ``from`` imports). Nothing is ever executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from safety_eval.analysis.base import ParsedCode

ImportKind = Literal["import", "from", "dynamic"]

_IMPORT_GUARDS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_DOTTED = r"[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*"
_IMPORT_ITEM_RE = re.compile(rf"({_DOTTED})(?:\s+as\s+([A-Za-z_]\w*))?")
_FROM_ITEM_RE = re.compile(r"([A-Za-z_]\w*|\*)(?:\s+as\s+([A-Za-z_]\w*))?")
_IMPORT_STMT_RE = re.compile(r"import\s+(.+)", re.S)
_FROM_STMT_RE = re.compile(rf"from\s+(\.*)\s*({_DOTTED})?\s+import\s*(.+)", re.S)
_BLOCK_PREFIX_RE = re.compile(r"^(?:(?:try|else|finally)\s*:\s*)+")
# ``something.py`` anywhere (file markers such as ``# file: app/utils.py``, prose,
# ``python manage.py``): the stem and every directory are module names the project has.
_PY_FILE_RE = re.compile(r"(?<![\w.])((?:[A-Za-z_][\w-]*[/\\])*[A-Za-z_]\w*)\.py(?![\w])")
_SYS_MODULES_RE = re.compile(r"sys\.modules\[\s*(['\"])([A-Za-z_][\w.]*)\1\s*\]\s*=(?!=)")
_MODULE_TYPE_RE = re.compile(
    r"^[ \t]*([A-Za-z_]\w*)\s*=\s*(?:types\.)?(?:ModuleType|module_from_spec)\(", re.M
)
_DYNAMIC_IMPORTERS = frozenset({"__import__", "import_module"})


@dataclass(frozen=True)
class ImportRef:
    """One imported binding, as written."""

    module: str
    """Dotted module without leading dots (``""`` for ``from . import x``)."""
    line: int
    kind: ImportKind
    level: int = 0
    """Relative-import level (number of leading dots); 0 for absolute imports."""
    name: str | None = None
    """For ``from m import name``: the imported name (``*`` for a star import)."""
    asname: str | None = None
    guarded: bool = False
    """Inside ``try`` with an ``except ImportError`` (or broader) handler."""

    @property
    def is_relative(self) -> bool:
        return self.level > 0

    @property
    def top_level(self) -> str:
        return self.module.split(".")[0]

    @property
    def display(self) -> str:
        return "." * self.level + self.module

    @property
    def bound_name(self) -> str | None:
        """The local name the import binds (None for dynamic and star imports)."""
        if self.kind == "import":
            return self.asname or self.top_level
        if self.kind == "from" and self.name != "*":
            return self.asname or self.name
        return None


def extract_imports(code: str | ParsedCode | ast.AST) -> list[ImportRef]:
    """Every import in ``code``, in source order.

    A string is parsed with ``ast`` and falls back to the text regexes when it does not
    parse; a :class:`ParsedCode` without a tree uses the regexes directly.
    """
    if isinstance(code, ParsedCode):
        if code.tree is None:
            return extract_imports_text(code.text)
        refs = extract_imports_ast(code.tree)
        if code.mode == "recovered":
            refs = _with_blanked_lines(refs, code.tree, code.text)
        return refs
    if isinstance(code, ast.AST):
        return extract_imports_ast(code)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return extract_imports_text(code)
    return extract_imports_ast(tree)


def _with_blanked_lines(refs: list[ImportRef], tree: ast.AST, text: str) -> list[ImportRef]:
    """Recovered code: add the imports the text regexes see on lines the repair blanked
    (not on a line the tree has an import on, nor inside a multi-line string)."""
    seen = {ref.line for ref in refs}
    for node in ast.walk(tree):
        end = getattr(node, "end_lineno", None)
        if isinstance(node, ast.Constant | ast.JoinedStr) and end and end > node.lineno:
            seen.update(range(node.lineno, end + 1))
    extra = [ref for ref in extract_imports_text(text) if ref.line not in seen]
    return sorted([*refs, *extra], key=lambda ref: ref.line)


# -- AST ----------------------------------------------------------------------------------


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for node in types:
        name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
        if name in _IMPORT_GUARDS:
            return True
    return False


def _dynamic_import(node: ast.Call) -> tuple[str, int] | None:
    """``__import__("x")`` / ``importlib.import_module("x")`` with a literal name."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called not in _DYNAMIC_IMPORTERS or not node.args:
        return None
    first = node.args[0]
    if not isinstance(first, ast.Constant) or not isinstance(first.value, str):
        return None
    target = first.value.strip()
    module = target.lstrip(".")
    if not module or not all(part.isidentifier() for part in module.split(".")):
        return None
    return module, len(target) - len(module)


def extract_imports_ast(tree: ast.AST) -> list[ImportRef]:
    """Imports anywhere in the tree (iterative walk: deep nesting is fine)."""
    nodes = list(ast.walk(tree))
    guarded: set[int] = set()
    for node in nodes:
        if (
            isinstance(node, ast.Try | ast.TryStar)
            and node.body
            and any(_catches_import_error(handler) for handler in node.handlers)
        ):
            last = node.body[-1].end_lineno or node.body[-1].lineno
            guarded.update(range(node.body[0].lineno, last + 1))
    refs: list[ImportRef] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            refs.extend(
                ImportRef(
                    module=alias.name,
                    line=node.lineno,
                    kind="import",
                    asname=alias.asname,
                    guarded=node.lineno in guarded,
                )
                for alias in node.names
            )
        elif isinstance(node, ast.ImportFrom):
            refs.extend(
                ImportRef(
                    module=node.module or "",
                    line=node.lineno,
                    kind="from",
                    level=node.level or 0,
                    name=alias.name,
                    asname=alias.asname,
                    guarded=node.lineno in guarded,
                )
                for alias in node.names
            )
        elif isinstance(node, ast.Call):
            dynamic = _dynamic_import(node)
            if dynamic is not None:
                refs.append(
                    ImportRef(
                        module=dynamic[0],
                        line=node.lineno,
                        kind="dynamic",
                        level=dynamic[1],
                        guarded=node.lineno in guarded,
                    )
                )
    return sorted(refs, key=lambda ref: ref.line)


# -- text-only mode -----------------------------------------------------------------------


def _strip_comment(line: str) -> str:
    """The line up to a ``#`` that is not inside a quoted string."""
    quote: str | None = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:i]
    return line


_SIMPLE_STRING_RE = re.compile(r"""(['"])(?:\\.|(?!\1).)*\1""")


def blank_strings(statement: str) -> str:
    """The statement with the contents of one-line string literals blanked out."""
    return _SIMPLE_STRING_RE.sub(lambda m: " " * len(m.group(0)), statement)


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, statement text) with comments stripped, backslash and
    open-parenthesis continuations joined, and lines inside triple-quoted strings
    skipped (approximately: a line with an odd number of triple quotes toggles)."""
    lines = text.splitlines()
    in_string = False
    i = 0
    while i < len(lines):
        raw = lines[i]
        triples = raw.count('"""') + raw.count("'''")
        if in_string:
            in_string = triples % 2 == 0
            i += 1
            continue
        if triples % 2 == 1:
            in_string = True
            i += 1
            continue
        start = i
        statement = _strip_comment(raw)
        while i + 1 < len(lines) and (
            statement.rstrip().endswith("\\") or (_open_parens(statement) > 0 and i - start < 50)
        ):
            i += 1
            statement = statement.rstrip().rstrip("\\") + " " + _strip_comment(lines[i])
        i += 1
        yield start + 1, statement


def _open_parens(statement: str) -> int:
    code = blank_strings(statement)
    return code.count("(") - code.count(")")


def extract_imports_text(text: str) -> list[ImportRef]:
    """Imports found by regexes, for code that does not parse."""
    refs: list[ImportRef] = []
    for line, statement in logical_lines(text):
        for part in statement.split(";"):
            stmt = _BLOCK_PREFIX_RE.sub("", part.strip())
            refs.extend(_parse_import_statement(stmt, line))
    return refs


def _parse_import_statement(stmt: str, line: int) -> list[ImportRef]:
    match = _IMPORT_STMT_RE.fullmatch(stmt)
    if match:
        items = [item.strip() for item in match.group(1).split(",")]
        parsed = [_IMPORT_ITEM_RE.fullmatch(item) for item in items]
        if not items or not all(parsed):  # prose such as "import the module"
            return []
        return [
            ImportRef(
                module=re.sub(r"\s+", "", m.group(1)), line=line, kind="import", asname=m.group(2)
            )
            for m in parsed
            if m is not None
        ]
    match = _FROM_STMT_RE.fullmatch(stmt)
    if not match:
        return []
    dots, module, body = match.group(1), match.group(2), match.group(3).strip()
    if not dots and not module:
        return []
    if body.startswith("("):
        body = body[1:].rstrip().removesuffix(")")
    items = [item.strip() for item in body.split(",") if item.strip()]
    parsed = [_FROM_ITEM_RE.fullmatch(item) for item in items]
    if not items or not all(parsed):
        return []
    return [
        ImportRef(
            module=re.sub(r"\s+", "", module or ""),
            line=line,
            kind="from",
            level=len(dots),
            name=m.group(1),
            asname=m.group(2),
        )
        for m in parsed
        if m is not None
    ]


# -- what the snippet provides itself ------------------------------------------------------


def find_local_modules(
    text: str, tree: ast.AST | None = None, refs: list[ImportRef] | None = None
) -> frozenset[str]:
    """Module names the snippet's own project provides.

    * files named in the text (``# file: utils.py``, ``app/models.py``, ``python main.py``):
      the stem, every directory, and the dotted path;
    * the names relative imports reveal (``from .models import x`` -> ``models``,
      ``from . import utils`` -> ``utils``);
    * modules the snippet creates (``sys.modules["name"] = ...``,
      ``name = types.ModuleType(...)``).
    """
    local: set[str] = set()
    for match in _PY_FILE_RE.finditer(text):
        parts = [part for part in re.split(r"[/\\]", match.group(1)) if part]
        if parts and parts[-1] == "__init__":
            parts = parts[:-1]
        parts = [part for part in parts if part.isidentifier()]
        local.update(parts)
        for end in range(2, len(parts) + 1):
            local.add(".".join(parts[:end]))
    for match in _SYS_MODULES_RE.finditer(text):
        local.add(match.group(2))
        local.add(match.group(2).split(".")[0])
    local.update(match.group(1) for match in _MODULE_TYPE_RE.finditer(text))
    if refs is None:
        refs = extract_imports(tree) if tree is not None else extract_imports_text(text)
    for ref in refs:
        if ref.level == 0:
            continue
        parts = [part for part in ref.module.split(".") if part]
        local.update(parts)
        if ref.kind == "from" and ref.name and ref.name != "*" and not ref.module:
            local.add(ref.name)
    return frozenset(local)


def modifies_sys_path(text: str) -> bool:
    """The snippet changes the import path (imports may then be local files)."""
    return bool(re.search(r"sys\.path\.(?:insert|append|extend)\s*\(|sys\.path\s*\+?=", text))
