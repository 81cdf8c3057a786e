"""``safety-eval doctor``: what this machine can and cannot do for an evaluation."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

Status = Literal["ok", "warn", "fail", "note"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


_OPTIONAL = {
    "llama_cpp": ("llama-cpp-python", "local", "the embedded default model and llamacpp:"),
    "transformers": ("transformers", "hf", "hf: backends"),
    "torch": ("torch", "hf", "hf: backends (pip install torch==2.13.0 for a CPU wheel)"),
    "ray": ("ray", "ray", "--distributed runs"),
}


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def dependency_checks() -> list[Check]:
    checks = []
    for dist in ("bandit", "pydantic", "matplotlib"):
        version = _dist_version(dist)
        checks.append(Check(dist, "ok" if version else "fail", version or "missing (required)"))
    for module, (dist, extra, purpose) in _OPTIONAL.items():
        present = importlib.util.find_spec(module) is not None
        version = _dist_version(dist)
        if present:
            checks.append(Check(dist, "ok", version or "installed"))
        else:
            checks.append(Check(dist, "note", f"not installed; needed for {purpose} "
                                              f"(pip install -e '.[{extra}]')"))
    checks.append(semgrep_check())
    return checks


def semgrep_check() -> Check:
    from safety_eval.analysis.semgrep_scanner import find_semgrep

    found = find_semgrep()
    if found is None:
        return Check("semgrep", "note", "not installed; the optional semgrep layer is off "
                                        "(pip install -e '.[semgrep]')")
    return Check("semgrep", "ok", str(found))


def model_checks() -> list[Check]:
    from safety_eval.models.base import BackendError
    from safety_eval.models.embedded import FILE_NAME, SHA256, cache_dir, part_files, sha256_of

    try:
        parts = part_files()
    except BackendError as exc:
        return [Check("embedded model", "warn", str(exc))]
    size = sum(p.stat().st_size for p in parts)
    checks = [Check("embedded model parts", "ok", f"6 parts, {size / 2**20:.0f} MiB")]
    cached = cache_dir() / FILE_NAME
    if not cached.is_file():
        checks.append(Check("embedded model file", "note",
                            f"not joined yet; the first run writes {cached}"))
    elif sha256_of(cached) == SHA256:
        checks.append(Check("embedded model file", "ok", f"{cached} sha256 {SHA256[:16]}... OK"))
    else:
        checks.append(Check("embedded model file", "fail",
                            f"{cached} does not match the pinned sha256; it will be rebuilt"))
    return checks


def disk_check(path: Path = Path(".")) -> Check:
    free_gb = shutil.disk_usage(path).free / 2**30
    status: Status = "ok" if free_gb >= 2 else "warn"
    return Check("disk space", status, f"{free_gb:.1f} GiB free in {path.resolve()}")


def gpu_check() -> Check:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return Check("GPU", "note", "no NVIDIA GPU found (nvidia-smi absent); CPU backends only")
    try:
        out = subprocess.run(  # a fixed system tool with fixed arguments, no user input
            [exe, "--query-gpu=name,memory.total,memory.used", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("GPU", "warn", f"nvidia-smi failed: {exc}")
    return Check("GPU", "ok", out.replace("\n", "; "))


def write_check(path: Path = Path("output")) -> Check:
    """Can runs be written where they go by default?"""
    import tempfile

    target = path if path.exists() else path.resolve().parent
    try:
        with tempfile.NamedTemporaryFile(dir=target, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("write permission", "fail", f"cannot write in {target}: {exc.strerror}")
    return Check("write permission", "ok", f"{target.resolve()} is writable")


def ray_check() -> Check:
    """Whether --distributed can reach a cluster: a started one (``ray start --head``
    leaves its address behind) or $RAY_ADDRESS; otherwise runs start a local one."""
    import os

    if importlib.util.find_spec("ray") is None:
        return Check("Ray cluster", "note", "ray not installed; --distributed needs '.[ray]'")
    address = os.environ.get("RAY_ADDRESS")
    current = Path(tempfile_dir()) / "ray" / "ray_current_cluster"
    if address:
        return Check("Ray cluster", "ok", f"RAY_ADDRESS={address} (--ray-address auto uses it)")
    if current.is_file():
        found = current.read_text(encoding="utf-8").strip()
        return Check("Ray cluster", "ok", f"a cluster started with `ray start` at {found}")
    return Check("Ray cluster", "note", "no running cluster; --distributed starts a local one")


def tempfile_dir() -> str:
    import tempfile

    return tempfile.gettempdir()


def run_checks() -> list[Check]:
    return [*dependency_checks(), *model_checks(), disk_check(), write_check(), ray_check(),
            gpu_check()]
