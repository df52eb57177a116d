"""Bundled observer plugin: writes every lifecycle event of a suite to ``run_dir/events.jsonl``.

One JSON object per line (``{"time", "event", ...}``), appended, flushed after every event, so the log
of an interrupted run survives and a resumed run continues it. It is also the example to copy for a
logger or tracker plugin: it implements the lifecycle hooks and changes nothing it is given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from prunebench.hookspecs import hookimpl

EVENTS_FILE = "events.jsonl"

_state: dict[str, Path | None] = {"path": None}


def _cell(cell: Any) -> dict[str, Any]:
    return {"cell": getattr(cell, "key", str(cell)), "model": getattr(cell, "model", None),
            "pruner": getattr(cell, "pruner", None), "level": getattr(cell, "level", None),
            "seed": getattr(cell, "seed", None)}


def _write(event: str, **fields: Any) -> None:
    path = _state["path"]
    if path is None:
        return
    line = json.dumps({"time": time.time(), "event": event, **fields}, default=str)
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


@hookimpl
def suite_started(spec: Any, run_dir: Path, plan: Any) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    _state["path"] = run_dir / EVENTS_FILE
    cells = getattr(plan, "cells", [])
    stages = getattr(plan, "stages", {})
    _write("suite_started", name=getattr(spec, "name", None), run_dir=str(run_dir), cells=len(cells),
           stages=len(stages))


@hookimpl
def cell_started(cell: Any, run_dir: Path) -> None:
    _write("cell_started", **_cell(cell))


@hookimpl
def epoch_finished(cell: Any, stage: str, epoch: int, metrics: dict[str, float]) -> None:
    _write("epoch_finished", **_cell(cell), stage=stage, epoch=epoch, metrics=metrics)


@hookimpl
def cell_finished(cell: Any, status: str, metrics: dict[str, float], error: str | None) -> None:
    _write("cell_finished", **_cell(cell), status=status, metrics=metrics, error=error)


@hookimpl
def suite_finished(spec: Any, run_dir: Path, results: Any, failed: int) -> None:
    _write("suite_finished", name=getattr(spec, "name", None), cells=len(getattr(results, "cells", [])),
           failed=failed)
    _state["path"] = None
