"""Hallucinated standard-library APIs: attributes that do not exist (``os.fakefunc``,
``hashlib.sha999``, ``json.parse``, ``from json import parse``, ``import os.fakemod``) and
keyword arguments a stdlib callable does not take (``os.makedirs(p, exists_ok=True)``).

The *generated* code is never run. The stdlib modules it names are imported into this
process (lazily, by their real names, only when they are in ``sys.stdlib_module_names``
and not in :data:`~known.SIDE_EFFECT_MODULES`) and inspected with ``getattr``,
``importlib.util.find_spec`` and ``inspect.signature``. Results reflect this
interpreter's stdlib; attributes and keywords known to exist only on other platforms or
newer Pythons are never reported.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import importlib
import importlib.util
import inspect
import re
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from safety_eval.analysis.hallucination.imports import ImportRef, blank_strings, logical_lines
from safety_eval.analysis.hallucination.known import (
    NEWER_KEYWORDS,
    PLATFORM_ATTRIBUTE_PREFIXES,
    PLATFORM_OR_NEWER_ATTRIBUTES,
    SIDE_EFFECT_MODULES,
)

ApiRule = Literal["HAL010", "HAL011"]
_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
_MISSING = object()


@dataclass(frozen=True)
class ApiIssue:
    rule: ApiRule
    symbol: str
    line: int
    message: str
    confidence: Literal["high", "medium", "low"]


@dataclass(frozen=True)
class _Lookup:
    """Result of walking ``module.attr.attr``: the object, or the first missing symbol."""

    found: bool
    obj: object = None
    missing: str | None = None
    through_class: bool = False


_UNKNOWN = _Lookup(found=False)


def is_checkable_stdlib(module: str) -> bool:
    """A stdlib module that may be imported for inspection (no side effects)."""
    parts = module.split(".")
    if parts[0] not in sys.stdlib_module_names:
        return False
    return not any(part in SIDE_EFFECT_MODULES or part == "__main__" for part in parts)


@functools.lru_cache(maxsize=1024)
def load_stdlib_module(module: str) -> ModuleType | None:
    """The stdlib module, imported lazily; None when not checkable or not importable here."""
    if not is_checkable_stdlib(module):
        return None
    loaded = sys.modules.get(module)
    if loaded is not None:
        return loaded
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except Exception:  # platform-specific (msvcrt, winreg ...) or broken: cannot check
        return None


def stdlib_submodule_exists(module: str) -> bool | None:
    """Whether ``pkg.sub`` exists (``find_spec``; the child is not executed). None when
    the parent cannot be inspected."""
    parent_name, _, _ = module.rpartition(".")
    if not parent_name or not is_checkable_stdlib(module):
        return None
    parent = load_stdlib_module(parent_name)
    if parent is None:
        return None
    if module in sys.modules:
        return True
    if not hasattr(parent, "__path__"):  # a plain module has no submodules (os.path aside)
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def lookup(module: str, attrs: Sequence[str]) -> _Lookup:
    """Walk ``module.attrs[0].attrs[1]...`` through modules and classes only."""
    obj: object = load_stdlib_module(module)
    if obj is None:
        return _UNKNOWN
    qualified = module
    through_class = False
    for attr in attrs:
        symbol = f"{qualified}.{attr}"
        if symbol in PLATFORM_OR_NEWER_ATTRIBUTES or symbol.startswith(PLATFORM_ATTRIBUTE_PREFIXES):
            return _UNKNOWN
        if isinstance(obj, ModuleType):
            try:
                value = getattr(obj, attr, _MISSING)
            except Exception:  # a module __getattr__ that fails: cannot tell
                return _UNKNOWN
            if value is _MISSING:
                real_child = f"{obj.__name__}.{attr}"
                exists = stdlib_submodule_exists(real_child)
                if exists is None:
                    return _UNKNOWN
                if not exists:
                    return _Lookup(found=False, missing=symbol)
                value = load_stdlib_module(real_child)
                if value is None:
                    return _UNKNOWN
            obj = value
        elif isinstance(obj, type):
            try:
                value = getattr(obj, attr, _MISSING)
            except Exception:
                return _UNKNOWN
            if value is _MISSING:
                return _Lookup(found=False, missing=symbol, through_class=True)
            through_class = True
            obj = value
        else:  # a function, constant or instance: its attributes are not checked
            return _UNKNOWN
        qualified = symbol
    return _Lookup(found=True, obj=obj, through_class=through_class)


def _missing_message(symbol: str) -> str:
    owner, _, attr = symbol.rpartition(".")
    options: list[str] = []
    found = lookup(owner.split(".")[0], owner.split(".")[1:])
    if found.found:
        options = [name for name in dir(found.obj) if not name.startswith("_")]
    return (
        f"'{symbol}' does not exist in the Python {_PYTHON} standard library"
        f"{_suggest(attr, options)}: a hallucinated API"
    )


def _signature(obj: object) -> inspect.Signature | None:
    if not callable(obj):
        return None
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def keyword_names(obj: object) -> frozenset[str] | None:
    """The keyword arguments stdlib callable ``obj`` accepts; None when its signature
    cannot be had or it takes ``**kwargs`` (anything goes)."""
    signature = _signature(obj)
    if signature is None:
        return None
    params = list(signature.parameters.values())
    if any(param.kind is inspect.Parameter.VAR_KEYWORD for param in params):
        return None
    return frozenset(
        param.name
        for param in params
        if param.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )


def check_keywords(
    obj: object, qualified: str, keywords: Iterable[str], line: int
) -> Iterator[ApiIssue]:
    """HAL011 for each keyword ``obj`` does not take."""
    valid = keyword_names(obj)
    signature = _signature(obj)
    if valid is None or signature is None:
        return
    allowed = valid | NEWER_KEYWORDS.get(qualified, frozenset())
    positional_only = {
        param.name
        for param in signature.parameters.values()
        if param.kind is inspect.Parameter.POSITIONAL_ONLY
    }
    for keyword in keywords:
        if keyword in allowed:
            continue
        if keyword in positional_only:
            why = f"'{keyword}' is positional-only, so passing it by keyword is a TypeError"
        else:
            why = (
                f"it takes no keyword argument '{keyword}'{_suggest(keyword, valid)}: a "
                "hallucinated parameter (TypeError when called)"
            )
        yield ApiIssue(
            rule="HAL011",
            symbol=f"{qualified}({keyword}=)",
            line=line,
            message=f"'{qualified}()': {why}",
            confidence="high",
        )


# -- imports ------------------------------------------------------------------------------


def _import_target(ref: ImportRef) -> tuple[str, list[str]] | None:
    """What a stdlib import binds: (module, attribute path)."""
    if ref.level or not ref.module or not is_checkable_stdlib(ref.module):
        return None
    if ref.kind == "import":
        return (ref.module, []) if ref.asname else (ref.top_level, [])
    if ref.kind == "from" and ref.name and ref.name != "*":
        return ref.module, [ref.name]
    return None


def check_imports(refs: Iterable[ImportRef]) -> Iterator[ApiIssue]:
    """``import os.fakemod``, ``from json import parse``, ``from os.fake import x``."""
    for ref in refs:
        if ref.level or not ref.module or not is_checkable_stdlib(ref.module):
            continue
        parts = ref.module.split(".")
        if load_stdlib_module(parts[0]) is None:
            continue
        module_ok = True
        for end in range(2, len(parts) + 1):
            found = lookup(parts[0], parts[1:end])
            if not found.found:
                if found.missing:
                    yield ApiIssue(
                        "HAL010", found.missing, ref.line, _missing_message(found.missing), "high"
                    )
                module_ok = False
                break
        if module_ok and ref.kind == "from" and ref.name and ref.name != "*":
            found = lookup(ref.module, [ref.name])
            if found.missing:
                yield ApiIssue(
                    "HAL010", found.missing, ref.line, _missing_message(found.missing), "high"
                )


# -- uses in a syntax tree ----------------------------------------------------------------


class _Bindings:
    """Which names are stdlib module/attribute aliases everywhere in the module."""

    def __init__(self, tree: ast.AST, refs: Sequence[ImportRef]) -> None:
        other: Counter[str] = Counter()
        assigned_calls: dict[str, ast.Call] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                other[node.id] += 1
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                other[node.name] += 1
            elif isinstance(node, ast.arg):
                other[node.arg] += 1
            elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
                other[node.name] += 1
            elif isinstance(node, ast.MatchMapping) and node.rest:
                other[node.rest] += 1
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
            ):
                assigned_calls[node.targets[0].id] = node.value
        targets: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
        imported: set[str] = set()
        self.star_import = False
        for ref in refs:
            if ref.kind == "from" and ref.name == "*":
                self.star_import = True
            bound = ref.bound_name
            if bound is None:
                continue
            imported.add(bound)
            target = _import_target(ref)
            key = (target[0], tuple(target[1])) if target else ("", ())
            targets.setdefault(bound, set()).add(key)
        self.aliases: dict[str, tuple[str, list[str]]] = {}
        for name, options in targets.items():
            if len(options) == 1 and not other[name]:
                module, attrs = next(iter(options))
                if module:
                    self.aliases[name] = (module, list(attrs))
        self.bound = set(other) | imported
        self.instances: dict[str, type] = {}
        for name, call in assigned_calls.items():
            if other[name] == 1 and name not in imported:
                cls = self.resolve(call.func)
                if cls.found and isinstance(cls.obj, type):
                    self.instances[name] = cls.obj

    def chain(self, node: ast.expr) -> tuple[ast.expr, list[str]]:
        attrs: list[str] = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        attrs.reverse()
        return node, attrs

    def qualified(self, node: ast.expr) -> str | None:
        root, attrs = self.chain(node)
        if isinstance(root, ast.Name) and root.id in self.aliases:
            module, pre = self.aliases[root.id]
            return ".".join([module, *pre, *attrs])
        if isinstance(root, ast.Name) and not attrs and self.is_builtin(root.id):
            return root.id
        return None

    def is_builtin(self, name: str) -> bool:
        return not self.star_import and name not in self.bound and hasattr(builtins, name)

    def resolve(self, node: ast.expr) -> _Lookup:
        root, attrs = self.chain(node)
        if isinstance(root, ast.Name) and root.id in self.aliases:
            module, pre = self.aliases[root.id]
            return lookup(module, [*pre, *attrs])
        if isinstance(root, ast.Name) and not attrs and self.is_builtin(root.id):
            return _Lookup(found=True, obj=getattr(builtins, root.id))
        return _UNKNOWN

    def method(self, node: ast.expr) -> tuple[object, str] | None:
        """``Path(p).mkdir`` or ``p.mkdir`` with ``p = Path(...)``: the method on the
        stdlib class and its qualified name (instance attributes are not checked)."""
        if not isinstance(node, ast.Attribute):
            return None
        root, attrs = self.chain(node)
        cls: object = None
        if isinstance(root, ast.Call):
            found = self.resolve(root.func)
            cls = found.obj if found.found else None
        elif isinstance(root, ast.Name):
            cls = self.instances.get(root.id)
        if not isinstance(cls, type) or len(attrs) != 1:
            return None
        method = getattr(cls, attrs[0], None)
        if method is None or not (inspect.isfunction(method) or inspect.ismethoddescriptor(method)):
            return None
        return method, f"{cls.__module__}.{cls.__qualname__}.{attrs[0]}"


_GUARD_EXCEPTIONS = frozenset(
    {"AttributeError", "ImportError", "ModuleNotFoundError", "NameError", "TypeError"}
    | {"Exception", "BaseException", "OSError", "NotImplementedError"}
)
_GUARD_NAME_RE = re.compile(
    r"(?i)^(?:PY\d*|IS_?(?:WIN|WINDOWS|MAC|MACOS|DARWIN|LINUX|POSIX|PY\d*)\w*|"
    r"WIN(?:DOWS)?|MAC(?:OS)?|LINUX|POSIX|ON_\w+|HAS_\w+)$"
)


def _is_guard_test(test: ast.expr) -> bool:
    """``if`` tests that select code by platform, version or feature presence."""
    for node in ast.walk(test):
        if isinstance(node, ast.Attribute) and node.attr in {
            "platform",
            "version_info",
            "name",
            "TYPE_CHECKING",
        }:
            return True
        if isinstance(node, ast.Name) and (
            node.id in {"hasattr", "getattr", "platform", "TYPE_CHECKING"}
            or _GUARD_NAME_RE.match(node.id)
        ):
            return True
    return False


def guarded_lines(tree: ast.AST) -> set[int]:
    """Lines under a platform/version/feature test or inside a ``try`` whose handlers
    catch AttributeError, ImportError, TypeError (or broader): code written to cope with
    an API being absent, where a missing attribute is not a hallucination."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try | ast.TryStar):
            catches = False
            for handler in node.handlers:
                if handler.type is None:
                    catches = True
                    continue
                types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                for kind in types:
                    name = kind.attr if isinstance(kind, ast.Attribute) else getattr(kind, "id", "")
                    catches = catches or name in _GUARD_EXCEPTIONS
            if catches and node.body:
                lines.update(range(node.body[0].lineno, (node.body[-1].end_lineno or 0) + 1))
        elif isinstance(node, ast.If | ast.IfExp | ast.While) and _is_guard_test(node.test):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _is_private(symbol: str) -> bool:
    return any(part.startswith("_") for part in re.split(r"[.(]", symbol) if part)


def check_tree(tree: ast.AST, refs: Sequence[ImportRef]) -> list[ApiIssue]:
    """HAL010/HAL011 for every stdlib import, attribute use and call in ``tree``; code
    under platform/version/feature guards and private names (``_x``) are not reported."""
    guarded = guarded_lines(tree)
    return [
        issue
        for issue in _check_tree(tree, refs)
        if issue.line not in guarded and not _is_private(issue.symbol)
    ]


def _check_tree(tree: ast.AST, refs: Sequence[ImportRef]) -> list[ApiIssue]:
    issues = list(check_imports(refs))
    bindings = _Bindings(tree, refs)
    inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            value = node.value
            while isinstance(value, ast.Attribute):
                inner.add(id(value))
                value = value.value
            target: ast.expr = node
            if not isinstance(node.ctx, ast.Load):  # ``os.x = 1`` creates the attribute
                target = node.value
                if not isinstance(target, ast.Attribute):
                    continue
            found = bindings.resolve(target)
            if found.missing:
                issues.append(
                    ApiIssue(
                        "HAL010",
                        found.missing,
                        node.lineno,
                        _missing_message(found.missing),
                        "medium" if found.through_class else "high",
                    )
                )
        if isinstance(node, ast.Call):
            keywords = [kw.arg for kw in node.keywords if kw.arg is not None]
            if not keywords:
                continue
            found = bindings.resolve(node.func)
            qualified = bindings.qualified(node.func)
            obj: object = found.obj if found.found else None
            if obj is None:
                method = bindings.method(node.func)
                if method is not None:
                    obj, qualified = method
            if obj is None or qualified is None:
                continue
            issues.extend(check_keywords(obj, qualified, keywords, node.lineno))
    return issues


# -- uses in text (code that does not parse) ---------------------------------------------


def check_text(text: str, refs: Sequence[ImportRef]) -> list[ApiIssue]:
    """HAL010 by regex for code without a syntax tree: imports, and ``alias.attr`` uses
    of stdlib aliases (medium confidence; keywords are not checked)."""
    issues = [issue for issue in check_imports(refs) if not _is_private(issue.symbol)]
    targets: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
    for ref in refs:
        bound = ref.bound_name
        if bound is None:
            continue
        target = _import_target(ref)
        targets.setdefault(bound, set()).add((target[0], tuple(target[1])) if target else ("", ()))
    aliases = {
        name: (next(iter(options))[0], list(next(iter(options))[1]))
        for name, options in targets.items()
        if len(options) == 1 and next(iter(options))[0]
    }
    if not aliases:
        return issues
    pattern = re.compile(
        r"(?<![\w.])(" + "|".join(re.escape(name) for name in aliases) + r")"
        r"((?:\s*\.\s*[A-Za-z_]\w*)+)(?P<assign>\s*=(?!=))?"
    )
    for line, statement in logical_lines(text):
        if re.match(r"\s*(?:import|from)\s", statement):
            continue
        for match in pattern.finditer(blank_strings(statement)):
            module, pre = aliases[match.group(1)]
            attrs = [part.strip() for part in match.group(2).split(".") if part.strip()]
            if match.group("assign"):
                attrs = attrs[:-1]
            found = lookup(module, [*pre, *attrs])
            if found.missing and not _is_private(found.missing):
                issues.append(
                    ApiIssue(
                        "HAL010", found.missing, line, _missing_message(found.missing), "medium"
                    )
                )
    return issues
