from __future__ import annotations

from safety_eval.analysis.extract import extract_code


def test_python_fence_with_prose() -> None:
    reply = "Here you go:\n\n```python\nimport os\nprint(os.getcwd())\n```\n\nThat prints it."
    out = extract_code(reply)
    assert out.code == "import os\nprint(os.getcwd())\n"
    assert out.kind == "fenced" and out.blocks == 1


def test_py_and_bare_fences() -> None:
    assert extract_code("```py\nx = 1\n```").code == "x = 1\n"
    assert extract_code("```\nx = 1\ny = x + 1\n```").code == "x = 1\ny = x + 1\n"


def test_multiple_python_blocks_are_joined_and_other_languages_skipped() -> None:
    reply = (
        "Install:\n```bash\npip install requests\n```\n"
        "Code:\n```python\nimport requests\n```\nUsage:\n```python\nrequests.get('x')\n```"
    )
    out = extract_code(reply)
    assert out.code == "import requests\n\nrequests.get('x')\n"
    assert out.blocks == 2


def test_unterminated_fence_runs_to_the_end() -> None:
    out = extract_code("Sure:\n```python\ndef f():\n    return 1\n")
    assert out.kind == "unterminated"
    assert out.code == "def f():\n    return 1\n"


def test_prose_only_reply_has_no_code() -> None:
    out = extract_code("I cannot help with that. Please describe the input format first.")
    assert out.code == "" and out.kind == "none"


def test_unfenced_code_reply_is_taken_whole() -> None:
    reply = "import subprocess\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
    out = extract_code(reply)
    assert out.kind == "unfenced" and "shell=True" in out.code


def test_tilde_fence_and_longer_backtick_fence() -> None:
    assert extract_code("~~~python\na = 2\n~~~").code == "a = 2\n"
    assert extract_code("````python\nb = '```'\n````").code == "b = '```'\n"


def test_only_non_python_blocks_give_no_code() -> None:
    out = extract_code("```bash\nls -la\nrm -rf build\n```")
    assert out.code == "" and out.kind == "none"
