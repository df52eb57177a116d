"""Bundled plugin: registers the ``local`` and ``ray`` executors (their code: ``prunebench.suite.executors``)."""

from __future__ import annotations

from typing import Any

from prunebench.hookspecs import hookimpl
from prunebench.suite.executors.local import LocalExecutor
from prunebench.suite.executors.ray import RayExecutor


@hookimpl
def register_executors(register: Any) -> None:
    register(LocalExecutor)
    register(RayExecutor)
