"""SE6xx: files and paths (traversal, archive extraction, temp files, permissions, uploads)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from safety_eval.analysis.rules.common import leading_fragment
from safety_eval.analysis.rules.context import USER, RuleContext, arg
from safety_eval.analysis.rules.patterns import (
    AnyOf,
    Arg,
    BitsClear,
    BitsSet,
    CallPattern,
    register_call_patterns,
)
from safety_eval.analysis.rules.registry import Hit, rule

_PATH_SINKS: dict[str, tuple[tuple[str, int], ...]] = {
    "open": (("file", 0),),
    "io.open": (("file", 0),),
    "codecs.open": (("filename", 0),),
    "os.open": (("path", 0),),
    "flask.send_file": (("path_or_file", 0), ("filename_or_fp", 0)),
    "flask.send_from_directory": (("directory", 0),),
    "starlette.responses.FileResponse": (("path", 0),),
    "fastapi.responses.FileResponse": (("path", 0),),
    "django.http.FileResponse": (("streaming_content", 0),),
    "os.remove": (("path", 0),),
    "os.unlink": (("path", 0),),
    "os.rmdir": (("path", 0),),
    "os.removedirs": (("name", 0),),
    "os.listdir": (("path", 0),),
    "os.rename": (("src", 0), ("dst", 1)),
    "os.replace": (("src", 0), ("dst", 1)),
    "shutil.rmtree": (("path", 0),),
    "shutil.copy": (("src", 0), ("dst", 1)),
    "shutil.copyfile": (("src", 0), ("dst", 1)),
    "shutil.copy2": (("src", 0), ("dst", 1)),
    "shutil.move": (("src", 0), ("dst", 1)),
    "read_text": (),
    "read_bytes": (),
    "write_text": (),
    "write_bytes": (),
    "unlink": (),
}


def _under_base_dir(ctx: RuleContext, expr: ast.AST | None, depth: int = 0) -> bool:
    """``expr`` joins data under a fixed directory (``os.path.join(BASE, x)``, ``f"d/{x}"``)."""
    if expr is None or depth > 2:
        return False
    start = leading_fragment(ctx, expr)
    if start and "/" in start:
        return True
    if isinstance(expr, ast.Call) and ctx.call_name(expr) in ("os.path.join", "posixpath.join"):
        first = expr.args[0] if expr.args else None
        if isinstance(first, ast.Constant):
            return True
        return isinstance(first, ast.Name) and first.id.isupper()
    if isinstance(expr, ast.Name):
        return any(
            _under_base_dir(ctx, v, depth + 1) for k, v, _a in ctx.scope.assigns if k == expr.id
        )
    return False


@rule(
    id="SE601",
    cwe="CWE-22",
    severity="high",
    keys=tuple(_PATH_SINKS),
    message="Path traversal: a file path built from untrusted data is opened/served/deleted "
    "(../ escapes the intended directory)",
    fix="reduce the name with os.path.basename()/secure_filename(), or resolve the path "
    "and check it stays under the base directory (os.path.commonpath / "
    "Path.is_relative_to)",
)
def path_traversal(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    specs = _PATH_SINKS.get(name)
    targets: list[ast.expr | None]
    if specs is None:
        last = name.rsplit(".", 1)[-1] if name else getattr(call.func, "attr", "")
        if last not in _PATH_SINKS or _PATH_SINKS[last] or not isinstance(call.func, ast.Attribute):
            return
        targets = [call.func.value]
    else:
        targets = [arg(call, kw, pos) for kw, pos in specs]
    for target in targets:
        taint = ctx.sink(target, "path")
        if taint is None or "filename" in taint.origins:
            continue  # uploaded file names are SE607's
        if taint.level < USER and not _under_base_dir(ctx, target):
            continue  # a helper's own path parameter: its caller decides
        yield ctx.hit(taint=taint, confidence="low" if taint.level < USER else None)
        return


@rule(
    id="SE602",
    cwe="CWE-22",
    severity="high",
    keys=("extractall", "shutil.unpack_archive"),
    message="tar archive extracted without checking member names (tar slip: ../ or absolute "
    "paths and links write outside the target directory)",
    fix="pass filter='data' (Python 3.12+ / backports) or validate every member's resolved "
    "path before extracting",
)
def tar_extractall(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if name == "shutil.unpack_archive":
        if arg(call, "filter") is None:
            yield ctx.hit()
        return
    if name.startswith("zipfile") or "ZipFile" in name:
        return
    is_tar = name.startswith("tarfile") or (
        not name.startswith("zipfile")
        and any("tarfile" in ln for ln in ctx.lines)
        and not any("zipfile" in ln for ln in ctx.lines)
    )
    if not is_tar:
        return
    if arg(call, "members") is not None:
        return
    flt = arg(call, "filter")
    if flt is not None and ctx.const(flt) != "fully_trusted":
        return
    yield ctx.hit()


def _validates_members(func: ast.AST | None, tree: ast.AST) -> bool:
    scope = func if func is not None else tree
    for node in ast.walk(scope):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("namelist", "infolist", "getmembers")
        ):
            return True
    return False


@rule(
    id="SE603",
    cwe="CWE-22",
    severity="medium",
    confidence="low",
    keys=("extractall",),
    message="zip archive extracted without inspecting its members (names, sizes); "
    "untrusted archives can overwrite files or exhaust the disk",
    fix="iterate zf.infolist(), reject absolute/'..' names and oversized members, then "
    "extract each checked member",
)
def zip_extractall(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if not (name.startswith("zipfile") or "ZipFile" in name):
        return
    if arg(call, "members") is not None or _validates_members(ctx.func, ctx.tree):
        return
    yield ctx.hit()


_UPLOAD_SINKS = ("save", "open", "io.open", "shutil.copyfileobj", "write_bytes")


@rule(
    id="SE607",
    cwe="CWE-434",
    severity="high",
    keys=_UPLOAD_SINKS,
    message="Unrestricted file upload: the client's file name is used as is to store the "
    "upload (any extension, any path)",
    fix="store under a generated name or secure_filename(f.filename) and check the extension "
    "against an allow-list",
)
def unrestricted_upload(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    if name.endswith("save"):
        target = arg(call, "dst", 0) or arg(call, "name")
    elif name.endswith("write_bytes") and isinstance(call.func, ast.Attribute):
        target = call.func.value
    elif name == "shutil.copyfileobj":
        target = arg(call, "fdst", 1)
    else:
        target = arg(call, "file", 0)
    taint = ctx.sink(target, "upload")
    if taint is not None and "filename" in taint.origins:
        yield ctx.hit(taint=taint)


FILE_PATTERNS: list[CallPattern] = [
    CallPattern(
        id="SE604",
        cwe="CWE-377",
        severity="low",
        calls=("tempfile.mktemp", "os.tempnam", "os.tmpnam"),
        message="tempfile.mktemp() returns a name another process can create first (race)",
        fix="use tempfile.NamedTemporaryFile(), mkstemp() or TemporaryDirectory()",
    ),
    CallPattern(
        id="SE605",
        cwe="CWE-732",
        severity="medium",
        calls=("os.chmod", "os.fchmod", "os.lchmod", "*.chmod", "os.makedirs", "os.mkdir"),
        when=(
            AnyOf(
                (
                    BitsSet(Arg("mode", 1), 0o002),
                    BitsSet(Arg("mode", 0), 0o002),
                )
            ),
        ),
        message="World-writable permissions (e.g. 0o777/0o666): any local user can modify the file",
        fix="grant the minimum: 0o600 for secrets, 0o644 for files, 0o755 for directories",
    ),
    CallPattern(
        id="SE606",
        cwe="CWE-276",
        severity="medium",
        calls=("os.umask",),
        when=(BitsClear(Arg("mask", 0), 0o002),),
        message="umask that lets newly created files be world-writable",
        fix="use a umask of at least 0o022 (0o077 for private data)",
    ),
]
register_call_patterns(FILE_PATTERNS)
