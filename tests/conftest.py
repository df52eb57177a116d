"""Shared fixtures: a clean plugin catalogue around tests that register temporary plugins."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests assert on content, not on layout: rich (here and in subprocesses) wraps nothing at 1000 columns.

    Assertions on console sentences still compare ``" ".join(text.split())``, so a wrap cannot break them.
    """
    monkeypatch.setenv("COLUMNS", "1000")


@pytest.fixture
def fresh_catalogue() -> Iterator[None]:
    """Forget the cached catalogue before and after the test (temporary plugins do not leak)."""
    from prunebench import plugins

    plugins.reset()
    try:
        yield
    finally:
        plugins.reset()


@pytest.fixture
def plugin_dir(tmp_path: Path, fresh_catalogue: None) -> Iterator[Path]:
    """A folder on sys.path where a test may write temporary plugin modules."""
    before = set(sys.modules)
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            mod = sys.modules.get(name)
            if mod is not None and str(getattr(mod, "__file__", "") or "").startswith(str(tmp_path)):
                del sys.modules[name]
