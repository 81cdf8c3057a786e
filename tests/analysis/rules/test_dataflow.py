"""Intra-procedural taint: sources, propagation, sanitisers, constants."""

from __future__ import annotations

import textwrap

import pytest

from tests.analysis.rules.conftest import ids, scan


def _src(body: str) -> str:
    return textwrap.dedent(body)


@pytest.mark.parametrize(
    "build",
    [
        'cmd = "ls " + arg',
        'cmd = f"ls {arg}"',
        'cmd = "ls %s" % arg',
        'cmd = "ls {}".format(arg)',
        'cmd = " ".join(["ls", arg])',
        'parts = ["ls"]\n            parts.append(arg)\n            cmd = " ".join(parts)',
        'tmp = {"c": arg}\n            cmd = tmp["c"]',
        "first = arg\n            second = first\n            cmd = second.strip()",
    ],
)
def test_taint_propagates_to_shell(build: str) -> None:
    code = _src(
        f"""
        import os
        from flask import request

        def handler():
            arg = request.args["x"]
            {build}
            os.system(cmd)
        """
    )
    findings = [f for f in scan(code) if f.rule_id == "SE102"]
    assert findings and findings[0].confidence == "high"


@pytest.mark.parametrize(
    "source",
    [
        'input("name: ")',
        "sys.argv[1]",
        "sys.stdin.readline()",
        'request.form["x"]',
        'request.values.get("x")',
        "request.get_json()['x']",
        'request.cookies.get("x")',
        'request.headers["X"]',
        "request.data.decode()",
        'request.GET["x"]',
        "conn.recv(1024).decode()",
        "parser.parse_args().name",
    ],
)
def test_sources(source: str) -> None:
    code = _src(
        f"""
        import os, sys
        from flask import request

        def handler(conn, parser):
            value = {source}
            os.system("echo " + value)
        """
    )
    assert "SE102" in ids(scan(code))


@pytest.mark.parametrize(
    "sanitized",
    [
        "shlex.quote(arg)",
        "int(arg)",
        "str(float(arg))",
    ],
)
def test_sanitizers_remove_taint(sanitized: str) -> None:
    code = _src(
        f"""
        import os, shlex
        from flask import request

        def handler():
            arg = request.args["x"]
            os.system("echo " + {sanitized})
        """
    )
    assert "SE102" not in ids(scan(code))


def test_constant_and_parameterised_sql_are_safe() -> None:
    code = _src(
        """
        def find(cursor, name):
            cursor.execute("SELECT * FROM users")
            cursor.execute("SELECT * FROM users WHERE name = %s", (name,))
            q = "SELECT * FROM users WHERE name = ?"
            cursor.execute(q, (name,))
        """
    )
    assert "SE110" not in ids(scan(code))


def test_parameter_source_has_lower_confidence() -> None:
    code = "import os\n\ndef run(cmd):\n    os.system(cmd)\n"
    (finding,) = [f for f in scan(code) if f.rule_id == "SE102"]
    assert finding.confidence == "medium"


def test_environment_is_a_low_trust_source() -> None:
    code = 'import os\nos.system("deploy " + os.environ["TARGET"])\n'
    (finding,) = [f for f in scan(code) if f.rule_id == "SE102"]
    assert finding.confidence == "medium"


def test_flow_through_local_function_return() -> None:
    code = _src(
        """
        import os
        from flask import request

        def get_target():
            return request.args["t"]

        def wrap(value):
            return "ping " + value

        def handler():
            os.system(wrap(get_target()))
        """
    )
    findings = [f for f in scan(code) if f.rule_id == "SE102"]
    assert findings and findings[0].confidence == "high"


def test_flow_through_self_attribute() -> None:
    code = _src(
        """
        import subprocess

        class Job:
            def __init__(self, command):
                self.command = command

            def run(self):
                subprocess.run(self.command, shell=True)
        """
    )
    assert "SE101" in ids(scan(code))


def test_validation_guard_sanitises() -> None:
    code = _src(
        """
        import os
        from flask import abort, request

        ALLOWED = {"status", "uptime"}

        def handler():
            action = request.args["a"]
            if action not in ALLOWED:
                abort(400)
            os.system(action)
        """
    )
    assert "SE102" not in ids(scan(code))


def test_module_level_source_reaches_function() -> None:
    code = _src(
        """
        import sys, subprocess
        TARGET = sys.argv[1]

        def main():
            subprocess.call("ping " + TARGET, shell=True)
        """
    )
    assert "SE101" in ids(scan(code))


def test_import_aliases_resolve() -> None:
    variants = [
        "import subprocess as sp\nsp.call(x, shell=True)",
        "from subprocess import call\ncall(x, shell=True)",
        "from subprocess import *\ncall(x, shell=True)",
        "from os import system as run_it\nrun_it(x)",
    ]
    for body in variants:
        code = "import sys\nx = sys.argv[1]\n" + body + "\n"
        assert ids(scan(code)) & {"SE101", "SE102"}, body


def test_flow_insensitive_order_does_not_matter() -> None:
    code = _src(
        """
        import os

        def handler(request):
            def later():
                os.system(cmd)
            cmd = request.GET["c"]
            later()
        """
    )
    assert "SE102" in ids(scan(code))
