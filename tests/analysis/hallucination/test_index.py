"""The vendored PyPI index: contents, speed, memory, and refusal of corrupt data."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safety_eval.analysis.base import ParsedCode
from safety_eval.analysis.hallucination import (
    HallucinationScanner,
    IndexLoadError,
    PackageIndex,
    load_index,
    normalize_name,
)
from safety_eval.analysis.hallucination.index import (
    METADATA_FILE,
    bounded_levenshtein,
    read_metadata,
    vendored_index_dir,
    write_index,
)

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "src" / "safety_eval" / "analysis" / "hallucination" / "data"


def test_normalize_name() -> None:
    assert normalize_name("Foo__Bar.baz-_-qux") == "foo-bar-baz-qux"
    assert normalize_name("PyYAML") == "pyyaml"


def test_metadata_describes_the_snapshot(index: PackageIndex) -> None:
    meta = read_metadata(vendored_index_dir())
    assert meta.count == len(index) == 886323
    assert meta.ranked_count == 14985
    assert meta.snapshot_month == "2026-11"
    assert meta.source.endswith("pypi-projects.tsv.gz")
    assert len(meta.source_sha256) == 64
    doc = json.loads((DATA / METADATA_FILE).read_text())
    assert doc["files"]["names"]["sha256"] == meta.names.sha256


def test_vendored_files_stay_small() -> None:
    total = sum(path.stat().st_size for path in DATA.iterdir() if path.is_file())
    assert total <= 8 * 1024 * 1024, total


def test_lookups(index: PackageIndex) -> None:
    assert index.exists("requests")
    assert index.exists("Requests") and "python_dateutil" in index
    assert index.exists("0")  # the first name
    assert not index.exists("fastjsonvalidatorx")
    assert not index.exists("")
    assert not index.exists("bad\tname") and not index.exists("-requests")
    assert index.rank("boto3") == 1
    assert index.rank("PyYAML") == 15
    assert index.rank("matplotlid") is None
    assert index.is_popular("numpy") and not index.is_popular("matplotlid")
    assert index.last_release("matplotlid") == "2026-09"
    assert index.last_release("certifi") is None  # month unknown in the source
    assert index.last_release("fastjsonvalidatorx") is None
    assert index.is_recent("matplotlid") and not index.is_recent("recuests")


def test_every_ranked_name_exists(index: PackageIndex) -> None:
    popular = index.popular_names()
    assert len(popular) == 14985 and popular[0] == "boto3"
    assert all(index.exists(name) for name in popular[:: max(1, len(popular) // 500)])


def test_similar_popular(index: PackageIndex) -> None:
    assert index.similar_popular("reqeusts") == ["requests"]
    assert "numpy" in index.similar_popular("numpyy")
    assert "requests" not in index.similar_popular("requests")
    assert index.similar_popular("zzzzqqqqxxxxwwww") == []
    start = time.perf_counter()
    for name in ["matplotlid", "djangoo", "pandass", "fastapii", "beautifulsoup5"]:
        index.similar_popular(name)
    assert time.perf_counter() - start < 1.0


def test_bounded_levenshtein() -> None:
    assert bounded_levenshtein("requests", "reqeusts", 2) == 2
    assert bounded_levenshtein("numpy", "numpyy", 2) == 1
    assert bounded_levenshtein("numpy", "pandas", 2) is None
    assert bounded_levenshtein("", "ab", 2) == 2


_MEASURE = """
import json, sys, time
from pathlib import Path

def rss_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

from safety_eval.analysis.hallucination.index import load_index
before = rss_kib()
start = time.perf_counter()
index = load_index(use_cache=False)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_mib": (rss_kib() - before) / 1024}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_load_time_and_memory() -> None:
    """Fresh interpreter: load < 1 s typically (guard 2 s), RSS growth < 100 MiB."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE], capture_output=True, text=True, check=True
    )
    stats = json.loads(result.stdout)
    print(f"index load {stats['seconds'] * 1000:.0f} ms, RSS +{stats['rss_mib']:.1f} MiB")
    assert stats["seconds"] < 2.0
    assert stats["rss_mib"] < 100


def test_load_index_is_cached() -> None:
    assert load_index(use_cache=False) is load_index(use_cache=False)


# -- corrupt data: always an error, never an empty ("clean") index --------------------------


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(DATA, target)
    return target


def test_copy_loads(data_copy: Path) -> None:
    assert PackageIndex.from_directory(data_copy).exists("requests")


def test_flipped_byte_is_refused(data_copy: Path) -> None:
    names = data_copy / "pypi-names.tsv.gz"
    raw = bytearray(names.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    names.write_bytes(bytes(raw))
    with pytest.raises(IndexLoadError, match="sha256"):
        PackageIndex.from_directory(data_copy)


def test_truncated_file_is_refused(data_copy: Path) -> None:
    names = data_copy / "pypi-names.tsv.gz"
    names.write_bytes(names.read_bytes()[:1000])
    with pytest.raises(IndexLoadError):
        PackageIndex.from_directory(data_copy)


def test_empty_or_missing_files_are_refused(data_copy: Path) -> None:
    (data_copy / "pypi-ranked.tsv").write_bytes(b"")
    with pytest.raises(IndexLoadError):
        PackageIndex.from_directory(data_copy)
    (data_copy / "pypi-names.tsv.gz").unlink()
    with pytest.raises(IndexLoadError):
        PackageIndex.from_directory(data_copy)


@pytest.mark.parametrize(
    "edit",
    [
        lambda doc: doc.update(count=5),
        lambda doc: doc.update(format=99),
        lambda doc: doc.pop("files"),
        lambda doc: doc["files"]["names"].update(path="../../etc/passwd"),
        lambda doc: doc.update(snapshot_month="soon"),
    ],
)
def test_bad_metadata_is_refused(data_copy: Path, edit: object) -> None:
    meta_path = data_copy / METADATA_FILE
    doc = json.loads(meta_path.read_text())
    edit(doc)  # type: ignore[operator]
    meta_path.write_text(json.dumps(doc))
    with pytest.raises(IndexLoadError):
        PackageIndex.from_directory(data_copy)


def test_garbage_metadata_is_refused(data_copy: Path) -> None:
    (data_copy / METADATA_FILE).write_text("{not json")
    with pytest.raises(IndexLoadError):
        PackageIndex.from_directory(data_copy)


def test_consistent_but_wrong_count_is_refused(tmp_path: Path) -> None:
    """A names file re-hashed after tampering still fails the line count."""
    meta = write_index(
        tmp_path,
        [("alpha", "2026-01"), ("beta", None)],
        [("alpha", 1, "2026-01")],
        source="test",
        source_sha256="0" * 64,
        snapshot_month="2026-02",
        as_of="2026-02-01T00:00:00+00:00",
    )
    names = tmp_path / meta.names.path
    names.write_bytes(gzip.compress(b"alpha\t2601\n", mtime=0))
    doc = json.loads((tmp_path / METADATA_FILE).read_text())
    doc["files"]["names"]["sha256"] = hashlib.sha256(names.read_bytes()).hexdigest()
    doc["files"]["names"]["bytes"] = names.stat().st_size
    (tmp_path / METADATA_FILE).write_text(json.dumps(doc))
    with pytest.raises(IndexLoadError, match="names but the metadata"):
        PackageIndex.from_directory(tmp_path)


def test_scanner_without_index_reports_an_error(tmp_path: Path) -> None:
    """No index: the scan says so (ScanError) instead of returning no findings."""

    class Broken(HallucinationScanner):
        @property
        def index(self) -> PackageIndex:
            raise IndexLoadError("gone")

    out = Broken().scan(ParsedCode("import fastjsonvalidatorx\n", None, "text-only"))
    assert out.errors and "index" in out.errors[0].message


def test_write_index_validates(tmp_path: Path) -> None:
    common = {
        "source": "t",
        "source_sha256": "0" * 64,
        "snapshot_month": "2026-01",
        "as_of": "2026-01-01T00:00:00+00:00",
    }
    with pytest.raises(ValueError, match="sorted"):
        write_index(tmp_path, [("b", None), ("a", None)], [], **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="normalised"):
        write_index(tmp_path, [("Not_Normal", None)], [], **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="month"):
        write_index(tmp_path, [("a", "2026-13")], [], **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        write_index(tmp_path, [], [], **common)  # type: ignore[arg-type]


def test_build_script_rebuilds_from_a_tsv(tmp_path: Path) -> None:
    source = tmp_path / "projects.tsv.gz"
    rows = [
        "name\tlast_release_month\tdownload_rank",
        "Requests\t2026-05\t6",
        "requesst\t2026-10\t",
        "Old_Thing\t2012-03\t",
        "nomonth\t\t",
    ]
    source.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    spec = importlib.util.spec_from_file_location(
        "build_pypi_index", REPO / "scripts" / "build_pypi_index.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "out"
    assert module.main([str(source), "--out", str(out), "--no-measure"]) == 0
    built = PackageIndex.from_directory(out)
    assert len(built) == 4
    assert built.exists("old-thing") and built.exists("OLD.thing")
    assert built.rank("requests") == 6
    assert built.last_release("requesst") == "2026-10"
    assert built.last_release("nomonth") is None
    assert built.snapshot_month == "2026-10"
    assert built.similar_popular("requesst") == ["requests"]
    assert oct((out / "pypi-names.tsv.gz").stat().st_mode)[-3:] == "644"
