"""HAL010 (nonexistent stdlib attributes) and HAL011 (unknown keyword arguments)."""

from __future__ import annotations

import pytest

from safety_eval.analysis.hallucination.stdlib_api import (
    is_checkable_stdlib,
    keyword_names,
    load_stdlib_module,
    lookup,
)

from .conftest import ScanFn, symbols


@pytest.mark.parametrize(
    ("code", "symbol"),
    [
        ("import os\nos.fakefunc()\n", "os.fakefunc"),
        ("import hashlib\nhashlib.sha999(b'x')\n", "hashlib.sha999"),
        ("import json\njson.parse('{}')\n", "json.parse"),
        ("from json import parse\n", "json.parse"),
        ("import hashlib as h\nh.sha999()\n", "hashlib.sha999"),
        ("import os.path as osp\nosp.joinx('a')\n", "os.path.joinx"),
        ("import os.fakemod\n", "os.fakemod"),
        ("import xml.etree.FakeTree\n", "xml.etree.FakeTree"),
        ("from os.fakemod import x\n", "os.fakemod"),
        ("import collections\ncollections.Mapping\n", "collections.Mapping"),
        ("import datetime\ndatetime.datetime.nowz()\n", "datetime.datetime.nowz"),
        ("import string\nstring.letters\n", "string.letters"),
        ("def f():\n    import time\n    return time.clock()\n", "time.clock"),
    ],
)
def test_nonexistent_attributes_are_flagged(scan: ScanFn, code: str, symbol: str) -> None:
    findings = scan(code)
    assert symbols(findings, "HAL010") == {symbol}
    finding = next(f for f in findings if f.rule_id == "HAL010")
    assert finding.category == "hallucination" and finding.tool == "safety-eval"
    assert finding.line is not None and finding.severity == "low"


@pytest.mark.parametrize(
    "code",
    [
        "import os\nos.path.join('a', 'b')\nos.environ['X'] = '1'\nos.getcwd()\n",
        "import json\njson.loads('{}')\njson.dumps({}, indent=2)\n",
        "from json import loads, JSONDecodeError\n",
        "from os import path\npath.join('a')\n",
        "import xml\nxml.etree.ElementTree.parse('x')\n",  # submodule not imported: still real
        "from concurrent import futures\nfutures.ThreadPoolExecutor()\n",
        "import xml.etree.ElementTree as ET\nET.fromstring('<a/>')\n",
        "import collections.abc\ncollections.abc.Mapping\n",
        "import os\nos.fake_attr = 1\n",  # assigning creates it
        "import os\nos = FakeOs()\nos.whatever()\n",  # rebound: not the module any more
        "def f(os):\n    return os.whatever\nimport os\n",  # shadowed by a parameter
        "import itertools\nitertools.batched([1, 2], 1)\n",  # Python 3.12
        "import os\nos.startfile('x')\n",  # Windows
        "import sys\nif sys.platform == 'win32':\n    import winreg\n    sys.getfakeattr()\n",
        "try:\n    from collections import Mapping\nexcept ImportError:\n    pass\n",
        "import os\nif hasattr(os, 'fakething'):\n    os.fakething()\n",
        "import sys\nsys._MEIPASS\n",  # private names are never reported
        "import subprocess\nsubprocess.run(['ls'], shel=True)\n",  # run() takes **kwargs
        "import json\njson.dumps({}, indnt=2)\n",  # dumps() takes **kw
        "import numpy as np\nnp.fakefunc()\n",  # not stdlib: not checked here
        "import msvcrt\nmsvcrt.getch()\n",  # not importable on this platform: unknown
        "import antigravity\nantigravity.fly()\n",  # side-effect module: never imported
    ],
)
def test_real_or_uncheckable_apis_are_not_flagged(scan: ScanFn, code: str) -> None:
    assert symbols(scan(code), "HAL010") | symbols(scan(code), "HAL011") == set()


@pytest.mark.parametrize(
    ("code", "symbol"),
    [
        ("import os\nos.makedirs('p', exists_ok=True)\n", "os.makedirs(exists_ok=)"),
        ("from os import makedirs\nmakedirs('p', exists_ok=True)\n", "os.makedirs(exists_ok=)"),
        ("import shutil\nshutil.copy('a', 'b', overwrite=True)\n", "shutil.copy(overwrite=)"),
        ("open('f', encode='utf-8')\n", "open(encode=)"),
        ("print('x', seperator=',')\n", "print(seperator=)"),
        (
            "from pathlib import Path\nPath('d').mkdir(parent=True, exist_ok=True)\n",
            "pathlib.Path.mkdir(parent=)",
        ),
        (
            "import pathlib\np = pathlib.Path('d')\np.mkdir(exists_ok=True)\n",
            "pathlib.Path.mkdir(exists_ok=)",
        ),
        (
            "import threading\nthreading.Thread(target=f, deamon=True)\n",
            "threading.Thread(deamon=)",
        ),
    ],
)
def test_unknown_keywords_are_flagged(scan: ScanFn, code: str, symbol: str) -> None:
    findings = scan(code)
    assert symbols(findings, "HAL011") == {symbol}
    assert "did you mean" in next(f for f in findings if f.rule_id == "HAL011").message or (
        symbol in {"shutil.copy(overwrite=)", "open(encode=)", "print(seperator=)"}
    )


@pytest.mark.parametrize(
    "code",
    [
        "import os\nos.makedirs('p', exist_ok=True, mode=0o700)\n",
        "open('f', encoding='utf-8', newline='')\n",
        "def open(path, encode=None):\n    pass\nopen('f', encode='x')\n",  # shadowed builtin
        "from os import *\nopen('f', flags=1)\n",  # star import: open may be os.open
        "import shutil\nshutil.rmtree('d', onexc=None)\n",  # Python 3.12 keyword
        "import pathlib\npathlib.Path('d').mkdir(parents=True, exist_ok=True)\n",
        "import logging\nlogging.basicConfig(level=10, fmt='x')\n",  # **kwargs
        "import os\nf(**kw)\nos.makedirs('p', **opts)\n",
    ],
)
def test_valid_keywords_are_not_flagged(scan: ScanFn, code: str) -> None:
    assert symbols(scan(code), "HAL011") == set()


def test_text_only_mode(scan: ScanFn) -> None:
    code = (
        "import os, json\n"
        "import hashlib as h\n"
        "from json import parse\n"
        "x = os.fakefunc()\n"
        "y = h.sha999()\n"
        "z = json.loads('{}') + os.path.join('a')\n"
        "s = 'os.notflagged_in_string'\n"
        "# os.notflagged_in_comment\n"
        "def broken(:\n"
    )
    findings = scan(code, text_only=True)
    assert symbols(findings, "HAL010") == {"os.fakefunc", "hashlib.sha999", "json.parse"}
    assert {f.confidence for f in findings if f.symbol != "json.parse"} == {"medium"}


def test_safety_of_the_stdlib_loader() -> None:
    assert not is_checkable_stdlib("antigravity")
    assert not is_checkable_stdlib("this")
    assert not is_checkable_stdlib("idlelib.pyshell")
    assert not is_checkable_stdlib("unittest.__main__")
    assert not is_checkable_stdlib("numpy")
    assert load_stdlib_module("webbrowser") is None
    assert load_stdlib_module("requests") is None
    assert load_stdlib_module("json") is not None
    assert lookup("json", ["loads"]).found
    assert lookup("json", ["parse"]).missing == "json.parse"
    assert not lookup("turtle", ["forward"]).found  # refused, so unknown (not missing)
    assert lookup("turtle", ["forward"]).missing is None


def test_keyword_names() -> None:
    import os

    names = keyword_names(os.makedirs)
    assert names is not None and "exist_ok" in names
    assert keyword_names(dict) is None  # no signature: not checked
    assert keyword_names(42) is None


COMMON_VALID_CALLS = """\
import subprocess, logging, argparse, datetime, threading, socket, ssl, hashlib, hmac
import os, shutil, tempfile, zipfile, sqlite3, re, dataclasses, functools, collections
import asyncio, concurrent.futures, multiprocessing, base64, gzip, pickle, textwrap, math
import urllib.request
import xml.etree.ElementTree as ET
from datetime import timezone, timedelta
from pathlib import Path
from dataclasses import dataclass, field

subprocess.Popen(["ls"], stdout=subprocess.PIPE, text=True, cwd="/", start_new_session=True)
logging.FileHandler("x.log", mode="a", encoding="utf-8", delay=False)
parser = argparse.ArgumentParser(description="d", formatter_class=argparse.RawTextHelpFormatter)
parser.add_argument("--x", type=int, default=1, help="h", choices=[1], dest="x")
datetime.datetime(2020, 1, 1, tzinfo=timezone.utc)
datetime.datetime.now(tz=timezone.utc)
timedelta(days=1, hours=2, weeks=7)
threading.Thread(target=print, args=(1,), daemon=True, name="t")
socket.create_connection(("a", 1), timeout=3)
ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=None)
urllib.request.urlopen(urllib.request.Request("http://x", method="POST"), timeout=10)
hashlib.pbkdf2_hmac("sha256", b"p", b"s", 1000, dklen=32)
hashlib.sha256(b"x", usedforsecurity=False)
hmac.new(b"k", msg=b"m", digestmod=hashlib.sha256)
os.walk(".", topdown=True, followlinks=False)
os.getenv("X", default="y")
shutil.copytree("a", "b", dirs_exist_ok=True)
tempfile.NamedTemporaryFile(mode="w", suffix=".txt", delete=False)
zipfile.ZipFile("x.zip", mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=9)
sqlite3.connect("db.sqlite", timeout=5, check_same_thread=False)
re.sub("a", "b", "c", count=1, flags=re.M)

@dataclass(frozen=True, slots=True, kw_only=True)
class C:
    x: int = field(default=0, metadata={})

functools.lru_cache(maxsize=128, typed=True)
collections.namedtuple("P", ["x"], defaults=[0])
asyncio.run(asyncio.sleep(0, result=None), debug=False)
asyncio.gather(asyncio.sleep(0), return_exceptions=True)
concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="w")
multiprocessing.Pool(processes=2, maxtasksperchild=3)
multiprocessing.Process(target=print, args=(1,), daemon=True)
Path("x").write_text("data", encoding="utf-8")
Path("x").unlink(missing_ok=True)
Path("x").touch(exist_ok=True)
base64.b64decode("eA==", validate=True)
ET.tostring(ET.Element("a"), encoding="unicode")
gzip.compress(b"x", compresslevel=9, mtime=0)
pickle.dumps({}, protocol=pickle.HIGHEST_PROTOCOL)
textwrap.fill("x", width=10, initial_indent=" ")
math.isclose(1.0, 1.0, rel_tol=1e-9)
print("x", flush=True, sep=" ")
sorted([1], key=str, reverse=True)
open("f", "w", newline="", encoding="utf-8")
zip([1], [2], strict=True)
"""


def test_common_valid_stdlib_calls_are_not_flagged(scan: ScanFn) -> None:
    assert scan(COMMON_VALID_CALLS) == []


def test_positional_only_keyword(scan: ScanFn) -> None:
    findings = scan("import hmac\nhmac.compare_digest(a=b'x', b=b'y')\n")
    assert symbols(findings, "HAL011") == {"hmac.compare_digest(a=)", "hmac.compare_digest(b=)"}
    assert all("positional-only" in f.message for f in findings)
