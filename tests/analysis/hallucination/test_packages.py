"""Imports -> where they come from: extraction (AST and text) and classification."""

from __future__ import annotations

import ast

import pytest

from safety_eval.analysis.base import ParsedCode
from safety_eval.analysis.hallucination import (
    PackageIndex,
    classify_import,
    extract_imports,
    resolve_import,
)
from safety_eval.analysis.hallucination.imports import find_local_modules
from safety_eval.analysis.hallucination.known import (
    COMMON_LOCAL_MODULES,
    IMPORT_TO_DISTRIBUTION,
    NAMESPACE_PREFIXES,
)
from safety_eval.analysis.hallucination.packages import CLASSIFICATIONS, modules_for_import


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("os", "stdlib"),
        ("os.path", "stdlib"),
        ("tomllib", "stdlib"),
        ("__future__", "stdlib"),
        (".models", "relative"),
        ("..core.db", "relative"),
        ("cv2", "known"),
        ("bs4", "known"),
        ("yaml", "known"),
        ("PIL", "known"),
        ("PIL.Image", "known"),
        ("sklearn", "known"),
        ("sklearn.model_selection", "known"),
        ("google.protobuf", "known"),
        ("google.protobuf.json_format", "known"),
        ("google.colab", "known"),
        ("google", "known"),
        ("jwt", "known"),
        ("win32api", "known"),
        ("win32somethingelse", "known"),
        ("google.cloud.storage", "pypi"),
        ("google.cloud.pubsub_v1", "pypi"),
        ("google.genai", "pypi"),
        ("azure.storage.blob", "pypi"),
        ("azure.identity", "pypi"),
        ("flask_sqlalchemy", "pypi"),
        ("langchain_community", "pypi"),
        ("matplotlid", "pypi"),
        ("fastjsonvalidatorx", "hallucinated"),
        ("fastjsonvalidatorx.core", "hallucinated"),
        ("google.fakethingzz", "hallucinated"),
        ("google.cloud.fakeservicezz", "hallucinated"),
        ("database", "local"),
        ("models", "local"),
    ],
)
def test_classify(name: str, expected: str, index: PackageIndex) -> None:
    assert classify_import(name, index=index) == expected


@pytest.mark.parametrize("name", ["numpy", "requests", "pydantic", "pytest"])
def test_real_third_party_is_never_hallucinated(name: str, index: PackageIndex) -> None:
    assert classify_import(name, index=index) in {"installed", "pypi", "known"}


def test_classifications_are_the_documented_set() -> None:
    assert set(CLASSIFICATIONS) == {
        "stdlib",
        "local",
        "relative",
        "installed",
        "known",
        "pypi",
        "hallucinated",
    }


def test_local_modules_win(index: PackageIndex) -> None:
    assert classify_import("fastjsonvalidatorx", index=index) == "hallucinated"
    local = {"fastjsonvalidatorx"}
    assert classify_import("fastjsonvalidatorx", local_modules=local, index=index) == "local"
    assert classify_import("fastjsonvalidatorx.sub", local_modules=local, index=index) == "local"


def test_resolution_details(index: PackageIndex) -> None:
    assert resolve_import("cv2", index=index).distribution == "opencv-python"
    bogus = resolve_import("Fast_JSONValidatorX.sub", index=index)
    assert bogus.kind == "hallucinated"
    assert bogus.module == "Fast_JSONValidatorX" and bogus.looked_up == "fast-jsonvalidatorx"
    storage = resolve_import("google.cloud.storage", index=index)
    assert storage.distribution == "google-cloud-storage"
    with pytest.raises(ValueError):
        resolve_import("not a module", index=index)


def test_curated_table(index: PackageIndex) -> None:
    assert len(IMPORT_TO_DISTRIBUTION) >= 60
    for import_name, dist in {
        "cv2": "opencv-python",
        "bs4": "beautifulsoup4",
        "yaml": "PyYAML",
        "PIL": "Pillow",
        "sklearn": "scikit-learn",
        "google.protobuf": "protobuf",
        "jwt": "PyJWT",
        "dateutil": "python-dateutil",
        "Crypto": "pycryptodome",
        "OpenSSL": "pyOpenSSL",
        "magic": "python-magic",
        "dotenv": "python-dotenv",
        "serial": "pyserial",
        "usb": "pyusb",
        "skimage": "scikit-image",
        "attr": "attrs",
        "docx": "python-docx",
        "pptx": "python-pptx",
        "ldap": "python-ldap",
        "MySQLdb": "mysqlclient",
        "telegram": "python-telegram-bot",
        "discord": "discord.py",
        "jose": "python-jose",
        "win32api": "pywin32",
    }.items():
        assert IMPORT_TO_DISTRIBUTION[import_name] == dist
    assert IMPORT_TO_DISTRIBUTION["psycopg2"] in {"psycopg2", "psycopg2-binary"}
    # every curated distribution really is on PyPI (a typo here would hide hallucinations)
    missing = sorted({d for d in IMPORT_TO_DISTRIBUTION.values() if not index.exists(d)})
    assert missing == []


def test_namespace_prefixes_exist(index: PackageIndex) -> None:
    sample = {
        "google.cloud": "bigquery",
        "azure": "identity",
        "azure.mgmt": "compute",
        "zope": "interface",
        "backports": "zoneinfo",
        "sphinxcontrib": "napoleon",
        "opentelemetry.instrumentation": "flask",
        "opentelemetry.exporter": "otlp",
        "llama_index": "core",
        "airflow.providers": "amazon",
    }
    for root, child in sample.items():
        prefix = NAMESPACE_PREFIXES[root]
        assert index.exists(f"{prefix}-{child}"), (root, child)


def test_common_local_names_are_not_popular_libraries(index: PackageIndex) -> None:
    # a generic project-module name must not hide a popular library people import
    assert not {"requests", "numpy", "flask", "validators", "datasets"} & COMMON_LOCAL_MODULES


# -- extraction ----------------------------------------------------------------------------

SNIPPET = """\
import os, sys as system, json
import xml.etree.ElementTree as ET
from collections import (
    OrderedDict,
    defaultdict as dd,
)
from . import views
from .models import User
from ..core.db import session

def load():
    import yaml
    try:
        import ujson as fastjson
    except ImportError:
        fastjson = None
    if True:
        from pkg_a.sub import thing, other as alias
    mod = __import__("dyn_mod")
    mod2 = importlib.import_module("dyn.pkg")
    return mod, mod2
"""


def _summary(code: str | ParsedCode) -> list[tuple[str, str | None, str | None, int, int]]:
    return [(r.display, r.name, r.asname, r.line, int(r.guarded)) for r in extract_imports(code)]


EXPECTED = [
    ("os", None, None, 1, 0),
    ("sys", None, "system", 1, 0),
    ("json", None, None, 1, 0),
    ("xml.etree.ElementTree", None, "ET", 2, 0),
    ("collections", "OrderedDict", None, 3, 0),
    ("collections", "defaultdict", "dd", 3, 0),
    (".", "views", None, 7, 0),
    (".models", "User", None, 8, 0),
    ("..core.db", "session", None, 9, 0),
    ("yaml", None, None, 12, 0),
    ("ujson", None, "fastjson", 14, 1),
    ("pkg_a.sub", "thing", None, 18, 0),
    ("pkg_a.sub", "other", "alias", 18, 0),
    ("dyn_mod", None, None, 19, 0),
    ("dyn.pkg", None, None, 20, 0),
]


def test_extract_imports_ast() -> None:
    assert _summary(SNIPPET) == EXPECTED
    assert _summary(ParsedCode(SNIPPET, ast.parse(SNIPPET), "full")) == EXPECTED


def test_extract_imports_text_only() -> None:
    broken = SNIPPET + "\ndef oops(:\n    pass\n"
    found = _summary(ParsedCode(broken, None, "text-only"))
    # the text path has no try/except awareness and does not see dynamic imports
    assert [entry[:4] for entry in found] == [entry[:4] for entry in EXPECTED[:-2]]
    # a string that does not parse falls back to the text path by itself
    assert [entry[:4] for entry in _summary(broken)] == [entry[:4] for entry in EXPECTED[:-2]]


def test_text_only_edge_cases() -> None:
    code = (
        "import a; import b.c as d\n"
        "try: import e\n"
        "except: pass\n"
        "\tfrom f import (g,\n"
        "    h)  # comment\n"
        "x = 'import notanimport'\n"
        "# import commented_out\n"
        "import the module you need\n"
        '"""\nimport in_docstring\n"""\n'
        "from i import \\\n    j\n"
        "def broken(:\n"
    )
    found = [(r.display, r.name) for r in extract_imports(ParsedCode(code, None, "text-only"))]
    assert found == [
        ("a", None),
        ("b.c", None),
        ("e", None),
        ("f", "g"),
        ("f", "h"),
        ("i", "j"),
    ]


def test_deeply_nested_code_does_not_break_extraction() -> None:
    code = "x = " + "(" * 150 + "1" + ")" * 150 + "\nimport os\n"
    assert [r.module for r in extract_imports(code)] == ["os"]


def test_local_modules_from_the_snippet() -> None:
    text = (
        "# file: app/helpers_x.py\n"
        "# --- config_loader.py ---\n"
        "## `store_utils.py`\n"
        "from .siblingmod import x\n"
        "from . import other_local\n"
        "sys.modules['made_up_mod'] = types.ModuleType('made_up_mod')\n"
        "plugin_mod = types.ModuleType('plugin_mod')\n"
        "# run: python manage_tool.py\n"
    )
    local = find_local_modules(text)
    assert {
        "app",
        "helpers_x",
        "app.helpers_x",
        "config_loader",
        "store_utils",
        "siblingmod",
        "other_local",
        "made_up_mod",
        "plugin_mod",
        "manage_tool",
    } <= local


def test_modules_for_namespace_from_imports() -> None:
    assert modules_for_import("google.cloud", ["storage", "bigquery"]) == [
        "google.cloud.storage",
        "google.cloud.bigquery",
    ]
    assert modules_for_import("google", ["genai"]) == ["google.genai"]
    assert modules_for_import("os", ["path"]) == ["os"]
    assert modules_for_import("google.protobuf", ["json_format"]) == ["google.protobuf"]


def test_recovered_mode_keeps_imports_on_blanked_lines() -> None:
    text = 'import os\nimport fakezzq, json  <- broken\ndoc = """\nimport not_an_import\n"""\n'
    tree = ast.parse('import os\n\ndoc = """\nimport not_an_import\n"""\n')
    refs = extract_imports(ParsedCode(text, tree, "recovered"))
    assert [(r.module, r.line) for r in refs] == [("os", 1)]  # the broken line is prose
    text = 'import os\nimport fakezzq, json\nx = (\ndoc = """\nimport not_an_import\n"""\n'
    tree = ast.parse('import os\nimport fakezzq, json\n\ndoc = """\nimport not_an_import\n"""\n')
    refs = extract_imports(ParsedCode(text, tree, "recovered"))
    assert [(r.module, r.line) for r in refs] == [("os", 1), ("fakezzq", 2), ("json", 2)]
    blanked = "import os\nimport fakezzq  # kept by text\nx = (\n"
    refs = extract_imports(ParsedCode(blanked, ast.parse("import os\n\n\n"), "recovered"))
    assert [(r.module, r.line) for r in refs] == [("os", 1), ("fakezzq", 2)]
