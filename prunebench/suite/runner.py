"""Run a spec: plan it, reuse what the run folder's store already holds, execute the rest, report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.errors import UsageError
from prunebench.suite.driver import Driver
from prunebench.suite.plan import Plan, build_plan
from prunebench.suite.preflight import preflight
from prunebench.suite.results import load_results
from prunebench.suite.runfolder import LOCK_NAME, check_fresh, clear_run_dir, mark_run_dir, prepare_run_dir
from prunebench.suite.runfolder import lock_run_dir as _lock
from prunebench.suite.stage import StageResult
from prunebench.suite.stages import StageRunner
from prunebench.suite.store import Store, rebuild_store

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from prunebench.contracts import Executor
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


def _load(spec: Spec | str | Path) -> Spec:
    from prunebench.spec import Spec, load_spec

    return spec if isinstance(spec, Spec) else load_spec(spec)


def _executor(spec: Spec, cat: Catalogue, override: str | None) -> tuple[str, Executor]:
    """The executor to run with: the spec's, or ``override`` with its default options."""
    if override is None or override == spec.executor.name:
        name, options = spec.executor.name, spec.executor.options
    else:
        name, options = override, {}
        try:
            cat.executors.get(name)
        except UsageError as exc:  # say where the name came from
            raise UsageError(f"--executor {name}: {exc.message}", hint=exc.hint) from exc
    return name, cat.executors.get(name)(options)


def _rebuild(run_dir: Path, console: Console) -> None:
    """``--rebuild-store``: a new store from the stage folders' ``stage.json`` (the old one is kept)."""
    report = rebuild_store(run_dir)
    for path in report.kept:
        console.print(f"kept the old store as {path}", highlight=False)
    for why in report.skipped:
        console.print(f"[yellow]not restored[/] {why}", highlight=False)
    console.print(f"rebuilt the results store from {len(report.restored)} stage folders in {run_dir}",
                  highlight=False)


def _reuse(store: Store, plan: Plan, verify: bool, console: Console) -> dict[str, StageResult]:
    """The stored results this run reuses (artifacts verified); says which finished stages run again."""
    reuse = store.reuse(plan, verify=verify)
    for problem in reuse.problems:
        console.print(f"[yellow]artifact changed[/] {problem}", highlight=False)
    for key, paths in reuse.changed.items():
        kept = set_aside_stage_folder(store.run_dir, key, paths)
        if kept is not None:
            console.print(f"kept the stage's previous files in {kept} (the stage starts afresh)", highlight=False)
    plan.cached = set(reuse.results)
    return reuse.results


def set_aside_stage_folder(run_dir: Path, key: str, paths: list[str]) -> Path | None:
    """Rename ``stages/<key>/`` to ``stages/<key>.changed-<UTC time>/`` when one of ``paths`` lies in it.

    A stage whose own artifact changed must not resume from the files beside it (a training would load the
    damaged checkpoint again); the files are kept, not deleted: someone may have replaced them on purpose.
    """
    folder = run_dir / "stages" / key
    if not folder.is_dir() or not any(Path(p).parts[:2] == ("stages", key) for p in paths):
        return None
    from prunebench.suite.runfolder import set_aside_name

    kept = folder.with_name(set_aside_name(key))
    folder.rename(kept)
    return kept


def _execute(store: Store, plan: Plan, cat: Catalogue, run_id: int, executor: Executor,
             cached: dict[str, StageResult], console: Console, progress: bool) -> None:
    """Run the stages that are not cached, with the live display; the driver writes every result."""
    to_run = [s for s in plan.stage_list() if s.key not in cached]
    upstream = {d: cached[d] for s in to_run for d in s.deps if d in cached}  # what the stages to run read
    display = _new_progress(console, progress)
    with display:
        driver = Driver(store, plan, cat, run_id, console, display, cached)
        executor.run(to_run, StageRunner(store.run_dir, upstream, observer=driver), driver.on_done)
        display.update(driver.stage_task, description="done", total=1, completed=1)


def _report(spec: Spec, cat: Catalogue, results: Results, run_dir: Path, console: Console) -> None:
    """Every reporter of the spec; one that fails is said and the others go on (a user error stops)."""
    from prunebench.report.reporting import run_reporters

    run_reporters([(r.name, r.instantiate(cat.reporters.get(r.name))) for r in spec.reporters], results, run_dir,
                  console)


def _print_summary(console: Console, results: Results, summary: dict[str, Any], run_dir: Path) -> None:
    failed = sum(1 for c in results.cells if c.status == "failed")
    console.print(f"{len(results.cells) - failed}/{len(results.cells)} cells done, {failed} failed; "
                  f"{summary['computed']} stages computed in {summary['wall_seconds']:.1f} s "
                  f"(suite overhead {summary['overhead_seconds']:.1f} s, "
                  f"{100 * summary['overhead_fraction']:.1f}%). Results: {run_dir}", highlight=False)


def _run_plan(spec: Spec, cat: Catalogue, plan: Plan, store: Store, exec_name: str, executor: Executor,
              console: Console, *, progress: bool, verify: bool, t0: float) -> tuple[Results, dict[str, Any]]:
    """One recorded run of a plan: reuse, execute, reload, report. The run row is closed whatever happens."""
    from prunebench.suite.environment import collect_environment

    run_id: int | None = None
    status, failed = "interrupted", 0
    try:
        run_id = store.start_run(name=spec.name, spec=spec.model_dump(mode="json"), spec_text=spec.source_text or "",
                                 plan=plan, executor=exec_name,
                                 environment=collect_environment(spec.device, exec_name))
        cached = _reuse(store, plan, verify, console)
        cat.hook.suite_started(spec=spec, run_dir=store.run_dir, plan=plan)
        console.print(f"[bold]{spec.name}[/]: {len(plan.cells)} cells, {len(plan.stages)} stages "
                      f"({len(cached)} cached, {len(plan.stages) - len(cached)} to run) with the {exec_name} "
                      f"executor in {store.run_dir}", highlight=False)
        _execute(store, plan, cat, run_id, executor, cached, console, progress)
        results = load_results(store.run_dir)
        failed = sum(1 for c in results.cells if c.status == "failed")
        _report(spec, cat, results, store.run_dir, console)
        status = "done"
    finally:
        if run_id is not None:
            store.finish_run(run_id, status=status, cached=len(plan.cached), failed=failed,
                             wall_seconds=time.perf_counter() - t0)
    return results, store.run_summary(run_id)


def run(spec: Spec | str | Path, *, out: Path | str | None = None, fresh: bool = False,
        console: Console | None = None, progress: bool = True, executor: str | None = None,
        verify: bool = False, rebuild_store: bool = False, device: str | None = None) -> Results:
    """Run a benchmark suite and return its results (also written to the run folder).

    :param spec: a :class:`~prunebench.spec.Spec` or the path of a YAML spec.
    :param out: the run folder (default: the spec's ``output``, else ``runs/<name>``).
    :param fresh: delete the run folder's store and stage artifacts first instead of resuming.
    :param console: a rich console for the display and the reports.
    :param progress: show the live progress display.
    :param executor: run with this executor (its default options) instead of the spec's.
    :param verify: hash every reused artifact (default: only files up to 64 MB; sizes always).
    :param rebuild_store: first make a new ``results.sqlite`` from the stage folders (a damaged store).
    :param device: run on this device instead of the spec's (it is part of the stage keys).
    """
    from rich.console import Console

    from prunebench.plugins import get_catalogue
    from prunebench.spec import with_device

    spec = with_device(_load(spec), device)
    console = console or Console()
    run_dir = Path(out) if out is not None else spec.run_dir
    cat = get_catalogue(spec.plugins)
    preflight(spec, cat)  # the same checks as `prunebench validate`, before anything is computed
    exec_name, executor_obj = _executor(spec, cat, executor)
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
        if rebuild_store:
            _rebuild(run_dir, console)
        with Store(run_dir) as store:
            results, summary = _run_plan(spec, cat, plan, store, exec_name, executor_obj, console,
                                         progress=progress, verify=verify, t0=t0)
        _print_summary(console, results, summary, run_dir)
        cat.hook.suite_finished(spec=spec, run_dir=run_dir, results=results,
                                failed=sum(1 for c in results.cells if c.status == "failed"))
    return results
