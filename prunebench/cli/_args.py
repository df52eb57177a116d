"""Argument types shared by the sub-commands: paths that refuse the empty string (``--out ""``)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["path_arg"]


def path_arg(value: str) -> Path:
    """A path argument; an empty or blank one (``--out ""``, which would mean the current folder) is refused."""
    if not value.strip():
        raise argparse.ArgumentTypeError("empty path: give a folder or file name (use . for the current folder)")
    return Path(value)
