"""Scale-out on a REAL Ray cluster: one local 2-CPU cluster for the module, and an
external ``ray start --head`` cluster driven from a subprocess."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from safety_eval.analysis.engine import Engine, default_engine
from safety_eval.analysis.extract import extract_code
from safety_eval.config import load_config
from safety_eval.models.base import BackendError, GenerationParams
from safety_eval.models.mock import MockBackend, mock_reply
from safety_eval.models.registry import BackendOptions
from safety_eval.pipeline.distributed import (
    DistributedError,
    RayBackend,
    RayScanEngine,
    ReplicaDiedError,
    _check_reachable,
    connect,
    shutdown,
)
from safety_eval.pipeline.runner import Runner
from tests.conftest import free_port

ray = pytest.importorskip("ray")

# Model replicas hold little CPU so that scan tasks still fit on the 2-CPU cluster.
REPLICA_CPUS = 0.25
PARAMS = GenerationParams(seed=5)


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    # ray.init turns token authentication on by setting RAY_AUTH_MODE in os.environ:
    # put the environment back for the tests that run after this module.
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE",)}
    connect(None, num_cpus=2)
    yield
    shutdown()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _prompts(count: int) -> list[str]:
    topics = ["a SQL query for users", "a shell command runner", "a pickle session loader",
              "a password hash", "an HTTP download helper", "a calculator for expressions",
              "a file upload handler", "a prime sieve"]
    return [f"Write {topics[i % len(topics)]} (variant {i})." for i in range(count)]


def test_connect_is_idempotent_and_refuses_a_second_cluster() -> None:
    connect(None, num_cpus=2)  # same address: no-op
    with pytest.raises(DistributedError, match="already connected"):
        connect("127.0.0.1:1")


def test_ray_backend_equals_the_mock_in_order() -> None:
    prompts = _prompts(50)
    expected = MockBackend("mock").generate(prompts, PARAMS)
    with RayBackend("mock", BackendOptions(seed=5), replicas=2, num_cpus=REPLICA_CPUS,
                    batch_per_replica=8) as backend:
        assert backend.name == "mock" and backend.max_batch == 16
        assert len({info["pid"] for info in backend.replica_info}) == 2
        assert backend.generate(prompts, PARAMS) == expected
        assert backend.generate(prompts[:3], PARAMS) == expected[:3]
        assert backend.generate([], PARAMS) == []
        history = [{"role": "system", "content": "sys"}, {"role": "user", "content": "task"}]
        mock = MockBackend("mock")
        for _ in range(3):
            reply = backend.chat(history, PARAMS)
            assert reply == mock.chat(history, PARAMS)
            history.append({"role": "assistant", "content": reply.text})
            history.append({"role": "user", "content": "ok"})
    with pytest.raises(DistributedError, match="closed"):
        backend.generate(prompts, PARAMS)


class _FlakyServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that rejects prompts containing FAIL."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        if "FAIL" in prompt:
            payload, status = b'{"error": "bad prompt"}', 400
        else:
            reply = {"choices": [{"message": {"content": f"echo: {prompt}"}}],
                     "usage": {"completion_tokens": 2}}
            payload, status = json.dumps(reply).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_a_failed_prompt_stays_a_generation_with_error() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spec = f"openai:m@http://127.0.0.1:{server.server_address[1]}/v1"
    prompts = ["one", "two FAIL", "three", "four", "FAIL five"]
    try:
        with RayBackend(spec, replicas=2, num_cpus=REPLICA_CPUS, batch_per_replica=2) as backend:
            out = backend.generate(prompts, PARAMS)
    finally:
        server.shutdown()
        server.server_close()
    assert [g.text for g in out] == ["echo: one", "", "echo: three", "echo: four", ""]
    assert [g.error is not None for g in out] == [False, True, False, False, True]
    assert "HTTP 400" in (out[1].error or "")


def test_a_dead_replica_is_reported_clearly() -> None:
    backend = RayBackend("mock", replicas=2, num_cpus=REPLICA_CPUS, batch_per_replica=4)
    try:
        ray.kill(backend.actors[0], no_restart=True)
        # ray.kill is asynchronous: wait until the actor is really gone, so the test does not
        # race a request that reaches it before the kill does
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                ray.get(backend.actors[0].info.remote(), timeout=60)
            except ray.exceptions.RayActorError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the killed actor kept answering for 60 s")
        with pytest.raises(ReplicaDiedError, match=r"model replica 1/2 of mock died"):
            backend.generate(_prompts(8), PARAMS)
        assert isinstance(ReplicaDiedError("x"), BackendError)  # the CLI reports it, exit 2
    finally:
        backend.close()
    backend.close()  # idempotent


def test_replica_start_failures_are_clear() -> None:
    with pytest.raises(DistributedError, match="failed to start: BackendError: unknown model"):
        RayBackend("nosuch:model", num_cpus=REPLICA_CPUS)
    with pytest.raises(DistributedError, match=r"needs 1 GPU.*has 0"):
        RayBackend("mock", num_gpus=1)
    with pytest.raises(DistributedError, match="needs 6 CPU"):
        RayBackend("mock", replicas=3, num_cpus=2)


def _snippets() -> list[str]:
    """40 pieces of code as the pipeline scans them: vulnerable, safe, fragments, empty."""
    codes = [extract_code(mock_reply(p, seed)).code for seed in (1, 2) for p in _prompts(16)]
    codes += [
        "",
        "import os\nos.system('rm -rf ' + path)\n",
        "def f(:\n    return eval(x)\n",
        "import hashlib\nhashlib.md5(b'x')\n",
        "x = 1\n",
        "import subprocess\nsubprocess.call(cmd, shell=True)\n",
        "import pickle\npickle.loads(data)\n",
        "import requests\nrequests.get(u, verify=False)\n",
    ]
    assert len(codes) == 40
    return codes


def test_scan_engine_equals_the_local_engine() -> None:
    codes = _snippets()
    local = default_engine().analyze_many(codes)
    remote = RayScanEngine(chunk_size=7).analyze_many(codes)
    assert remote == local
    assert any(a.findings for a in local) and any(not a.findings for a in local)
    engine = RayScanEngine()
    assert engine.analyze_many([]) == []
    assert engine.analyze(codes[-1]) == local[-1]


def test_each_worker_process_builds_its_engine_once(tmp_path: Path) -> None:
    builds = tmp_path / "builds"

    def factory() -> Engine:  # pickled by value: its builds are logged by process id
        with builds.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return default_engine()

    engine = RayScanEngine(chunk_size=2, engine_factory=factory)
    codes = _snippets()[:24]
    assert engine.analyze_many(codes) == engine.analyze_many(codes)  # 2 x 12 tasks
    pids = builds.read_text().split()
    assert 1 <= len(pids) == len(set(pids)) < 12


def test_scanning_falls_back_to_the_driver_when_replicas_hold_every_cpu(
    caplog: pytest.LogCaptureFixture,
) -> None:
    codes = _snippets()[:10]
    engine = RayScanEngine(chunk_size=3, cpu_wait_s=1.0)
    with RayBackend("mock", replicas=2, num_cpus=1) as backend:  # both CPUs of the cluster
        assert backend.generate(["x"], PARAMS)
        with caplog.at_level("WARNING", logger="safety_eval.distributed"):
            assert engine.analyze_many(codes) == default_engine().analyze_many(codes)
    assert engine.local_engine is not None
    assert "scanning in this process from now on" in caplog.text


def test_an_unreachable_address_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(DistributedError, match=r"no Ray cluster answers at 127\.0\.0\.1"):
        _check_reachable(f"127.0.0.1:{free_port()}")
    with pytest.raises(DistributedError, match="not HOST:PORT"):
        _check_reachable("nonsense")
    assert time.monotonic() - started < 10


_NOISY = {"latency_s", "mean_latency_s", "tokens_per_s"}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _NOISY}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _outputs(run_dir: Path) -> dict[str, Any]:
    samples = (run_dir / "mock" / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    with (run_dir / "multi_model_summary.csv").open(encoding="utf-8") as handle:
        summary = list(csv.DictReader(handle))
    found: dict[str, Any] = {
        "samples": [_strip(json.loads(line)) for line in samples],
        "summary": _strip(summary),
    }
    for name in ("vulnerability_metrics.json", "autonomous_metrics.json",
                 "mock/vulnerability_metrics.json"):
        found[name] = _strip(json.loads((run_dir / name).read_text(encoding="utf-8")))
    return found


def test_distributed_run_equals_local_run(tmp_path: Path) -> None:
    def config(folder: str) -> Any:
        flags = {"models": ["mock"], "size": "40", "trials": 2, "seed": 11,
                 "batch_size": 16, "output": str(tmp_path / folder), "progress": False}
        return load_config(flags=flags, environ={})

    local_dir = Runner(config("local")).run()
    cfg = config("ray")
    ray_dir = Runner(
        cfg,
        engine=RayScanEngine(chunk_size=4),
        backend_factory=lambda spec: RayBackend(
            spec, BackendOptions(seed=cfg.generation.seed), replicas=2,
            num_cpus=REPLICA_CPUS, batch_per_replica=8),
    ).run()
    local, remote = _outputs(local_dir), _outputs(ray_dir)
    assert len(local["samples"]) == 40 and len(local["summary"]) == 1
    assert local["autonomous_metrics.json"]["models"]["mock"]
    for key in local:
        assert remote[key] == local[key], key


_EXTERNAL_DRIVER = textwrap.dedent("""
    import json, os, sys
    import ray
    from safety_eval.models.base import GenerationParams
    from safety_eval.models.mock import MockBackend
    from safety_eval.pipeline.distributed import RayBackend, RayScanEngine, connect, shutdown

    port = sys.argv[1]
    seen = []
    for address in (f"127.0.0.1:{port}", "auto"):
        if address == "auto":
            os.environ["RAY_ADDRESS"] = f"127.0.0.1:{port}"
        connect(address)
        gcs = ray.get_runtime_context().gcs_address
        prompts = [f"write a sql query {i}" for i in range(6)]
        with RayBackend("mock", replicas=2, num_cpus=0.25, batch_per_replica=2) as backend:
            same = backend.generate(prompts, GenerationParams()) == MockBackend().generate(
                prompts, GenerationParams())
        scanned = RayScanEngine(chunk_size=2).analyze_many(["import os\\nos.system(c)\\n"] * 4)
        seen.append({"address": address, "gcs": gcs, "same": same,
                     "cpus": ray.cluster_resources().get("CPU"),
                     "findings": [len(a.findings) for a in scanned]})
        shutdown()
    print(json.dumps(seen))
""")


def test_external_cluster_started_with_ray_start(tmp_path: Path) -> None:
    """A cluster started with ``ray start --head``; the driver runs in a subprocess (this
    process already drives the module's local cluster). Stopping it: SIGTERM to the
    ``ray start --block`` process, which stops only that cluster's processes (``ray stop``
    would stop every Ray cluster on the machine, the module's included)."""
    port = free_port()
    # Its own temp dir: ``ray start`` records itself there as the machine's "current"
    # cluster, which must not outlive the test (a short path: Ray's sockets live in it).
    temp_dir = tempfile.mkdtemp(prefix="se-ray-", dir="/tmp")
    ray_cli = Path(sys.executable).with_name("ray")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    with (tmp_path / "head.log").open("w") as head_log:
        head = subprocess.Popen(
            [str(ray_cli), "start", "--head", "--block", "--num-cpus", "2", "--port", str(port),
             "--include-dashboard=false", "--disable-usage-stats",
             "--dashboard-agent-listen-port", str(free_port()), "--temp-dir", temp_dir],
            stdout=head_log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert head.poll() is None, (tmp_path / "head.log").read_text()
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "ray start --head did not come up"
            time.sleep(0.2)
        driver = subprocess.run(
            [sys.executable, "-c", _EXTERNAL_DRIVER, str(port)],
            capture_output=True, text=True, env=env, timeout=120,
        )
        assert driver.returncode == 0, driver.stderr[-3000:]
        seen = json.loads(driver.stdout.strip().splitlines()[-1])
        assert [s["address"] for s in seen] == [f"127.0.0.1:{port}", "auto"]
        for attempt in seen:
            assert attempt["gcs"].endswith(f":{port}")  # the external cluster, not a new one
            assert attempt["same"] and attempt["cpus"] == 2.0
            assert len(attempt["findings"]) == 4 and min(attempt["findings"]) >= 1
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:  # pragma: no cover
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)
