"""update_index against a local http.server (no network), and load_index's choice."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from safety_eval.analysis.hallucination import (
    IndexLoadError,
    IndexUpdateError,
    PackageIndex,
    load_index,
    update_index,
)
from safety_eval.analysis.hallucination.index import (
    CACHE_DIR_ENV,
    METADATA_FILE,
    SIMPLE_JSON_MEDIA_TYPE,
    default_cache_dir,
    write_index,
)

PROJECTS = ["requests", "Brand_New.Pkg", "numpy", "zz-fresh"]


class _Handler(BaseHTTPRequestHandler):
    body: bytes = b""
    content_type = SIMPLE_JSON_MEDIA_TYPE
    seen_accept: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen_accept.append(self.headers.get("Accept", ""))
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _simple_json(names: list[str]) -> bytes:
    doc = {
        "meta": {"api-version": "1.1", "_last-serial": 1},
        "projects": [{"name": name, "_last-serial": 1} for name in names],
    }
    return json.dumps(doc).encode()


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"body": _simple_json(PROJECTS), "seen_accept": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/simple/", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def base(tmp_path: Path) -> PackageIndex:
    """A small index standing in for the vendored one."""
    directory = tmp_path / "base"
    write_index(
        directory,
        [("numpy", "2026-11"), ("old-gone", "2015-01"), ("requests", "2026-05")],
        [("requests", 6, "2026-05"), ("numpy", 20, "2026-11"), ("old-gone", 99, "2015-01")],
        source="test",
        source_sha256="0" * 64,
        snapshot_month="2026-11",
        as_of="2026-11-01T00:00:00+00:00",
    )
    return PackageIndex.from_directory(directory)


def test_update_from_local_simple_index(
    server: tuple[str, type[_Handler]], base: PackageIndex, tmp_path: Path
) -> None:
    url, handler = server
    dest = tmp_path / "cache"
    updated = update_index(url, dest, base=base, min_names=1, timeout=10)
    assert handler.seen_accept == [SIMPLE_JSON_MEDIA_TYPE]
    assert len(updated) == 4
    assert updated.exists("brand-new-pkg") and updated.exists("zz_fresh")
    assert not updated.exists("old-gone")  # removed from PyPI: dropped, rank too
    assert updated.rank("requests") == 6 and updated.rank("numpy") == 20
    assert updated.rank("old-gone") is None
    assert updated.last_release("requests") == "2026-05"  # kept from the base
    now = datetime.now(UTC)
    assert updated.last_release("brand-new-pkg") == f"{now.year:04d}-{now.month:02d}"
    assert updated.metadata.source == url
    # content-addressed data files + metadata; no temp files left behind
    files = sorted(path.name for path in dest.iterdir())
    assert METADATA_FILE in files and len(files) == 3, files

    # a second update replaces the files atomically and removes the stale ones
    handler.body = _simple_json([*PROJECTS, "another-one"])
    again = update_index(url, dest, base=base, min_names=1, timeout=10)
    assert again.exists("another-one")
    assert len(list(dest.iterdir())) == 3

    # load_index prefers the newer cache over the vendored snapshot
    load_index.cache_clear()
    try:
        preferred = load_index(dest)
        assert preferred.exists("another-one") and len(preferred) == 5
        assert not load_index(dest, use_cache=False).exists("another-one")
    finally:
        load_index.cache_clear()


def test_refuses_truncated_list(
    server: tuple[str, type[_Handler]], base: PackageIndex, tmp_path: Path
) -> None:
    url, _ = server
    with pytest.raises(IndexUpdateError, match="fewer than"):
        update_index(url, tmp_path / "c", base=base, min_names=100, timeout=10)
    assert not (tmp_path / "c").exists()


def test_refuses_html_answer(
    server: tuple[str, type[_Handler]], base: PackageIndex, tmp_path: Path
) -> None:
    url, handler = server
    handler.content_type = "text/html"
    with pytest.raises(IndexUpdateError, match="JSON"):
        update_index(url, tmp_path / "c", base=base, min_names=1, timeout=10)


def test_refuses_malformed_json(
    server: tuple[str, type[_Handler]], base: PackageIndex, tmp_path: Path
) -> None:
    url, handler = server
    handler.body = b'{"projects": [{"nom": "x"}]}'
    with pytest.raises(IndexUpdateError, match="PEP 691"):
        update_index(url, tmp_path / "c", base=base, min_names=1, timeout=10)


def test_offline_is_a_clear_error(base: PackageIndex, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(IndexUpdateError, match="cannot reach"):
        update_index(f"http://127.0.0.1:{port}/simple/", tmp_path / "c", base=base, timeout=5)


def test_refuses_non_http_urls(base: PackageIndex, tmp_path: Path) -> None:
    with pytest.raises(IndexUpdateError, match="refusing"):
        update_index("file:///etc/passwd", tmp_path / "c", base=base)


def test_corrupt_newer_cache_raises(
    server: tuple[str, type[_Handler]], base: PackageIndex, tmp_path: Path
) -> None:
    url, _ = server
    dest = tmp_path / "cache"
    update_index(url, dest, base=base, min_names=1, timeout=10)
    for path in dest.glob("pypi-names-*.tsv.gz"):
        path.write_bytes(b"garbage")
    load_index.cache_clear()
    try:
        with pytest.raises(IndexLoadError):
            load_index(dest)
    finally:
        load_index.cache_clear()


def test_older_cache_is_ignored(base: PackageIndex, tmp_path: Path) -> None:
    dest = tmp_path / "old-cache"
    write_index(
        dest,
        [("only-in-old-cache", None)],
        [],
        source="test",
        source_sha256="0" * 64,
        snapshot_month="2020-01",
        as_of="2020-01-01T00:00:00+00:00",
    )
    load_index.cache_clear()
    try:
        assert not load_index(dest).exists("only-in-old-cache")
        assert load_index(dest).exists("requests")
    finally:
        load_index.cache_clear()


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "safety-eval" / "pypi-index"
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
