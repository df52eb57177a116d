"""What a spec uses when it names nothing: the default dataset, executor, metrics and reporters (one place).

These are plugin *names*, looked up in the catalogue like any name a spec gives; the core never imports
the plugins that provide them. The scopes a pruner may work in and the plugin kinds live here too.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_EXECUTOR",
    "DEFAULT_METRICS",
    "DEFAULT_REPORTERS",
    "PLUGIN_KINDS",
    "SCOPES",
    "Scope",
]

#: The plugin kinds, in the order the catalogue is filled (``register_<kind>s`` hooks).
PLUGIN_KINDS: tuple[str, ...] = ("model", "pruner", "metric", "dataset", "executor", "reporter")

#: Which convolutions a pruner may change (the model family maps each to its layers).
Scope = Literal["backbone", "backbone+neck", "all"]
SCOPES: tuple[str, ...] = get_args(Scope)

#: The dataset of a spec without ``dataset:`` (the synthetic tea-bud set, generated locally).
DEFAULT_DATASET = "tea-bud-synth"

#: The executor of a spec without ``executor:``.
DEFAULT_EXECUTOR = "local"

#: The metrics of a spec without ``metrics:``; also the tea-bud study's table columns, in order.
DEFAULT_METRICS: tuple[str, ...] = (
    "params", "gflops", "size_mb", "latency_ms", "precision", "recall", "f1", "map50", "map50_95",
)

#: The reporters of a spec without ``reporters:``.
DEFAULT_REPORTERS: tuple[str, ...] = ("console", "json", "csv", "plots", "markdown", "html")
