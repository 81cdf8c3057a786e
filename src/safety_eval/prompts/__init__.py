"""Prompt sets: loading them from files or the built-in set, and choosing a sample."""

from safety_eval.prompts.loaders import (
    FORMATS,
    PromptLoadError,
    load_builtin,
    load_prompts,
    load_source,
)
from safety_eval.prompts.selection import resolve_size, select_prompts

__all__ = [
    "FORMATS",
    "PromptLoadError",
    "load_builtin",
    "load_prompts",
    "load_source",
    "resolve_size",
    "select_prompts",
]
