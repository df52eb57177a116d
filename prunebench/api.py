"""The Python API behind ``import prunebench as pb``: create/list functions for every plugin kind."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.plugins import get_catalogue

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import (
        DatasetProvider,
        Executor,
        Metric,
        ModelFamily,
        Pruner,
        PruneRecord,
        Reporter,
    )

__all__ = [
    "create_dataset",
    "create_executor",
    "create_metric",
    "create_model",
    "create_pruner",
    "create_reporter",
    "get_model_family",
    "list_datasets",
    "list_executors",
    "list_metrics",
    "list_models",
    "list_pruners",
    "list_reporters",
    "prune",
]


def _create(kind: str, name: str, options: dict[str, Any] | None) -> Any:
    cls = get_catalogue().registry(kind).get(name)
    return cls(options or {})


def get_model_family(name: str, **options: Any) -> ModelFamily:
    """The :class:`~prunebench.contracts.ModelFamily` object registered as ``name``."""
    return _create("model", name, options)


def create_model(name: str, *, nc: int = 80, weights: str | Path | None = None, **options: Any) -> nn.Module:
    """Build the model ``name`` for ``nc`` classes (timm style); load ``weights`` if given.

    ``weights`` may be a prunebench checkpoint, an official YOLOv5 ``.pt`` or a state_dict file; it is
    always loaded without executing code. Where the file says how many classes it has, that wins.
    """
    return get_model_family(name, **options).build(nc=nc, weights=weights)


def create_pruner(name: str, **options: Any) -> Pruner:
    """The pruner ``name`` with validated ``options`` (``scope``, ``target``, ``round_to``, ...)."""
    return _create("pruner", name, options)


def create_metric(name: str, **options: Any) -> Metric:
    """The metric ``name`` with validated ``options``."""
    return _create("metric", name, options)


def create_dataset(name: str, **options: Any) -> DatasetProvider:
    """The dataset provider ``name`` with validated ``options``."""
    return _create("dataset", name, options)


def create_executor(name: str, **options: Any) -> Executor:
    """The executor ``name`` with validated ``options``."""
    return _create("executor", name, options)


def create_reporter(name: str, **options: Any) -> Reporter:
    """The reporter ``name`` with validated ``options``."""
    return _create("reporter", name, options)


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, optionally filtered by a glob such as ``"yolov5*"``."""
    return get_catalogue().models.names(pattern)


def list_pruners(pattern: str | None = None) -> list[str]:
    """Registered pruner names (including third-party ones), optionally filtered by a glob."""
    return get_catalogue().pruners.names(pattern)


def list_metrics(pattern: str | None = None) -> list[str]:
    """Registered metric names, optionally filtered by a glob."""
    return get_catalogue().metrics.names(pattern)


def list_datasets(pattern: str | None = None) -> list[str]:
    """Registered dataset names, optionally filtered by a glob."""
    return get_catalogue().datasets.names(pattern)


def list_executors(pattern: str | None = None) -> list[str]:
    """Registered executor names, optionally filtered by a glob."""
    return get_catalogue().executors.names(pattern)


def list_reporters(pattern: str | None = None) -> list[str]:
    """Registered reporter names, optionally filtered by a glob."""
    return get_catalogue().reporters.names(pattern)


def prune(model: nn.Module, pruner: str, *, level: float, family: str | ModelFamily = "yolov5n",
          imgsz: int = 640, **options: Any) -> tuple[nn.Module, PruneRecord]:
    """Prune ``model`` with the registered ``pruner`` at ``level``; return the smaller model and its record.

    ``options`` are the pruner's options (``scope``, ``target``, ``round_to``, ``global_pruning``, ...).
    ``family`` names the model family contract (protected layers, scopes, example input).
    """
    from prunebench.contracts import PruneContext

    fam = get_model_family(family) if isinstance(family, str) else family
    p = create_pruner(pruner, **options)
    ctx = PruneContext(family=fam, example_inputs=fam.example_inputs(imgsz), imgsz=imgsz)
    result = p.prune(model, level, ctx)
    return result.model, result.record
