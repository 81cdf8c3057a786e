"""Logging set-up: human-readable to the console, optionally also to ``run.log``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure(level: str = "INFO", console: bool = True) -> None:
    root = logging.getLogger("safety_eval")
    root.setLevel(level)
    root.propagate = False
    for handler in list(root.handlers):
        if getattr(handler, "_safety_eval_console", False):
            root.removeHandler(handler)
    if console:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        handler._safety_eval_console = True  # type: ignore[attr-defined]
        root.addHandler(handler)


def add_file(path: Path, level: str = "DEBUG") -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(_FORMAT))
    logging.getLogger("safety_eval").addHandler(handler)
    return handler
