"""Tests for safety_eval.prompts.loaders: formats, detection, errors, CWE ids."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path
from typing import Any

import pytest

from safety_eval.prompts import (
    FORMATS,
    PromptLoadError,
    load_builtin,
    load_prompts,
    load_source,
    loaders,
)
from safety_eval.prompts.loaders import normalize_cwe
from safety_eval.results.records import Prompt


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def write_json(tmp_path: Path, name: str, doc: Any) -> Path:
    return write(tmp_path, name, json.dumps(doc, indent=2))


def write_jsonl(tmp_path: Path, name: str, rows: list[Any]) -> Path:
    return write(tmp_path, name, "".join(json.dumps(r) + "\n" for r in rows))


def load_error(path: Path, fmt: str = "auto") -> str:
    with pytest.raises(PromptLoadError) as info:
        load_prompts(path, fmt)
    return str(info.value)


GENERIC_ROWS: list[dict[str, Any]] = [
    {
        "prompt_id": "t1",
        "content": "Write a login form handler.",
        "category": "auth",
        "complexity": "low",
        "cwe": "CWE-287",
    },
    {"prompt_id": "t2", "content": "Parse an uploaded archive.", "category": "files"},
    {"prompt_id": "t3", "content": "Build a SQL report query.", "cwe": "cwe_89"},
]

CYBERSECEVAL_ROWS: list[dict[str, Any]] = [
    {
        "test_case_prompt": "Write a C function that copies a user-supplied name.",
        "cwe_identifier": "CWE-120",
        "language": "C",
        "variant": "instruct",
        "pattern_id": "unsafe-copy",
        "line_text": "strcpy(a, b);",
        "origin_code": "...",
    },
    {
        "test_case_prompt": "Finish this Python helper that runs a command.",
        "cwe_identifier": "CWE-078",
        "language": "python",
    },
    {
        "test_case_prompt": "Write a Java method that hashes a password.",
        "cwe_identifier": None,
        "language": "Java",
        "variant": "autocomplete",
    },
]

SECURITYEVAL_ROWS: list[dict[str, Any]] = [
    {
        "ID": "CWE-020_sample_1.py",
        "Prompt": "def check_redirect(url):\n    '''...'''\n",
        "Insecure_code": "pass",
    },
    {"ID": "CWE-089_sample_2.py", "Prompt": "def find_user(db, name):\n"},
    {"ID": "misc_sample_3.py", "Prompt": "def misc():\n"},
]

LLMSECEVAL_ROWS: list[dict[str, Any]] = [
    {
        "Prompt ID": "CWE-20_XYZ-1a",
        "CWE Name": "Improper Input Validation",
        "LLM-generated NL Prompt": "Generate <language> code for the following: draft text.",
        "Manually-fixed NL Prompt": "Generate <language> code for the following: read a port.",
        "Filename": "scenario_1.c",
        "Language": "C",
        "Vulnerable": False,
    },
    {
        "Prompt ID": "CWE-089_XYZ-2b",
        "CWE Name": "SQL Injection",
        "LLM-generated NL Prompt": "Generate <lanuage> code for the following: look up a row.",
        "Manually-fixed NL Prompt": "",
        "Language": "Python",
    },
    {
        "Prompt ID": "extra-1",
        "CWE Name": "Custom Weakness",
        "LLM-generated NL Prompt": "Write code that stores a token.",
        "Filename": "scenario_3.py",
    },
]


# ------------------------------------------------------------------ plain formats


def test_csv_full(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "prompts.csv",
        " Prompt_ID , CONTENT,Category , complexity,CWE,notes\n"
        't1,"Write a form handler, with validation.",auth,low,CWE-079,ignored\n'
        "\n"
        't2,"Two\nlines",,, ,\n'
        "t3, Build a query,db,high,cwe_89\n"
        ",,,,,\n",
    )
    prompts = load_prompts(path)
    assert [p.prompt_id for p in prompts] == ["t1", "t2", "t3"]
    first, second, third = prompts
    assert first == Prompt(
        prompt_id="t1",
        content="Write a form handler, with validation.",
        category="auth",
        complexity="low",
        cwe="CWE-79",
        language="python",
        source="prompts.csv",
    )
    assert second.content == "Two\nlines"
    assert second.category == "uncategorized"
    assert second.complexity is None and second.cwe is None
    assert third.content == "Build a query"
    assert third.cwe == "CWE-89"


def test_csv_minimal_columns_bom_and_language(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbfprompt_id,content,language\r\na,Do it,Go\r\nb,Again,\r\n")
    prompts = load_prompts(path)
    assert [(p.prompt_id, p.language) for p in prompts] == [("a", "go"), ("b", "python")]
    assert all(p.category == "uncategorized" for p in prompts)


def test_tsv_uses_tabs(tmp_path: Path) -> None:
    path = write(tmp_path, "p.tsv", "prompt_id\tcontent\tcategory\nx\tText, with comma\tweb\n")
    (prompt,) = load_prompts(path)
    assert (prompt.content, prompt.category) == ("Text, with comma", "web")


def test_jsonl(tmp_path: Path) -> None:
    text = "\n".join(json.dumps(r) for r in GENERIC_ROWS[:2]) + "\n\n   \n"
    text += json.dumps({"prompt_id": 7, "content": "Numeric id.", "cwe": 22}) + "\n"
    prompts = load_prompts(write(tmp_path, "set.jsonl", text))
    assert [p.prompt_id for p in prompts] == ["t1", "t2", "7"]
    assert prompts[0].cwe == "CWE-287" and prompts[0].complexity == "low"
    assert prompts[2].cwe == "CWE-22"
    assert {p.source for p in prompts} == {"set.jsonl"}


def test_jsonl_keeps_content_verbatim(tmp_path: Path) -> None:
    body = "def f():\n    # complete me\n    "
    path = write_jsonl(tmp_path, "p.jsonl", [{"prompt_id": "a", "content": body}])
    assert load_prompts(path)[0].content == body


@pytest.mark.parametrize("wrapped", [False, True])
def test_json_list_and_wrapped(tmp_path: Path, wrapped: bool) -> None:
    doc: Any = {"prompts": GENERIC_ROWS} if wrapped else GENERIC_ROWS
    prompts = load_prompts(write_json(tmp_path, "set.json", doc))
    assert [p.prompt_id for p in prompts] == ["t1", "t2", "t3"]
    assert [p.cwe for p in prompts] == ["CWE-287", None, "CWE-89"]


# ------------------------------------------------------------------ benchmark adapters


def test_cyberseceval(tmp_path: Path) -> None:
    prompts = load_prompts(write_json(tmp_path, "instruct.json", CYBERSECEVAL_ROWS))
    assert [p.prompt_id for p in prompts] == ["unsafe-copy-0", "1", "2"]
    assert [p.category for p in prompts] == ["instruct", "cyberseceval", "autocomplete"]
    assert [p.cwe for p in prompts] == ["CWE-120", "CWE-78", None]
    assert [p.language for p in prompts] == ["c", "python", "java"]
    assert {p.source for p in prompts} == {"cyberseceval"}
    assert prompts[0].content == CYBERSECEVAL_ROWS[0]["test_case_prompt"]


def test_cyberseceval_record_missing_language(tmp_path: Path) -> None:
    rows = [CYBERSECEVAL_ROWS[0], {"test_case_prompt": "x", "cwe_identifier": "CWE-1"}]
    message = load_error(write_json(tmp_path, "instruct.json", rows), "cyberseceval")
    assert message.startswith(str(tmp_path / "instruct.json"))
    assert "record 2: missing key 'language'" in message


def test_securityeval(tmp_path: Path) -> None:
    prompts = load_prompts(write_jsonl(tmp_path, "dataset.jsonl", SECURITYEVAL_ROWS))
    assert [p.prompt_id for p in prompts] == [r["ID"] for r in SECURITYEVAL_ROWS]
    assert [p.cwe for p in prompts] == ["CWE-20", "CWE-89", None]
    assert [p.category for p in prompts] == ["CWE-20", "CWE-89", "securityeval"]
    assert {(p.source, p.language) for p in prompts} == {("securityeval", "python")}
    assert prompts[0].content == SECURITYEVAL_ROWS[0]["Prompt"]


def _check_llmseceval(prompts: list[Prompt]) -> None:
    assert [p.prompt_id for p in prompts] == ["CWE-20_XYZ-1a", "CWE-089_XYZ-2b", "extra-1"]
    assert [p.cwe for p in prompts] == ["CWE-20", "CWE-89", None]
    assert [p.category for p in prompts] == ["CWE-20", "CWE-89", "Custom Weakness"]
    assert [p.language for p in prompts] == ["c", "python", "python"]
    # the manually fixed prompt wins; the <language> placeholder is filled in
    assert prompts[0].content == "Generate C code for the following: read a port."
    assert prompts[1].content == "Generate Python code for the following: look up a row."
    assert prompts[2].content == "Write code that stores a token."
    assert {p.source for p in prompts} == {"llmseceval"}


def test_llmseceval_json(tmp_path: Path) -> None:
    _check_llmseceval(load_prompts(write_json(tmp_path, "llmsec.json", LLMSECEVAL_ROWS)))


def test_llmseceval_csv(tmp_path: Path) -> None:
    columns = [
        "Prompt ID",
        "CWE Name",
        "LLM-generated NL Prompt",
        "Filename",
        "Language",
        "Manually-fixed NL Prompt",
    ]
    lines = [",".join(columns)]
    for row in LLMSECEVAL_ROWS:
        cells = [str(row.get(c, "")) for c in columns]
        lines.append(",".join(json.dumps(c) for c in cells))  # JSON quoting is CSV-safe here
    _check_llmseceval(load_prompts(write(tmp_path, "llmsec.csv", "\n".join(lines) + "\n")))


def test_llmseceval_plain_nl_prompt_column(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "Prompt ID,NL Prompt\nCWE-502_A-1,Load a saved object.\n")
    (prompt,) = load_prompts(path, "llmseceval")
    assert (prompt.cwe, prompt.content, prompt.language) == (
        "CWE-502",
        "Load a saved object.",
        "python",
    )


def test_llmseceval_row_without_any_prompt(tmp_path: Path) -> None:
    rows = [LLMSECEVAL_ROWS[0], {"Prompt ID": "CWE-1_B", "LLM-generated NL Prompt": " "}]
    message = load_error(write_json(tmp_path, "l.json", rows))
    assert "record 2: missing value for 'NL Prompt'" in message


# ------------------------------------------------------------------ auto-detection


@pytest.mark.parametrize(
    ("name", "rows", "style", "source"),
    [
        ("a.csv", GENERIC_ROWS, "csv", "a.csv"),
        ("a.jsonl", GENERIC_ROWS, "jsonl", "a.jsonl"),
        ("a.json", GENERIC_ROWS, "json", "a.json"),
        ("a.json", GENERIC_ROWS, "jsonl", "a.json"),  # JSON Lines saved as .json
        ("a.jsonl", GENERIC_ROWS, "json", "a.jsonl"),  # a JSON list saved as .jsonl
        ("a.txt", GENERIC_ROWS, "csv", "a.txt"),
        ("a.txt", GENERIC_ROWS, "jsonl", "a.txt"),
        ("a", GENERIC_ROWS, "json", "a"),
        ("b.json", CYBERSECEVAL_ROWS, "json", "cyberseceval"),
        ("b.jsonl", CYBERSECEVAL_ROWS, "jsonl", "cyberseceval"),
        ("c.jsonl", SECURITYEVAL_ROWS, "jsonl", "securityeval"),
        ("c.json", SECURITYEVAL_ROWS, "json", "securityeval"),
        ("d.json", LLMSECEVAL_ROWS, "json", "llmseceval"),
        ("d.csv", LLMSECEVAL_ROWS, "csv", "llmseceval"),
    ],
)
def test_auto_detection(
    tmp_path: Path, name: str, rows: list[dict[str, Any]], style: str, source: str
) -> None:
    if style == "json":
        path = write_json(tmp_path, name, rows)
    elif style == "jsonl":
        path = write_jsonl(tmp_path, name, rows)
    else:
        columns = list(dict.fromkeys(k for r in rows for k in r))
        lines = [",".join(columns)]
        lines += [",".join(json.dumps(str(r.get(c, ""))) for c in columns) for r in rows]
        path = write(tmp_path, name, "\n".join(lines) + "\n")
    prompts = load_prompts(path)
    assert len(prompts) == len(rows)
    assert {p.source for p in prompts} == {source}


def test_single_object_jsonl_file(tmp_path: Path) -> None:
    path = write(tmp_path, "one.json", json.dumps(GENERIC_ROWS[0]))
    assert [p.prompt_id for p in load_prompts(path)] == ["t1"]


@pytest.mark.parametrize("fmt", ["CSV", " csv "])
def test_format_name_is_case_insensitive(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path, "p.data", "prompt_id,content\na,b\n")
    assert load_prompts(path, fmt)[0].content == "b"


def test_forced_jsonl_on_other_extension(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "p.txt", GENERIC_ROWS)
    assert len(load_prompts(path, "jsonl")) == 3


def test_forced_adapter_on_matching_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "se.data", SECURITYEVAL_ROWS)
    assert len(load_prompts(path, "securityeval")) == 3


def test_accepts_str_path(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "p.jsonl", GENERIC_ROWS)
    assert len(load_prompts(str(path))) == 3


# ------------------------------------------------------------------ forced mismatch


def test_forced_adapter_mismatch_names_expected_keys(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "se.jsonl", SECURITYEVAL_ROWS)
    message = load_error(path, "cyberseceval")
    assert message.startswith(f"{path}, line 1: missing required key 'test_case_prompt'")
    assert "test_case_prompt, cwe_identifier, language" in message
    assert "found: ID, Prompt" in message
    assert "SecurityEval" in message and "'securityeval'" in message


def test_forced_csv_on_benchmark_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "Prompt ID,NL Prompt,CWE Name\nCWE-1_A,Do a thing,X\n")
    message = load_error(path, "csv")
    assert message.startswith(f"{path}, line 1: missing required column 'prompt_id'")
    assert "expected columns: prompt_id, content" in message
    assert "LLMSecEval" in message


def test_forced_generic_on_securityeval(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "se.jsonl", SECURITYEVAL_ROWS)
    message = load_error(path, "jsonl")
    assert "line 1: missing required key 'prompt_id' for format 'jsonl'" in message


def test_forced_json_on_jsonl_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "p.json", GENERIC_ROWS)
    message = load_error(path, "json")
    assert message.startswith(f"{path}, line 2, column 1: malformed JSON: Extra data")
    assert "'jsonl'" in message


def test_forced_csv_on_json_file(tmp_path: Path) -> None:
    path = write_json(tmp_path, "p.json", GENERIC_ROWS)
    message = load_error(path, "csv")
    assert message.startswith(f"{path}, line 3: malformed CSV")
    assert message.endswith("the file looks like JSON, try format 'auto'")


def test_forced_llmseceval_mismatch(tmp_path: Path) -> None:
    path = write_json(tmp_path, "g.json", GENERIC_ROWS)
    message = load_error(path, "llmseceval")
    assert message.startswith(f"{path}, record 1: missing required key 'Prompt ID'")
    assert "NL Prompt or Manually-fixed NL Prompt or LLM-generated NL Prompt" in message


# ------------------------------------------------------------------ malformed input


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"
    assert load_error(path) == f"{path}: file not found"


def test_directory(tmp_path: Path) -> None:
    assert load_error(tmp_path) == f"{tmp_path}: is a directory, not a prompt file"


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    assert load_error(path) == f"{path}: file is empty"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("h.csv", "prompt_id,content,category\n"),
        ("l.json", "[]"),
        ("w.json", '{"prompts": []}'),
    ],
)
def test_no_prompts(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, name, text)
    message = load_error(path)
    assert message.startswith(f"{path}: no prompts found")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    data = b"prompt_id,content\na,fine\nb,caf" + b"\xe9 au lait\n"
    path.write_bytes(data)
    message = load_error(path)
    offset = data.index(b"\xe9")
    assert message.startswith(f"{path}, line 3: not UTF-8")
    assert f"byte offset {offset}" in message and "0xe9" in message


def test_utf16_hint(tmp_path: Path) -> None:
    path = tmp_path / "win.csv"
    path.write_bytes("prompt_id,content\na,b\n".encode("utf-16"))
    message = load_error(path)
    assert "line 1: not UTF-8 (it looks like UTF-16)" in message


def test_malformed_json(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '[\n  {"prompt_id": "a",\n   "content" "x"}\n]\n')
    message = load_error(path)
    assert message.startswith(f"{path}, line 3, column 14: malformed JSON: Expecting ':'")


def test_malformed_jsonl_line(tmp_path: Path) -> None:
    good = json.dumps(GENERIC_ROWS[0])
    path = write(tmp_path, "bad.jsonl", f"{good}\n\n{{'prompt_id': 'b'}}\n")
    message = load_error(path)
    assert message.startswith(f"{path}, line 3, column 2: malformed JSON")


@pytest.mark.parametrize(("line", "kind"), [('["a", "b"]', "array"), ('"text"', "string")])
def test_jsonl_line_not_object(tmp_path: Path, line: str, kind: str) -> None:
    path = write(tmp_path, "p.jsonl", json.dumps(GENERIC_ROWS[0]) + "\n" + line + "\n")
    assert load_error(path) == f"{path}, line 2: expected a JSON object, got {kind}"


def test_json_record_not_object(tmp_path: Path) -> None:
    path = write_json(tmp_path, "p.json", [GENERIC_ROWS[0], 42])
    assert load_error(path) == f"{path}, record 2: expected a JSON object, got number"


def test_json_top_level_not_list(tmp_path: Path) -> None:
    path = write_json(tmp_path, "p.json", {"items": GENERIC_ROWS})
    message = load_error(path, "json")
    assert "expected a JSON list of prompt objects" in message and "got object" in message


def test_csv_missing_required_column(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts.csv", "prompt_id,text,category\na,b,c\n")
    message = load_error(path)
    assert message.startswith(f"{path}, line 1: missing required column 'content'")


def test_jsonl_missing_prompt_id_key(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "p.jsonl", [{"content": "x", "category": "c"}])
    message = load_error(path)
    assert message.startswith(f"{path}, line 1: missing required key 'prompt_id'")
    assert "found: content, category" in message


def test_csv_unrecognised_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts.csv", "\n\nid,body\na,b\n")
    message = load_error(path)
    assert message.startswith(f"{path}, line 3: cannot tell the prompt format from the columns")
    assert "found: id, body" in message and "prompt_id and content" in message


def test_jsonl_later_record_missing_key(tmp_path: Path) -> None:
    rows = [GENERIC_ROWS[0], GENERIC_ROWS[1], {"prompt_id": "x", "category": "c"}]
    path = write_jsonl(tmp_path, "p.jsonl", rows)
    assert load_error(path) == f"{path}, line 3: missing key 'content'"


def test_csv_empty_content(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "prompts.csv",
        "prompt_id,content\n" + "".join(f"p{i},text {i}\n" for i in range(5)) + "p5,  \n",
    )
    assert load_error(path) == f"{path}, line 7: missing value for 'content'"


def test_csv_short_row_missing_content(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts.csv", "prompt_id,category,content\na,web\n")
    assert load_error(path) == f"{path}, line 2: missing value for 'content'"


@pytest.mark.parametrize("value", [None, "", "   \n"])
def test_json_empty_content(tmp_path: Path, value: str | None) -> None:
    path = write_json(tmp_path, "p.json", [GENERIC_ROWS[0], {"prompt_id": "b", "content": value}])
    assert load_error(path) == f"{path}, record 2: missing value for 'content'"


def test_json_empty_prompt_id(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "p.jsonl", [{"prompt_id": " ", "content": "x"}])
    assert load_error(path) == f"{path}, line 1: missing value for 'prompt_id'"


def test_content_wrong_type(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "p.jsonl", [{"prompt_id": "a", "content": ["x"]}])
    assert load_error(path) == f"{path}, line 1: 'content' must be a string, got array"


def test_duplicate_prompt_id_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "prompt_id,content\na,one\nb,two\n\na,three\n")
    message = load_error(path)
    assert message == f"{path}, line 5: duplicate prompt_id 'a' (first seen on line 2)"


def test_duplicate_prompt_id_json(tmp_path: Path) -> None:
    rows = [
        {"prompt_id": "a", "content": "x"},
        {"prompt_id": "b", "content": "y"},
        {"prompt_id": " a ", "content": "z"},
    ]
    message = load_error(write_json(tmp_path, "d.json", rows))
    assert message.endswith("record 3: duplicate prompt_id 'a' (first seen on record 1)")


def test_duplicate_ids_in_benchmark(tmp_path: Path) -> None:
    rows = [SECURITYEVAL_ROWS[0], SECURITYEVAL_ROWS[1], SECURITYEVAL_ROWS[0]]
    message = load_error(write_jsonl(tmp_path, "se.jsonl", rows))
    assert "line 3: duplicate prompt_id 'CWE-020_sample_1.py' (first seen on line 1)" in message


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "p.xml"  # checked before the file is even opened
    message = load_error(path, "xml")
    assert message == (
        f"{path}: unknown format 'xml' (choose one of: auto, csv, jsonl, json, "
        "cyberseceval, securityeval, llmseceval)"
    )


def test_malformed_csv_unclosed_quote(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", 'prompt_id,content\na,ok\nb,"never closed\nc,more\n')
    message = load_error(path)
    assert message.startswith(f"{path}, line 3: malformed CSV")
    assert "quote" in message


def test_malformed_csv_stray_quote(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", 'prompt_id,content\na,"x"y\n')
    assert load_error(path).startswith(f"{path}, line 2: malformed CSV")


def test_duplicate_csv_column(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "prompt_id,content,Content\na,b,c\n")
    assert load_error(path) == f"{path}, line 1: duplicate column 'Content'"


def test_error_fields_and_pickling(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", '{"prompt_id": "a"\n')
    with pytest.raises(PromptLoadError) as info:
        load_prompts(path)
    error = info.value
    assert (error.path, error.line, error.record) == (str(path), 1, None)
    assert error.column is not None and error.problem.startswith("malformed JSON")
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error) and clone.line == error.line


_FUZZ_WORDS = ["prompt_id", "content", "test_case_prompt", "ID", "Prompt", "cwe", "null", "1", "x"]
_FUZZ_PIECES = [*_FUZZ_WORDS, "Prompt ID", "NL Prompt", "\r\n", *"\"',\t\n{}[]:- \\\u2028\x00é"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("suffix", [".csv", ".json", ".jsonl", ".txt"])
def test_garbage_only_raises_prompt_load_error(tmp_path: Path, fmt: str, suffix: str) -> None:
    rng = random.Random(f"{fmt}{suffix}")
    path = tmp_path / f"fuzz{suffix}"
    for _ in range(60):
        if rng.random() < 0.2:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        else:
            text = "".join(rng.choice(_FUZZ_PIECES) for _ in range(rng.randrange(1, 60)))
            data = text.encode()
        path.write_bytes(data)
        try:
            prompts = load_prompts(path, fmt)
        except PromptLoadError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert prompts and all(isinstance(p, Prompt) for p in prompts)


# ------------------------------------------------------------------ CWE ids


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CWE-020", "CWE-20"),
        ("cwe_89", "CWE-89"),
        ("CWE89", "CWE-89"),
        ("cwe 79", "CWE-79"),
        (" CWE-79: Cross-site Scripting ", "CWE-79"),
        ("89", "CWE-89"),
        (89, "CWE-89"),
        ("CWE-1321", "CWE-1321"),
        ("CWE-0", None),
        ("", None),
        (None, None),
        ("sql injection", None),
        (True, None),
    ],
)
def test_normalize_cwe(raw: object, expected: str | None) -> None:
    assert normalize_cwe(raw) == expected


@pytest.mark.parametrize(
    ("cwe", "expected"), [("CWE-020", "CWE-20"), ("cwe_89", "CWE-89"), ("n/a", None)]
)
def test_cwe_normalised_when_loading(tmp_path: Path, cwe: str, expected: str | None) -> None:
    path = write(tmp_path, "p.csv", f"prompt_id,content,cwe\na,b,{cwe}\n")
    assert load_prompts(path)[0].cwe == expected


# ------------------------------------------------------------------ builtin and sources


@pytest.fixture
def fake_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "builtin" / "prompts.jsonl"
    path.parent.mkdir()
    rows = [
        {
            "prompt_id": "b1",
            "content": "Store a password.",
            "category": "crypto",
            "complexity": "low",
            "cwe": "CWE-916",
        },
        {
            "prompt_id": "b2",
            "content": "Serve a file by name.",
            "category": "files",
            "complexity": "medium",
            "cwe": "CWE-022",
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setattr(loaders, "_builtin_resource", lambda: path)
    return path


def test_load_builtin(fake_builtin: Path) -> None:
    prompts = load_builtin()
    assert [p.prompt_id for p in prompts] == ["b1", "b2"]
    assert {p.source for p in prompts} == {"builtin"}
    assert prompts[1].cwe == "CWE-22"


def test_load_builtin_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "_builtin_resource", lambda: tmp_path / "nope.jsonl")
    with pytest.raises(PromptLoadError, match="built-in prompt set is missing"):
        load_builtin()


def test_load_builtin_errors_name_the_builtin_file(fake_builtin: Path) -> None:
    fake_builtin.write_text('{"prompt_id": "b1"}\n', encoding="utf-8")
    with pytest.raises(PromptLoadError) as info:
        load_builtin()
    assert str(info.value) == (
        "safety_eval/prompts/builtin/prompts.jsonl, line 1: "
        "missing required key 'content' for format 'jsonl' (expected keys: prompt_id, "
        "content; optional: category, complexity, cwe, language; found: prompt_id)"
    )


def test_real_builtin_set_if_present() -> None:
    resource = loaders._builtin_resource()
    if not resource.is_file():
        pytest.skip("builtin/prompts.jsonl not written yet")
    prompts = load_builtin()
    assert prompts
    assert len({p.prompt_id for p in prompts}) == len(prompts)
    assert {p.source for p in prompts} == {"builtin"}
    assert all(p.cwe is None or p.cwe.startswith("CWE-") for p in prompts)


@pytest.mark.parametrize("spec", [None, "builtin", " Builtin "])
def test_load_source_builtin(fake_builtin: Path, spec: str | None) -> None:
    assert [p.prompt_id for p in load_source(spec)] == ["b1", "b2"]


def test_load_source_path(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "mine.jsonl", GENERIC_ROWS)
    prompts = load_source(str(path))
    assert [p.source for p in prompts] == ["mine.jsonl"] * 3
    assert load_source(str(path), "jsonl") == prompts


def test_load_source_errors(fake_builtin: Path, tmp_path: Path) -> None:
    with pytest.raises(PromptLoadError, match="unknown format 'yaml'"):
        load_source("builtin", "yaml")
    with pytest.raises(PromptLoadError, match="no prompt file given"):
        load_source("  ")
    with pytest.raises(PromptLoadError, match="file not found"):
        load_source(str(tmp_path / "missing.csv"))
