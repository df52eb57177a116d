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
        Pruner,
        PruneRecord,
        PruneResult,
        Reporter,
    )
    from prunebench.errors import PrunebenchError, UsageError
    from prunebench.plugins import get_catalogue
    from prunebench.spec import Spec, load_spec
    from prunebench.suite.runner import run

_LAZY: dict[str, str] = {
    "create_dataset": "prunebench.api",
    "create_executor": "prunebench.api",
    "create_metric": "prunebench.api",
    "create_model": "prunebench.api",
    "create_pruner": "prunebench.api",
    "create_reporter": "prunebench.api",
    "get_model_family": "prunebench.api",
    "list_datasets": "prunebench.api",
    "list_executors": "prunebench.api",
    "list_metrics": "prunebench.api",
    "list_models": "prunebench.api",
    "list_pruners": "prunebench.api",
    "list_reporters": "prunebench.api",
    "prune": "prunebench.api",
    "DatasetProvider": "prunebench.contracts",
    "EvalContext": "prunebench.contracts",
    "Executor": "prunebench.contracts",
    "Metric": "prunebench.contracts",
    "ModelFamily": "prunebench.contracts",
    "PluginOptions": "prunebench.contracts",
    "PruneContext": "prunebench.contracts",
    "PruneRecord": "prunebench.contracts",
    "PruneResult": "prunebench.contracts",
    "Pruner": "prunebench.contracts",
    "Reporter": "prunebench.contracts",
    "PrunebenchError": "prunebench.errors",
    "UsageError": "prunebench.errors",
    "get_catalogue": "prunebench.plugins",
    "Spec": "prunebench.spec",
    "load_spec": "prunebench.spec",
    "run": "prunebench.suite.runner",
}

__all__ = [
    "DatasetProvider",
    "EvalContext",
    "Executor",
    "Metric",
    "ModelFamily",
    "PluginOptions",
    "PruneContext",
    "PruneRecord",
    "PruneResult",
    "PrunebenchError",
    "Pruner",
    "Reporter",
    "Spec",
    "UsageError",
    "__version__",
    "create_dataset",
    "create_executor",
    "create_metric",
    "create_model",
    "create_pruner",
    "create_reporter",
    "get_catalogue",
    "get_model_family",
    "hookimpl",
    "list_datasets",
    "list_executors",
    "list_metrics",
    "list_models",
    "list_pruners",
    "list_reporters",
    "load_spec",
    "prune",
    "run",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'prunebench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
