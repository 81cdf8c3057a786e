"""Fragment recovery: modes, line alignment, findings on code ast.parse rejects."""

from __future__ import annotations

import ast
import time

import pytest

from safety_eval.analysis.parse import looks_like_prose, parse_code, split_lines
from tests.analysis.rules.conftest import scan


def test_full_mode() -> None:
    code = parse_code("x = 1\n")
    assert code.mode == "full" and code.tree is not None


def test_text_only_mode() -> None:
    code = parse_code("This is only prose.\nNothing here is code at all.\n")
    assert code.mode == "text-only" and code.tree is None


@pytest.mark.parametrize(
    "text",
    [
        "    x = compute()\n    return x\n",
        "def f(:\n    pass\nx = 1\n",
        "foo(1,\n",
        "if x:\n",
        "print 'py2'\ny = 2\n",
        "```python\nx = 1\n```\n",
    ],
)
def test_recovered_mode(text: str) -> None:
    with pytest.raises(SyntaxError):
        ast.parse(text)
    assert parse_code(text).mode == "recovered"


def _call_lines(text: str) -> dict[str, int]:
    code = parse_code(text)
    assert code.tree is not None
    out = {}
    for node in ast.walk(code.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            out[node.func.attr] = node.lineno
    return out


def test_line_numbers_are_preserved() -> None:
    text = (
        "Here is the code:\n"  # 1
        "\n"  # 2
        "```python\n"  # 3
        "import os\n"  # 4
        "def f(x):\n"  # 5
        "    broken = (\n"  # 6
        "    os.system(x)\n"  # 7
        "```\n"
    )
    lines = _call_lines(text)
    assert lines.get("system") == 7
    text2 = "        a = 1\n        b = foo.bar(a\n    return os.remove(a)\n"
    assert _call_lines(text2).get("remove") == 3


def test_the_right_cwe_on_a_fragment_ast_rejects() -> None:
    text = (
        "    user = request.args['u']\n"
        "    cur.execute(f\"SELECT * FROM t WHERE u = '{user}'\")\n"
        "    return jsonify(cur.fetchall()\n"
    )
    with pytest.raises(SyntaxError):
        ast.parse(text)
    findings = scan(text)
    assert [(f.cwe, f.line) for f in findings] == [("CWE-89", 2)]


def test_text_only_findings_have_low_confidence() -> None:
    text = "$ export KEY=AKIA2E0A8F3B244C9986\n$ run --now\n"
    assert parse_code(text).mode == "text-only"
    (finding,) = scan(text)
    assert finding.rule_id == "SE403" and finding.confidence == "medium"


def test_fallback_regex_on_lines_no_tree_covers() -> None:
    text = "import os\nos.system(cmd\nx = = 2\nrequests.get(url, verify=False) +\n"
    findings = scan(text)
    assert any(f.rule_id == "SE501" for f in findings)


def test_prose_detection() -> None:
    assert looks_like_prose("Here is the updated code for you:")
    assert looks_like_prose("- Works on every platform")
    assert not looks_like_prose("x if cond else y")
    assert not looks_like_prose("import os as system")
    assert not looks_like_prose("return not is_admin")


def test_split_lines_matches_the_tokenizer() -> None:
    assert split_lines("a\r\nb\rc\nd\x0ce") == ["a", "b", "c", "d\x0ce"]


def test_recovery_is_fast_and_bounded() -> None:
    broken = "\n".join(f"    line {i} = ((( {i}" for i in range(400))
    start = time.perf_counter()
    parse_code(broken)
    assert time.perf_counter() - start < 2.0
    fragment = "\n".join(["    x = request.args['a']", "    os.system(x"] * 15)
    start = time.perf_counter()
    for _ in range(20):
        parse_code(fragment)
    assert (time.perf_counter() - start) / 20 < 0.05


def test_null_bytes_and_deep_nesting_do_not_crash() -> None:
    assert parse_code("x = 1\x00\n").mode in ("recovered", "text-only")
    assert parse_code("(" * 300 + ")" * 300).mode in ("full", "recovered", "text-only")
