"""Bundled plugin: the pruners l1, l2, random, lamp, fpgm, taylor and bn-scale (Torch-Pruning removal)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunebench.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import Pruner
    from prunebench.register import Register


@hookimpl
def register_pruners(register: Register[type[Pruner]]) -> None:
    from prunebench.pruning.pruners import BUNDLED

    for cls in BUNDLED:
        register(cls)
