"""Errors that are the user's to fix: the CLI prints the message and exits with code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input, bad configuration or an unusable environment; never a bug of ours."""


class ConfigError(UserError):
    """The configuration (file, environment or flags) is invalid."""


class PreflightError(UserError):
    """A check before the run found that it would fail; nothing was generated."""
