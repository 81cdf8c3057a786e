"""Scale-out on Ray: model replicas as actors and code scanning as tasks.

Two drop-in pieces let the ordinary ``Runner`` run on a Ray cluster unchanged:

* ``RayBackend`` is a ``ModelBackend`` whose ``generate`` splits each batch across
  ``replicas`` ``ModelWorker`` actors (each holds the real backend, built by
  ``models.registry.create`` inside the actor, with ``num_gpus``/``num_cpus`` reserved
  from the cluster) and returns the replies in prompt order.
* ``RayScanEngine`` is an analysis engine whose ``analyze_many`` scans chunks of code as Ray
  tasks; each worker process builds its engine once and keeps it.

Samples are still written on the driver, so ``samples.jsonl`` and every metric are the
same as a local run's (only latencies differ).

Connecting (``connect``):

* ``connect(None)`` starts a private local cluster in this process (``ray.init(address=
  "local")``): it never attaches to another cluster, even with ``RAY_ADDRESS`` set.
* ``connect("auto")`` attaches to the cluster started on this machine with
  ``ray start --head`` (or the one named by ``RAY_ADDRESS``).
* ``connect("HOST:PORT")`` attaches to that cluster's GCS as a driver on one of its
  nodes; ``connect("ray://HOST:10001")`` uses Ray Client from outside the cluster.

Worker processes import ``safety_eval``. On this machine the (editable) install in the
environment that started Ray provides it. On a real cluster either install the same
version of ``ai-safety-eval`` (with the extras your models need) on every node, or pass
``runtime_env=package_runtime_env()`` to ``connect`` to ship this checkout's package
code with the job (its dependencies must still be on the nodes, or be added under the
``"pip"`` key). Ray 2.5x+ clusters use token authentication by default: a driver on
another machine needs the cluster's token (``ray get-auth-token``) in ``RAY_AUTH_TOKEN``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from safety_eval.analysis.engine import Analysis, Engine, default_engine
from safety_eval.config import RunConfig
from safety_eval.models.base import BackendError, GenerationParams, ModelBackend
from safety_eval.models.registry import BackendOptions, create
from safety_eval.results.records import Generation

log = logging.getLogger("safety_eval.distributed")

__all__ = [
    "DistributedError",
    "ModelWorker",
    "RayBackend",
    "RayScanEngine",
    "ReplicaDiedError",
    "connect",
    "is_connected",
    "package_runtime_env",
    "shutdown",
]


class DistributedError(BackendError):
    """Ray is missing, the cluster cannot be reached, or it cannot host what was asked."""


class ReplicaDiedError(DistributedError):
    """A model replica (actor) died: its process crashed, ran out of memory or was killed."""


def _ray() -> ModuleType:
    try:
        import ray
    except ImportError:  # pragma: no cover - the ray extra is installed in development
        raise DistributedError(
            "--distributed needs Ray: pip install 'ai-safety-eval[ray]'"
        ) from None
    return ray


# --------------------------------------------------------------------------- cluster

@dataclass
class _Connection:
    """What ``connect`` attached this process to."""

    active: bool = False
    address: str | None = None


_connection = _Connection()


def is_connected() -> bool:
    """Whether this process is attached to a Ray cluster (by ``connect`` or otherwise)."""
    try:
        import ray
    except ImportError:  # pragma: no cover
        return False
    return bool(ray.is_initialized())


def connect(
    address: str | None,
    num_cpus: int | None = None,
    *,
    runtime_env: Mapping[str, Any] | None = None,
    namespace: str | None = None,
    object_store_memory: int | None = None,
) -> None:
    """Attach this process to a Ray cluster; calling it again with the same address is a
    no-op.

    ``address``: ``None`` (or ``"local"``) starts a private local cluster (``num_cpus``
    CPUs, all of this machine's by default); ``"auto"`` finds the cluster started here
    with ``ray start`` (or named by ``RAY_ADDRESS``); ``"HOST:PORT"`` or
    ``"ray://HOST:PORT"`` names one. ``num_cpus`` and ``object_store_memory`` only apply
    to a local cluster. An address where nothing answers fails at once.
    """
    ray = _ray()
    if address == "local":
        address = None
    if ray.is_initialized():
        if _connection.active and _connection.address != address:
            raise DistributedError(
                f"already connected to the Ray cluster at {_describe(_connection.address)}; "
                f"call shutdown() before connecting to {_describe(address)}"
            )
        return
    kwargs: dict[str, Any] = {"log_to_driver": False}
    if runtime_env:
        kwargs["runtime_env"] = dict(runtime_env)
    if namespace is not None:
        kwargs["namespace"] = namespace
    if address is None:
        kwargs.update(address="local", num_cpus=num_cpus, include_dashboard=False)
        if object_store_memory is not None:
            kwargs["object_store_memory"] = object_store_memory
    else:
        if num_cpus is not None:
            log.warning("num_cpus=%s ignored: it only sizes a local cluster", num_cpus)
        kwargs["address"] = address
        _check_reachable(address)
    try:
        ray.init(**kwargs)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError,
            ray.exceptions.RayError) as exc:
        if address is None:
            raise DistributedError(f"could not start a local Ray cluster: {exc}") from exc
        raise DistributedError(
            f"could not connect to the Ray cluster at {address}: {exc} (start one with "
            "`ray start --head`, then pass its address, or 'auto' on the head node)"
        ) from exc
    _connection.active, _connection.address = True, address
    resources = ray.cluster_resources()
    log.info("connected to Ray cluster %s: %g CPUs, %g GPUs, %d nodes", _describe(address),
             resources.get("CPU", 0), resources.get("GPU", 0), len(ray.nodes()))


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast when nothing listens at the cluster's address: ``ray.init`` would retry
    for minutes. ``auto`` is resolved the way Ray resolves it (``RAY_ADDRESS``, then the
    last cluster ``ray start`` recorded on this machine)."""
    target: str | None = address
    if address == "auto":
        try:
            from ray._private.services import get_ray_address_from_environment
        except ImportError:  # pragma: no cover - private helper moved: let Ray decide
            return
        try:
            target = get_ray_address_from_environment("auto", None)
        except ConnectionError as exc:
            raise DistributedError(
                f"no Ray cluster found for address 'auto' ({exc}); start one with "
                "`ray start --head` or give its address"
            ) from None
    if not target or target in ("auto", "local"):
        return
    scheme, sep, rest = target.rpartition("://")
    host, colon, port_text = rest.partition("/")[0].rpartition(":")
    if not colon:
        host, port_text = rest.partition("/")[0], "10001" if sep and scheme == "ray" else ""
    if not port_text.isdigit():
        raise DistributedError(f"Ray address '{target}' is not HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port_text)), timeout=timeout_s):
            pass
    except OSError as exc:
        via = f" (resolved from '{address}')" if target != address else ""
        raise DistributedError(
            f"no Ray cluster answers at {target}{via}: {exc.strerror or exc}; is it running? "
            "(`ray start --head --port PORT` on the head node; `ray status` there shows it)"
        ) from None


def _describe(address: str | None) -> str:
    return "(local, in-process)" if address is None else address


def shutdown() -> None:
    """Disconnect (and stop a local cluster started by ``connect(None)``)."""
    _connection.active, _connection.address = False, None
    try:
        import ray
    except ImportError:  # pragma: no cover
        return
    if ray.is_initialized():
        ray.shutdown()


def package_runtime_env(pip: Sequence[str] = ()) -> dict[str, Any]:
    """A ``runtime_env`` that ships this ``safety_eval`` package's code to the cluster's
    workers (for nodes without ``ai-safety-eval`` installed); ``pip`` adds requirements
    to install there (e.g. ``["bandit>=1.7.7", "pydantic>=2.6"]``)."""
    import safety_eval

    env: dict[str, Any] = {"py_modules": [safety_eval]}
    if pip:
        env["pip"] = list(pip)
    return env


def _require(what: str, need: float, key: str) -> None:
    """Refuse at once a request that the whole cluster could never satisfy (Ray would
    otherwise wait for it forever)."""
    if need <= 0:
        return
    have = float(_ray().cluster_resources().get(key, 0.0))
    if need > have:
        raise DistributedError(
            f"{what} needs {need:g} {key}(s) but the Ray cluster has {have:g} in all"
            + (": set num_gpus_per_replica to 0 on a cluster without GPUs" if key == "GPU"
               else "")
        )


# --------------------------------------------------------------------------- models


class ModelWorker:
    """The body of one model replica; Ray runs it as an actor (see ``RayBackend``).

    The backend is built inside the actor's process, so model weights are loaded on the
    node (and GPU, through ``CUDA_VISIBLE_DEVICES`` set by Ray) that hosts the replica.
    """

    def __init__(self, spec: str, options: BackendOptions | None = None) -> None:
        self.spec = spec
        self._backend: ModelBackend = create(spec, options or BackendOptions())

    def generate(self, prompts: list[str], params: GenerationParams) -> list[Generation]:
        return self._backend.generate(prompts, params)

    def chat(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        return self._backend.chat(messages, params)

    def info(self) -> dict[str, Any]:
        ray = _ray()
        context = ray.get_runtime_context()
        return {
            "spec": self.spec,
            "name": self._backend.name,
            "max_batch": getattr(self._backend, "max_batch", None),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "node_id": context.get_node_id(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
        }

    def close(self) -> None:
        self._backend.close()


@functools.cache
def _worker_actor_class() -> Any:
    return _ray().remote(ModelWorker)


def _contiguous_chunks(count: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, count)) for start in range(0, count, size)]


class RayBackend:
    """A ``ModelBackend`` that spreads generation over ``replicas`` model actors.

    ``generate`` cuts the batch into contiguous chunks (at most ``batch_per_replica``
    prompts, as even as the batch allows), hands them to the replicas round-robin, and
    returns the replies in prompt order. ``chat`` sends a conversation always to the same
    replica (chosen from its opening messages), which keeps a replica's prompt cache warm.

    A prompt that fails stays a ``Generation`` with ``error`` (as the wrapped backend
    returns it); a replica that dies raises ``ReplicaDiedError``; an exception raised by
    the wrapped backend reaches the caller as an exception of the same type (Ray's
    ``RayTaskError`` subclass of it, with the remote traceback).
    """

    def __init__(
        self,
        spec: str,
        options: BackendOptions | None = None,
        replicas: int = 1,
        num_gpus: float = 0.0,
        num_cpus: float = 1.0,
        batch_per_replica: int = 8,
        *,
        startup_timeout_s: float | None = 600.0,
        runtime_env: Mapping[str, Any] | None = None,
    ) -> None:
        if replicas < 1:
            raise ValueError("replicas must be at least 1")
        if batch_per_replica < 1:
            raise ValueError("batch_per_replica must be at least 1")
        if num_gpus < 0 or num_cpus < 0:
            raise ValueError("num_gpus and num_cpus cannot be negative")
        ray = _ray()
        if not ray.is_initialized():
            raise DistributedError("not connected to Ray: call connect() first")
        self.name = spec
        self.spec = spec
        self.replicas = replicas
        self.batch_per_replica = batch_per_replica
        self.max_batch = replicas * batch_per_replica
        self._next = 0
        what = f"{replicas} replica(s) of {spec}"
        _require(f"one replica of {spec}", num_gpus, "GPU")
        _require(what, num_gpus * replicas, "GPU")
        _require(what, num_cpus * replicas, "CPU")
        actor_options: dict[str, Any] = {
            "num_gpus": num_gpus,
            "num_cpus": num_cpus,
            "max_restarts": 0,
        }
        if runtime_env:
            actor_options["runtime_env"] = dict(runtime_env)
        cls = _worker_actor_class()
        self._actors: list[Any] = [
            cls.options(**actor_options).remote(spec, options) for _ in range(replicas)
        ]
        try:
            self.replica_info: list[dict[str, Any]] = ray.get(
                [actor.info.remote() for actor in self._actors], timeout=startup_timeout_s
            )
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise DistributedError(
                f"{what} did not start within {startup_timeout_s:g}s: the cluster may lack "
                f"free resources ({num_cpus:g} CPU and {num_gpus:g} GPU per replica; free "
                f"now: {_free_resources()})"
            ) from None
        except ray.exceptions.RayActorError as exc:
            self.close()
            raise DistributedError(
                f"a replica of {spec} failed to start: {_root_cause(exc)}"
            ) from exc
        except BaseException:  # e.g. Ctrl-C while a model loads: leave no actor behind
            self.close()
            raise
        log.info("%s: %d replica(s) ready on %s", spec, replicas,
                 ", ".join(sorted({str(i["host"]) for i in self.replica_info})))

    @property
    def actors(self) -> list[Any]:
        """The replica actor handles (for inspection and fault-injection tests)."""
        return list(self._actors)

    def _gather(self, refs: list[tuple[int, Any]]) -> list[Any]:
        """``ray.get`` each (replica, ref) in order, naming the replica that died."""
        ray = _ray()
        out = []
        for replica, ref in refs:
            try:
                out.append(ray.get(ref))
            except ray.exceptions.RayActorError as exc:
                raise ReplicaDiedError(
                    f"model replica {replica + 1}/{self.replicas} of {self.spec} died "
                    f"({type(exc).__name__}): {_first_line(exc)}"
                ) from exc
        return out

    def generate(self, prompts: list[str], params: GenerationParams) -> list[Generation]:
        if not prompts:
            return []
        if not self._actors:
            raise DistributedError(f"{self.spec}: the Ray backend is closed")
        size = max(1, min(self.batch_per_replica, math.ceil(len(prompts) / self.replicas)))
        refs = []
        for start, stop in _contiguous_chunks(len(prompts), size):
            replica = self._next % self.replicas
            self._next += 1
            refs.append(
                (replica, self._actors[replica].generate.remote(prompts[start:stop], params))
            )
        generations: list[Generation] = []
        for part in self._gather(refs):
            generations.extend(part)
        if len(generations) != len(prompts):
            raise DistributedError(
                f"{self.spec}: replicas returned {len(generations)} replies "
                f"for {len(prompts)} prompts"
            )
        return generations

    def chat(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        if not self._actors:
            raise DistributedError(f"{self.spec}: the Ray backend is closed")
        replica = _conversation_replica(messages, self.replicas)
        ref = self._actors[replica].chat.remote(messages, params)
        result: Generation = self._gather([(replica, ref)])[0]
        return result

    def close(self) -> None:
        """Close each replica's backend (best effort) and kill the actors; idempotent."""
        actors, self._actors = self._actors, []
        if not actors:
            return
        ray = _ray()
        if not ray.is_initialized():
            return
        # Let each live replica close its backend (a dead or stuck one must not block the
        # others: ray.wait neither raises for a failed call nor waits past the timeout).
        refs = [actor.close.remote() for actor in actors]
        ray.wait(refs, num_returns=len(refs), timeout=30)
        for actor in actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception as exc:  # pragma: no cover - already gone
                log.debug("killing a %s replica: %s", self.spec, exc)

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _conversation_replica(messages: list[dict[str, str]], replicas: int) -> int:
    """The same replica for every turn of one conversation (its first two messages -
    system prompt and task - do not change between turns)."""
    head = "\x00".join(
        f"{m.get('role', '')}\x01{m.get('content', '')}" for m in messages[:2]
    )
    digest = hashlib.sha256(head.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % replicas


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(exc: BaseException) -> str:
    text = _ANSI.sub("", str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _root_cause(exc: BaseException) -> str:
    """The exception a remote traceback ends with (``BackendError: unknown model ...``)."""
    lines = [line for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    last = lines[-1].strip()
    name, sep, message = last.partition(": ")
    if sep and re.fullmatch(r"[\w.]+", name):
        return f"{name.rpartition('.')[2]}: {message}"
    return last


def _free_resources() -> str:
    free = _ray().available_resources()
    return f"{free.get('CPU', 0):g} CPU, {free.get('GPU', 0):g} GPU"


# --------------------------------------------------------------------------- scanning

_WORKER_ENGINES: dict[str, Engine] = {}
"""Per worker process: the engine built by each factory (keyed by the factory's pickle)."""


def _engine_for(key: str, factory: Callable[[], Engine]) -> Engine:
    engine = _WORKER_ENGINES.get(key)
    if engine is None:
        engine = _WORKER_ENGINES[key] = factory()
    return engine


def _scan_chunk(key: str, factory: Callable[[], Engine], codes: list[str]) -> list[Analysis]:
    """The Ray task: scan one chunk with this worker's cached engine."""
    return _engine_for(key, factory).analyze_many(codes)


@functools.cache
def _scan_task() -> Any:
    return _ray().remote(_scan_chunk)


class RayScanEngine:
    """An analysis engine (``analyze``/``analyze_many``, like ``Engine``) that fans the
    scanning out as Ray tasks.

    Codes are cut into contiguous chunks of at most ``chunk_size`` (smaller when that
    keeps every task slot of the cluster busy), each chunk is one task needing
    ``num_cpus`` CPUs, and the analyses come back in input order, identical to
    ``engine_factory().analyze_many(codes)``. Each worker process builds its engine once.

    Scan tasks need a free CPU. When model replicas hold every CPU of the cluster (two
    1-CPU replicas on a 2-CPU machine), none could ever start: when no task finished in
    ``cpu_wait_s`` and no CPU is free, the engine warns and scans in this process from
    then on, so the run still finishes, with the same results.
    """

    def __init__(
        self,
        chunk_size: int = 32,
        engine_factory: Callable[[], Engine] = default_engine,
        *,
        num_cpus: float = 1.0,
        cpu_wait_s: float = 120.0,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if num_cpus <= 0:
            raise ValueError("num_cpus must be positive")
        self.chunk_size = chunk_size
        self.engine_factory = engine_factory
        self.num_cpus = num_cpus
        self.cpu_wait_s = cpu_wait_s
        self.local_engine: Engine | None = None
        """Set when the cluster had no CPU for scan tasks: scanning happens here since."""
        self._key: str | None = None
        self._slots: int | None = None

    def _factory_key(self) -> str:
        if self._key is None:
            from ray import cloudpickle

            payload = cloudpickle.dumps(self.engine_factory)
            self._key = hashlib.sha256(payload).hexdigest()[:16]
        return self._key

    def _task_slots(self) -> int:
        """How many scan tasks the cluster can run at once (when it is otherwise idle)."""
        if self._slots is None:
            _require("a scan task", self.num_cpus, "CPU")
            cpus = float(_ray().cluster_resources().get("CPU", 1.0))
            self._slots = max(1, int(cpus // self.num_cpus))
        return self._slots

    def analyze(self, code: str) -> Analysis:
        return self.analyze_many([code])[0]

    def analyze_many(self, codes: Sequence[str]) -> list[Analysis]:
        if not codes:
            return []
        if self.local_engine is not None:
            return self.local_engine.analyze_many(codes)
        ray = _ray()
        if not ray.is_initialized():
            raise DistributedError("not connected to Ray: call connect() first")
        codes = list(codes)
        size = max(1, min(self.chunk_size, math.ceil(len(codes) / self._task_slots())))
        task = _scan_task().options(num_cpus=self.num_cpus)
        key = self._factory_key()
        spans = _contiguous_chunks(len(codes), size)
        refs = [task.remote(key, self.engine_factory, codes[a:b]) for a, b in spans]
        index = {ref: i for i, ref in enumerate(refs)}
        parts: list[list[Analysis] | None] = [None] * len(refs)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=self.cpu_wait_s)
            for ref in ready:
                parts[index[ref]] = ray.get(ref)
            if not pending or ready:
                continue
            if float(ray.available_resources().get("CPU", 0.0)) >= self.num_cpus:
                log.warning("no scan task finished in %.0fs (%d of %d left; free: %s)",
                            self.cpu_wait_s, len(pending), len(refs), _free_resources())
                continue
            # Nothing finished and no CPU is free: model replicas hold them all (or a chunk
            # takes longer than cpu_wait_s); the results are the same when scanned here.
            log.warning(
                "no scan task finished in %.0fs and no CPU of the Ray cluster is free (%s): "
                "scanning in this process from now on; give model replicas fewer CPUs "
                "(cpus per replica) to scan on the cluster", self.cpu_wait_s, _free_resources()
            )
            for ref in pending:
                ray.cancel(ref)
            self.local_engine = self.engine_factory()
            for ref in pending:
                start, stop = spans[index[ref]]
                parts[index[ref]] = self.local_engine.analyze_many(codes[start:stop])
            pending = []
        analyses: list[Analysis] = []
        for part in parts:
            assert part is not None
            analyses.extend(part)
        return analyses


def ray_runner_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """Connect to the configured cluster and return the ``Runner`` arguments that move
    generation to ``ModelWorker`` replicas and scanning to Ray tasks."""
    import functools

    from safety_eval.pipeline.preflight import backend_options

    connect(cfg.ray_address)
    options = backend_options(cfg)

    def factory(spec: str) -> RayBackend:
        return RayBackend(
            spec,
            options,
            cfg.replicas,
            cfg.num_gpus_per_replica,
            cfg.cpus_per_replica,
            batch_per_replica=cfg.batch_size,
        )

    engine = RayScanEngine(cfg.scan_chunk_size, functools.partial(default_engine,
                                                                  semgrep=cfg.semgrep))
    return {"engine": engine, "backend_factory": factory}
