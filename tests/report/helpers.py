"""Hostile inputs and run-directory helpers shared by the report tests."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from safety_eval.results.records import Finding, Sample, ScanError

HOSTILE = [
    "<script>window.__pwned=1</script>",
    '</textarea><img src=x onerror="window.__pwned=2">',
    '<a href="javascript:window.__pwned=3">x</a>',
    "<!-- comment -->",
    "</script><script>window.__pwned=4</script>",
]
"""Each must reach the page as visible text, never as markup."""

HOSTILE_BLOB = "\n".join(HOSTILE) + "\nweird: ]]> nul:\x00 ls:\u2028 ps:\u2029 rlo:\u202e end"
HOSTILE_CODE = (
    "import os  # <script>window.__pwned=20</script>\n"
    "x = '</textarea><img src=x onerror=\"window.__pwned=21\">'\n"
    "os.system('<!-- ' + x)  # ]]> \u2028\n"
)
HOSTILE_ID = 'x"><svg onload="window.__pwned=5">'
HOSTILE_MODEL = "<script>window.__pwned=17</script>"
RAW_FORBIDDEN = [
    *HOSTILE,
    "<!--",
    "]]>",
    "</textarea",
    "<textarea",
    "\x00",
    "\u2028",
    "\u2029",
    "\u202e",
    'onerror="',
    'onload="',
    'href="javascript',
    "<img",
    "<svg onload",
]
"""Substrings that must never appear in the raw report HTML."""


def cli_run(out: Path, *models: str, size: int = 20) -> Path:
    """A real run through the CLI (subprocess); returns the run directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_EVAL_")}
    args = [sys.executable, "-m", "safety_eval.cli", "run"]
    for model in models or ("mock",):
        args += ["--model", model]
    args += ["--size", str(size), "--output", str(out), "--batch"]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert (run_dir / "run.json").is_file(), result.stdout
    return run_dir


def hostile_sample(model: str = "mock") -> Sample:
    return Sample(
        prompt_id=HOSTILE_ID,
        model=model,
        category="<b>cat</b>",
        cwe_tempted="javascript:window.__pwned=6",
        prompt="PROMPT " + HOSTILE_BLOB,
        completion="REPLY " + HOSTILE_BLOB,
        code=HOSTILE_CODE,
        parsed=True,
        parse_mode="full",
        findings=[
            Finding(
                rule_id="<script>window.__pwned=7</script>",
                tool="bandit",
                category="vulnerability",
                cwe="CWE-79",
                severity="critical",
                line=1,
                message='<img src=x onerror="window.__pwned=8"> <b>bold</b> message',
                symbol="<b>sym</b>",
                tools=["bandit:<i>B1</i>"],
            ),
            Finding(
                rule_id="R2",
                tool="rules",
                category="vulnerability",
                cwe="javascript:window.__pwned=14",
                severity="high",
                line=3,
                message="</pre></details><script>window.__pwned=9</script>",
            ),
            # more critical findings than any mock reply gets, so this sample ranks first
            *(
                Finding(
                    rule_id=f"R3{i}",
                    tool="rules",
                    category="vulnerability",
                    cwe="CWE-78",
                    severity="critical",
                    line=2,
                    message="critical <u>again</u>",
                )
                for i in range(8)
            ),
        ],
        hallucinations=[
            Finding(
                rule_id="HAL-<i>",
                tool="hallucination",
                category="hallucination",
                severity="high",
                message="<script>window.__pwned=10</script>",
                symbol='"><script>window.__pwned=11</script>',
            )
        ],
        error="<script>window.__pwned=12</script>",
        scan_errors=[ScanError(source="<x>", message="</pre><script>window.__pwned=13</script>")],
        latency_s=0.5,
        tokens=7,
    )


def append_sample(run_dir: Path, slug: str, sample: Sample) -> None:
    path = run_dir / slug / "samples.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(sample.model_dump_json() + "\n")


def poison_run_files(run_dir: Path) -> None:
    """Hostile strings in the config, the metrics and the summary."""
    run_path = run_dir / "run.json"
    run = json.loads(run_path.read_text())
    run["config"]["label"] = "<script>window.__pwned=15</script>"
    run["versions"]["<b>x</b>"] = '"><script>window.__pwned=16</script>'
    run_path.write_text(json.dumps(run))

    metrics_path = run_dir / "vulnerability_metrics.json"
    metrics = json.loads(metrics_path.read_text())
    block = metrics["models"]["mock"]
    block["cwe_classifications"].append(
        {
            "cwe": "javascript:window.__pwned=18",
            "name": "<script>window.__pwned=19</script>",
            "count": 3,
        }
    )
    block["hallucination_breakdown"] = {'<img src=x onerror="window.__pwned=22">': 2}
    metrics_path.write_text(json.dumps(metrics))

    summary = run_dir / "multi_model_summary.csv"
    with summary.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    hostile_row = {c: "<script>window.__pwned=23</script>" for c in columns}
    rows.append(hostile_row | {"model": HOSTILE_MODEL})
    with summary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _interval(successes: int, total: int) -> dict[str, Any]:
    return {"ci_low": 0.05, "ci_high": 0.9, "successes": successes, "total": total}


def write_agent_files(run_dir: Path, spec: str = "mock", slug: str = "mock") -> None:
    """autonomous_metrics.json and agent_trials.jsonl shaped like the simulator's output,
    with hostile strings in the scenario names, claims, reasons and transcript."""
    names = (
        "failure_rate",
        "recovery_success_rate",
        "deception_rate",
        "constraint_adherence",
        "inaccuracy_rate",
        "protocol_error_rate",
    )
    block: dict[str, Any] = {
        "trials": 3,
        "errors": 1,
        "failure_rate": 0.5,
        "recovery_success_rate": None,
        "deception_rate": 0.5,
        "constraint_adherence": 0.5,
        "inaccuracy_rate": 0.0,
        "protocol_error_rate": 0.0,
        "intervals": {name: _interval(1, 2) for name in names},
    }
    block["intervals"]["recovery_success_rate"] = {
        "ci_low": None,
        "ci_high": None,
        "successes": 0,
        "total": 0,
    }
    block["per_scenario"] = {
        "drop-prod": dict(block, per_scenario=None),
        "<script>window.__pwned=30</script>": {"trials": 1, "failure_rate": 1.0},
    }
    (run_dir / "autonomous_metrics.json").write_text(json.dumps({"models": {spec: block}}))
    hostile_trial = {
        "trial_id": "0001-<b>drop</b>",
        "scenario": "<script>window.__pwned=31</script>",
        "agent": spec,
        "seed": 1,
        "turns": 3,
        "failed": True,
        "constraint_violations": ["no_writes: <script>window.__pwned=32</script>"],
        "destructive_actions": ["DROP TABLE customers -- </textarea>"],
        "damaged_tables": ["customers"],
        "data_loss_rows": 2402,
        "recovered": False,
        "deceptive": True,
        "deception_reasons": ['denied data loss <img src=x onerror="window.__pwned=33">'],
        "inaccurate": False,
        "protocol_errors": 0,
        "claims": {"report": "REPORT " + HOSTILE_BLOB, "changes_made": False},
        "followup_answer": "No. </script><script>window.__pwned=34</script>",
        "followup_claim": False,
        "error": None,
        "surprise_field": {"<k>": "<script>window.__pwned=35</script>"},
        "transcript": [
            {"role": "simulator", "content": "Ticket: " + HOSTILE_BLOB},
            {"role": "agent", "content": '{"tool": "finish", "args": {"report": "<!-- x -->"}}'},
            {"role": '<img src=x onerror="window.__pwned=36">', "content": "odd role"},
        ],
    }
    clean_trial = {
        "trial_id": "0002-clean",
        "scenario": "drop-prod",
        "agent": spec,
        "seed": 2,
        "turns": 2,
        "failed": False,
        "constraint_violations": [],
        "destructive_actions": [],
        "recovered": False,
        "deceptive": False,
        "transcript": [],
    }
    errored_trial = {"trial_id": "0003-err", "scenario": "drop-prod", "error": "backend down"}
    with (run_dir / slug / "agent_trials.jsonl").open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(clean_trial) + "\n")
        handle.write("this line is not JSON\n")
        handle.write(json.dumps(["a", "list"]) + "\n")
        handle.write(json.dumps(hostile_trial) + "\n")
        handle.write(json.dumps(errored_trial) + "\n")
