#!/usr/bin/env python3
"""Rebuild the vendored PyPI name index from the project list in shared/data.

    python scripts/build_pypi_index.py [SOURCE.tsv.gz] [--out DIR] [--as-of ISO-TIME]

SOURCE defaults to ``../shared/data/pypi-projects.tsv.gz`` relative to the repository
root: a gzip TSV with the columns ``name``, ``last_release_month`` (YYYY-MM) and
``download_rank`` (empty when not ranked). The output directory (default: the package
data directory ``src/safety_eval/analysis/hallucination/data``) receives
``pypi-index.json``, ``pypi-names.tsv.gz`` and ``pypi-ranked.tsv``; see
``safety_eval.analysis.hallucination.index`` for the format. The script then loads the
result in a fresh interpreter and prints its size, load time and memory use.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "pypi-projects.tsv.gz"
DEFAULT_OUT = REPO_ROOT / "src" / "safety_eval" / "analysis" / "hallucination" / "data"
EXPECTED_COLUMNS = ["name", "last_release_month", "download_rank"]

sys.path.insert(0, str(REPO_ROOT / "src"))

from safety_eval.analysis.hallucination.index import (  # noqa: E402
    month_number,
    normalize_name,
    write_index,
)

_MEASURE = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {src!r})
from safety_eval.analysis.hallucination.index import PackageIndex

def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1

before = rss_kib()
start = time.perf_counter()
index = PackageIndex.from_directory(Path({out!r}))
seconds = time.perf_counter() - start
after = rss_kib()
start = time.perf_counter()
near = index.similar_popular("reqeusts")
similar_ms = (time.perf_counter() - start) * 1000
print(json.dumps({{"load_s": seconds, "rss_delta_mib": (after - before) / 1024,
                  "count": len(index), "similar_ms": similar_ms, "near_reqeusts": near}}))
"""


def read_source(path: Path) -> tuple[dict[str, tuple[str | None, int | None]], str]:
    """name -> (month, rank) after normalisation, and the source file's sha256."""
    raw = path.read_bytes()
    rows: dict[str, tuple[str | None, int | None]] = {}
    reader = csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8")), delimiter="\t")
    header = next(reader)
    if header != EXPECTED_COLUMNS:
        raise SystemExit(f"{path}: unexpected columns {header}, want {EXPECTED_COLUMNS}")
    for number, row in enumerate(reader, 2):
        if len(row) != 3 or not row[0]:
            raise SystemExit(f"{path}:{number}: malformed row {row!r}")
        name = normalize_name(row[0].strip())
        month = row[1].strip() or None
        if month is not None:
            month_number(month)
        rank = int(row[2]) if row[2].strip() else None
        if name in rows:  # two spellings normalising alike: keep the best of both
            old_month, old_rank = rows[name]
            month = max(filter(None, [month, old_month]), default=None)
            rank = min(filter(None, [rank, old_rank]), default=None)
        rows[name] = (month, rank)
    return rows, hashlib.sha256(raw).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--as-of",
        help="ISO time the snapshot was taken (default: first day of its newest month)",
    )
    parser.add_argument("--no-measure", action="store_true", help="skip the load benchmark")
    args = parser.parse_args(argv)

    source: Path = args.source
    rows, source_sha = read_source(source)
    months = [month for month, _ in rows.values() if month]
    snapshot_month = max(months, key=month_number)
    as_of = args.as_of or f"{snapshot_month}-01T00:00:00+00:00"
    try:
        label = str(source.resolve().relative_to(REPO_ROOT.parent))
    except ValueError:
        label = source.name
    meta = write_index(
        args.out,
        ((name, rows[name][0]) for name in sorted(rows)),
        ((name, rank, month) for name, (month, rank) in rows.items() if rank is not None),
        source=label,
        source_sha256=source_sha,
        snapshot_month=snapshot_month,
        as_of=as_of,
    )
    size = meta.names.bytes + meta.ranked.bytes
    print(
        f"wrote {args.out}: {meta.count} names, {meta.ranked_count} ranked, snapshot "
        f"{snapshot_month}; {meta.names.path} {meta.names.bytes / 1e6:.2f} MB, "
        f"{meta.ranked.path} {meta.ranked.bytes / 1e3:.0f} kB, total {size / 1e6:.2f} MB"
    )
    if not args.no_measure:
        script = _MEASURE.format(src=str(REPO_ROOT / "src"), out=str(args.out))
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        stats = json.loads(result.stdout)
        print(
            f"load {stats['load_s'] * 1000:.0f} ms, RSS +{stats['rss_delta_mib']:.1f} MiB, "
            f"similar_popular('reqeusts') {stats['similar_ms']:.1f} ms -> "
            f"{stats['near_reqeusts']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
