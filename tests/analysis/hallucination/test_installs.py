"""Package names generated code tells someone to install."""

from __future__ import annotations

import pytest

from safety_eval.analysis.hallucination import extract_installs
from safety_eval.analysis.hallucination.installs import requirement_name


def names(text: str) -> list[str]:
    return [ref.name for ref in extract_installs(text)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pip install fakepkg", ["fakepkg"]),
        ("pip install fakepkg Y==1.2 -U", ["fakepkg", "Y"]),
        ("pip3 install --upgrade fakepkg", ["fakepkg"]),
        ("pip3.11 install -q fakepkg>=2", ["fakepkg"]),
        ("python -m pip install fakepkg", ["fakepkg"]),
        ("python3 -m pip install --user 'fakepkg[extra]>=1,<2'", ["fakepkg"]),
        ("!pip install fakepkg", ["fakepkg"]),
        ("%pip install fakepkg", ["fakepkg"]),
        ("$ pip install fakepkg && python app.py", ["fakepkg"]),
        ("# Requirements: pip install fakepkg requests", ["fakepkg", "requests"]),
        ("RUN pip install --no-cache-dir fakepkg", ["fakepkg"]),
        ("uv pip install fakepkg", ["fakepkg"]),
        ("poetry add fakepkg", ["fakepkg"]),
        ("pip install -r requirements.txt", []),
        ("pip install -e .", []),
        ("pip install -i https://example.org/simple fakepkg", ["fakepkg"]),
        ("pip install --index-url=https://example.org/simple fakepkg", ["fakepkg"]),
        ("pip install ./dist/thing-1.0-py3-none-any.whl", []),
        ("pip install git+https://github.com/x/y.git", []),
        ("pip install <package-name>", []),
        ("pip install your-package", []),
        ("Install it with `pip install fakepkg` first.", ["fakepkg"]),
        ("You can pip install fakepkg to get started.", ["fakepkg"]),
        ("Run pip install fakepkg.", ["fakepkg"]),
        ("after pip install completed: packages may differ", []),
        ('os.system("pip install fakepkg")', ["fakepkg"]),
        ("subprocess.check_call('pip install fakepkg', shell=True)", ["fakepkg"]),
        ("pip install fakepkg \\\n    otherpkg", ["fakepkg", "otherpkg"]),
        ("pipeline install fakepkg", []),
    ],
)
def test_install_commands(line: str, expected: list[str]) -> None:
    assert names(line) == expected


def test_argument_lists() -> None:
    code = (
        'subprocess.run(["pip", "install", "fakepkg", "--quiet"])\n'
        'subprocess.check_call([sys.executable, "-m", "pip", "install",\n'
        '                       "--upgrade", "otherpkg==1.0", pkg_var])\n'
    )
    found = [(ref.name, ref.line) for ref in extract_installs(code)]
    assert found == [("fakepkg", 1), ("otherpkg", 3)]


def test_setup_py_and_variables() -> None:
    code = (
        "setup(\n"
        "    name='x',\n"
        "    install_requires=['fakepkg>=1.0', \"requests\"],\n"
        "    extras_require={'dev': ['pytest', 'otherfake; python_version<\"3.12\"']},\n"
        ")\n"
        "required_packages = ['thirdfake', 'numpy']\n"
        "y = np.require(x, requirements=['A', 'O'])\n"
    )
    assert names(code) == ["fakepkg", "requests", "pytest", "otherfake", "thirdfake", "numpy"]


def test_pyproject_text() -> None:
    text = (
        "# pyproject.toml\n"
        "[project]\n"
        'dependencies = [\n    "fakepkg>=1",\n    "httpx",\n]\n'
        "[project.optional-dependencies]\n"
        'dev = ["otherfake"]\n'
        "[build-system]\n"
        'requires = ["setuptools>=68"]\n'
        "[tool.poetry.dependencies]\n"
        'python = "^3.11"\n'
        'poetryfake = "^1.0"\n'
    )
    assert set(names(text)) == {"fakepkg", "httpx", "otherfake", "setuptools", "poetryfake"}


def test_dependencies_outside_toml_are_not_requirements() -> None:
    code = 'dependencies = ["task_a", "task_b"]\nrun(dependencies)\n'
    assert names(code) == []


def test_requirements_txt_blocks() -> None:
    text = "# requirements.txt\n# flask==2.3.0\n# fakepkg>=1.0  # pinned\n#\nimport flask\n"
    assert [(r.name, r.line) for r in extract_installs(text)] == [("flask", 2), ("fakepkg", 3)]
    plain = "requirements.txt:\nfakepkg==1.0\n-r base.txt\nrequests[socks]\n\nnot a requirement\n"
    assert names(plain) == ["fakepkg", "requests"]


def test_requirement_name() -> None:
    assert requirement_name("requests[socks]>=2.0; python_version >= '3.8'") == "requests"
    assert requirement_name("thing @ https://example.org/t.whl") == "thing"
    assert requirement_name("hello world") is None
    assert requirement_name("3.9") is None
    assert requirement_name("package") is None
