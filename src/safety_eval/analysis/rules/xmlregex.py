"""SE8xx: XML parsers (XXE, entity expansion), regular expressions (ReDoS) and
unbounded resource use driven by requests."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from safety_eval.analysis.rules.context import USER, RuleContext, Taint, arg
from safety_eval.analysis.rules.patterns import (
    AllOf,
    AnyOf,
    Arg,
    CallIs,
    CallPattern,
    Is,
    Missing,
    Q,
    Tainted,
    register_call_patterns,
)
from safety_eval.analysis.rules.registry import Hit, rule

XML_PATTERNS: list[CallPattern] = [
    CallPattern(
        id="SE801",
        cwe="CWE-611",
        severity="high",
        confidence="medium",
        calls=("lxml.etree.XMLParser", "*.setFeature"),
        when=(
            AnyOf(
                (
                    Is(Arg("resolve_entities"), (True,)),
                    Is(Arg("no_network"), (False,)),
                    AllOf((CallIs(("lxml.etree.XMLParser",)), Missing(Arg("resolve_entities")))),
                    AllOf(
                        (
                            Is(
                                Arg(pos=0),
                                (
                                    Q("xml.sax.handler.feature_external_ges"),
                                    Q("xml.sax.handler.feature_external_pes"),
                                    Q("feature_external_ges"),
                                    Q("feature_external_pes"),
                                ),
                            ),
                            Is(Arg(pos=1), (True, 1)),
                        )
                    ),
                )
            ),
        ),
        message="XML external entities enabled (resolve_entities=True / no_network=False / "
        "feature_external_ges): a crafted document can read local files or reach "
        "internal hosts (XXE)",
        fix="use defusedxml, or lxml.etree.XMLParser(resolve_entities=False, no_network=True, "
        "load_dtd=False)",
    ),
    CallPattern(
        id="SE802",
        cwe="CWE-611",
        severity="high",
        confidence="medium",
        calls=(
            "lxml.etree.fromstring",
            "lxml.etree.XML",
            "lxml.etree.parse",
            "lxml.etree.iterparse",
            "lxml.objectify.fromstring",
            "lxml.objectify.parse",
        ),
        when=(Tainted(Arg(pos=0), "xml"), Missing(Arg("parser", 1))),
        message="Untrusted XML parsed with lxml's default parser, which expands entities and "
        "loads DTDs (XXE / entity expansion)",
        fix="parse with defusedxml.lxml or pass parser=etree.XMLParser(resolve_entities=False, "
        "no_network=True)",
    ),
    CallPattern(
        id="SE803",
        cwe="CWE-776",
        severity="medium",
        calls=(
            "xml.etree.ElementTree.fromstring",
            "xml.etree.ElementTree.parse",
            "xml.etree.ElementTree.XML",
            "xml.etree.ElementTree.iterparse",
            "xml.etree.ElementTree.fromstringlist",
            "xml.etree.cElementTree.fromstring",
            "xml.etree.cElementTree.parse",
            "xml.dom.minidom.parseString",
            "xml.dom.minidom.parse",
            "xml.dom.pulldom.parseString",
            "xml.dom.pulldom.parse",
            "xml.sax.parseString",
            "xml.sax.parse",
            "xmltodict.parse",
        ),
        when=(Tainted(Arg(pos=0), "xml"),),
        message="Untrusted XML parsed with the standard library parser, which is open to "
        "entity-expansion attacks (billion laughs) and, with some options, external "
        "entities",
        fix="parse untrusted XML with defusedxml (defusedxml.ElementTree.fromstring)",
    ),
    CallPattern(
        id="SE807",
        cwe="CWE-409",
        severity="medium",
        calls=("zlib.decompress", "gzip.decompress", "bz2.decompress", "lzma.decompress"),
        when=(Tainted(Arg(pos=0), "size", min_level=USER),),
        message="Untrusted compressed data is decompressed in one call with no output limit "
        "(decompression bomb)",
        fix="use zlib.decompressobj().decompress(data, max_length) (or stream with a size cap) "
        "and reject oversized output",
    ),
]
register_call_patterns(XML_PATTERNS)

# --------------------------------------------------------------------------- ReDoS

_REGEX_FUNCS = tuple(
    f"{mod}.{fn}"
    for mod in ("re", "regex")
    for fn in (
        "compile",
        "match",
        "search",
        "fullmatch",
        "findall",
        "finditer",
        "sub",
        "subn",
        "split",
    )
)

try:  # the regex *parser* only: patterns are analysed, never compiled or matched
    _sre_parse: Any = importlib.import_module("re._parser")
    _sre_const: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - Python < 3.11
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _sre_parse = importlib.import_module("sre_parse")
        _sre_const = importlib.import_module("sre_constants")

_MAXREPEAT = int(_sre_const.MAXREPEAT)
_VERBOSE = 64  # re.VERBOSE
_ALL = (1 << 128) - 1
_DIGITS = sum(1 << c for c in range(48, 58))
_WORD = (
    _DIGITS | sum(1 << c for c in range(65, 91)) | sum(1 << c for c in range(97, 123)) | (1 << 95)
)
_SPACE = sum(1 << c for c in (9, 10, 11, 12, 13, 32))
_CATEGORIES = {
    "CATEGORY_DIGIT": _DIGITS,
    "CATEGORY_NOT_DIGIT": _ALL & ~_DIGITS,
    "CATEGORY_WORD": _WORD,
    "CATEGORY_NOT_WORD": _ALL & ~_WORD,
    "CATEGORY_SPACE": _SPACE,
    "CATEGORY_NOT_SPACE": _ALL & ~_SPACE,
}


def _bit(c: int) -> int:
    return 1 << c if c < 128 else 1 << 127


def _chars(op: Any, av: Any) -> int:
    """Approximate set (bitmask over ASCII) of characters an item can consume."""
    name = str(op)
    if name == "LITERAL":
        return _bit(av)
    if name == "NOT_LITERAL":
        return _ALL & ~_bit(av)
    if name == "ANY":
        return _ALL
    if name == "IN":
        mask = 0
        negate = False
        for sop, sav in av:
            sname = str(sop)
            if sname == "NEGATE":
                negate = True
            elif sname == "LITERAL":
                mask |= _bit(sav)
            elif sname == "RANGE":
                lo, hi = sav
                for c in range(lo, min(hi, 127) + 1):
                    mask |= 1 << c
            elif sname == "CATEGORY":
                mask |= _CATEGORIES.get(str(sav), _ALL)
            else:
                mask |= _ALL
        return (_ALL & ~mask) if negate else mask
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return _seq_chars(av[2])
    if name == "SUBPATTERN":
        return _seq_chars(av[-1])
    if name == "ATOMIC_GROUP":
        return _seq_chars(av)
    if name == "BRANCH":
        out = 0
        for b in av[1]:
            out |= _seq_chars(b)
        return out
    if name == "GROUPREF":
        return _ALL
    return 0


def _seq_chars(seq: Any) -> int:
    out = 0
    for op, av in seq:
        out |= _chars(op, av)
    return out


def _nullable(op: Any, av: Any) -> bool:
    name = str(op)
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return av[0] == 0 or all(_nullable(o, a) for o, a in av[2])
    if name == "SUBPATTERN":
        return all(_nullable(o, a) for o, a in av[-1])
    if name == "BRANCH":
        return any(all(_nullable(o, a) for o, a in b) for b in av[1])
    return name in ("AT", "ASSERT", "ASSERT_NOT")


def _unbounded(op: Any, av: Any) -> bool:
    name = str(op)
    if name in ("MAX_REPEAT", "MIN_REPEAT"):
        return av[1] == _MAXREPEAT or any(_unbounded(o, a) for o, a in av[2])
    if name == "SUBPATTERN":
        return any(_unbounded(o, a) for o, a in av[-1])
    if name == "BRANCH":
        return any(_unbounded(o, a) for b in av[1] for o, a in b)
    return False


def _flatten(seq: Any) -> list[tuple[Any, Any]]:
    items = list(seq)
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN":
        items = list(items[0][1][-1])
    return items


def _ambiguous_body(seq: Any) -> bool:
    items = _flatten(seq)
    for i, (op, av) in enumerate(items):
        if not _unbounded(op, av):
            continue
        inner = _chars(op, av)
        rest = items[:i] + items[i + 1 :]
        if any(str(o) == "AT" for o, _a in rest):
            continue  # an anchor between repetitions leaves one way to split the input
        if all(_nullable(o, a) for o, a in rest):
            return True
        if any(_chars(o, a) & inner for o, a in rest if not _nullable(o, a)):
            return True
    if len(items) == 1 and str(items[0][0]) == "BRANCH":
        branches = items[0][1][1]
        firsts = [_seq_chars(b[:1]) for b in branches]
        for x in range(len(firsts)):
            for y in range(x + 1, len(firsts)):
                if firsts[x] & firsts[y]:
                    return True
    return False


def _find_redos(seq: Any, depth: int = 0) -> bool:
    if depth > 20:
        return False
    for op, av in seq:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            if av[1] == _MAXREPEAT and _ambiguous_body(av[2]):
                return True
            if _find_redos(av[2], depth + 1):
                return True
        elif name == "SUBPATTERN":
            if _find_redos(av[-1], depth + 1):
                return True
        elif name == "BRANCH":
            if any(_find_redos(b, depth + 1) for b in av[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT") and _find_redos(av[1], depth + 1):
            return True
    return False


@lru_cache(maxsize=512)
def redos_prone(pattern: str, verbose: bool = False) -> bool:
    """A nested or overlapping unbounded quantifier (``(a+)+``, ``(\\w+\\s?)+``, ``(a|a)*``)."""
    if len(pattern) > 2000:
        return False
    try:
        parsed = _sre_parse.parse(pattern, _VERBOSE if verbose else 0)
    except Exception:  # an invalid pattern is not our finding
        return False
    return _find_redos(list(parsed))


@rule(
    id="SE804",
    cwe="CWE-1333",
    severity="medium",
    keys=_REGEX_FUNCS,
    message="Regular expression with nested/overlapping quantifiers can take exponential "
    "time on crafted input (ReDoS)",
    fix="remove the nested quantifier (e.g. (\\w+\\s?)+ -> [\\w\\s]+), bound repetitions, or "
    "use an atomic group / the re2 engine",
)
def redos_literal(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    pattern = ctx.const(arg(call, "pattern", 0))
    verbose = any(
        isinstance(n, ast.Attribute | ast.Name)
        and getattr(n, "attr", getattr(n, "id", "")) in ("VERBOSE", "X")
        for a in [*call.args[1:], *(k.value for k in call.keywords)]
        for n in ast.walk(a)
    )
    if isinstance(pattern, str) and redos_prone(pattern, verbose):
        yield ctx.hit(detail=repr(pattern)[:60])


@rule(
    id="SE805",
    cwe="CWE-1333",
    severity="medium",
    keys=_REGEX_FUNCS,
    message="Regular expression built from user input: a crafted pattern can hang the "
    "process (ReDoS) or match more than intended",
    fix="re.escape() user input before putting it in a pattern, or match it literally "
    "(str.find / 'in')",
)
def user_regex(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    taint = ctx.sink(arg(call, "pattern", 0), "regex", min_level=USER)
    if taint:
        yield ctx.hit(taint=taint)


# --------------------------------------------------------------------------- resources


def _limit_configured(ctx: RuleContext) -> bool:
    return any(
        "MAX_CONTENT_LENGTH" in ln or "DATA_UPLOAD_MAX_MEMORY_SIZE" in ln for ln in ctx.lines
    )


@rule(
    id="SE806",
    cwe="CWE-400",
    severity="low",
    confidence="medium",
    keys=("read", "get_data"),
    message="Whole request body read into memory without a size limit; a large upload "
    "exhausts memory",
    fix="set MAX_CONTENT_LENGTH (Flask) / DATA_UPLOAD_MAX_MEMORY_SIZE (Django) or read in "
    "bounded chunks: stream.read(limit)",
)
def unbounded_body_read(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    func = call.func
    if not isinstance(func, ast.Attribute) or call.args or call.keywords:
        return
    if _limit_configured(ctx):
        return
    if func.attr == "get_data":
        if ctx.module.is_request(func.value):
            yield ctx.hit()
        return
    taint = ctx.taint(func.value)
    if taint is not None and "body" in taint.origins:
        yield ctx.hit()


def _user_number(taint: Taint) -> bool:
    """A number parsed from request data (strings cannot size an allocation)."""
    return "numeric" in taint.sanitized and bool(taint.origins & {"request", "route", "socket"})


_SIZE_SINKS: dict[str, int] = {
    "range": 0,
    "bytearray": 0,
    "bytes": 0,
    "os.urandom": 0,
    "secrets.token_bytes": 0,
    "secrets.token_hex": 0,
    "itertools.repeat": 1,
    "time.sleep": 0,
    "numpy.zeros": 0,
    "numpy.ones": 0,
    "numpy.empty": 0,
}


@rule(
    id="SE808",
    cwe="CWE-770",
    severity="medium",
    confidence="medium",
    nodes=(ast.Call, ast.BinOp),
    keys=tuple(_SIZE_SINKS),
    message="A size, count or delay taken from the request is used without an upper bound "
    "(memory/CPU exhaustion)",
    fix="clamp the value: n = min(int(value), MAX_ITEMS), and reject out-of-range input",
)
def unbounded_allocation(ctx: RuleContext) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, ast.Mult):
            return
        for seq, count in ((node.left, node.right), (node.right, node.left)):
            if isinstance(seq, ast.List | ast.Constant) and not isinstance(
                ctx.const(seq), int | float
            ):
                taint = ctx.sink(count, "size", min_level=USER)
                if taint and _user_number(taint):
                    yield ctx.hit(taint=taint)
                    return
        return
    assert isinstance(node, ast.Call)
    pos = _SIZE_SINKS.get(ctx.call_name(node))
    if pos is None:
        return
    args = node.args
    if ctx.call_name(node) == "range" and len(args) >= 2:
        candidates = args[1:2]
    else:
        candidates = args[pos : pos + 1]
    for candidate in candidates:
        taint = ctx.sink(candidate, "size", min_level=USER)
        if taint and _user_number(taint):
            yield ctx.hit(taint=taint)
            return
