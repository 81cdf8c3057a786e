"""``safety-eval scan``: formats (SARIF validated against the official schema), rule
selection, JSONL input, fragments bandit cannot parse, and the self-check."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.pipeline.conftest import cli

SARIF_SCHEMA = Path(sys.prefix) / "tools" / "sarif" / "sarif-2.1.0.json"

FRAGMENT = (
    "    def run(self, request):\n"
    "        host = request.args['host']\n"
    "        subprocess.check_output(f'ping -c 1 {host}', shell=True\n"
    "        return 'ok'\n"
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "vuln.py").write_text(
        "import hashlib\nimport pickle\n\n"
        "def load(blob):\n    return pickle.loads(blob)\n\n"
        "def pw(p):\n    return hashlib.md5(p.encode()).hexdigest()\n"
    )
    (tmp_path / "frag.py").write_text(FRAGMENT)
    (tmp_path / "clean.py").write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    return tmp_path


def test_sarif_is_valid_against_the_official_schema(tree: Path) -> None:
    assert SARIF_SCHEMA.is_file(), "make test installs the SARIF schema; run make test"
    result = cli("scan", str(tree), "--format", "sarif")
    assert result.returncode == 1
    log = json.loads(result.stdout)
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert any("external/cwe/cwe-78" in r["properties"]["tags"] for r in rules.values())
    assert all("security-severity" in r["properties"] for r in rules.values())
    for res in run["results"]:
        assert run["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == res["ruleId"]


def test_fragment_bandit_cannot_parse_gets_the_right_cwe(tree: Path) -> None:
    with pytest.raises(SyntaxError):
        ast.parse(FRAGMENT)
    result = cli("scan", str(tree / "frag.py"), "--format", "json")
    entry = json.loads(result.stdout)["files"][0]
    assert entry["parse_mode"] == "recovered"
    assert [(f["cwe"], f["line"]) for f in entry["findings"] if f["cwe"] == "CWE-78"] == [
        ("CWE-78", 3)]


def test_select_and_ignore(tree: Path) -> None:
    only = cli("scan", str(tree / "vuln.py"), "--format", "json", "--select", "SE3")
    findings = json.loads(only.stdout)["files"][0]["findings"]
    assert findings and all(f["rule_id"].startswith("SE3") for f in findings)
    none = cli("scan", str(tree / "vuln.py"), "--format", "json", "--ignore", "SE",
               "--ignore", "B", "--ignore", "HAL")
    assert json.loads(none.stdout)["files"][0]["findings"] == [] and none.returncode == 0


def test_nosec_is_honoured_by_every_tool(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_text("import pickle\n\ndef load(b):\n    return pickle.loads(b)\n")
    loud = json.loads(cli("scan", str(path), "--format", "json").stdout)["files"][0]
    assert {f["line"] for f in loud["findings"]} >= {4}
    path.write_text("import pickle  # nosec\n\ndef load(b):\n    return pickle.loads(b)  # nosec\n")
    result = cli("scan", str(path), "--format", "json")
    assert json.loads(result.stdout)["files"][0]["findings"] == []
    assert result.returncode == 0


def test_jsonl_of_completions(tmp_path: Path) -> None:
    path = tmp_path / "replies.jsonl"
    rows = [{"completion": "Sure:\n```python\nimport os\nos.system('rm -rf ' + user)\n```"},
            {"completion": "No code here, sorry."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = cli("scan", str(path), "--format", "json")
    files = json.loads(result.stdout)["files"]
    assert [f["path"].rsplit(":", 1)[1] for f in files] == ["1", "2"]
    assert any(f["cwe"] == "CWE-78" for f in files[0]["findings"]) and not files[1]["findings"]
    bad = cli("scan", str(path), "--code-field", "text")
    assert bad.returncode == 2 and "no string field 'text'" in bad.stderr


def test_self_check_meets_the_floors() -> None:
    result = cli("scan", "--self-check")
    assert result.returncode == 0, result.stdout
    total = next(line for line in result.stdout.splitlines() if line.startswith("TOTAL"))
    precision, recall = (float(x) for x in total.split()[-2:])
    assert precision >= 0.95 and recall >= 0.95


def test_scan_never_runs_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    cli("scan", str(tmp_path))
    assert not marker.exists()
