"""The driver's side of a run: it writes the store, fires the lifecycle hooks and moves the live display.

The :class:`Driver` is the stage observer (``stage_started``, ``epoch_end``) and the executor's
``on_done`` callback. Under the ``local`` executor the stage calls it directly; under ``ray`` the events
stream from the worker to the driver while the stage runs. Either way the hooks fire in this process, in
the same order: ``cell_started`` → ``stage_started`` → ``epoch_finished``… → ``stage_finished`` →
``cell_finished``.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from prunebench.interrupts import raise_if_interrupted
from prunebench.suite.executors.base import UpstreamFailed

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from prunebench.plugins import Catalogue
    from prunebench.suite.plan import Cell, Plan
    from prunebench.suite.stage import Stage, StageResult
    from prunebench.suite.store import Store

__all__ = ["Driver"]


class Driver:
    """Observer and ``on_done`` callback of one run (see the module docstring).

    :param progress: the rich Progress of the live display (the local trainer adds its epoch bar to it).
    :param cached: the results reused from the store (their stages count as done).
    """

    def __init__(self, store: Store, plan: Plan, cat: Catalogue, run_id: int, console: Console,
                 progress: Any, cached: dict[str, StageResult]) -> None:
        self.store, self.plan, self.cat, self.run_id = store, plan, cat, run_id
        self.console, self.progress = console, progress
        self.done: set[str] = set(cached)
        self.finished_cells: set[str] = {c.key for c in plan.cells if all(k in self.done for k in c.stages)}
        self.started_cells: set[str] = set()
        self.live_epochs: set[str] = set()
        self.failed = 0
        self.computed = 0
        self.cells_task = progress.add_task("cells", total=len(plan.cells), completed=len(self.finished_cells))
        self.stage_task = progress.add_task("", total=None)

    def cell_for(self, stage: Stage) -> Cell | None:
        """The cell a stage runs for: the first unfinished cell that needs it; None for a stage of no cell."""
        cells = self.plan.cells_of(stage.key)
        pending = [c for c in cells if c.key not in self.finished_cells]
        return (pending or cells or [None])[0]

    def _show(self, stage: Stage, what: str) -> None:
        cell = self.cell_for(stage)
        where = cell.key if cell is not None else stage.label or stage.key
        self.progress.update(self.stage_task, description=f"[bold]{where}[/] · {what}")

    # -- StageObserver: while a stage runs ----------------------------------------------------------

    def stage_started(self, stage: Stage) -> None:
        raise_if_interrupted()  # a Ctrl-C or SIGTERM whose exception was swallowed stops the run here
        self.store.mark_running(stage, self.run_id)
        for c in self.plan.cells_of(stage.key):
            self._start_cell(c)
        self.cat.hook.stage_started(stage=stage, cell=self.cell_for(stage), run_dir=self.store.run_dir)
        self._show(stage, stage.kind)

    def epoch_end(self, stage: Stage, epoch: int, row: dict[str, float]) -> None:
        raise_if_interrupted()
        self.live_epochs.add(stage.key)
        self.cat.hook.epoch_finished(cell=self.cell_for(stage), stage=stage.kind, epoch=int(epoch), metrics=row)
        self._show(stage, f"{stage.kind} · epoch {int(epoch) + 1}")

    # -- on_done: a stage is back -------------------------------------------------------------------

    def on_done(self, stage: Stage, result: StageResult | None, error: BaseException | None) -> None:
        if error is not None or result is None:
            raise_if_interrupted()  # e.g. "DataLoader worker killed by signal" after a process-group SIGTERM
            self._stage_failed(stage, error or RuntimeError("the executor returned no result"))
        else:
            self._stage_done(stage, result)  # a finished stage is kept even when a signal came meanwhile
            raise_if_interrupted()

    def _stage_failed(self, stage: Stage, error: BaseException) -> None:
        skipped = isinstance(error, UpstreamFailed)
        message = str(error) if skipped else f"{type(error).__name__}: {error}"
        if not skipped:
            tb = getattr(error, "remote_traceback", None) or "".join(
                traceback.format_exception(type(error), error, error.__traceback__))
            self.store.finish_stage(stage, None, message, self.run_id, traceback=tb)
            self.computed += 1
        self.cat.hook.stage_finished(stage=stage, cell=self.cell_for(stage), result=None, error=message)
        for cell in self.plan.cells_of(stage.key):
            if cell.key not in self.finished_cells:
                self._finish_cell(cell, "failed", f"{stage.kind}: {message}", {})

    def _stage_done(self, stage: Stage, result: StageResult) -> None:
        self.store.finish_stage(stage, result, None, self.run_id)
        self.computed += 1
        self.done.add(stage.key)
        self._show(stage, f"{stage.kind} done")
        if stage.key not in self.live_epochs:  # an executor that does not stream: report the epochs now
            for i, row in enumerate(result.history):
                if float(row.get("epoch", i)) < 0:  # the validation before the first epoch is no epoch
                    continue
                self.cat.hook.epoch_finished(cell=self.cell_for(stage), stage=stage.kind,
                                             epoch=int(row.get("epoch", i)), metrics=row)
        self.cat.hook.stage_finished(stage=stage, cell=self.cell_for(stage), result=result, error=None)
        for cell in self.plan.cells_of(stage.key):
            if cell.key not in self.finished_cells and all(k in self.done for k in cell.stages):
                self._finish_cell(cell, "done", None, self.store.cell_metrics(cell))

    # -- cells --------------------------------------------------------------------------------------

    def _start_cell(self, cell: Cell) -> None:
        if cell.key not in self.started_cells and cell.key not in self.finished_cells:
            self.started_cells.add(cell.key)
            self.cat.hook.cell_started(cell=cell, run_dir=self.store.run_dir)

    def _finish_cell(self, cell: Cell, status: str, error: str | None, metrics: dict[str, float]) -> None:
        self._start_cell(cell)
        self.finished_cells.add(cell.key)
        self.store.finish_cell(cell, status, error, self.run_id)
        if status == "failed":
            self.failed += 1
            self.console.print(f"[red]failed[/] {cell.key}: {error}", highlight=False)
        self.progress.advance(self.cells_task)
        self.cat.hook.cell_finished(cell=cell, status=status, metrics=metrics, error=error)
