"""maintenance: retention clean-up and verified archives."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from safety_eval.errors import UserError
from safety_eval.ops.maintenance import (
    MANIFEST,
    ArchiveError,
    archive,
    cleanup,
    find_runs,
    looks_like_run,
    run_time,
    verify_archive,
)
from tests.ops.conftest import copy_run

NOW = datetime.now(UTC)


def _make(master: Path, results: Path, name: str, **manifest: object) -> Path:
    run_dir = copy_run(master, results / "tmp")
    target = results / name
    run_dir.rename(target)
    data = json.loads((target / "run.json").read_text())
    for key, value in manifest.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    (target / "run.json").write_text(json.dumps(data))
    return target


@pytest.fixture
def results(mock_run_master: Path, tmp_path: Path) -> Path:
    root = tmp_path / "results"
    old = (NOW - timedelta(days=40)).isoformat()
    recent = (NOW - timedelta(days=2)).isoformat()
    _make(mock_run_master, root, "run_old", started_at=old, finished_at=old)
    _make(mock_run_master, root, "run_recent", started_at=recent, finished_at=recent)
    _make(mock_run_master, root, "run_started_only", started_at=old, finished_at=None,
          status="interrupted")
    # an old "running" run whose files are still being written is active: kept
    _make(mock_run_master, root, "run_active", started_at=old, finished_at=None,
          status="running")
    # no times at all: the newest file decides
    stale = _make(mock_run_master, root, "run_no_times", started_at=None, finished_at=None)
    ancient = (NOW - timedelta(days=100)).timestamp()
    for path in [stale, *stale.rglob("*")]:
        os.utime(path, (ancient, ancient))
    (root / "tmp").rmdir()
    (root / "notes").mkdir()
    (root / "notes" / "run.json").write_text("not json")
    (root / "README.txt").write_text("keep me")
    os.symlink(root / "run_old", root / "link_to_old")
    return root


def test_only_run_directories_are_considered(results: Path) -> None:
    names = [p.name for p in find_runs(results)]
    assert names == ["run_active", "run_no_times", "run_old", "run_recent", "run_started_only"]
    assert not looks_like_run(results / "notes") and not looks_like_run(results / "link_to_old")
    with pytest.raises(UserError):
        find_runs(results / "missing")


def test_dry_run_lists_and_removes_nothing(results: Path) -> None:
    before = sorted(p.name for p in results.iterdir())
    listed = cleanup(results, 30, dry_run=True, now=NOW)
    assert [p.name for p in listed] == ["run_no_times", "run_old", "run_started_only"]
    assert sorted(p.name for p in results.iterdir()) == before


def test_cleanup_removes_old_runs_only(results: Path) -> None:
    removed = cleanup(results, 30, now=NOW)
    assert [p.name for p in removed] == ["run_no_times", "run_old", "run_started_only"]
    left = sorted(p.name for p in results.iterdir())
    assert left == ["README.txt", "link_to_old", "notes", "run_active", "run_recent"]
    assert (results / "link_to_old").is_symlink()  # a dangling link is left alone
    assert not [p for p in results.iterdir() if p.name.startswith(".deleting-")]
    assert cleanup(results, 30, now=NOW) == []
    with pytest.raises(UserError):
        cleanup(results, -1)


def test_cleanup_can_archive_first(results: Path, tmp_path: Path) -> None:
    removed = cleanup(results, 30, archive_dir=tmp_path / "archive", now=NOW)
    for run_dir in removed:
        verified = verify_archive(tmp_path / "archive" / f"{run_dir.name}.tar.gz")
        assert verified.root == run_dir.name


def test_run_time_prefers_the_manifest(results: Path) -> None:
    assert run_time(results / "run_old") == NOW - timedelta(days=40)
    active = run_time(results / "run_active")
    assert abs(active.timestamp() - time.time()) < 3600  # its files are fresh


def test_archive_holds_a_verified_manifest(mock_run: Path, tmp_path: Path) -> None:
    path = archive(mock_run, tmp_path / "out" / "run.tar.gz")
    assert path == tmp_path / "out" / "run.tar.gz"
    files = sorted(p.relative_to(mock_run).as_posix() for p in mock_run.rglob("*")
                   if p.is_file())
    with tarfile.open(path) as tar:
        names = sorted(m.name for m in tar.getmembers())
        manifest = tar.extractfile(f"{mock_run.name}/{MANIFEST}").read().decode()  # type: ignore[union-attr]
    assert names == sorted([f"{mock_run.name}/{f}" for f in files] +
                           [f"{mock_run.name}/{MANIFEST}"])
    lines = {}
    for line in manifest.splitlines():
        digest, name = line.split("  ", 1)
        lines[name] = digest
    for rel in files:
        digest = hashlib.sha256((mock_run / rel).read_bytes()).hexdigest()
        assert lines[f"{mock_run.name}/{rel}"] == digest
    assert verify_archive(path).files == len(files)
    if shutil.which("sha256sum"):  # the manifest is sha256sum's own format
        with tarfile.open(path) as tar:
            tar.extractall(tmp_path / "x", filter="data")
        check = subprocess.run(["sha256sum", "--check", "--quiet",
                                f"{mock_run.name}/{MANIFEST}"],
                               cwd=tmp_path / "x", capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_archive_destinations(mock_run: Path, tmp_path: Path) -> None:
    default = archive(mock_run)
    assert default == mock_run.parent / f"{mock_run.name}.tar.gz"
    folder = tmp_path / "dest"
    folder.mkdir()
    assert archive(mock_run, folder) == folder / f"{mock_run.name}.tar.gz"
    with pytest.raises(ArchiveError, match="inside the run"):
        archive(mock_run, mock_run / "self.tar.gz")
    with pytest.raises(ArchiveError):
        archive(tmp_path / "missing")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def _rewrite(source: Path, target: Path, change: str) -> None:
    """A copy of an archive with one thing changed."""
    with tarfile.open(source) as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if change == "drop" and member.name.endswith("results.csv"):
                continue
            if change == "tamper" and member.name.endswith("results.csv") and data:
                data = data.replace(b"mock", b"MOCK", 1) + b"x"
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
        if change == "extra":
            info = tarfile.TarInfo(f"{source.name.split('.')[0]}/extra.txt")
            info.size = 1
            dst.addfile(info, io.BytesIO(b"x"))
        if change == "unsafe":
            info = tarfile.TarInfo("../evil.txt")
            info.size = 1
            dst.addfile(info, io.BytesIO(b"x"))


@pytest.mark.parametrize(("change", "message"), [
    ("tamper", "sha256 mismatch"),
    ("drop", "missing"),
    ("unsafe", "unsafe member"),
])
def test_verify_detects_changes(mock_run: Path, tmp_path: Path, change: str, message: str
                                ) -> None:
    good = archive(mock_run, tmp_path / "good.tar.gz")
    bad = tmp_path / "bad.tar.gz"
    _rewrite(good, bad, change)
    with pytest.raises(ArchiveError, match=message):
        verify_archive(bad)


def test_verify_rejects_unlisted_files_and_non_archives(mock_run: Path, tmp_path: Path) -> None:
    good = archive(mock_run, tmp_path / f"{mock_run.name}.tar.gz")
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(good) as src, tarfile.open(bad, "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member))
        info = tarfile.TarInfo(f"{mock_run.name}/extra.txt")
        info.size = 1
        dst.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ArchiveError, match="not in the manifest"):
        verify_archive(bad)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(ArchiveError, match="not a readable"):
        verify_archive(junk)
