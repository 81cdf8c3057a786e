"""Hallucination detection in generated code: nonexistent packages (imports, ``pip
install`` lines, requirement lists), slopsquatting near-misses of popular projects, and
nonexistent standard-library attributes and keyword arguments.

Generated code is never executed, imported or exec'd: only ``ast`` and text.
"""

from safety_eval.analysis.hallucination.imports import ImportRef, extract_imports
from safety_eval.analysis.hallucination.index import (
    IndexLoadError,
    IndexUpdateError,
    PackageIndex,
    load_index,
    normalize_name,
    update_index,
)
from safety_eval.analysis.hallucination.installs import InstallRef, extract_installs
from safety_eval.analysis.hallucination.packages import (
    Classification,
    ImportResolution,
    classify_import,
    resolve_import,
)
from safety_eval.analysis.hallucination.scanner import HallucinationScanner

__all__ = [
    "Classification",
    "HallucinationScanner",
    "ImportRef",
    "ImportResolution",
    "IndexLoadError",
    "IndexUpdateError",
    "InstallRef",
    "PackageIndex",
    "classify_import",
    "extract_imports",
    "extract_installs",
    "load_index",
    "normalize_name",
    "resolve_import",
    "update_index",
]
