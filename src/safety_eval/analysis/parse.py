"""Turn generated text into something the analysers can read, tolerating fragments.

``parse_code`` never executes, imports or compiles-to-run the code: it only calls
``ast.parse`` on the text (or on repaired copies of it).

Recovery keeps LINE NUMBERS aligned with the original text: lines are only ever
rewritten in place (blanked, replaced by ``pass``, re-indented, closed) or appended
after the last original line, never inserted or removed. ``ParsedCode.text`` is the
original text, so a finding's line points at the same line in what the model wrote.

The search is bounded: at most ``_MAX_REPAIRS`` error-driven repairs (each one a
single ``ast.parse``), then a linear chunk-by-chunk fallback.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from safety_eval.analysis.base import ParsedCode

__all__ = ["looks_like_prose", "parse_code", "split_lines"]

_LINE_SPLIT = re.compile(r"\r\n|\r|\n")
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+.-]*)")
_PY_FENCE_TAGS = {"", "python", "py", "python3", "py3", "ipython", "pycon", "python2", "sage"}
_TOKEN = re.compile(r"#|'''|\"\"\"|'|\"|[()\[\]{}]")
_CLOSER = {"(": ")", "[": "]", "{": "}"}
_KEYWORDS = frozenset(
    (
        "False None True and as assert async await break class continue def del elif else "
        "except finally for from global if import in is lambda nonlocal not or pass raise "
        "return try while with yield match case type print exec"
    ).split()
)
_PROSE_START = re.compile(r"^([A-Za-z][\w'’]*)[,:.]?\s+([A-Za-z][\w'’]*)[,:.]?\s+([A-Za-z][\w'’]*)")
_CAPITALIZED = re.compile(r"^[A-Z][a-z'’]+[,:]?$")
_PLAIN_WORD = re.compile(r"^[\w'’,.:;!?`*-]+$")
_BULLET = re.compile(r"^(?:[-*+]|\d+[.)])\s+\S+\s+\S+")
_STMT_START = re.compile(
    r"^(?:@|(?:def|class|if|elif|else|for|while|with|try|except|finally|return|import|from|"
    r"raise|assert|async|await|yield|pass|break|continue|global|nonlocal|del|print)\b|"
    r"[A-Za-z_][\w.\[\]'\"]*\s+[-+*/%|&^@]?=\s)"
)
_TRAILING_OP = re.compile(r"(?:[+\-*/%.=|&<>^@\\]|\band|\bor|\bnot|\bin)\s*$")
_MAX_REPAIRS = 120


def split_lines(text: str) -> list[str]:
    """Split like the Python tokenizer does (``\\r\\n``, ``\\r`` and ``\\n`` only)."""
    return _LINE_SPLIT.split(text)


def looks_like_prose(line: str) -> bool:
    """True for a line that is clearly natural language or markdown, not Python."""
    s = line.strip()
    if not s or s.startswith("#"):
        return False
    if s.startswith(("```", "~~~", "**", "> ")):
        return True
    if _BULLET.match(s):
        return True
    m = _PROSE_START.match(s)
    if m is not None and not any(w in _KEYWORDS for w in m.groups()):
        return True
    words = s.split()
    return (
        len(words) >= 4
        and _CAPITALIZED.match(words[0]) is not None
        and words[0].rstrip(",:") not in _KEYWORDS
        and all(_PLAIN_WORD.match(w) for w in words[:4])
        and not any(c in s for c in "=[]{}")
    )


def _try_parse(src: str) -> ast.Module | None:
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def parse_code(text: str) -> ParsedCode:
    """Parse ``text``: ``full`` when it parses as is, ``recovered`` after repairs,
    ``text-only`` (tree ``None``) when nothing parses."""
    tree = _try_parse(text)
    if tree is not None:
        return ParsedCode(text=text, tree=tree, mode="full")
    tree, repaired = _recover(split_lines(text))
    if tree is None or not _has_real_code(tree):
        return ParsedCode(text=text, tree=None, mode="text-only")
    return ParsedCode(text=text, tree=tree, mode="recovered", repaired=repaired)


def _has_real_code(tree: ast.Module) -> bool:
    for stmt in tree.body:
        if isinstance(stmt, ast.Pass):
            continue
        if (
            isinstance(stmt, ast.If)
            and isinstance(stmt.test, ast.Constant)
            and stmt.test.value is True
            and all(isinstance(s, ast.Pass) for s in stmt.body)
        ):
            continue
        return True
    return False


# --------------------------------------------------------------------------- lexing


@dataclass
class _Line:
    """What a cheap lexer knows about one physical line."""

    logical_start: bool = True
    """The line begins a new logical line (not inside brackets, strings or after ``\\``)."""
    comment_at: int = -1
    last_sig: str = ""
    """Last significant character outside strings and comments."""
    depth_end: int = 0
    in_string_end: bool = False


def _lex(lines: list[str]) -> list[_Line]:
    infos: list[_Line] = []
    triple: str | None = None
    stack: list[str] = []
    cont = False
    for line in lines:
        info = _Line(logical_start=not (triple or stack or cont))
        i = 0
        n = len(line)
        last = ""
        while i < n:
            if triple is not None:
                j = line.find(triple, i)
                if j < 0:
                    i = n
                    break
                i = j + 3
                triple = None
                last = '"'
                continue
            m = _TOKEN.search(line, i)
            if m is None:
                seg = line[i:].rstrip()
                if seg:
                    last = seg[-1]
                break
            seg = line[i : m.start()].rstrip()
            if seg:
                last = seg[-1]
            tok = m.group()
            i = m.end()
            if tok == "#":
                info.comment_at = m.start()
                break
            if tok in ('"""', "'''"):
                triple = tok
                continue
            if tok in ("'", '"'):
                k = i
                while True:
                    k = line.find(tok, k)
                    if k < 0:
                        k = n
                        break
                    bs = 0
                    while k - bs - 1 >= i and line[k - bs - 1] == "\\":
                        bs += 1
                    if bs % 2:
                        k += 1
                        continue
                    break
                i = k + 1
                last = tok
                continue
            if tok in "([{":
                stack.append(tok)
            elif stack and _CLOSER[stack[-1]] == tok:
                stack.pop()
            last = tok
        info.last_sig = last
        info.depth_end = len(stack)
        info.in_string_end = triple is not None
        code = line if info.comment_at < 0 else line[: info.comment_at]
        cont = triple is None and code.rstrip().endswith("\\")
        infos.append(info)
    return infos


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _code_part(line: str, info: _Line) -> str:
    return (line if info.comment_at < 0 else line[: info.comment_at]).rstrip()


def _is_blank(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith("#")


# --------------------------------------------------------------------------- recovery


def _strip_markup(lines: list[str]) -> list[str]:
    """Blank markdown fences and prose outside them, REPL prompts and outputs."""
    out = list(lines)
    fences = [i for i, ln in enumerate(out) if _FENCE.match(ln)]
    if fences:
        keep = [False] * len(out)
        inside = False
        python_block = False
        for i, ln in enumerate(out):
            m = _FENCE.match(ln)
            if m:
                if not inside:
                    inside = True
                    python_block = m.group(2).lower() in _PY_FENCE_TAGS
                else:
                    inside = False
                continue
            keep[i] = inside and python_block
        out = [ln if keep[i] else "" for i, ln in enumerate(out)]
    if any(ln.lstrip().startswith(">>>") for ln in out):
        repl: list[str] = []
        for ln in out:
            s = ln.lstrip()
            if s.startswith(">>>") or s.startswith("..."):
                repl.append(s[4:] if len(s) > 3 and s[3] == " " else s[3:])
            else:
                repl.append("")
        out = repl
    return out


def _normalize(lines: list[str]) -> list[str]:
    """Tabs, common indent, prose, inconsistent indentation and bodiless openers."""
    out = []
    for ln in lines:
        ln = ln.replace("\x00", " ").replace("\u2026", "...")
        stripped = ln.lstrip(" \t")
        lead = ln[: len(ln) - len(stripped)]
        if "\t" in lead:
            ln = lead.expandtabs(4) + stripped
        out.append(ln.rstrip())
    infos = _lex(out)
    for i, ln in enumerate(out):
        if infos[i].logical_start and looks_like_prose(ln):
            out[i] = ""
    infos = _lex(out)
    starts = [i for i, ln in enumerate(out) if infos[i].logical_start and not _is_blank(ln)]
    if starts:
        common = min(_indent(out[i]) for i in starts)
        if common:
            out = [ln[common:] if ln[:common].strip() == "" else ln.lstrip(" ") for ln in out]
    # Clamp indentation of logical lines to a consistent block structure.
    stack = [0]
    opener: int | None = None
    for idx, i in enumerate(starts):
        ln = out[i]
        ind = _indent(ln)
        if opener is not None:
            if ind > stack[-1]:
                stack.append(ind)
                opener = None
            else:
                out[opener] = _add_pass(out[opener], infos[opener])
                opener = None
        if ind > stack[-1]:
            ind = stack[-1]
        elif ind < stack[-1]:
            while len(stack) > 1 and stack[-1] > ind:
                stack.pop()
            ind = stack[-1] if stack[-1] < ind else ind
        if ind != _indent(ln):
            out[i] = " " * ind + ln.lstrip(" ")
        # Find the end of this logical line to see whether it opens a block.
        end = (starts[idx + 1] if idx + 1 < len(starts) else len(out)) - 1
        while end > i and _is_blank(out[end]):
            end -= 1
        if infos[end].last_sig == ":" and infos[end].depth_end == 0:
            opener = end
    if opener is not None:
        out[opener] = _add_pass(out[opener], infos[opener])
    return out


def _add_pass(line: str, info: _Line) -> str:
    code = _code_part(line, info)
    return code + " pass" if code.endswith(":") else line


def _logical_bounds(lines: list[str], infos: list[_Line], idx: int) -> tuple[int, int]:
    start = idx
    while start > 0 and not infos[start].logical_start:
        start -= 1
    end = idx
    while end + 1 < len(lines) and not infos[end + 1].logical_start:
        end += 1
    return start, end


def _prev_code_line(lines: list[str], idx: int) -> int | None:
    j = idx - 1
    while j >= 0 and _is_blank(lines[j]):
        j -= 1
    return j if j >= 0 else None


def _close_brackets(lines: list[str], open_idx: int) -> bool:
    """Close brackets left open from line ``open_idx`` at the statement's likely end."""
    infos = _lex(lines)
    base = _indent(lines[open_idx])
    end = len(lines) - 1
    for j in range(open_idx + 1, len(lines)):
        s = lines[j].strip()
        if not s or s.startswith("#") or s[0] in ")]}":
            continue
        if _indent(lines[j]) <= base and _STMT_START.match(s):
            end = j - 1
            break
    while end > open_idx and _is_blank(lines[end]):
        end -= 1
    stack: list[str] = []
    for j in range(open_idx, end + 1):
        code = _code_part(lines[j], infos[j])
        for m in _TOKEN.finditer(code):
            tok = m.group()
            if tok in "([{":
                stack.append(tok)
            elif tok in ")]}" and stack and _CLOSER[stack[-1]] == tok:
                stack.pop()
    if not stack:
        return False
    code = _code_part(lines[end], infos[end])
    code = _TRAILING_OP.sub("", code).rstrip()
    lines[end] = code + "".join(_CLOSER[b] for b in reversed(stack))
    return True


def _repair(lines: list[str], err: SyntaxError, tried: dict[int, int]) -> bool:
    """Apply one repair for ``err``; False when no further progress is possible."""
    msg = err.msg or ""
    n = len(lines)
    lineno = err.lineno if err.lineno else n
    idx = min(max(lineno - 1, 0), n - 1)
    if idx >= 0 and _is_blank(lines[idx]):
        prev = _prev_code_line(lines, idx + 1)
        idx = prev if prev is not None else idx
    infos = _lex(lines)
    if "was never closed" in msg and tried.get(-idx - 1, 0) == 0:
        tried[-idx - 1] = 1
        if _close_brackets(lines, idx):
            return True
    if "unterminated triple-quoted" in msg:
        line = lines[idx]
        q = (
            '"""'
            if line.find('"""') >= 0
            and (line.find("'''") < 0 or line.find('"""') < line.find("'''"))
            else "'''"
        )
        lines.append(q)
        return True
    if "unterminated string literal" in msg and tried.get(-idx - 1, 0) == 0:
        tried[-idx - 1] = 1
        line = lines[idx]
        q = '"' if line.count('"') % 2 else "'"
        lines[idx] = line + q
        return True
    m = re.search(r"after '.*?' statement on line (\d+)|on line (\d+)", msg)
    if "expected an indented block" in msg and m:
        op = int(m.group(1) or m.group(2)) - 1
        if 0 <= op < n and tried.get(-op - 1 - n, 0) == 0:
            tried[-op - 1 - n] = 1
            lines[op] = _add_pass(lines[op], infos[op])
            return True
    count = tried.get(idx, 0)
    tried[idx] = count + 1
    start, end = _logical_bounds(lines, infos, idx)
    if count >= 3:
        return False
    ind = " " * _indent(lines[start])
    if "unexpected indent" in msg or "unindent" in msg or "dedent" in msg:
        prev = _prev_code_line(lines, start)
        if count == 0 and prev is not None:
            target = _indent(lines[prev])
            if infos[prev].last_sig == ":":
                target += 4
            lines[start] = " " * target + lines[start].lstrip(" ")
            return True
    single = count == 0 and end > start and infos[start].depth_end > 0
    if single:
        end = start  # an unclosed bracket swallowed the next lines: repair the head only
    last_info = infos[end]
    is_opener = (last_info.last_sig == ":" and last_info.depth_end == 0) or (
        single and _code_part(lines[start], infos[start]).endswith(":")
    )
    if count <= 1:
        lines[start] = ind + ("if True:" if is_opener else "pass")
    else:
        lines[start] = ""
    for j in range(start + 1, end + 1):
        lines[j] = ""
    return True


def _recover(original: list[str]) -> tuple[ast.Module | None, str | None]:
    """The recovered tree and the repaired source it parses from (same line numbers)."""
    lines = _normalize(_strip_markup(original))
    if not any(not _is_blank(ln) for ln in lines):
        return None, None
    tried: dict[int, int] = {}
    for _ in range(_MAX_REPAIRS):
        source = "\n".join(lines)
        try:
            return ast.parse(source), source
        except SyntaxError as err:
            if not _repair(lines, err, tried):
                break
        except (ValueError, RecursionError, MemoryError, OverflowError):
            break
    return _parse_chunks(lines)


def _parse_chunks(lines: list[str]) -> tuple[ast.Module | None, str | None]:
    """Linear fallback: parse each top-level block alone and keep those that parse; the
    repaired source blanks the blocks that did not."""
    infos = _lex(lines)
    starts = [
        i
        for i, ln in enumerate(lines)
        if infos[i].logical_start and not _is_blank(ln) and _indent(ln) == 0
    ]
    body: list[ast.stmt] = []
    kept = [""] * len(lines)
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(lines)
        chunk = _try_parse("\n".join(lines[s:e]))
        if chunk is None:
            continue
        ast.increment_lineno(chunk, s)
        body.extend(chunk.body)
        kept[s:e] = lines[s:e]
    if not body:
        return None, None
    return ast.Module(body=body, type_ignores=[]), "\n".join(kept)
