"""Bundled observer plugin: writes every lifecycle event of a suite to ``run_dir/events.jsonl``.

One JSON object per line (``{"time", "event", ...}``), appended, flushed after every event, so the log
of an interrupted run survives and a resumed run continues it. It is also the example to copy for a
logger or tracker plugin: it implements the lifecycle hooks and changes nothing it is given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.spec import Spec
    from prunebench.suite.plan import Cell, Plan
    from prunebench.suite.results import Results
    from prunebench.suite.stage import Stage, StageResult

EVENTS_FILE = "events.jsonl"

_state: dict[str, Path | None] = {"path": None}


def _cell(cell: Cell | None) -> dict[str, Any]:
    if cell is None:  # a stage that belongs to no cell
        return {"cell": None}
    return {"cell": cell.key, "model": cell.model, "pruner": cell.pruner, "level": cell.level, "seed": cell.seed}


def _write(event: str, **fields: Any) -> None:
    path = _state["path"]
    if path is None:
        return
    line = json.dumps({"time": time.time(), "event": event, **fields}, default=str)
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


@hookimpl
def suite_started(spec: Spec, run_dir: Path, plan: Plan) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    _state["path"] = run_dir / EVENTS_FILE
    _write("suite_started", name=spec.name, run_dir=str(run_dir), cells=len(plan.cells), stages=len(plan.stages),
           cached=len(plan.cached))


@hookimpl
def cell_started(cell: Cell, run_dir: Path) -> None:
    _write("cell_started", **_cell(cell))


@hookimpl
def stage_started(stage: Stage, cell: Cell | None, run_dir: Path) -> None:
    _write("stage_started", **_cell(cell), stage=stage.kind, key=stage.key)


@hookimpl
def epoch_finished(cell: Cell | None, stage: str, epoch: int, metrics: dict[str, float]) -> None:
    _write("epoch_finished", **_cell(cell), stage=stage, epoch=epoch, metrics=metrics)


@hookimpl
def stage_finished(stage: Stage, cell: Cell | None, result: StageResult | None, error: str | None) -> None:
    seconds = result.seconds if result is not None else None
    _write("stage_finished", **_cell(cell), stage=stage.kind, key=stage.key, status="failed" if error else "done",
           seconds=seconds, error=error)


@hookimpl
def cell_finished(cell: Cell, status: str, metrics: dict[str, float], error: str | None) -> None:
    _write("cell_finished", **_cell(cell), status=status, metrics=metrics, error=error)


@hookimpl
def suite_finished(spec: Spec, run_dir: Path, results: Results, failed: int) -> None:
    _write("suite_finished", name=spec.name, cells=len(results.cells), failed=failed)
    _state["path"] = None
