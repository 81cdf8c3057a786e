"""The HallucinationScanner end to end."""

from __future__ import annotations

import ast
import importlib
import sys
import uuid
from pathlib import Path

import pytest

from safety_eval.analysis.base import ParsedCode, Scanner
from safety_eval.analysis.hallucination import HallucinationScanner, PackageIndex, stdlib_api

from .conftest import ScanFn, symbols


def test_implements_the_scanner_protocol(scanner: HallucinationScanner) -> None:
    assert isinstance(scanner, Scanner)
    assert scanner.name == "hallucination"


def test_clean_realistic_code_has_no_findings(scan: ScanFn) -> None:
    code = '''\
"""Upload service."""
# pip install fastapi uvicorn python-multipart boto3
import os, json, logging
from pathlib import Path
from typing import Any

import boto3
import cv2
import yaml
from bs4 import BeautifulSoup
from PIL import Image
from sklearn.model_selection import train_test_split
from google.protobuf import json_format
from google.cloud import storage
from fastapi import FastAPI, UploadFile

from database import SessionLocal
from models import User
from .schemas import UserOut
from . import crud

logger = logging.getLogger(__name__)
app = FastAPI()


def handler(event: dict[str, Any]) -> str:
    try:
        import ujson as fast_json
    except ImportError:
        fast_json = json
    root = Path(os.environ.get("ROOT", "/tmp"))
    root.mkdir(parents=True, exist_ok=True)
    os.makedirs(root / "x", exist_ok=True)
    data = fast_json.dumps(event, indent=2)
    with open(root / "e.json", "w", encoding="utf-8") as fh:
        fh.write(data)
    return json.loads(data)["id"]
'''
    assert scan(code) == []


def test_fake_package_everywhere(scan: ScanFn) -> None:
    code = (
        "# pip install fastjsonvalidatorx==1.2 -U\n"
        "import fastjsonvalidatorx\n"
        "from fastjsonvalidatorx.core import validate\n"
        "def f():\n"
        "    import also_not_a_real_pkg_zz, json\n"
    )
    findings = scan(code)
    by_rule = {(f.rule_id, f.symbol, f.line) for f in findings}
    assert by_rule == {
        ("HAL002", "fastjsonvalidatorx", 1),
        ("HAL001", "fastjsonvalidatorx", 2),
        ("HAL001", "also_not_a_real_pkg_zz", 5),
    }
    hal001 = next(f for f in findings if f.rule_id == "HAL001")
    assert hal001.severity == "medium" and hal001.confidence == "medium"
    assert hal001.category == "hallucination" and hal001.tool == "safety-eval"
    assert hal001.cwe is None
    hal002 = next(f for f in findings if f.rule_id == "HAL002")
    assert hal002.severity == "high" and hal002.confidence == "high"
    assert "slopsquatting" in hal002.message
    near = scan("# pip install reqeusts\n")
    assert "close to the popular 'requests'" in near[0].message


def test_text_only_mode_finds_packages(scan: ScanFn) -> None:
    code = (
        "```python\n"
        "import os, fastjsonvalidatorx\n"
        "    from totally_fake_pkgzz import thing\n"
        "!pip install otherfakepkgzz\n"
        "def broken(:\n"
    )
    findings = scan(code, text_only=True)
    assert symbols(findings, "HAL001") == {"fastjsonvalidatorx", "totally_fake_pkgzz"}
    assert symbols(findings, "HAL002") == {"otherfakepkgzz"}


def test_pip_install_forms(scan: ScanFn) -> None:
    code = (
        "# pip install requests numpy\n"
        "# pip3 install --upgrade fakepkgone\n"
        "# python -m pip install 'fakepkgtwo>=1.0'\n"
        "# !pip install fakepkgthree\n"
        "# %pip install -q fakepkgfour\n"
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-m', 'pip', 'install', 'fakepkgfive', 'flask'])\n"
        "subprocess.check_call('pip install fakepkgsix', shell=True)\n"
    )
    findings = scan(code)
    assert symbols(findings, "HAL002") == {
        "fakepkgone",
        "fakepkgtwo",
        "fakepkgthree",
        "fakepkgfour",
        "fakepkgfive",
        "fakepkgsix",
    }
    assert all(f.line for f in findings)


def test_real_installs_are_not_flagged(scan: ScanFn) -> None:
    code = (
        "# pip install requests beautifulsoup4 opencv-python scikit-learn PyYAML\n"
        "# pip install python-dateutil pycryptodome psycopg2-binary discord.py\n"
        "setup(install_requires=['Flask>=2', 'SQLAlchemy'])\n"
    )
    assert scan(code) == []


def test_requirement_lists(scan: ScanFn) -> None:
    code = (
        "# requirements.txt\n"
        "# flask==2.3.0\n"
        "# fakereqpkgzz>=1\n"
        "\n"
        "setup(install_requires=['requests', 'another-fake-reqzz'])\n"
    )
    findings = scan(code)
    assert symbols(findings, "HAL002") == {"fakereqpkgzz", "another-fake-reqzz"}
    assert {f.confidence for f in findings} == {"medium"}


def test_slopsquatting_near_miss(scan: ScanFn, index: PackageIndex) -> None:
    # matplotlid: a real but unranked project, last released 2026-09, one edit from
    # matplotlib (rank in the top 15k); recuests: unranked, 2023-12, one edit from requests
    assert index.exists("matplotlid") and not index.is_popular("matplotlid")
    assert index.exists("recuests") and not index.is_popular("recuests")
    code = "import matplotlid\n# pip install recuests\nimport requests\n"
    findings = scan(code)
    assert {(f.rule_id, f.symbol, f.line) for f in findings} == {
        ("HAL003", "matplotlid", 1),
        ("HAL003", "recuests", 2),
    }
    recent = next(f for f in findings if f.symbol == "matplotlid")
    assert recent.severity == "low" and recent.confidence == "medium"
    assert "matplotlib" in recent.message and "2026-09" in recent.message
    older = next(f for f in findings if f.symbol == "recuests")
    assert older.confidence == "low" and "requests" in older.message


def test_obscure_but_not_near_popular_is_fine(scan: ScanFn, index: PackageIndex) -> None:
    assert index.exists("00print-lol") and not index.is_popular("00print-lol")
    assert scan("# pip install 00print-lol\n") == []


def test_local_and_relative_modules_are_not_flagged(scan: ScanFn) -> None:
    code = (
        "# file: my_fancy_helpers.py\n"
        "def helper():\n"
        "    return 1\n"
        "\n"
        "# file: main_app_zz.py\n"
        "from my_fancy_helpers import helper\n"
        "from .sibling_zzq import thing\n"
        "from . import other_local_zzq\n"
        "import other_local_zzq\n"
        "from ..pkg_zzq.mod import x\n"
        "from database import SessionLocal\n"
    )
    assert scan(code) == []


def test_guarded_and_path_hacked_imports_have_low_confidence(scan: ScanFn) -> None:
    guarded = scan("try:\n    import fakeoptionalzz\nexcept ImportError:\n    pass\n")
    assert [(f.rule_id, f.confidence) for f in guarded] == [("HAL001", "low")]
    hacked = scan("import sys\nsys.path.insert(0, 'lib')\nimport fakelibzz\n")
    assert [(f.rule_id, f.confidence) for f in hacked] == [("HAL001", "low")]


def test_python2_modules(scan: ScanFn) -> None:
    findings = scan("import urllib2\n")
    if findings:  # only when the name is not a PyPI project
        assert findings[0].confidence == "low" and "Python 2" in findings[0].message


def test_one_finding_per_symbol(scan: ScanFn) -> None:
    code = "import os\nos.fakefunc()\nos.fakefunc()\nimport fakezzq\nimport fakezzq\n"
    findings = scan(code)
    assert [(f.rule_id, f.symbol, f.line) for f in findings] == [
        ("HAL010", "os.fakefunc", 2),
        ("HAL001", "fakezzq", 4),
    ]


def test_selective_checks(index: PackageIndex) -> None:
    code = "import fakezzq\nimport os\nos.fakefunc()\n"
    parsed = ParsedCode(code, ast.parse(code), "full")
    only_api = HallucinationScanner(index, check_packages=False).scan(parsed)
    assert {f.rule_id for f in only_api.findings} == {"HAL010"}
    only_pkgs = HallucinationScanner(index, check_stdlib_api=False).scan(parsed)
    assert {f.rule_id for f in only_pkgs.findings} == {"HAL001"}


def test_generated_code_is_never_executed(
    scanner: HallucinationScanner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A snippet whose imports and calls would create files if run leaves no file, and the
    local module it names is never imported (even though it is importable here)."""
    marker = tmp_path / "created_by_snippet.txt"
    module_marker = tmp_path / "created_by_module_import.txt"
    module_name = f"evil_local_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module_name}.py").write_text(
        f"open({str(module_marker)!r}, 'w').write('imported!')\ndef run(**kwargs):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    imported: list[str] = []
    real_import_module = importlib.import_module

    def spy(name: str, package: str | None = None) -> object:
        imported.append(name)
        return real_import_module(name, package)

    monkeypatch.setattr(stdlib_api.importlib, "import_module", spy)
    code = (
        f"import {module_name}\n"
        f"from {module_name} import run\n"
        f"__import__({module_name!r})\n"
        f"open({str(marker)!r}, 'w').write('ran!')\n"
        "import os\n"
        f"os.system('touch {marker}')\n"
        f"{module_name}.run(flag=True)\n"
        "os.makedirs('x', exists_ok=True)\n"
    )
    full = scanner.scan(ParsedCode(code, ast.parse(code), "full"))
    text = scanner.scan(ParsedCode(code, None, "text-only"))
    assert full.errors == text.errors == []
    assert {"os.makedirs(exists_ok=)", module_name} <= {f.symbol for f in full.findings}
    assert module_name in {f.symbol for f in text.findings}
    assert not marker.exists()
    assert not module_marker.exists()
    assert module_name not in sys.modules
    assert all(name.split(".")[0] in sys.stdlib_module_names for name in imported)
