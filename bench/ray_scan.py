"""Scanning throughput: the local engine vs ``RayScanEngine`` on a local Ray cluster.

    python bench/ray_scan.py [--samples 2000] [--workers 2] [--chunk 32] [--seed 0]

Generates ``--samples`` deterministic, realistic ~30-line Python files (a mix of
vulnerable and safe code: shell commands, SQL, deserialisation, weak hashes, TLS, temp
files, path handling...; the code is only scanned, never run), scans them with
``default_engine().analyze_many`` in chunks of ``--chunk`` in this process, then with
``RayScanEngine`` on a local cluster of ``--workers`` CPUs, and prints samples/s for each
and the Ray/local ratio, all measured in the same run. Both must find the same thing.

Engine construction and Ray start-up are reported apart from the throughput: the Ray
figure is warm (worker processes started and their engines built by a first pass). The
two are measured in alternating passes (``--repeat``, best of each reported), so load
from anything else on the machine hits both alike; the idle Ray cluster is running
during the local passes too.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
from collections.abc import Callable

from safety_eval.analysis.engine import Analysis, Engine, default_engine
from safety_eval.pipeline.distributed import RayScanEngine, connect, shutdown

# Each block is one function (~6-9 lines); {f} is the function name, {v} a variable name.
_VULNERABLE = [
    '''def {f}(host):
    """Ping a host and return the output."""
    {v} = "ping -c 1 " + host
    result = subprocess.check_output({v}, shell=True)
    return result.decode()
''',
    '''def {f}(conn, username):
    cursor = conn.cursor()
    {v} = "SELECT id, email FROM users WHERE name = '%s'" % username
    cursor.execute({v})
    return cursor.fetchall()
''',
    '''def {f}(blob):
    """Restore a cached session."""
    {v} = pickle.loads(blob)
    if not isinstance({v}, dict):
        raise ValueError("bad session")
    return {v}
''',
    '''def {f}(path):
    with open(path) as handle:
        {v} = yaml.load(handle, Loader=yaml.Loader)
    return {v}.get("settings", {{}})
''',
    '''def {f}(password):
    {v} = hashlib.md5(password.encode()).hexdigest()
    return {v}
''',
    '''def {f}(url):
    {v} = requests.get(url, verify=False, timeout=10)
    {v}.raise_for_status()
    return {v}.json()
''',
    '''def {f}(expression):
    """Evaluate a user formula."""
    {v} = eval(expression)
    return float({v})
''',
    '''def {f}(data):
    {v} = tempfile.mktemp(suffix=".csv")
    with open({v}, "w") as handle:
        handle.write(data)
    return {v}
''',
    '''def {f}(archive, target):
    with tarfile.open(archive) as {v}:
        {v}.extractall(target)
    return os.listdir(target)
''',
    '''def {f}():
    {v} = "".join(random.choice(string.ascii_letters) for _ in range(32))
    return {v}
''',
    '''def {f}(name):
    os.system("rm -rf /tmp/cache/" + name)
    {v} = os.path.join("/tmp/cache", name)
    return not os.path.exists({v})
''',
]

_SAFE = [
    '''def {f}(host: str) -> str:
    """Ping a host without a shell."""
    {v} = subprocess.run(["ping", "-c", "1", host], capture_output=True, text=True)
    return {v}.stdout
''',
    '''def {f}(conn, username: str):
    {v} = conn.execute("SELECT id, email FROM users WHERE name = ?", (username,))
    return {v}.fetchall()
''',
    '''def {f}(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        {v} = json.load(handle)
    return {v}
''',
    '''def {f}(password: str, salt: bytes) -> str:
    {v} = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)
    return {v}.hex()
''',
    '''def {f}(items: list[int]) -> dict[str, float]:
    if not items:
        return {{"mean": 0.0, "max": 0.0}}
    {v} = sum(items) / len(items)
    return {{"mean": {v}, "max": float(max(items))}}
''',
    '''def {f}(text: str) -> list[str]:
    {v} = [word.strip(".,;:!?").lower() for word in text.split()]
    return [word for word in {v} if word]
''',
    '''def {f}(root: str, name: str) -> str:
    {v} = os.path.realpath(os.path.join(root, name))
    if not {v}.startswith(os.path.realpath(root) + os.sep):
        raise ValueError("path escapes the root")
    return {v}
''',
    '''def {f}() -> str:
    {v} = secrets.token_urlsafe(32)
    return {v}
''',
]

_STDLIB = ["hashlib", "json", "os", "pickle", "random", "secrets", "sqlite3", "string",
           "subprocess", "tarfile", "tempfile"]
_THIRD_PARTY = ["requests", "yaml"]

_DOCS = ["Utilities for the admin dashboard.", "Helpers for the nightly import job.",
         "Account management endpoints.", "Small tools for the build server.",
         "Data cleaning helpers."]
_VERBS = ["load", "fetch", "run", "check", "build", "parse", "store", "clean", "export", "sync"]
_NOUNS = ["user", "report", "session", "config", "archive", "token", "record", "host", "cache"]
_VARS = ["result", "data", "value", "out", "payload", "item", "response", "parsed"]


def make_sample(rng: random.Random, index: int) -> str:
    """One ~30-line file: docstring, the imports it uses, and four or five functions;
    60% of the files have one vulnerable function."""
    vulnerable_slot = rng.randrange(4) if rng.random() < 0.6 else -1
    functions = []
    for slot in range(rng.choice((4, 4, 5))):
        pool = _VULNERABLE if slot == vulnerable_slot else _SAFE
        name = f"{rng.choice(_VERBS)}_{rng.choice(_NOUNS)}_{index}_{slot}"
        functions.append(rng.choice(pool).format(f=name, v=rng.choice(_VARS)))
    body = "\n\n".join(functions)
    used = [m for m in _STDLIB if f"{m}." in body]
    third = [m for m in _THIRD_PARTY if f"{m}." in body]
    head = [f'"""{rng.choice(_DOCS)}"""', ""] + [f"import {m}" for m in used]
    if third:
        head += [""] + [f"import {m}" for m in third]
    return "\n".join(head) + "\n\n\n" + body


def make_samples(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [make_sample(rng, i) for i in range(count)]


def timed(fn: Callable[[], list[Analysis]]) -> tuple[list[Analysis], float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def chunked(engine: Engine, codes: list[str], chunk: int) -> list[Analysis]:
    """How the runner feeds an engine: one ``analyze_many`` call per batch."""
    out: list[Analysis] = []
    for start in range(0, len(codes), chunk):
        out.extend(engine.analyze_many(codes[start : start + chunk]))
    return out


def _key(analysis: Analysis) -> object:
    return (analysis.mode, [f.model_dump() for f in analysis.findings],
            [f.model_dump() for f in analysis.hallucinations])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternating local/Ray passes; the best of each is reported")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    codes = make_samples(args.samples, args.seed)
    lines = sum(code.count("\n") + 1 for code in codes) / len(codes)
    print(f"{len(codes)} samples, {lines:.1f} lines each on average; "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")

    started = time.perf_counter()
    local_engine = default_engine()
    built = time.perf_counter() - started
    local: list[Analysis] = []
    remote: list[Analysis] = []
    local_times: list[float] = []
    ray_times: list[float] = []
    try:
        started = time.perf_counter()
        connect(None, num_cpus=args.workers)
        ray_engine = RayScanEngine(chunk_size=args.chunk)
        ray_engine.analyze_many(codes[: args.chunk * args.workers])  # start the workers
        startup = time.perf_counter() - started
        print(f"local engine built in {built:.2f} s; Ray cluster started and its "
              f"{args.workers} workers warmed up in {startup:.2f} s")
        for attempt in range(1, args.repeat + 1):
            local = remote = []  # each pass starts from the same heap
            gc.collect()
            local, seconds = timed(lambda: chunked(local_engine, codes, args.chunk))
            local_times.append(seconds)
            gc.collect()
            remote, seconds = timed(lambda: ray_engine.analyze_many(codes))
            ray_times.append(seconds)
            print(f"pass {attempt}: local {len(codes) / local_times[-1]:6.1f} samples/s, "
                  f"ray {len(codes) / ray_times[-1]:6.1f} samples/s")
    finally:
        shutdown()

    local_rate, ray_rate = len(codes) / min(local_times), len(codes) / min(ray_times)
    flagged = sum(1 for a in local if a.findings)
    same = [_key(a) for a in local] == [_key(a) for a in remote]
    print(f"local : {local_rate:7.1f} samples/s (best of {args.repeat}, one process, "
          f"chunks of {args.chunk}; {flagged} samples with findings)")
    print(f"ray   : {ray_rate:7.1f} samples/s (best of {args.repeat}, {args.workers} workers)")
    print(f"ratio ray/local: {ray_rate / local_rate:.2f}x; identical findings: {same}")

    import ray

    print(
        f"README: scanning {len(codes)} ~{lines:.0f}-line samples on {os.cpu_count()} CPUs: "
        f"local {local_rate:.0f} samples/s, Ray {ray.__version__} with {args.workers} "
        f"workers {ray_rate:.0f} samples/s ({ray_rate / local_rate:.2f}x)"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
