"""Measure the rule pack against its labelled corpus (precision / recall per rule).

Corpus format: one ``.txt`` file per case under ``corpus/``; the first line is a
header ``# expect: SE101@5, CWE-89@9`` (rule id or CWE, ``@`` 1-based line in the
file) or ``# expect: none``. Files are named ``SE101_vuln*.txt`` (must be caught),
``SE101_safe*.txt`` (a lookalike that rule must not flag) and ``frag_*.txt``
(fragments ``ast.parse`` rejects).

Scoring: an expectation is a true positive when a finding with that rule id (or CWE)
is reported within one line of it; otherwise a false negative. Every finding that
satisfies no expectation of its case is a false positive.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from safety_eval.analysis.base import Scanner
from safety_eval.analysis.parse import parse_code

__all__ = [
    "CORPUS_DIR",
    "Case",
    "Expectation",
    "RuleStats",
    "SelfCheckReport",
    "format_report",
    "load_corpus",
    "parse_header",
    "self_check",
]

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
_HEADER = re.compile(r"^\s*#\s*expect:\s*(.*?)\s*$", re.IGNORECASE)
_ITEM = re.compile(r"^(SE\d{3}|CWE-\d+)@(\d+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Expectation:
    key: str
    """A rule id (``SE101``) or a CWE (``CWE-78``)."""
    line: int


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    text: str
    expected: tuple[Expectation, ...]

    @property
    def rule(self) -> str | None:
        """The rule a ``SE123_vuln``/``SE123_safe`` case is about."""
        m = re.match(r"^(SE\d{3})_", self.name)
        return m.group(1) if m else None

    @property
    def kind(self) -> str:
        if "_vuln" in self.name:
            return "vuln"
        if "_safe" in self.name:
            return "safe"
        return "fragment" if self.name.startswith("frag") else "other"


def parse_header(first_line: str) -> tuple[Expectation, ...]:
    """Expectations of a case from its header line (``ValueError`` if malformed)."""
    m = _HEADER.match(first_line)
    if m is None:
        raise ValueError(f"missing '# expect:' header: {first_line!r}")
    body = m.group(1).strip()
    if body.lower() in ("none", ""):
        return ()
    items: list[Expectation] = []
    for raw in body.split(","):
        item = _ITEM.match(raw.strip())
        if item is None:
            raise ValueError(f"bad expectation {raw.strip()!r}")
        items.append(Expectation(key=item.group(1).upper(), line=int(item.group(2))))
    return tuple(items)


def load_corpus(corpus_dir: Path | None = None) -> list[Case]:
    """Every case of the corpus, sorted by name."""
    root = corpus_dir or CORPUS_DIR
    cases = []
    for path in sorted(root.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        first = text.split("\n", 1)[0]
        cases.append(Case(name=path.stem, text=text, expected=parse_header(first)))
    return cases


@dataclass
class RuleStats:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class SelfCheckReport:
    cases: int = 0
    per_rule: dict[str, RuleStats] = field(default_factory=dict)
    overall: RuleStats = field(default_factory=RuleStats)
    problems: list[str] = field(default_factory=list)
    """One line per false positive / false negative."""
    scan_ms: float = 0.0
    """Mean parse + scan time per case, in milliseconds."""
    found: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Per case: (rule id, line) of every finding."""

    @property
    def precision(self) -> float:
        return self.overall.precision

    @property
    def recall(self) -> float:
        return self.overall.recall

    def stats(self, key: str) -> RuleStats:
        return self.per_rule.setdefault(key, RuleStats())


def self_check(corpus_dir: Path | None = None, scanner: Scanner | None = None) -> SelfCheckReport:
    """Scan every corpus case and score the findings against the labels."""
    if scanner is None:
        from safety_eval.analysis.rules.scanner import RulePackScanner

        scanner = RulePackScanner()
    report = SelfCheckReport()
    total = 0.0
    for case in load_corpus(corpus_dir):
        report.cases += 1
        start = time.perf_counter()
        findings = scanner.scan(parse_code(case.text)).findings
        total += time.perf_counter() - start
        report.found[case.name] = [(f.rule_id, f.line or 0) for f in findings]
        used = [False] * len(findings)
        for exp in case.expected:
            match = None
            for i, f in enumerate(findings):
                if used[i] or f.line is None or abs(f.line - exp.line) > 1:
                    continue
                if exp.key in (f.rule_id, f.cwe):
                    match = i
                    break
            if match is None:
                report.stats(exp.key).fn += 1
                report.overall.fn += 1
                report.problems.append(f"FN {case.name}: {exp.key}@{exp.line} not reported")
            else:
                used[match] = True
                report.stats(findings[match].rule_id).tp += 1
                report.overall.tp += 1
        for i, f in enumerate(findings):
            if not used[i]:
                report.stats(f.rule_id).fp += 1
                report.overall.fp += 1
                report.problems.append(f"FP {case.name}: {f.rule_id}@{f.line} ({f.cwe})")
    report.scan_ms = total / report.cases * 1000 if report.cases else 0.0
    return report


def format_report(report: SelfCheckReport) -> str:
    """A plain-text table: one row per rule, then the totals and the problems."""
    rows = [f"{'rule':<8} {'TP':>4} {'FP':>4} {'FN':>4} {'prec':>6} {'recall':>6}"]
    for key in sorted(report.per_rule):
        s = report.per_rule[key]
        rows.append(f"{key:<8} {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.precision:>6.2f} {s.recall:>6.2f}")
    o = report.overall
    rows.append(f"{'TOTAL':<8} {o.tp:>4} {o.fp:>4} {o.fn:>4} {o.precision:>6.2f} {o.recall:>6.2f}")
    rows.append(f"{report.cases} cases, {report.scan_ms:.2f} ms per case (parse + scan)")
    rows.extend(report.problems)
    return "\n".join(rows)
