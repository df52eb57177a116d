"""Bundled plugin: registers the ``local`` and ``ray`` executors (their code: ``prunebench.suite.executors``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunebench.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import Executor
    from prunebench.register import Register


@hookimpl
def register_executors(register: Register[type[Executor]]) -> None:
    from prunebench.suite.executors.local import LocalExecutor
    from prunebench.suite.executors.ray import RayExecutor

    register(LocalExecutor)
    register(RayExecutor)
