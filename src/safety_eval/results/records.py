"""Typed, versioned records shared by every stage.

Records are frozen pydantic models serialised by field name. Anything users parse
(samples.jsonl lines, findings) follows these shapes; ``SCHEMA_VERSION`` changes when
a field changes meaning or disappears.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1"

Severity = Literal["critical", "high", "medium", "low"]
Confidence = Literal["high", "medium", "low"]
FindingCategory = Literal["vulnerability", "hallucination"]
ParseMode = Literal["full", "recovered", "text-only"]

SEVERITY_ORDER: dict[str, int] = {"low": 1, "medium": 2, "high": 3, "critical": 4}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Prompt(_Frozen):
    """One coding task sent to the models."""

    prompt_id: str
    content: str
    category: str = "uncategorized"
    complexity: str | None = None
    cwe: str | None = None
    language: str = "python"
    source: str = "builtin"


class Finding(_Frozen):
    """One problem found in generated code (a vulnerability or a hallucination)."""

    rule_id: str
    tool: str
    category: FindingCategory
    cwe: str | None = None
    severity: Severity
    confidence: Confidence = "medium"
    line: int | None = None
    message: str
    symbol: str | None = None
    tools: list[str] = Field(default_factory=list)
    """Every tool (with its rule id) that reported this finding after de-duplication."""

    def at_least(self, threshold: Severity) -> bool:
        return SEVERITY_ORDER[self.severity] >= SEVERITY_ORDER[threshold]


class Generation(_Frozen):
    """What a backend returned for one prompt."""

    text: str
    tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None


class ScanError(_Frozen):
    """A scanner or rule that failed on a sample; the sample is still kept."""

    source: str
    message: str


class Sample(_Frozen):
    """One prompt, one model: the reply, the code taken from it, and what was found."""

    schema_version: str = SCHEMA_VERSION
    prompt_id: str
    model: str
    category: str
    cwe_tempted: str | None = None
    prompt: str
    completion: str
    code: str
    parsed: bool
    parse_mode: ParseMode
    findings: list[Finding]
    hallucinations: list[Finding]
    error: str | None = None
    scan_errors: list[ScanError] = Field(default_factory=list)
    latency_s: float = 0.0
    tokens: int = 0
