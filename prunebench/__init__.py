"""prunebench: a plugin-based benchmark suite for structured pruning (``import prunebench as pb``).

Attributes are imported lazily, so ``import prunebench`` loads neither torch nor any plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from prunebench._version import __version__
from prunebench.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.api import (
        create_dataset,
        create_executor,
        create_metric,
        create_model,
        create_pruner,
        create_reporter,
        get_model_family,
        list_datasets,
        list_executors,
        list_metrics,
        list_models,
        list_pruners,
        list_reporters,
        prune,
    )
    from prunebench.contracts import (
        DatasetProvider,
        EvalContext,
        Executor,
        Metric,
        ModelFamily,
        PluginOptions,
        PruneContext,
        PruneRecord,
        PruneResult,
        Pruner,
        Reporter,
    )
    from prunebench.errors import PrunebenchError, UsageError
    from prunebench.plugins import get_catalogue
    from prunebench.spec import Spec, load_spec
    from prunebench.suite.runner import run

_LAZY: dict[str, str] = {
    **{name: "prunebench.api" for name in (
        "create_dataset", "create_executor", "create_metric", "create_model", "create_pruner",
        "create_reporter", "get_model_family", "list_datasets", "list_executors", "list_metrics",
        "list_models", "list_pruners", "list_reporters", "prune")},
    **{name: "prunebench.contracts" for name in (
        "DatasetProvider", "EvalContext", "Executor", "Metric", "ModelFamily", "PluginOptions",
        "PruneContext", "PruneRecord", "PruneResult", "Pruner", "Reporter")},
    "PrunebenchError": "prunebench.errors",
    "UsageError": "prunebench.errors",
    "get_catalogue": "prunebench.plugins",
    "Spec": "prunebench.spec",
    "load_spec": "prunebench.spec",
    "run": "prunebench.suite.runner",
}

__all__ = ["__version__", "hookimpl", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'prunebench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
