"""Exceptions that carry a message a user can act on (exit code 2 at the CLI)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["PrunebenchError", "UsageError", "did_you_mean"]


class PrunebenchError(Exception):
    """Base class of every error prunebench raises on purpose.

    A ``PrunebenchError`` is a *user* error: the CLI prints its message without a traceback
    (unless ``--debug``) and exits with :attr:`exit_code`.
    """

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n{hint}")


class UsageError(PrunebenchError):
    """Bad input: an unknown name, an invalid value, a file that is missing or malformed."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return `` Did you mean 'x'?`` for the closest of ``choices`` (``mAP`` finds ``map50``), or an empty string."""
    ordered = sorted(choices)
    matches = difflib.get_close_matches(str(name), ordered, n=1, cutoff=0.5)
    if not matches:  # a difference of case only counts as none
        lowered = {c.lower(): c for c in reversed(ordered)}
        matches = [lowered[m] for m in difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.5)]
    return f" Did you mean '{matches[0]}'?" if matches else ""
