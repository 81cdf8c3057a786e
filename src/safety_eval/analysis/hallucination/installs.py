"""Find the package names generated code tells someone to install.

* install commands anywhere in the text (comments, docstrings, shell blocks, prose,
  ``!pip``/``%pip``, ``os.system("pip install ...")``): ``pip``/``pip3``/``pip3.11``,
  ``python -m pip``, ``uv pip``, ``uv add``, ``pipx``, ``poetry add``, ``pipenv install``;
  options are skipped (``-U``, ``-r file``, ``--index-url URL`` ...);
* argument lists such as ``subprocess.run([sys.executable, "-m", "pip", "install", "x"])``;
* requirement lists: ``install_requires=[...]`` (and ``setup_requires``, ``tests_require``,
  ``extras_require``), ``requirements``/``required_packages`` variables, and in
  ``pyproject.toml`` text ``dependencies``/``requires`` arrays and
  ``[tool.poetry.dependencies]`` tables;
* ``requirements.txt`` blocks introduced by a file marker.

Only names are extracted; nothing is run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

InstallSource = Literal["pip", "requirements"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_COMMAND_RE = re.compile(
    r"""(?P<lead>^|[\s;&|`'"(\[!%$=])
    (?P<cmd>
        (?:python(?:3(?:\.\d+)?)?|py(?:\s+-3(?:\.\d+)?)?)(?:\.exe)?\s+-m\s+pip\s+install
      | pip(?:3(?:\.\d+)?)?(?:\.exe)?\s+install
      | uv\s+pip\s+install | uv\s+add | pipx\s+install | poetry\s+add | pipenv\s+install
    )(?=\s|$)(?P<args>[^\n]*)""",
    re.X | re.M,
)
_LIST_COMMAND_RE = re.compile(
    r"""(['"])pip(?:3(?:\.\d+)?)?\1\s*,\s*(?:(['"])-[^'"]*\2\s*,\s*)*(['"])install\3""",
)
_LIST_ITEM_RE = re.compile(r"""\s*,\s*(?:(['"])((?:(?!\1).)*)\1|([^,\])\s]+))""")
_REQUIREMENT_LIST_RE = re.compile(
    r"""(?:\b(install_requires|setup_requires|tests_require)\s*[=:]\s*(\[)
        |\b(extras_require)\s*[=:]\s*([\[{])
        |^[ \t]*(requirements|REQUIREMENTS|required_packages|REQUIRED_PACKAGES
                 |packages_to_install|PACKAGES)\s*(?::[^=\n]*)?=\s*(\[))""",
    re.X | re.M,
)
_TOML_ARRAY_RE = re.compile(
    r"""^[ \t]*(dependencies|requires|dev-dependencies|[A-Za-z0-9_-]+)\s*=\s*\[""", re.M
)
_TOML_HEADER_RE = re.compile(r"^[ \t]*\[([A-Za-z0-9_.\-\"' ]+)\][ \t]*$", re.M)
_STRING_RE = re.compile(r"""(['"])((?:\\.|(?!\1).)*)\1""")
_REQ_FILE_MARKER_RE = re.compile(
    r"""^[ \t]*(?:\#+|//|<!--|\*\*|`+)?[ \t]*(?:file(?:name)?\s*[:=]\s*)?[`*]*
        [\w./\\-]*requirements[\w.-]*\.(?:txt|in)[`*]*\s*:?\s*(?:-->)?\s*$""",
    re.X | re.M | re.I,
)
_REQUIREMENT_RE = re.compile(
    r"""^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*
        (?:\[[A-Za-z0-9,._\s-]*\])?\s*
        (?:(?:===|==|>=|<=|~=|!=|<|>)\s*[\w.*+!-]+\s*(?:,\s*(?:===|==|>=|<=|~=|!=|<|>)\s*[\w.*+!-]+\s*)*)?
        (?:;.*|@.*)?$""",
    re.X,
)
_REQ_LINE_RE = re.compile(
    r"""^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*
        (?:\[[A-Za-z0-9,._\s-]*\])?\s*
        (?:(?:===|==|>=|<=|~=|!=|<|>)\s*[\w.*+!-]+\s*(?:,\s*(?:===|==|>=|<=|~=|!=|<|>)\s*[\w.*+!-]+\s*)*)?
        (?:;[^#]*)?(?:\s+\#.*)?$""",
    re.X,
)
_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")

# pip options that take a value (the next token unless written ``--opt=value``).
_OPTIONS_WITH_VALUE = _words(
    "-r --requirement -c --constraint -e --editable -i --index-url --extra-index-url -f "
    "--find-links -t --target --prefix --root --platform --python-version "
    "--implementation --abi --src --upgrade-strategy --progress-bar --log --cache-dir "
    "--trusted-host --proxy --timeout --retries --no-binary --only-binary --python "
    "--group --config-settings -C --report --exists-action --keyring-provider --cert "
    "--client-cert --global-option --install-option --build-option -p --source --extras "
    "-E"
)
# Words that end an install command written in prose ("pip install x to get started").
_STOP_WORDS = _words(
    "to the then first if in into on for from using with before after now again also is "
    "are this that which you your we it as by via so but when once where will should can "
    "must run command terminal shell inside within package packages library libraries "
    "module modules completed complete started start finished finish failed fails fail "
    "succeeded succeeds works worked step steps phase process time output was were has "
    "had have does did not any all some each every more other here there below above "
    "later manually locally globally directly normally properly correctly automatically "
    "successfully would could may might"
)
_SKIP_WORDS = frozenset({"and", "or", "&", "plus"})
# Placeholders, not names: never reported.
_PLACEHOLDERS = _words(
    "package package-name package_name packagename your-package your_package yourpackage "
    "pkg pkgname name module module-name module_name library lib dependency dependencies "
    "requirements something foo bar baz xxx example my-package mypackage"
)


@dataclass(frozen=True)
class InstallRef:
    """A package name someone is told to install."""

    name: str
    line: int
    source: InstallSource
    context: str
    """The command or list the name came from (shortened), for messages."""


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _clean_token(token: str) -> str:
    return token.strip().strip("'\"`").strip()


def requirement_name(spec: str) -> str | None:
    """The project name of a PEP 508 requirement string, or None if it is not one."""
    match = _REQUIREMENT_RE.match(spec.strip())
    if not match:
        return None
    name = match.group("name")
    if name.lower() in _PLACEHOLDERS or not re.search(r"[A-Za-z]", name):
        return None
    return name


def _names_from_args(tokens: list[str]) -> Iterator[tuple[int, str]]:
    """(token index, project name) for the package arguments of an install command."""
    skip_next = False
    for position, raw in enumerate(tokens):
        token = _clean_token(raw)
        if skip_next:
            skip_next = False
            continue
        if not token:
            continue
        if token.startswith("-"):
            if token in _OPTIONS_WITH_VALUE:
                skip_next = True
            continue
        if token == "@":  # name @ url: skip the URL
            skip_next = True
            continue
        lowered = token.lower().rstrip(".,:;!?)")
        if lowered in _SKIP_WORDS:
            continue
        if lowered in _STOP_WORDS:
            return
        if any(mark in token for mark in ("/", "\\", "://", "$", "{", "}", "<", "%")) or (
            token.endswith((".whl", ".zip", ".tar.gz", ".tgz", ".txt"))
        ):
            continue
        trailing_punct = token[-1] in ".,:;!?)" and not re.search(r"[=<>~]", token)
        spec = token.rstrip(".,:;!?)") if trailing_punct else token
        name = requirement_name(spec)
        if name is not None:
            yield position, name
        if trailing_punct and token[-1] in ".!?":  # a sentence ended
            return


def _cut_args(args: str, lead: str) -> str:
    if lead and lead in "'\"`":
        end = args.find(lead)
        if end >= 0:
            args = args[:end]
    return re.split(r"&&|\|\||[;|<>`]|\s#|\)\s*$|\\\s*$", args)[0]


def _tokenize(args: str) -> list[str]:
    return re.findall(r"""("[^"]*"|'[^']*'|[^\s"']+)""", args)


def _commands(text: str) -> Iterator[InstallRef]:
    lines = text.splitlines()
    for match in _COMMAND_RE.finditer(text):
        line = _line_of(text, match.start("cmd"))
        args = match.group("args")
        continuation = line
        # backslash line continuations of a shell command
        while args.rstrip().endswith("\\") and continuation < len(lines):
            args = args.rstrip()[:-1] + " " + lines[continuation]
            continuation += 1
        args = _cut_args(args, match.group("lead"))
        context = " ".join((match.group("cmd") + " " + args).split())[:120]
        for _, name in _names_from_args(_tokenize(args)):
            yield InstallRef(name=name, line=line, source="pip", context=context)


def _list_commands(text: str) -> Iterator[InstallRef]:
    for match in _LIST_COMMAND_RE.finditer(text):
        position = match.end()
        tokens: list[tuple[str, int]] = []
        while True:
            item = _LIST_ITEM_RE.match(text, position)
            if not item:
                break
            if item.group(2) is not None:
                tokens.append((item.group(2), item.start(2)))
            else:  # a variable or expression: its value is unknown
                tokens.append(("", item.start(3)))
            position = item.end()
        context = " ".join(text[match.start() : position].split())[:120]
        for index, name in _names_from_args([token for token, _ in tokens]):
            yield InstallRef(
                name=name, line=_line_of(text, tokens[index][1]), source="pip", context=context
            )


def _bracket_end(text: str, start: int) -> int:
    """Offset just past the bracket closing the one at ``start`` (strings skipped)."""
    depth = 0
    position = start
    while position < len(text):
        char = text[position]
        if char in "'\"":
            string = _STRING_RE.match(text, position)
            if string:
                position = string.end()
                continue
        elif char == "#":
            newline = text.find("\n", position)
            position = len(text) if newline < 0 else newline
            continue
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    return len(text)


def _strings_in(text: str, start: int, end: int, *, keys: bool) -> Iterator[tuple[str, int]]:
    """String literals in text[start:end]; dict keys (``"dev":``) only when ``keys``."""
    for string in _STRING_RE.finditer(text, start, end):
        if not keys and re.match(r"\s*:", text[string.end() : string.end() + 8]):
            continue
        yield string.group(2), string.start(2)


def _requirement_lists(text: str) -> Iterator[InstallRef]:
    spans: list[tuple[int, int, str]] = []
    for match in _REQUIREMENT_LIST_RE.finditer(text):
        group = next(number for number in (2, 4, 6) if match.group(number))
        bracket = match.start(group)
        spans.append((bracket, _bracket_end(text, bracket), match.group(group - 1)))
    if _looks_like_pyproject(text):
        for match in _TOML_ARRAY_RE.finditer(text):
            key = match.group(1)
            section = _toml_section(text, match.start())
            if key in {"dependencies", "requires", "dev-dependencies"} or section.endswith(
                ("optional-dependencies", "dependency-groups")
            ):
                bracket = match.end() - 1
                spans.append((bracket, _bracket_end(text, bracket), key))
    seen: set[int] = set()
    for start, end, key in spans:
        for value, offset in _strings_in(text, start, end, keys=False):
            if offset in seen:
                continue
            seen.add(offset)
            name = requirement_name(value)
            if name is not None and len(name) > 1:
                yield InstallRef(
                    name=name,
                    line=_line_of(text, offset),
                    source="requirements",
                    context=f"{key} = [...]",
                )
    yield from _poetry_tables(text)


def _looks_like_pyproject(text: str) -> bool:
    return "pyproject.toml" in text or bool(
        re.search(r"^[ \t]*\[(?:project|build-system|tool\.[\w.-]+)\]", text, re.M)
    )


def _toml_section(text: str, offset: int) -> str:
    header = ""
    for match in _TOML_HEADER_RE.finditer(text, 0, offset):
        header = match.group(1).strip()
    return header


def _poetry_tables(text: str) -> Iterator[InstallRef]:
    for match in _TOML_HEADER_RE.finditer(text):
        section = match.group(1).strip()
        if not re.fullmatch(r"tool\.poetry\.(?:[\w.-]+\.)?dependencies", section):
            continue
        position = match.end()
        line = _line_of(text, position)
        for raw in text[position:].splitlines()[1:]:
            line += 1
            stripped = raw.strip()
            if stripped.startswith("["):
                break
            entry = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*=", stripped)
            if entry and entry.group(1).lower() != "python":
                name = entry.group(1)
                if name.lower() not in _PLACEHOLDERS:
                    yield InstallRef(
                        name=name, line=line, source="requirements", context=f"[{section}]"
                    )


def _requirements_blocks(text: str) -> Iterator[InstallRef]:
    lines = text.splitlines()
    for match in _REQ_FILE_MARKER_RE.finditer(text):
        first = _line_of(text, match.start())  # 1-based line of the marker
        commented = match.group(0).lstrip().startswith("#")
        for number in range(first, len(lines)):  # 0-based index of the lines after it
            raw = lines[number]
            body = raw.strip()
            if commented and body.startswith("#"):
                body = body.lstrip("#").strip()
            if not body:
                break
            if body.startswith(("-r", "-c", "-e", "--", "git+", "http://", "https://")):
                continue
            requirement = _REQ_LINE_RE.match(body)
            if not requirement:
                break
            name = requirement.group("name")
            if name.lower() not in _PLACEHOLDERS:
                yield InstallRef(
                    name=name, line=number + 1, source="requirements", context="requirements.txt"
                )


def extract_installs(text: str) -> list[InstallRef]:
    """Every package name the text asks to install, in order; one entry per (name, line)."""
    found: dict[tuple[str, int], InstallRef] = {}
    for ref in [
        *_commands(text),
        *_list_commands(text),
        *_requirement_lists(text),
        *_requirements_blocks(text),
    ]:
        if _NAME_RE.match(ref.name):
            found.setdefault((ref.name.lower(), ref.line), ref)
    return sorted(found.values(), key=lambda ref: ref.line)
