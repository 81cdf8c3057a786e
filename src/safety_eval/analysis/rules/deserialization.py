"""SE3xx: deserialization of untrusted data (pickle family, YAML, torch, numpy)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from safety_eval.analysis.rules.context import RuleContext, arg
from safety_eval.analysis.rules.patterns import (
    Arg,
    CallPattern,
    Is,
    IsNot,
    Q,
    Tainted,
    register_call_patterns,
)
from safety_eval.analysis.rules.registry import Hit, rule

_PICKLE_LIKE = (
    "pickle.load",
    "pickle.loads",
    "pickle.Unpickler",
    "dill.load",
    "dill.loads",
    "dill.Unpickler",
    "marshal.load",
    "marshal.loads",
    "shelve.open",
    "jsonpickle.decode",
    "jsonpickle.loads",
    "pandas.read_pickle",
    "joblib.load",
    "cloudpickle.load",
    "cloudpickle.loads",
)
_SAFE_LOADERS = (
    Q("yaml.SafeLoader"),
    Q("yaml.CSafeLoader"),
    Q("yaml.BaseLoader"),
    Q("yaml.CBaseLoader"),
    Q("SafeLoader"),
    Q("CSafeLoader"),
    Q("BaseLoader"),
)
_YAML = ("yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.unsafe_load_all")


def _unsafe(ctx: RuleContext, call: ast.Call, name: str) -> bool:
    """The deserialiser, as called, can run code from the data."""
    if name in ("yaml.load", "yaml.load_all"):
        return bool(IsNot(Arg("Loader", 1), _SAFE_LOADERS).test(ctx, call))
    if name == "torch.load":
        return not Is(Arg("weights_only"), (True,)).test(ctx, call)
    if name == "numpy.load":
        return bool(Is(Arg("allow_pickle"), (True,)).test(ctx, call))
    return True


@rule(
    id="SE301",
    cwe="CWE-502",
    severity="critical",
    keys=(*_PICKLE_LIKE, *_YAML, "torch.load", "numpy.load"),
    message="Deserialization of untrusted data: pickle-style/unsafe YAML loading of data "
    "an attacker controls executes arbitrary code",
    fix="exchange data as JSON (json.loads) or yaml.safe_load; never unpickle data from "
    "users, sockets or uploads (sign it with hmac if you must)",
)
def untrusted_deserialization(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if not _unsafe(ctx, call, name):
        return
    data = (
        call.args[0]
        if call.args
        else (arg(call, "data") or arg(call, "stream") or arg(call, "file") or arg(call, "f"))
    )
    taint = ctx.sink(data, "deser")
    if taint:
        yield ctx.hit(taint=taint)


_NOT_TAINTED = (Tainted(Arg(pos=0), "deser"),)

DESERIALIZATION_PATTERNS: list[CallPattern] = [
    CallPattern(
        id="SE302",
        cwe="CWE-502",
        severity="medium",
        confidence="medium",
        calls=_PICKLE_LIKE,
        unless=_NOT_TAINTED,
        message="pickle-family deserialization (pickle, dill, marshal, shelve, jsonpickle, "
        "joblib) runs code embedded in the data if it is ever attacker-supplied",
        fix="prefer JSON; only unpickle files your own process wrote and protect them with an HMAC",
    ),
    CallPattern(
        id="SE303",
        cwe="CWE-502",
        severity="high",
        calls=_YAML,
        when=(IsNot(Arg("Loader", 1), _SAFE_LOADERS),),
        unless=_NOT_TAINTED,
        message="yaml.load without SafeLoader (or yaml.unsafe_load) can construct arbitrary "
        "Python objects and run code",
        fix="use yaml.safe_load(data) (or Loader=yaml.SafeLoader)",
    ),
    CallPattern(
        id="SE304",
        cwe="CWE-502",
        severity="high",
        confidence="medium",
        calls=("torch.load",),
        unless=(Is(Arg("weights_only"), (True,)), *_NOT_TAINTED),
        message="torch.load without weights_only=True unpickles the checkpoint and can run "
        "code from a malicious model file",
        fix="torch.load(path, weights_only=True) (or use safetensors)",
    ),
    CallPattern(
        id="SE305",
        cwe="CWE-502",
        severity="medium",
        calls=("numpy.load",),
        when=(Is(Arg("allow_pickle"), (True,)),),
        unless=_NOT_TAINTED,
        message="numpy.load(allow_pickle=True) unpickles object arrays and can run code",
        fix="keep allow_pickle=False (the default) and store plain numeric arrays",
    ),
]
register_call_patterns(DESERIALIZATION_PATTERNS)
