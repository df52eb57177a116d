"""The driver: what each stage event does to the store, the hooks and the live display (any executor)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.progress import Progress

from prunebench import hookimpl, plugins
from prunebench.spec import Spec
from prunebench.suite.driver import Driver
from prunebench.suite.executors.base import UpstreamFailed
from prunebench.suite.plan import Plan, build_plan
from prunebench.suite.stage import StageResult
from prunebench.suite.store import Store


class Recorder:
    """An observer plugin that records the lifecycle hooks it receives."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    def cell_started(self, cell: Any, run_dir: Path) -> None:
        self.calls.append(("cell_started", cell.key))

    @hookimpl
    def stage_started(self, stage: Any, cell: Any, run_dir: Path) -> None:
        self.calls.append(("stage_started", stage.kind))

    @hookimpl
    def epoch_finished(self, cell: Any, stage: str, epoch: int, metrics: dict[str, float]) -> None:
        self.calls.append(("epoch_finished", f"{stage}:{epoch}"))

    @hookimpl
    def stage_finished(self, stage: Any, cell: Any, result: Any, error: str | None) -> None:
        self.calls.append(("stage_finished", f"{stage.kind}:{'failed' if error else 'done'}"))

    @hookimpl
    def cell_finished(self, cell: Any, status: str, metrics: dict[str, float], error: str | None) -> None:
        self.calls.append(("cell_finished", f"{cell.key}:{status}"))


@pytest.fixture
def setup(spec_dict: Any, tmp_path: Path, fresh_catalogue: None) -> tuple[Plan, Any, Recorder]:
    spec = Spec.model_validate(spec_dict(tmp_path / "run", tmp_path / "data"))
    cat = plugins.get_catalogue()
    rec = Recorder()
    cat.pm.register(rec, name="recorder")
    return build_plan(spec, cat, threads=1), cat, rec


def test_events_reach_store_hooks_and_display(setup: tuple[Plan, Any, Recorder], tmp_path: Path) -> None:
    plan, cat, rec = setup
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    progress = Progress(console=Console(file=io.StringIO(), width=200))
    with Store(run_dir) as store:
        run_id = store.start_run(name="t", spec={}, spec_text="", environment={}, plan=plan, executor="local")
        driver = Driver(store, plan, cat, run_id, Console(file=io.StringIO()), progress, cached={})
        data, train = (next(s for s in plan.stage_list() if s.kind == k) for k in ("data", "train"))
        driver.stage_started(data)
        assert store.stage_status()[data.key] == "running"
        driver.on_done(data, StageResult(kind="data", values={"nc": 1}), None)
        driver.stage_started(train)
        driver.epoch_end(train, 0, {"train/box_loss": 0.5})
        shown = progress.tasks[driver.stage_task].description
        assert "train · epoch 1" in shown  # the display follows the epochs (streamed under Ray too)
        assert "yolov5n/" in shown
        driver.on_done(train, None, RuntimeError("diverged"))
        prune = next(s for s in plan.stage_list() if s.kind == "prune")
        driver.on_done(prune, None, UpstreamFailed(train, "RuntimeError: diverged"))
        assert store.stage_status()[train.key] == "failed"
        assert store.stage_status()[data.key] == "done"
    assert rec.calls[:4] == [("cell_started", "yolov5n/baseline/s0"), ("cell_started", "yolov5n/l1/0.5/s0"),
                             ("stage_started", "data"), ("stage_finished", "data:done")]
    assert ("epoch_finished", "train:0") in rec.calls
    assert rec.calls.index(("stage_started", "train")) < rec.calls.index(("epoch_finished", "train:0")) \
        < rec.calls.index(("stage_finished", "train:failed"))
    assert ("stage_finished", "prune:failed") in rec.calls
    assert sorted(c for c in rec.calls if c[0] == "cell_finished") == [
        ("cell_finished", "yolov5n/baseline/s0:failed"), ("cell_finished", "yolov5n/l1/0.5/s0:failed")]
    assert progress.tasks[driver.cells_task].completed == 2
