"""Warnings reach the console as one line each (the file and source line only with --debug)."""

from __future__ import annotations

import warnings

import pytest

from prunebench.cli import plain_warnings
from prunebench.pruning.removal import PruningWarning


def test_a_warning_is_one_line_without_the_source_that_raised_it(capsys: pytest.CaptureFixture[str]) -> None:
    with plain_warnings(debug=False), warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("round_to=16 raised GFLOPs from 2.068 (exact counts)\n to 2.536 at level 0.6", PruningWarning,
                      stacklevel=1)
        warnings.warn("plain", UserWarning, stacklevel=1)
    err = " ".join(capsys.readouterr().err.split())
    assert err == ("warning: PruningWarning: round_to=16 raised GFLOPs from 2.068 (exact counts) to 2.536 at level 0.6 "
                   "warning: plain")  # no file:line, no source line of the warn() call


def test_debug_keeps_pythons_own_format() -> None:
    before = warnings.showwarning
    with plain_warnings(debug=True):
        assert warnings.showwarning is before
    with plain_warnings(debug=False):
        assert warnings.showwarning is not before
    assert warnings.showwarning is before  # restored
