"""Retention and archiving of run directories.

* :func:`cleanup` removes the run directories in a results folder that are older than
  a retention period (``finished_at``, else ``started_at`` from ``run.json``; a run
  still marked ``running`` counts from its newest file, so an active run is never
  removed). Only direct children that are real folders holding a ``run.json`` with a
  ``run_id`` are considered; links and anything else are left alone. ``dry_run``
  lists without removing; ``archive_dir`` archives each run before removing it.
* :func:`archive` writes ``<run>.tar.gz`` holding the run under ``<run>/`` plus
  ``<run>/MANIFEST.sha256`` (``sha256sum`` format, one line per file) and verifies the
  archive against the manifest before moving it into place.
* :func:`verify_archive` re-checks an archive: every listed file present with its
  hash, nothing unlisted, no links, devices, absolute or ``..`` member names.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

from safety_eval.errors import UserError
from safety_eval.ops.structured_logging import get_logger

__all__ = [
    "MANIFEST",
    "ArchiveError",
    "VerifiedArchive",
    "archive",
    "cleanup",
    "find_runs",
    "looks_like_run",
    "run_time",
    "verify_archive",
]

MANIFEST = "MANIFEST.sha256"
_CHUNK = 1 << 20

log = get_logger("safety_eval.maintenance")


class ArchiveError(UserError):
    """An archive could not be written, or does not match its manifest."""


def _manifest(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def looks_like_run(path: Path) -> bool:
    """A real folder (not a link) holding a ``run.json`` object with a ``run_id``."""
    if path.is_symlink() or not path.is_dir():
        return False
    manifest = _manifest(path)
    return manifest is not None and bool(manifest.get("run_id"))


def find_runs(results_dir: Path) -> list[Path]:
    """The run directories directly inside ``results_dir``, sorted by name."""
    if not results_dir.is_dir():
        raise UserError(f"{results_dir}: no such folder")
    return sorted(p for p in results_dir.iterdir() if not p.name.startswith(".")
                  and looks_like_run(p))


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _newest_mtime(run_dir: Path) -> datetime:
    newest = run_dir.stat().st_mtime
    for root, _dirs, files in os.walk(run_dir, followlinks=False):
        for name in files:
            with contextlib.suppress(OSError):
                newest = max(newest, (Path(root) / name).lstat().st_mtime)
    return datetime.fromtimestamp(newest, UTC)


def run_time(run_dir: Path) -> datetime:
    """When the run last did something: ``finished_at``, else ``started_at``, else the
    newest file; for a run still marked ``running`` the newest file wins."""
    manifest = _manifest(run_dir) or {}
    stamp = _parse_time(manifest.get("finished_at")) or _parse_time(manifest.get("started_at"))
    if stamp is None or manifest.get("status") == "running":
        newest = _newest_mtime(run_dir)
        return max(stamp, newest) if stamp else newest
    return stamp


def cleanup(
    results_dir: Path,
    retention_days: float,
    dry_run: bool = False,
    *,
    archive_dir: Path | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Remove (or, with ``dry_run``, list) the runs older than ``retention_days``.

    Returns the run directories removed or that would be removed. With
    ``archive_dir``, each is archived (and verified) there first; a run whose archive
    fails is kept.
    """
    if retention_days < 0:
        raise UserError("retention_days must be >= 0")
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    if archive_dir is not None and not dry_run:
        archive_dir.mkdir(parents=True, exist_ok=True)  # a folder, never an archive path
    selected: list[Path] = []
    for run_dir in find_runs(results_dir):
        when = run_time(run_dir)
        if when >= cutoff:
            continue
        if dry_run:
            log.info("would remove run", run_dir=str(run_dir), last_activity=when.isoformat())
            selected.append(run_dir)
            continue
        if archive_dir is not None:
            try:
                archive(run_dir, archive_dir)
            except (OSError, ArchiveError) as exc:
                log.error("archive failed; run kept", run_dir=str(run_dir), error=str(exc))
                continue
        _remove(run_dir)
        log.info("removed run", run_dir=str(run_dir), last_activity=when.isoformat())
        selected.append(run_dir)
    return selected


def _remove(run_dir: Path) -> None:
    # rename first: a removal cut short never leaves half a run that looks complete
    doomed = run_dir.with_name(f".deleting-{run_dir.name}")
    os.replace(run_dir, doomed)
    shutil.rmtree(doomed)


def _files(run_dir: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(run_dir, followlinks=False):
        dirs.sort()
        base = Path(root)
        for name in sorted(files):
            path = base / name
            if path.is_symlink():
                log.warning("symbolic link not archived", path=str(path))
                continue
            if path.is_file():
                yield path


class _HashingReader:
    """Reads exactly ``size`` bytes of a file (what tarfile was promised) and hashes
    them, so the manifest matches the archived bytes even if the file grows."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self.handle = handle
        self.left = size
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n < 0 else min(n, self.left)
        data = self.handle.read(n)
        if len(data) < n:
            data += b"\0" * (n - len(data))  # a file cut shorter meanwhile: tar needs size
        self.left -= len(data)
        self.digest.update(data)
        return data


def archive(run_dir: Path, dest: Path | None = None) -> Path:
    """``tar.gz`` of ``run_dir`` with ``MANIFEST.sha256`` inside, verified; returns it.

    ``dest``: the archive path, or an existing folder to put ``<run>.tar.gz`` in
    (default: next to the run). An existing archive is replaced only once the new one
    has been verified.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArchiveError(f"{run_dir}: no such run directory")
    name = run_dir.name
    if dest is None:
        target = run_dir.parent / f"{name}.tar.gz"
    elif dest.is_dir():
        target = dest / f"{name}.tar.gz"
    else:
        target = dest
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.resolve().is_relative_to(run_dir.resolve()):
        raise ArchiveError("the archive cannot be written inside the run it archives")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        lines = []
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for path in _files(run_dir):
                rel = path.relative_to(run_dir).as_posix()
                if rel == MANIFEST:
                    continue
                info = tar.gettarinfo(str(path), arcname=f"{name}/{rel}")
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with path.open("rb") as handle:
                    reader = _HashingReader(handle, info.size)
                    tar.addfile(info, cast(IO[bytes], reader))
                lines.append(f"{reader.digest.hexdigest()}  {name}/{rel}\n")
            data = "".join(lines).encode("utf-8")
            info = tarfile.TarInfo(f"{name}/{MANIFEST}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        verify_archive(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("run archived", run_dir=str(run_dir), archive=str(target), files=len(lines))
    return target


@dataclass(frozen=True)
class VerifiedArchive:
    path: Path
    root: str
    files: int


def _safe_name(name: str) -> bool:
    pure = PurePosixPath(name)
    return bool(name) and not pure.is_absolute() and ".." not in pure.parts \
        and "\\" not in name and "\0" not in name


def verify_archive(path: Path) -> VerifiedArchive:
    """Check an archive against its ``MANIFEST.sha256``; raise :class:`ArchiveError`."""
    hashes: dict[str, str] = {}
    manifest: dict[str, str] | None = None
    roots: set[str] = set()
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                if not _safe_name(member.name):
                    raise ArchiveError(f"{path}: unsafe member name {member.name!r}")
                roots.add(PurePosixPath(member.name).parts[0])
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ArchiveError(f"{path}: {member.name} is not a regular file")
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - regular files always have data
                    raise ArchiveError(f"{path}: {member.name} has no data")
                if PurePosixPath(member.name).name == MANIFEST and \
                        len(PurePosixPath(member.name).parts) == 2:
                    manifest = _parse_manifest(handle.read().decode("utf-8"), path)
                    continue
                digest = hashlib.sha256()
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                if member.name in hashes:
                    raise ArchiveError(f"{path}: {member.name} appears twice")
                hashes[member.name] = digest.hexdigest()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{path}: not a readable tar.gz archive ({exc})") from None
    if manifest is None:
        raise ArchiveError(f"{path}: no {MANIFEST} in the archive")
    if len(roots) != 1:
        raise ArchiveError(f"{path}: expected one top folder, found {sorted(roots)}")
    missing = sorted(set(manifest) - set(hashes))
    extra = sorted(set(hashes) - set(manifest))
    changed = sorted(n for n in set(manifest) & set(hashes) if manifest[n] != hashes[n])
    if missing or extra or changed:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"not in the manifest {extra}")
        if changed:
            parts.append(f"sha256 mismatch {changed}")
        raise ArchiveError(f"{path}: " + "; ".join(parts))
    return VerifiedArchive(path, roots.pop(), len(hashes))


def _parse_manifest(text: str, path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ArchiveError(f"{path}: {MANIFEST} line {number} is malformed")
        entries[name] = digest
    return entries
