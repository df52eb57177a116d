"""Run a spec: plan it, reuse what the run folder's store already holds, execute the rest, report."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.errors import UsageError
from prunebench.suite.executors.base import UpstreamFailed
from prunebench.suite.plan import Cell, Plan, Stage, build_plan
from prunebench.suite.results import load_results
from prunebench.suite.runfolder import LOCK_NAME, check_fresh, clear_run_dir, mark_run_dir, prepare_run_dir
from prunebench.suite.runfolder import lock_run_dir as _lock
from prunebench.suite.stage import StageResult
from prunebench.suite.stages import StageRunner
from prunebench.suite.store import Store

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from prunebench.plugins import Catalogue
    from prunebench.spec import Spec
    from prunebench.suite.results import Results

__all__ = ["LOCK_NAME", "clear_run_dir", "default_spec_path", "run"]


def default_spec_path() -> Path:
    """The quick tea-bud study embedded in the package (what ``prunebench run`` runs without a SPEC)."""
    return Path(__file__).resolve().parent.parent / "specs" / "tea-bud-quick.yaml"


def _new_progress(console: Console, enabled: bool) -> Any:
    from prunebench.progress import new_progress

    return new_progress(console, enabled=enabled, transient=False)


class _Driver:
    """The driver's side of a run: writes the store, fires lifecycle hooks, updates the display."""

    def __init__(self, store: Store, plan: Plan, cat: Catalogue, run_id: int, console: Console,
                 progress: Any, cached: dict[str, StageResult]) -> None:
        self.store, self.plan, self.cat, self.run_id = store, plan, cat, run_id
        self.console, self.progress = console, progress
        self.done: set[str] = set(cached)
        self.finished_cells: set[str] = set()
        self.started_cells: set[str] = set()
        self.live_epochs: set[str] = set()
        self.failed = 0
        self.computed = 0
        for cell in plan.cells:
            if all(k in self.done for k in cell.stages):
                self.finished_cells.add(cell.key)
        self.cells_task = progress.add_task("cells", total=len(plan.cells), completed=len(self.finished_cells))
        self.stage_task = progress.add_task("", total=None)

    def _cell_for(self, stage: Stage) -> Cell | None:
        cells = self.plan.cells_of(stage.key)
        pending = [c for c in cells if c.key not in self.finished_cells]
        return (pending or cells or [None])[0]

    # -- StageObserver (local executor: called in this process) -------------------------------------

    def stage_started(self, stage: Stage) -> None:
        self.store.mark_running(stage, self.run_id)
        cell = self._cell_for(stage)
        for c in self.plan.cells_of(stage.key):
            self._start_cell(c)
        where = cell.key if cell is not None else stage.label
        self.progress.update(self.stage_task, description=f"[bold]{where}[/] · {stage.kind}")

    def epoch_end(self, stage: Stage, epoch: int, row: dict[str, float]) -> None:
        self.live_epochs.add(stage.key)
        self.cat.hook.epoch_finished(cell=self._cell_for(stage), stage=stage.kind, epoch=int(epoch), metrics=row)

    # -- executor callback --------------------------------------------------------------------------

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

    def on_done(self, stage: Stage, result: StageResult | None, error: BaseException | None) -> None:
        if error is not None:
            message = str(error) if isinstance(error, UpstreamFailed) else f"{type(error).__name__}: {error}"
            if not isinstance(error, UpstreamFailed):
                tb = getattr(error, "remote_traceback", None) or "".join(
                    traceback.format_exception(type(error), error, error.__traceback__))
                self.store.finish_stage(stage, None, message, self.run_id, traceback=tb)
                self.computed += 1
            for cell in self.plan.cells_of(stage.key):
                if cell.key not in self.finished_cells:
                    self._finish_cell(cell, "failed", f"{stage.kind}: {message}", {})
            return
        assert result is not None  # an executor reports a result or an error
        self.store.finish_stage(stage, result, None, self.run_id)
        self.computed += 1
        self.done.add(stage.key)
        cell = self._cell_for(stage)
        self.progress.update(self.stage_task, description=f"{cell.key if cell else stage.label} · {stage.kind} done")
        if stage.key not in self.live_epochs:  # ray: the epochs are reported once the stage is back
            for i, row in enumerate(result.history):
                self.cat.hook.epoch_finished(cell=self._cell_for(stage), stage=stage.kind,
                                             epoch=int(row.get("epoch", i)), metrics=row)
        for cell in self.plan.cells_of(stage.key):
            if cell.key not in self.finished_cells and all(k in self.done for k in cell.stages):
                self._finish_cell(cell, "done", None, self.store.cell_metrics(cell))


def _load(spec: Spec | str | Path) -> Spec:
    from prunebench.spec import Spec, load_spec

    return spec if isinstance(spec, Spec) else load_spec(spec)


def run(spec: Spec | str | Path, *, out: Path | str | None = None, fresh: bool = False,
        console: Console | None = None, progress: bool = True, executor: str | None = None) -> Results:
    """Run a benchmark suite and return its results (also written to the run folder).

    :param spec: a :class:`~prunebench.spec.Spec` or the path of a YAML spec.
    :param out: the run folder (default: the spec's ``output``, else ``runs/<name>``).
    :param fresh: delete the run folder's store and stage artifacts first instead of resuming.
    :param console: a rich console for the display and the reports.
    :param progress: show the live progress display.
    :param executor: run with this executor (its default options) instead of the spec's.
    """
    from rich.console import Console

    from prunebench.plugins import get_catalogue
    from prunebench.suite.environment import collect_environment

    spec = _load(spec)
    console = console or Console()
    run_dir = Path(out) if out is not None else spec.run_dir
    cat = get_catalogue(spec.plugins)
    if executor is None or executor == spec.executor.name:
        exec_name, exec_options = spec.executor.name, spec.executor.options
    else:
        exec_name, exec_options = executor, {}
    executor_obj = cat.executors.get(exec_name)(exec_options)
    if fresh:
        check_fresh(run_dir)  # refuse a folder prunebench did not write before touching it
    prepare_run_dir(run_dir)
    t0 = time.perf_counter()
    with _lock(run_dir):  # taken before --fresh deletes anything
        if fresh:
            for entry in clear_run_dir(run_dir):
                console.print(f"--fresh left {entry} in place: prunebench did not write it", highlight=False)
        mark_run_dir(run_dir)
        plan = build_plan(spec, cat)
        store = Store(run_dir)
        run_id: int | None = None
        status, failed = "interrupted", 0
        try:
            run_id = store.start_run(name=spec.name, spec=spec.model_dump(mode="json"),
                                     spec_text=spec.source_text or "", plan=plan, executor=exec_name,
                                     environment=collect_environment(spec.device, exec_name))
            cached = store.cached_results(plan)
            plan.cached = set(cached)
            to_run = [s for s in plan.stage_list() if s.key not in cached]
            cat.hook.suite_started(spec=spec, run_dir=run_dir, plan=plan)
            console.print(f"[bold]{spec.name}[/]: {len(plan.cells)} cells, {len(plan.stages)} stages "
                          f"({len(cached)} cached, {len(to_run)} to run) with the {exec_name} executor "
                          f"in {run_dir}", highlight=False)
            display = _new_progress(console, progress)
            with display:
                driver = _Driver(store, plan, cat, run_id, console, display, cached)
                executor_obj.run(to_run, StageRunner(run_dir, cached, observer=driver), driver.on_done)
                display.update(driver.stage_task, description="done", total=1, completed=1)
            results = load_results(run_dir)
            failed = sum(1 for c in results.cells if c.status == "failed")
            for ref in spec.reporters:
                try:
                    cat.reporters.get(ref.name)(ref.options).report(results, run_dir, console)
                except UsageError:
                    raise
                except Exception as exc:
                    console.print(f"[red]reporter {ref.name!r} failed:[/] {type(exc).__name__}: {exc}",
                                  highlight=False)
            status = "done"
        finally:
            if run_id is not None:
                store.finish_run(run_id, status=status, cached=len(plan.cached), failed=failed,
                                 wall_seconds=time.perf_counter() - t0)
                summary = store.run_summary(run_id)
            store.close()
        console.print(f"{len(results.cells) - failed}/{len(results.cells)} cells done, {failed} failed; "
                      f"{summary['computed']} stages computed in {summary['wall_seconds']:.1f} s "
                      f"(suite overhead {summary['overhead_seconds']:.1f} s, "
                      f"{100 * summary['overhead_fraction']:.1f}%). Results: {run_dir}", highlight=False)
        cat.hook.suite_finished(spec=spec, run_dir=run_dir, results=results, failed=failed)
    return results

