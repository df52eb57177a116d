"""Every prunebench hook, typed and documented; nothing else lives here.

Plugins implement hooks with ``@prunebench.hookimpl``. Catalogue hooks receive a typed
:class:`~prunebench.register.Register` and call it; they return nothing. Lifecycle hooks are for
observers (loggers, trackers) and must not change what they are given.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import DatasetProvider, Executor, Metric, ModelFamily, Pruner, Reporter
    from prunebench.register import Register
    from prunebench.spec import Spec
    from prunebench.suite.plan import Cell, Plan
    from prunebench.suite.results import Results
    from prunebench.suite.stage import Stage, StageResult

PROJECT_NAME = "prunebench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

# --------------------------------------------------------------------------------------------------
# Catalogue hooks: called once when the plugin manager is built
# --------------------------------------------------------------------------------------------------


@hookspec
def register_models(register: Register[type[ModelFamily]]) -> None:
    """Register model families.

    :param register: call ``register(cls)`` for each :class:`~prunebench.contracts.ModelFamily`
        subclass; its ``name`` class attribute is the name used in specs and ``create_model``.
    """


@hookspec
def register_pruners(register: Register[type[Pruner]]) -> None:
    """Register pruning methods.

    :param register: call ``register(cls)`` for each :class:`~prunebench.contracts.Pruner` subclass.
        ``register.unavailable(name, reason)`` lists a name whose dependencies are missing.
    """


@hookspec
def register_metrics(register: Register[type[Metric]]) -> None:
    """Register metrics (accuracy, complexity, speed).

    :param register: call ``register(cls)`` for each :class:`~prunebench.contracts.Metric` subclass.
    """


@hookspec
def register_datasets(register: Register[type[DatasetProvider]]) -> None:
    """Register dataset providers (YOLO-format folders, generators).

    :param register: call ``register(cls)`` for each :class:`~prunebench.contracts.DatasetProvider`.
    """


@hookspec
def register_reporters(register: Register[type[Reporter]]) -> None:
    """Register reporters (console tables, plots, Markdown/HTML reports, exports).

    :param register: call ``register(cls)`` for each :class:`~prunebench.contracts.Reporter`.
    """


@hookspec
def register_executors(register: Register[type[Executor]]) -> None:
    """Register executors that run a suite's stages (``local``, ``ray``).

    :param register: call ``register(cls)`` for each :class:`~prunebench.contracts.Executor`.
    """


# --------------------------------------------------------------------------------------------------
# Lifecycle hooks: observers of a running suite (called in the driver process only, under every
# executor: a stage that runs elsewhere streams its events to the driver while it runs)
# --------------------------------------------------------------------------------------------------


@hookspec
def suite_started(spec: Spec, run_dir: Path, plan: Plan) -> None:
    """Called once before any stage of a suite runs.

    :param spec: the validated :class:`~prunebench.spec.Spec`.
    :param run_dir: the run folder (results store, plots, report).
    :param plan: the expanded plan: cells and stages, with what is already cached.
    """


@hookspec
def cell_started(cell: Cell, run_dir: Path) -> None:
    """Called when the first stage of a cell starts.

    :param cell: the cell (model, pruner, level, seed, key).
    :param run_dir: the run folder.
    """


@hookspec
def stage_started(stage: Stage, cell: Cell | None, run_dir: Path) -> None:
    """Called when a stage starts to run (not for the stages reused from the store).

    :param stage: the stage (``key``, ``kind``, ``label``, ``deps``, ``inputs``).
    :param cell: the cell it runs for (for a shared stage, such as a baseline training: the first
        unfinished cell that needs it); None for a stage that belongs to no cell (a per-model stage).
    :param run_dir: the run folder; the stage writes into ``stages/<key>/``.
    """


@hookspec
def epoch_finished(cell: Cell | None, stage: str, epoch: int, metrics: dict[str, float]) -> None:
    """Called after every training epoch of any stage (baseline, sparsity, fine-tune).

    :param cell: the cell the stage belongs to (for a shared baseline: the first cell that needs it; None
        for a stage of no cell).
    :param stage: ``train``, ``sparsity`` or ``finetune``.
    :param epoch: zero-based epoch index.
    :param metrics: the epoch's losses, learning rates and validation metrics.
    """


@hookspec
def stage_finished(stage: Stage, cell: Cell | None, result: StageResult | None, error: str | None) -> None:
    """Called when a stage has finished and its result is in the store, or when it failed or was skipped.

    :param stage: the stage.
    :param cell: the cell it ran for (as in :func:`stage_started`).
    :param result: what it produced (metrics, history, artifacts, diagnostics); None when it failed.
    :param error: the error message when it failed (``skipped: …`` when an upstream stage failed), else None.
    """


@hookspec
def cell_finished(cell: Cell, status: str, metrics: dict[str, float], error: str | None) -> None:
    """Called when a cell is done, successfully or not.

    :param cell: the cell.
    :param status: ``done`` or ``failed``.
    :param metrics: the cell's metrics (empty when it failed).
    :param error: the error message when it failed, else None.
    """


@hookspec
def suite_finished(spec: Spec, run_dir: Path, results: Results, failed: int) -> None:
    """Called once after every cell has finished and the report was written.

    :param spec: the validated spec.
    :param run_dir: the run folder.
    :param results: the stored results (``prunebench.suite.results.Results``).
    :param failed: the number of failed cells.
    """
