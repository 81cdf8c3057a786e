"""Prometheus metrics of one run, in a registry of its own.

A :class:`RunMetrics` owns a fresh ``CollectorRegistry`` (never the process-global
one), so two runs in one process, or a run and the tests, never share counters.
Feed it with :meth:`RunMetrics.observe_sample` and :meth:`RunMetrics.observe_trial`;
publish with :meth:`RunMetrics.write_textfile` (``metrics.prom`` in the run directory,
for node_exporter's textfile collector) and/or :meth:`RunMetrics.serve` (an HTTP
``/metrics`` endpoint bound to 127.0.0.1 unless told otherwise).

Metric families (all prefixed ``safety_eval_``):

==========================================  =========  ===============================
name                                        type       labels
==========================================  =========  ===============================
run_info                                    gauge (1)  run_id
samples_total                               counter    model
vulnerable_samples_total                    counter    model (>= severity threshold)
findings_total                              counter    model, severity
hallucinations_total                        counter    model
generation_latency_seconds                  histogram  model
generated_tokens_total                      counter    model
tokens_per_second                           gauge      model (tokens / latency so far)
failures_total                              counter    model, kind (generation, scan,
                                                       trial, backend)
consecutive_failures                        gauge      model
agent_trials_total                          counter    model, outcome (passed, failed,
                                                       recovered, error)
agent_deceptive_trials_total                counter    model
gpu_memory_used_bytes / gpu_memory_total_b  gauge      device (only where a GPU is seen)
last_update_timestamp_seconds               gauge
==========================================  =========  ===============================

GPU memory is read at collection time: through torch when torch has already
initialised CUDA in this process, else through ``nvidia-smi`` when it is on PATH;
with neither, the GPU families are simply absent.

:meth:`RunMetrics.alert_values` gives the per-model values the alert rules of
:mod:`safety_eval.ops.alerts` are evaluated against.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest, start_http_server
from prometheus_client.registry import Collector

from safety_eval.results.records import SEVERITY_ORDER

__all__ = [
    "LATENCY_BUCKETS",
    "METRICS_FILE",
    "GpuReading",
    "MetricsServer",
    "RunMetrics",
    "read_gpu_memory",
]

METRICS_FILE = "metrics.prom"
NAMESPACE = "safety_eval"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
SEVERITIES = ("critical", "high", "medium", "low")
TRIAL_OUTCOMES = ("passed", "failed", "recovered", "error")
FAILURE_KINDS = ("generation", "scan", "trial", "backend")


class GpuReading(NamedTuple):
    device: str
    used_bytes: int
    total_bytes: int


def _torch_readings() -> list[GpuReading] | None:
    """Readings through torch, only when this process already initialised CUDA there
    (asking an uninitialised torch would create a CUDA context just to be measured)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        cuda = torch.cuda
        if not (cuda.is_available() and cuda.is_initialized()):
            return None
        readings = []
        for index in range(cuda.device_count()):
            free, total = cuda.mem_get_info(index)
            readings.append(GpuReading(f"cuda:{index}", int(total - free), int(total)))
        return readings
    except Exception:  # a broken CUDA runtime is "no reading", never a crash
        return None


def _nvidia_smi_readings(timeout_s: float = 5.0) -> list[GpuReading]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(  # a fixed system tool with fixed arguments
            [exe, "--query-gpu=index,memory.used,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=timeout_s, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    readings = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3:
            continue
        try:
            used_mib, total_mib = float(parts[1]), float(parts[2])
        except ValueError:
            continue
        readings.append(GpuReading(f"cuda:{parts[0]}", int(used_mib * 2**20),
                                   int(total_mib * 2**20)))
    return readings


_gpu_cache: tuple[float, list[GpuReading]] | None = None
_gpu_lock = threading.Lock()


def read_gpu_memory(max_age_s: float = 5.0) -> list[GpuReading]:
    """Memory used/total per GPU (empty without one); cached for ``max_age_s``."""
    global _gpu_cache
    with _gpu_lock:
        now = time.monotonic()
        if _gpu_cache is not None and now - _gpu_cache[0] < max_age_s:
            return list(_gpu_cache[1])
        readings = _torch_readings()
        if readings is None:
            readings = _nvidia_smi_readings()
        _gpu_cache = (now, readings)
        return list(readings)


class _GpuCollector(Collector):
    def __init__(self, reader: Callable[[], list[GpuReading]]) -> None:
        self.reader = reader

    def describe(self) -> Iterable[Metric]:
        # describing without reading: registering never touches the GPU
        return [
            GaugeMetricFamily(f"{NAMESPACE}_gpu_memory_used_bytes", "GPU memory in use",
                              labels=["device"]),
            GaugeMetricFamily(f"{NAMESPACE}_gpu_memory_total_bytes", "GPU memory in all",
                              labels=["device"]),
        ]

    def collect(self) -> Iterable[Metric]:
        readings = self.reader()
        if not readings:
            return []
        used = GaugeMetricFamily(f"{NAMESPACE}_gpu_memory_used_bytes", "GPU memory in use",
                                 labels=["device"])
        total = GaugeMetricFamily(f"{NAMESPACE}_gpu_memory_total_bytes", "GPU memory in all",
                                  labels=["device"])
        for reading in readings:
            used.add_metric([reading.device], reading.used_bytes)
            total.add_metric([reading.device], reading.total_bytes)
        return [used, total]


@dataclass
class _ModelStats:
    samples: int = 0
    vulnerable: int = 0
    hallucinated: int = 0
    generation_errors: int = 0
    scan_errors: int = 0
    critical_findings: int = 0
    latency_s: float = 0.0
    tokens: int = 0
    consecutive_failures: int = 0
    trials: int = 0
    trial_errors: int = 0
    trials_failed: int = 0
    trials_recovered: int = 0
    trials_deceptive: int = 0
    trials_violating: int = 0
    trials_inaccurate: int = 0
    seen_severities: set[str] = field(default_factory=set)


def _get(record: Any, key: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(key, default)
    return getattr(record, key, default)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class MetricsServer:
    """A running ``/metrics`` endpoint; ``close()`` stops it and frees the port."""

    server: Any
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RunMetrics:
    """Counters, histograms and gauges of one run, in their own registry."""

    def __init__(
        self,
        run_id: str = "",
        severity_threshold: str = "medium",
        gpu_reader: Callable[[], list[GpuReading]] | None = read_gpu_memory,
    ) -> None:
        if severity_threshold not in SEVERITY_ORDER:
            raise ValueError(f"unknown severity threshold {severity_threshold!r}")
        self.run_id = run_id
        self.threshold = SEVERITY_ORDER[severity_threshold]
        self.registry = CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._stats: dict[str, _ModelStats] = {}
        self._gpu_reader = gpu_reader
        r = self.registry
        ns = NAMESPACE
        self.run_info = Gauge(f"{ns}_run_info", "This run (value is always 1)", ["run_id"],
                              registry=r)
        self.run_info.labels(run_id=run_id).set(1)
        self.samples = Counter(f"{ns}_samples", "Samples finished", ["model"], registry=r)
        self.vulnerable = Counter(
            f"{ns}_vulnerable_samples",
            f"Samples with a finding at or above '{severity_threshold}'",
            ["model"], registry=r,
        )
        self.findings = Counter(f"{ns}_findings", "Vulnerability findings",
                                ["model", "severity"], registry=r)
        self.hallucinations = Counter(f"{ns}_hallucinations", "Hallucination findings",
                                      ["model"], registry=r)
        self.latency = Histogram(f"{ns}_generation_latency_seconds",
                                 "Generation latency per sample", ["model"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.tokens = Counter(f"{ns}_generated_tokens", "Tokens generated", ["model"],
                              registry=r)
        self.tokens_per_s = Gauge(f"{ns}_tokens_per_second",
                                  "Tokens per second of generation so far", ["model"],
                                  registry=r)
        self.failures = Counter(f"{ns}_failures", "Failures by kind", ["model", "kind"],
                                registry=r)
        self.consecutive = Gauge(f"{ns}_consecutive_failures",
                                 "Generation or trial failures in a row", ["model"], registry=r)
        self.trials = Counter(f"{ns}_agent_trials", "Agent trials by outcome",
                              ["model", "outcome"], registry=r)
        self.deceptive = Counter(f"{ns}_agent_deceptive_trials", "Agent trials judged deceptive",
                                 ["model"], registry=r)
        self.updated = Gauge(f"{ns}_last_update_timestamp_seconds",
                             "When a sample or trial was last recorded", registry=r)
        if gpu_reader is not None:
            self.registry.register(_GpuCollector(gpu_reader))

    # -- recording ---------------------------------------------------------------------

    def _model(self, model: str) -> _ModelStats:
        stats = self._stats.get(model)
        if stats is None:
            stats = self._stats[model] = _ModelStats()
            # every series exists from the start, so rate() sees the first increment
            self.samples.labels(model=model)
            self.vulnerable.labels(model=model)
            self.hallucinations.labels(model=model)
            self.tokens.labels(model=model)
            self.consecutive.labels(model=model).set(0)
            for severity in SEVERITIES:
                self.findings.labels(model=model, severity=severity)
            for kind in FAILURE_KINDS:
                self.failures.labels(model=model, kind=kind)
        return stats

    def observe_sample(self, model: str, sample: Any) -> None:
        """Record one finished sample (a ``Sample`` or its JSON dict)."""
        findings = _get(sample, "findings") or []
        severities = [str(_get(f, "severity")) for f in findings]
        hallucinations = len(_get(sample, "hallucinations") or [])
        error = _get(sample, "error")
        scan_errors = _get(sample, "scan_errors") or []
        latency = float(_get(sample, "latency_s", 0.0) or 0.0)
        tokens = int(_get(sample, "tokens", 0) or 0)
        with self._lock:
            stats = self._model(model)
            stats.samples += 1
            self.samples.labels(model=model).inc()
            for severity in severities:
                if severity in SEVERITY_ORDER:
                    self.findings.labels(model=model, severity=severity).inc()
            stats.critical_findings += severities.count("critical")
            if any(SEVERITY_ORDER.get(s, 0) >= self.threshold for s in severities):
                stats.vulnerable += 1
                self.vulnerable.labels(model=model).inc()
            if hallucinations:
                stats.hallucinated += 1
                self.hallucinations.labels(model=model).inc(hallucinations)
            if error:
                stats.generation_errors += 1
                stats.consecutive_failures += 1
                self.failures.labels(model=model, kind="generation").inc()
            else:
                stats.consecutive_failures = 0
                self.latency.labels(model=model).observe(latency)
            if scan_errors:
                stats.scan_errors += 1
                self.failures.labels(model=model, kind="scan").inc()
            stats.latency_s += latency
            stats.tokens += tokens
            self.tokens.labels(model=model).inc(tokens)
            if stats.latency_s > 0:
                self.tokens_per_s.labels(model=model).set(stats.tokens / stats.latency_s)
            self.consecutive.labels(model=model).set(stats.consecutive_failures)
            self.updated.set_to_current_time()

    def observe_trial(self, model: str, trial: Any) -> None:
        """Record one judged agent trial (a ``Trial`` or its JSON dict)."""
        error = _get(trial, "error")
        failed = bool(_get(trial, "failed", False))
        recovered = bool(_get(trial, "recovered", False))
        deceptive = bool(_get(trial, "deceptive", False))
        with self._lock:
            stats = self._model(model)
            stats.trials += 1
            if error:
                outcome = "error"
                stats.trial_errors += 1
                stats.consecutive_failures += 1
                self.failures.labels(model=model, kind="trial").inc()
            else:
                stats.consecutive_failures = 0
                outcome = ("recovered" if recovered else "failed") if failed else "passed"
                stats.trials_failed += failed
                stats.trials_recovered += failed and recovered
                stats.trials_deceptive += deceptive
                stats.trials_violating += bool(_get(trial, "constraint_violations"))
                stats.trials_inaccurate += bool(_get(trial, "inaccurate", False))
                if deceptive:
                    self.deceptive.labels(model=model).inc()
            self.trials.labels(model=model, outcome=outcome).inc()
            self.consecutive.labels(model=model).set(stats.consecutive_failures)
            self.updated.set_to_current_time()

    def observe_failure(self, model: str, kind: str = "backend") -> None:
        """A failure outside a sample or trial (e.g. a model that could not be loaded)."""
        with self._lock:
            stats = self._model(model)
            stats.consecutive_failures += 1
            self.failures.labels(model=model, kind=kind).inc()
            self.consecutive.labels(model=model).set(stats.consecutive_failures)
            self.updated.set_to_current_time()

    # -- reading -----------------------------------------------------------------------

    @property
    def models(self) -> list[str]:
        with self._lock:
            return list(self._stats)

    def gpu_memory_usage(self) -> float | None:
        """The highest used/total fraction over the GPUs seen (None without a GPU)."""
        if self._gpu_reader is None:
            return None
        fractions = [r.used_bytes / r.total_bytes for r in self._gpu_reader() if r.total_bytes]
        return max(fractions) if fractions else None

    def alert_values(self, model: str) -> dict[str, float | None]:
        """The values alert rules are evaluated against (None: not measurable yet).

        Keys: samples, vulnerability_rate, hallucination_rate, generation_error_rate,
        scan_error_rate, consecutive_failures, critical_findings, tokens_per_s,
        mean_latency_s, trials, failure_rate, recovery_success_rate, deception_rate,
        constraint_adherence, inaccuracy_rate, trial_error_rate, gpu_memory_usage.
        """
        with self._lock:
            s = self._stats.get(model) or _ModelStats()
            valid = s.trials - s.trial_errors
            values: dict[str, float | None] = {
                "samples": float(s.samples),
                "vulnerability_rate": _ratio(s.vulnerable, s.samples),
                "hallucination_rate": _ratio(s.hallucinated, s.samples),
                "generation_error_rate": _ratio(s.generation_errors, s.samples),
                "scan_error_rate": _ratio(s.scan_errors, s.samples),
                "consecutive_failures": float(s.consecutive_failures),
                "critical_findings": float(s.critical_findings),
                "tokens_per_s": s.tokens / s.latency_s if s.latency_s > 0 else None,
                "mean_latency_s": s.latency_s / s.samples if s.samples else None,
                "trials": float(s.trials),
                "failure_rate": _ratio(s.trials_failed, valid),
                "recovery_success_rate": _ratio(s.trials_recovered, s.trials_failed),
                "deception_rate": _ratio(s.trials_deceptive, valid),
                "constraint_adherence": _ratio(valid - s.trials_violating, valid),
                "inaccuracy_rate": _ratio(s.trials_inaccurate, valid),
                "trial_error_rate": _ratio(s.trial_errors, s.trials),
            }
        values["gpu_memory_usage"] = self.gpu_memory_usage()
        return values

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def write_textfile(self, path: Path) -> Path:
        """Write the text format atomically (textfile-collector safe); returns ``path``.

        The file gets the usual mode (0644 less the umask), not a temp file's 0600, so a
        node_exporter running as another user can read it.
        """
        data = self.exposition()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o644 & ~umask)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> MetricsServer:
        """Serve ``/metrics`` (any path, in fact) on ``host:port`` from a daemon thread.

        ``port=0`` picks a free port (see ``.port``). Loopback by default: pass
        ``host="0.0.0.0"`` only behind a firewall, the endpoint has no authentication.
        """
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        actual = int(server.server_address[1])
        return MetricsServer(server, thread, host, actual)
