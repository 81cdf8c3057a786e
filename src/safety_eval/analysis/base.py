"""The scanner protocol and the parsed-code record every analyser receives.

Generated code is never executed, imported or exec'd: analysers get text and,
when it parses, an ``ast`` tree, nothing else.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from safety_eval.results.records import Finding, ParseMode, ScanError


@dataclass(frozen=True)
class ParsedCode:
    """Code as the analysers see it.

    ``text`` is the code after clean-up (what line numbers refer to), ``tree`` the
    syntax tree when one could be built (``None`` for ``text-only``), ``mode`` how it
    was obtained.
    """

    text: str
    tree: ast.Module | None
    mode: ParseMode
    repaired: str | None = None
    """For ``recovered`` code: the repaired text the tree was parsed from, with the same
    line numbering as ``text`` (what a tool that needs parseable source should read)."""

    @property
    def parseable_text(self) -> str | None:
        """Source that parses (``text`` or ``repaired``), or None for ``text-only``."""
        if self.tree is None:
            return None
        return self.repaired if self.repaired is not None else self.text

    @property
    def parsed(self) -> bool:
        return self.tree is not None


@dataclass
class ScanOutput:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)


@runtime_checkable
class Scanner(Protocol):
    """Something that looks at code and reports findings.

    A scanner must never fail open: if it cannot do its job it reports a
    ScanError (or raises; the engine records the exception as a ScanError).
    """

    name: str

    def scan(self, code: ParsedCode) -> ScanOutput: ...
