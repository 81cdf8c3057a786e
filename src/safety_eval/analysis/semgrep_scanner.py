"""Optional semgrep layer, with rule files this project writes (``semgrep_rules/``).

Semgrep runs offline (``--metrics=off --disable-version-check``, local rules only) as a
separate process. Because starting it costs about a second, it scans a whole batch of
samples in one call (``scan_many``). Where semgrep is not installed the scanner is simply
not used and ``doctor`` says so; it never turns into a silent "clean" result: a failed
semgrep call is a ScanError on every sample of the batch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from safety_eval.analysis.base import ParsedCode, ScanOutput
from safety_eval.results.records import Finding, ScanError

_SEVERITY = {"ERROR": "high", "WARNING": "medium", "INFO": "low"}
_VALID_SEVERITIES = {"critical", "high", "medium", "low"}


def find_semgrep() -> Path | None:
    """``$SAFETY_EVAL_SEMGREP_BIN``, then ``semgrep`` on PATH, then the tool venv that
    ``make`` creates beside the project venv (``.venv/tools/semgrep``)."""
    explicit = os.environ.get("SAFETY_EVAL_SEMGREP_BIN")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    on_path = shutil.which("semgrep")
    if on_path:
        return Path(on_path)
    bundled = Path(sys.prefix) / "tools" / "semgrep" / "bin" / "semgrep"
    return bundled if bundled.is_file() else None


def rules_dir() -> Path:
    return Path(str(resources.files("safety_eval.analysis") / "semgrep_rules"))


class SemgrepScanner:
    name = "semgrep"

    def __init__(self, binary: Path | None = None, timeout_s: float = 300.0) -> None:
        found = binary or find_semgrep()
        if found is None:
            raise FileNotFoundError("semgrep is not installed (pip install -e '.[semgrep]')")
        self.binary = found
        self.timeout_s = timeout_s

    def scan(self, code: ParsedCode) -> ScanOutput:
        return self.scan_many([code])[0]

    def scan_many(self, codes: list[ParsedCode]) -> list[ScanOutput]:
        outputs = [ScanOutput() for _ in codes]
        with tempfile.TemporaryDirectory(prefix="safety-eval-semgrep-") as tmp:
            paths = []
            for index, code in enumerate(codes):
                path = Path(tmp) / f"s{index:06d}.py"
                path.write_text(code.text, encoding="utf-8")
                paths.append(path)
            try:
                data = self._run(Path(tmp))
            except (OSError, subprocess.SubprocessError, ValueError) as exc:
                for out in outputs:
                    out.errors.append(ScanError(source="semgrep", message=str(exc)[:500]))
                return outputs
        index_of = {p.name: i for i, p in enumerate(paths)}
        for result in data.get("results", []):
            slot = index_of.get(Path(result.get("path", "")).name)
            if slot is None:
                continue
            extra = result.get("extra", {})
            meta = extra.get("metadata", {})
            rule_id = str(result.get("check_id", "")).rsplit(".", 1)[-1]
            severity = meta.get("safety_eval_severity") or _SEVERITY.get(
                str(extra.get("severity")), "medium"
            )
            if severity not in _VALID_SEVERITIES:
                severity = "medium"
            outputs[slot].findings.append(
                Finding(
                    rule_id=rule_id.split("-", 1)[0],
                    tool="semgrep",
                    category="vulnerability",
                    cwe=meta.get("cwe"),
                    severity=severity,
                    confidence="medium",
                    line=int(result.get("start", {}).get("line") or 0) or None,
                    message=str(extra.get("message", "")).strip(),
                    tools=[f"semgrep:{rule_id.split('-', 1)[0]}"],
                )
            )
        for error in data.get("errors", []):
            slot = index_of.get(Path(str(error.get("path", ""))).name)
            if slot is not None and error.get("level") == "error":
                outputs[slot].errors.append(
                    ScanError(source="semgrep", message=str(error.get("message", ""))[:300])
                )
        return outputs

    def _run(self, target: Path) -> dict[str, Any]:
        cmd = [
            str(self.binary), "scan", "--config", str(rules_dir()), "--json", "--quiet",
            "--metrics=off", "--disable-version-check", "--no-git-ignore", "--oss-only",
            str(target),
        ]
        env = {**os.environ, "SEMGREP_SEND_METRICS": "off", "SEMGREP_ENABLE_VERSION_CHECK": "0"}
        proc = subprocess.run(  # fixed tool, fixed arguments; the scanned code is only read
            cmd, capture_output=True, text=True, timeout=self.timeout_s, env=env, check=False
        )
        if proc.returncode not in (0, 1) or not proc.stdout.strip():
            raise ValueError(f"semgrep exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        data: dict[str, Any] = json.loads(proc.stdout)
        return data
