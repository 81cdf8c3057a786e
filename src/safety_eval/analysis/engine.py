"""The analysis engine: parse (with recovery), run every scanner, merge and de-duplicate.

Each scanner runs isolated: one that raises becomes a ``ScanError`` on the sample and
the others still run. Findings of different tools on the same line with the same CWE
are one finding that keeps every tool id in ``tools``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from safety_eval.analysis.base import ParsedCode, Scanner, ScanOutput
from safety_eval.analysis.parse import parse_code
from safety_eval.results.records import SEVERITY_ORDER, Finding, ParseMode, ScanError

_CONFIDENCE_ORDER = {"low": 1, "medium": 2, "high": 3}
# Our own rule pack explains its findings with a fix hint: prefer its wording on a merge.
_TOOL_PREFERENCE = {"safety-eval": 0, "hallucination": 1, "bandit": 2, "semgrep": 3}


class AnalysisEngine(Protocol):
    """What the pipeline needs from an engine (``Engine``, ``ParallelEngine``, Ray's)."""

    def analyze_many(self, codes: Sequence[str]) -> list[Analysis]: ...


@dataclass
class Analysis:
    """What the engine found in one piece of code (picklable: no syntax tree)."""

    mode: ParseMode
    findings: list[Finding] = field(default_factory=list)
    hallucinations: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)

    @property
    def parsed(self) -> bool:
        return self.mode != "text-only"


# Bandit files some issues under a different CWE than our rule pack does for the same
# code (flask debug: CWE-94 vs CWE-489). For merging only, its findings use our CWE, so
# one issue on one line is counted once; a bandit finding alone keeps its own CWE.
_MERGE_CWE = {
    ("bandit", "B201"): "CWE-489",  # flask app.run(debug=True)
    ("bandit", "B104"): "CWE-1327",  # binding to all interfaces
    ("bandit", "B311"): "CWE-338",  # random for security values
    ("bandit", "B303"): "CWE-328",  # md5/sha1
    ("bandit", "B324"): "CWE-328",  # hashlib md5/sha1
    ("bandit", "B506"): "CWE-502",  # yaml.load
    ("bandit", "B307"): "CWE-95",  # eval
}


def _tool_id(finding: Finding) -> str:
    return f"{finding.tool}:{finding.rule_id}"


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (category, line, CWE) - or per (line, rule) when there is no CWE -
    with the highest severity and confidence among the duplicates and all tool ids."""
    groups: dict[tuple[object, ...], list[Finding]] = {}
    for finding in findings:
        if finding.category == "hallucination":
            key: tuple[object, ...] = ("h", finding.line, finding.rule_id, finding.symbol)
        elif finding.cwe:
            key = ("v", finding.line, _MERGE_CWE.get((finding.tool, finding.rule_id), finding.cwe))
        else:
            key = ("v", finding.line, finding.tool, finding.rule_id)
        groups.setdefault(key, []).append(finding)
    merged: list[Finding] = []
    for group in groups.values():
        lead = min(group, key=lambda f: _TOOL_PREFERENCE.get(f.tool, 9))
        tools = sorted({t for f in group for t in (f.tools or [_tool_id(f)])})
        severity = max((f.severity for f in group), key=SEVERITY_ORDER.__getitem__)
        confidence = max((f.confidence for f in group), key=_CONFIDENCE_ORDER.__getitem__)
        merged.append(
            lead.model_copy(update={"tools": tools, "severity": severity, "confidence": confidence})
        )
    merged.sort(key=lambda f: (f.line or 0, -SEVERITY_ORDER[f.severity], f.rule_id))
    return merged


class Engine:
    """Runs a fixed list of scanners over code; build it once and reuse it.

    A scanner with a ``scan_many(list[ParsedCode]) -> list[ScanOutput]`` method (semgrep,
    which is costly to start) gets the whole batch in one call.
    """

    def __init__(self, scanners: Sequence[Scanner]) -> None:
        self.scanners = list(scanners)

    def analyze(self, code: str) -> Analysis:
        return self.analyze_many([code])[0]

    def analyze_many(self, codes: Sequence[str]) -> list[Analysis]:
        parsed = [parse_code(code) for code in codes]
        analyses = [Analysis(mode=p.mode) for p in parsed]
        raw: list[list[Finding]] = [[] for _ in codes]
        for scanner in self.scanners:
            batch = getattr(scanner, "scan_many", None)
            if batch is not None:
                try:
                    outputs: list[ScanOutput | BaseException] = list(batch(parsed))
                except Exception as exc:
                    outputs = [exc] * len(parsed)
            else:
                outputs = [_scan_one(scanner, p) for p in parsed]
            for analysis, found, out in zip(analyses, raw, outputs, strict=True):
                if isinstance(out, BaseException):
                    analysis.errors.append(
                        ScanError(source=scanner.name, message=f"{type(out).__name__}: {out}")
                    )
                    continue
                found.extend(out.findings)
                analysis.errors.extend(out.errors)
        for analysis, found in zip(analyses, raw, strict=True):
            for finding in merge_findings(found):
                if finding.category == "hallucination":
                    analysis.hallucinations.append(finding)
                else:
                    analysis.findings.append(finding)
        return analyses


def _scan_one(scanner: Scanner, code: ParsedCode) -> ScanOutput | BaseException:
    """Isolation: a scanner that raises never sinks the sample or the other scanners."""
    try:
        return scanner.scan(code)
    except Exception as exc:
        return exc


def default_engine(
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    semgrep: bool = False,
) -> Engine:
    """Every scanner the project ships: our rule pack (the reference), bandit as a second
    opinion, the hallucination checks, and semgrep when asked for and installed.

    ``select``/``ignore`` take rule ids or prefixes (``SE1``, ``B602``, ``HAL``) and apply to
    every tool's findings.
    """
    from safety_eval.analysis.bandit_scanner import BanditScanner
    from safety_eval.analysis.hallucination import HallucinationScanner
    from safety_eval.analysis.rules import RulePackScanner

    scanners: list[Scanner] = [RulePackScanner(), BanditScanner(), HallucinationScanner()]
    if semgrep:
        from safety_eval.analysis.semgrep_scanner import SemgrepScanner

        scanners.append(SemgrepScanner())
    if select or ignore:
        return Engine([_Filtered(s, select, ignore) for s in scanners])
    return Engine(scanners)


def _matches(rule_id: str, prefixes: Sequence[str]) -> bool:
    return any(rule_id == p or rule_id.startswith(p) for p in prefixes)


class _Filtered:
    """A scanner whose findings pass ``--select``/``--ignore``."""

    def __init__(
        self, inner: Scanner, select: Sequence[str] | None, ignore: Sequence[str] | None
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.select = list(select or [])
        self.ignore = list(ignore or [])
        if hasattr(inner, "scan_many"):
            self.scan_many = self._scan_many

    def _keep(self, out: ScanOutput) -> ScanOutput:
        out.findings = [
            f for f in out.findings
            if (not self.select or _matches(f.rule_id, self.select))
            and not _matches(f.rule_id, self.ignore)
        ]
        return out

    def scan(self, code: ParsedCode) -> ScanOutput:
        return self._keep(self.inner.scan(code))

    def _scan_many(self, codes: list[ParsedCode]) -> list[ScanOutput]:
        return [self._keep(o) for o in self.inner.scan_many(codes)]  # type: ignore[attr-defined]


_WORKER_ENGINE: Engine | None = None


def _init_worker(select: list[str] | None, ignore: list[str] | None) -> None:
    global _WORKER_ENGINE
    _WORKER_ENGINE = default_engine(select=select, ignore=ignore)


def _analyze_chunk(codes: list[str]) -> list[Analysis]:
    assert _WORKER_ENGINE is not None, "worker not initialised"
    return _WORKER_ENGINE.analyze_many(codes)


class ParallelEngine:
    """An ``Engine`` look-alike whose ``analyze_many`` spreads each batch over a
    persistent pool of worker processes (each builds its own engine once)."""

    def __init__(
        self,
        workers: int,
        select: Sequence[str] | None = None,
        ignore: Sequence[str] | None = None,
        min_chunk: int = 16,
    ) -> None:
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self.min_chunk = min_chunk
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(list(select or []) or None, list(ignore or []) or None),
        )

    def analyze(self, code: str) -> Analysis:
        return self.analyze_many([code])[0]

    def analyze_many(self, codes: Sequence[str]) -> list[Analysis]:
        size = max(self.min_chunk, -(-len(codes) // self.workers))
        chunks = [list(codes[i : i + size]) for i in range(0, len(codes), size)]
        out: list[Analysis] = []
        for part in self._pool.map(_analyze_chunk, chunks):
            out.extend(part)
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def analyze_parallel(
    codes: Sequence[str],
    workers: int,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
) -> list[Analysis]:
    """``default_engine().analyze_many`` once over ``workers`` processes (order kept);
    ``workers <= 1`` runs in this process."""
    if workers <= 1:
        return default_engine(select=select, ignore=ignore).analyze_many(codes)
    engine = ParallelEngine(workers, select=select, ignore=ignore)
    try:
        return engine.analyze_many(codes)
    finally:
        engine.close()
