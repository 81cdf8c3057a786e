"""The PyPI name index: which projects exist, which are popular, how recently released.

On-disk format (a directory; the vendored copy is package data under ``data/``):

``pypi-index.json``
    Metadata: format version, source and its sha256, snapshot month, ``as_of`` time,
    counts, and for each data file its name, size and sha256. Loading verifies every
    hash and count: a corrupt or truncated index raises :class:`IndexLoadError`.
``pypi-names.tsv.gz``
    Every project name, PEP 503-normalised, sorted bytewise, one per line as
    ``name<TAB>YYMM`` (month of the latest release, 20YY; empty when unknown), gzip.
    It is kept in memory as one ``bytes`` object and searched by bisecting on byte
    offsets, so no per-name Python object is ever created.
``pypi-ranked.tsv``
    The download-ranked projects: ``rank<TAB>name<TAB>YYYY-MM``, by rank.

``update_index`` refreshes the name list from PyPI's simple index (JSON API) into the
user cache directory, keeping the known ranks; :func:`load_index` prefers that cache when
it is newer than the vendored snapshot. Nothing here ever fails open: if the data cannot
be read and verified, loading raises.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

FORMAT_VERSION: Final = 1
METADATA_FILE: Final = "pypi-index.json"
NAMES_FILE: Final = "pypi-names.tsv.gz"
RANKED_FILE: Final = "pypi-ranked.tsv"
PYPI_SIMPLE_URL: Final = "https://pypi.org/simple/"
SIMPLE_JSON_MEDIA_TYPE: Final = "application/vnd.pypi.simple.v1+json"
CACHE_DIR_ENV: Final = "SAFETY_EVAL_PYPI_INDEX_DIR"
"""Environment variable naming the directory ``update_index``/``load_index`` use."""
RECENT_MONTHS: Final = 6
"""A release within this many months before the snapshot counts as recent."""

_NORMALIZE_RE = re.compile(r"[-_.]+")
_NORMALIZED_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_FILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class IndexLoadError(RuntimeError):
    """The index could not be read or failed verification (never treated as clean)."""


class IndexUpdateError(RuntimeError):
    """Refreshing the index from PyPI failed; the index in use is unchanged."""


def normalize_name(name: str) -> str:
    """PEP 503 normalisation: lowercase, runs of ``-``, ``_`` and ``.`` become ``-``."""
    return _NORMALIZE_RE.sub("-", name).lower()


def _month_to_yymm(month: str | None) -> str:
    if not month:
        return ""
    match = _MONTH_RE.match(month)
    if not match or not match.group(1).startswith("20") or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"bad month {month!r} (want YYYY-MM, 2000-2099)")
    return match.group(1)[2:] + match.group(2)


def _yymm_to_month(yymm: bytes) -> str | None:
    if not yymm:
        return None
    text = yymm.decode("ascii")
    return f"20{text[:2]}-{text[2:]}"


def month_number(month: str) -> int:
    """``YYYY-MM`` as a month count, for differences between months."""
    match = _MONTH_RE.match(month)
    if not match:
        raise ValueError(f"bad month {month!r} (want YYYY-MM)")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class DataFile:
    path: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class IndexMetadata:
    """What ``pypi-index.json`` says about the data next to it."""

    format: int
    source: str
    source_sha256: str
    snapshot_month: str
    as_of: str
    count: int
    ranked_count: int
    names: DataFile
    ranked: DataFile

    @property
    def as_of_time(self) -> datetime:
        moment = datetime.fromisoformat(self.as_of)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "source": self.source,
            "source_sha256": self.source_sha256,
            "snapshot_month": self.snapshot_month,
            "as_of": self.as_of,
            "count": self.count,
            "ranked_count": self.ranked_count,
            "files": {
                "names": {
                    "path": self.names.path,
                    "sha256": self.names.sha256,
                    "bytes": self.names.bytes,
                },
                "ranked": {
                    "path": self.ranked.path,
                    "sha256": self.ranked.sha256,
                    "bytes": self.ranked.bytes,
                },
            },
        }

    @classmethod
    def from_json(cls, doc: object) -> IndexMetadata:
        """Validate a parsed metadata document; raise :class:`IndexLoadError` if bad."""
        try:
            if not isinstance(doc, dict):
                raise TypeError("not a JSON object")
            files = doc["files"]
            meta = cls(
                format=_want(doc["format"], int),
                source=_want(doc["source"], str),
                source_sha256=_want(doc["source_sha256"], str),
                snapshot_month=_want(doc["snapshot_month"], str),
                as_of=_want(doc["as_of"], str),
                count=_want(doc["count"], int),
                ranked_count=_want(doc["ranked_count"], int),
                names=_data_file(files["names"]),
                ranked=_data_file(files["ranked"]),
            )
            if meta.format != FORMAT_VERSION:
                raise ValueError(f"format {meta.format}, this code reads {FORMAT_VERSION}")
            month_number(meta.snapshot_month)
            meta.as_of_time  # noqa: B018 - validates the timestamp
            if meta.count <= 0 or meta.ranked_count < 0:
                raise ValueError("counts must be positive")
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexLoadError(f"invalid index metadata: {exc!r}") from exc
        return meta


def _want(value: object, kind: type[Any]) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


def _data_file(doc: object) -> DataFile:
    if not isinstance(doc, dict):
        raise TypeError("file entry is not an object")
    entry = DataFile(
        path=_want(doc["path"], str),
        sha256=_want(doc["sha256"], str),
        bytes=_want(doc["bytes"], int),
    )
    if not _FILE_NAME_RE.match(entry.path):
        raise ValueError(f"unsafe data file name {entry.path!r}")
    if not _SHA256_RE.match(entry.sha256):
        raise ValueError(f"bad sha256 for {entry.path}")
    return entry


IndexLocation = Traversable | Path


def read_metadata(directory: IndexLocation) -> IndexMetadata:
    try:
        raw = directory.joinpath(METADATA_FILE).read_bytes()
        doc = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"cannot read {METADATA_FILE} in {directory}: {exc}") from exc
    return IndexMetadata.from_json(doc)


def _read_verified(directory: IndexLocation, entry: DataFile) -> bytes:
    try:
        data = directory.joinpath(entry.path).read_bytes()
    except OSError as exc:
        raise IndexLoadError(f"cannot read {entry.path} in {directory}: {exc}") from exc
    if len(data) != entry.bytes or _sha256(data) != entry.sha256:
        raise IndexLoadError(
            f"{entry.path} in {directory} does not match its recorded sha256/size: corrupt or "
            "modified index (rebuild it with scripts/build_pypi_index.py or update_index())"
        )
    return data


class PackageIndex:
    """Every PyPI project name (normalised), with ranks for the most downloaded ones."""

    def __init__(
        self,
        names_blob: bytes,
        ranked: dict[str, tuple[int, str | None]],
        metadata: IndexMetadata,
    ) -> None:
        self._blob = names_blob
        self._ranked = ranked
        self.metadata = metadata
        self._snapshot = month_number(metadata.snapshot_month)
        buckets: dict[int, list[str]] = {}
        for name in sorted(ranked, key=lambda n: ranked[n][0]):
            buckets.setdefault(len(name), []).append(name)
        self._buckets = buckets
        self._similar_cache: dict[tuple[str, int], list[str]] = {}

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def from_directory(cls, directory: IndexLocation) -> PackageIndex:
        """Load and verify an index directory (hashes, sizes, counts, structure)."""
        meta = read_metadata(directory)
        packed = _read_verified(directory, meta.names)
        try:
            blob = gzip.decompress(packed)
        except (OSError, EOFError, zlib.error) as exc:
            raise IndexLoadError(f"{meta.names.path}: not valid gzip: {exc}") from exc
        if not blob.endswith(b"\n") or b"\t" not in blob[: blob.find(b"\n")]:
            raise IndexLoadError(f"{meta.names.path}: not a name<TAB>month list")
        lines = blob.count(b"\n")
        if lines != meta.count:
            raise IndexLoadError(
                f"{meta.names.path}: {lines} names but the metadata says {meta.count}"
            )
        ranked_raw = _read_verified(directory, meta.ranked)
        ranked = _parse_ranked(ranked_raw, meta.ranked.path)
        if len(ranked) != meta.ranked_count:
            raise IndexLoadError(
                f"{meta.ranked.path}: {len(ranked)} ranked names but the metadata says "
                f"{meta.ranked_count}"
            )
        return cls(blob, ranked, meta)

    # -- lookups -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.metadata.count

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.exists(name)

    @property
    def snapshot_month(self) -> str:
        return self.metadata.snapshot_month

    def _find(self, name: str) -> bytes | None:
        """The month field (possibly empty) of ``name``'s line, or None if absent."""
        key = normalize_name(name)
        if not _NORMALIZED_NAME_RE.match(key):
            return None
        target = key.encode("ascii")
        blob = self._blob
        lo, hi = 0, len(blob)
        # Invariant: the line for ``target``, if present, starts in [lo, hi); lo is always
        # the start of a line.
        while lo < hi:
            mid = (lo + hi) // 2
            start = blob.rfind(b"\n", lo, mid) + 1
            if start < lo:
                start = lo
            end = blob.find(b"\n", start)
            tab = blob.find(b"\t", start, end)
            if tab < 0:  # verified data never gets here; refuse rather than guess
                raise IndexLoadError("malformed line in the name index")
            current = blob[start:tab]
            if current == target:
                return blob[tab + 1 : end]
            if current < target:
                lo = end + 1
            else:
                hi = start
        return None

    def exists(self, name: str) -> bool:
        """Whether a project of this name (after normalisation) is on PyPI."""
        return self._find(name) is not None

    def last_release(self, name: str) -> str | None:
        """Month (``YYYY-MM``) of the project's latest release; None if unknown/absent."""
        found = self._find(name)
        return _yymm_to_month(found) if found else None

    def rank(self, name: str) -> int | None:
        """Download rank (1 = most downloaded) or None when not among the ranked."""
        entry = self._ranked.get(normalize_name(name))
        return entry[0] if entry else None

    def is_popular(self, name: str) -> bool:
        return normalize_name(name) in self._ranked

    def is_recent(self, name: str, months: int = RECENT_MONTHS) -> bool:
        """Latest release within ``months`` months before the snapshot (inclusive)."""
        month = self.last_release(name)
        return month is not None and self._snapshot - month_number(month) <= months

    def popular_names(self) -> list[str]:
        """Ranked names, most downloaded first."""
        return sorted(self._ranked, key=lambda n: self._ranked[n][0])

    def ranked_entries(self) -> dict[str, tuple[int, str | None]]:
        return dict(self._ranked)

    def iter_entries(self) -> Iterator[tuple[str, str | None]]:
        """Every (normalised name, last release month) in name order."""
        for line in self._blob.split(b"\n"):
            if line:
                name, _, yymm = line.partition(b"\t")
                yield name.decode("ascii"), _yymm_to_month(yymm)

    def similar_popular(self, name: str, max_distance: int = 2) -> list[str]:
        """Ranked names within Levenshtein ``max_distance`` of ``name`` (normalised),
        excluding the name itself; closest first, then by rank."""
        key = normalize_name(name)
        cached = self._similar_cache.get((key, max_distance))
        if cached is not None:
            return list(cached)
        found: list[tuple[int, int, str]] = []
        pieces = _pigeonhole_pieces(key, max_distance)
        for length in range(max(1, len(key) - max_distance), len(key) + max_distance + 1):
            for candidate in self._buckets.get(length, ()):
                if candidate == key:
                    continue
                if pieces and not any(piece in candidate for piece in pieces):
                    continue
                distance = bounded_levenshtein(key, candidate, max_distance)
                if distance is not None:
                    found.append((distance, self._ranked[candidate][0], candidate))
        result = [candidate for _, _, candidate in sorted(found)]
        if len(self._similar_cache) > 4096:
            self._similar_cache.clear()
        self._similar_cache[(key, max_distance)] = result
        return list(result)


def _parse_ranked(raw: bytes, label: str) -> dict[str, tuple[int, str | None]]:
    ranked: dict[str, tuple[int, str | None]] = {}
    try:
        text = raw.decode("ascii")
        for number, line in enumerate(text.splitlines(), 1):
            if not line or line.startswith("#"):
                continue
            rank_text, name, month = line.split("\t")
            rank = int(rank_text)
            if rank <= 0 or not _NORMALIZED_NAME_RE.match(name) or name in ranked:
                raise ValueError(f"line {number}: bad entry {line!r}")
            if month:
                month_number(month)
            ranked[name] = (rank, month or None)
    except (UnicodeDecodeError, ValueError) as exc:
        raise IndexLoadError(f"{label}: malformed ranked table: {exc}") from exc
    return ranked


def _pigeonhole_pieces(key: str, max_distance: int) -> list[str]:
    """``max_distance + 1`` disjoint pieces of ``key``: any string within that many edits
    contains at least one of them unchanged. Empty when the key is too short to split."""
    parts = max_distance + 1
    if len(key) < parts:
        return []
    size, extra = divmod(len(key), parts)
    pieces, pos = [], 0
    for i in range(parts):
        step = size + (1 if i < extra else 0)
        pieces.append(key[pos : pos + step])
        pos += step
    return pieces


def bounded_levenshtein(a: str, b: str, limit: int) -> int | None:
    """Levenshtein distance of ``a`` and ``b`` if it is at most ``limit``, else None."""
    if abs(len(a) - len(b)) > limit:
        return None
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        row_min = i
        for j, char_b in enumerate(b, 1):
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            current.append(value)
            row_min = min(row_min, value)
        if row_min > limit:
            return None
        previous = current
    return previous[-1] if previous[-1] <= limit else None


# -- writing ------------------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes) -> None:
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed into place
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # data files, readable like any package file
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


def write_index(
    directory: Path,
    entries: Iterable[tuple[str, str | None]],
    ranked: Iterable[tuple[str, int, str | None]],
    *,
    source: str,
    source_sha256: str,
    snapshot_month: str,
    as_of: str,
    content_addressed: bool = False,
) -> IndexMetadata:
    """Write an index directory.

    ``entries`` are (normalised name, ``YYYY-MM`` or None) in strictly increasing name
    order; ``ranked`` are (normalised name, rank, month). Data files are written first and
    the metadata last, each by an atomic rename; with ``content_addressed`` the data files
    carry their hash in their name, so a reader never sees new metadata with old data,
    and files no longer referenced are removed afterwards.
    """
    directory.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    previous = ""
    for name, month in entries:
        if not _NORMALIZED_NAME_RE.match(name):
            raise ValueError(f"not a normalised project name: {name!r}")
        if name <= previous:
            raise ValueError(f"names not strictly sorted: {previous!r} then {name!r}")
        lines.append(f"{name}\t{_month_to_yymm(month)}\n")
        previous = name
    if not lines:
        raise ValueError("an index needs at least one name")
    names_blob = gzip.compress("".join(lines).encode("ascii"), compresslevel=9, mtime=0)
    ranked_rows = sorted(ranked, key=lambda row: row[1])
    ranked_text = "# rank\tname\tlast_release_month\n" + "".join(
        f"{rank}\t{name}\t{month or ''}\n" for name, rank, month in ranked_rows
    )
    for name, rank, month in ranked_rows:
        if not _NORMALIZED_NAME_RE.match(name) or rank <= 0:
            raise ValueError(f"bad ranked entry {(name, rank, month)!r}")
        _month_to_yymm(month)
    ranked_blob = ranked_text.encode("ascii")
    month_number(snapshot_month)

    names_sha, ranked_sha = _sha256(names_blob), _sha256(ranked_blob)
    if content_addressed:
        names_path = f"pypi-names-{names_sha[:16]}.tsv.gz"
        ranked_path = f"pypi-ranked-{ranked_sha[:16]}.tsv"
    else:
        names_path, ranked_path = NAMES_FILE, RANKED_FILE
    meta = IndexMetadata(
        format=FORMAT_VERSION,
        source=source,
        source_sha256=source_sha256,
        snapshot_month=snapshot_month,
        as_of=as_of,
        count=len(lines),
        ranked_count=len(ranked_rows),
        names=DataFile(names_path, names_sha, len(names_blob)),
        ranked=DataFile(ranked_path, ranked_sha, len(ranked_blob)),
    )
    meta.as_of_time  # noqa: B018 - validates the timestamp before anything is written
    _atomic_write(directory / names_path, names_blob)
    _atomic_write(directory / ranked_path, ranked_blob)
    text = json.dumps(meta.to_json(), indent=2, sort_keys=True) + "\n"
    _atomic_write(directory / METADATA_FILE, text.encode("utf-8"))
    if content_addressed:
        keep = {names_path, ranked_path}
        for stale in [*directory.glob("pypi-names-*.tsv.gz"), *directory.glob("pypi-ranked-*.tsv")]:
            if stale.name not in keep:
                with contextlib.suppress(OSError):
                    stale.unlink()
    return meta


# -- locating and loading -----------------------------------------------------------------


def vendored_index_dir() -> Traversable:
    return resources.files("safety_eval.analysis.hallucination").joinpath("data")


def default_cache_dir() -> Path:
    """``$SAFETY_EVAL_PYPI_INDEX_DIR``, else ``$XDG_CACHE_HOME/safety-eval/pypi-index``
    (``~/.cache`` when XDG_CACHE_HOME is unset)."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "safety-eval" / "pypi-index"


@functools.lru_cache(maxsize=4)
def load_index(cache_dir: Path | None = None, *, use_cache: bool = True) -> PackageIndex:
    """The index to use, loaded once per (cache_dir, use_cache).

    The user cache (``cache_dir`` or :func:`default_cache_dir`) wins when it holds an
    index whose ``as_of`` is newer than the vendored snapshot; a cache that exists but
    fails verification raises (delete it or run ``update_index()`` again) rather than
    being skipped. Raises :class:`IndexLoadError` whenever no verified index can be had.
    """
    vendored = vendored_index_dir()
    vendored_meta = read_metadata(vendored)
    if use_cache:
        directory = cache_dir if cache_dir is not None else default_cache_dir()
        if (directory / METADATA_FILE).is_file():
            cached_meta = read_metadata(directory)
            if cached_meta.as_of_time > vendored_meta.as_of_time:
                return PackageIndex.from_directory(directory)
    return PackageIndex.from_directory(vendored)


# -- updating from PyPI -------------------------------------------------------------------


def _fetch_simple_index(url: str, timeout: float) -> tuple[list[str], str]:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in {"http", "https"}:
        raise IndexUpdateError(f"refusing to fetch the index from a {scheme or 'relative'} URL")
    request = urllib.request.Request(  # scheme checked above
        url,
        headers={"Accept": SIMPLE_JSON_MEDIA_TYPE, "User-Agent": "safety-eval (pypi-index)"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            content_type = response.headers.get("Content-Type", "")
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise IndexUpdateError(f"{url} answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise IndexUpdateError(
            f"cannot reach {url} ({reason}): offline? The index in use is unchanged."
        ) from exc
    if "json" not in content_type:
        raise IndexUpdateError(
            f"{url} did not answer with the simple-index JSON API (Content-Type "
            f"{content_type!r}; expected {SIMPLE_JSON_MEDIA_TYPE})"
        )
    try:
        doc = json.loads(body)
        projects = doc["projects"]
        names = [entry["name"] for entry in projects]
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexUpdateError(f"{url}: not a PEP 691 project list: {exc!r}") from exc
    if not all(isinstance(name, str) for name in names):
        raise IndexUpdateError(f"{url}: project names must be strings")
    return names, _sha256(body)


def _merge_months(
    names: list[str], known: Iterator[tuple[str, str | None]], default: str
) -> Iterator[tuple[str, str | None]]:
    """Pair sorted ``names`` with their month from the sorted ``known`` entries."""
    current = next(known, None)
    for name in names:
        while current is not None and current[0] < name:
            current = next(known, None)
        if current is not None and current[0] == name:
            yield name, current[1]
        else:
            yield name, default


def update_index(
    url: str = PYPI_SIMPLE_URL,
    dest: Path | None = None,
    *,
    timeout: float = 120.0,
    base: PackageIndex | None = None,
    min_names: int | None = None,
) -> PackageIndex:
    """Refresh the project list from a PEP 691 simple index into ``dest``.

    ``dest`` defaults to :func:`default_cache_dir`. Ranks and release months come from
    ``base`` (default: the index now in use) for names it knows; names new since then get
    the current month (they appeared after the snapshot, so their latest release is that
    recent at most); names gone from PyPI are dropped. Refuses a list shorter than
    ``min_names`` (default: half of ``base``). Raises :class:`IndexUpdateError` when
    offline or on a bad answer; the previous index stays untouched. Returns the new,
    verified index; :func:`load_index` picks it up after ``load_index.cache_clear()``.
    """
    raw_names, body_sha = _fetch_simple_index(url, timeout)
    if base is None:
        base = load_index()
    names = sorted({normalize_name(name) for name in raw_names})
    names = [name for name in names if _NORMALIZED_NAME_RE.match(name)]
    floor = min_names if min_names is not None else len(base) // 2
    if len(names) < max(floor, 1):
        raise IndexUpdateError(
            f"{url} listed {len(names)} projects, fewer than the {floor} expected: refusing "
            "to replace the index with a truncated list"
        )
    now = datetime.now(UTC)
    this_month = f"{now.year:04d}-{now.month:02d}"
    entries = list(_merge_months(names, base.iter_entries(), this_month))
    present = set(names)
    ranked = [
        (name, rank, month)
        for name, (rank, month) in base.ranked_entries().items()
        if name in present
    ]
    directory = dest if dest is not None else default_cache_dir()
    write_index(
        directory,
        entries,
        ranked,
        source=url,
        source_sha256=body_sha,
        snapshot_month=this_month,
        as_of=now.isoformat(timespec="seconds"),
        content_addressed=True,
    )
    load_index.cache_clear()
    return PackageIndex.from_directory(directory)
