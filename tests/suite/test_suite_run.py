"""End to end: a tiny suite runs, resumes after kill -9, records failing cells, and reruns only what changed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import prunebench as pb
from prunebench.cli import main
from prunebench.suite.results import load_results

pytestmark = pytest.mark.slow

STABLE_METRICS = ("params", "gflops", "precision", "recall", "f1", "map50", "map50_95")


def _stage_rows(run_dir: Path) -> dict[str, dict[str, Any]]:
    conn = sqlite3.connect(run_dir / "results.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        return {r["key"]: dict(r) for r in conn.execute("SELECT * FROM stages")}
    finally:
        conn.close()


def test_tiny_suite_runs_end_to_end(reference_run: Any) -> None:
    res = reference_run
    assert [c.key for c in res.cells] == ["yolov5n/baseline/s0", "yolov5n/l1/0.5/s0"]
    assert all(c.status == "done" for c in res.cells), [(c.key, c.error) for c in res.cells]
    base, pruned = res.cells
    for cell in res.cells:
        assert set(STABLE_METRICS) <= set(cell.metrics), cell.metrics
        assert (res.run_dir / cell.artifacts["weights"]).is_file()
    assert base.prune_record is None
    assert base.history["train"]
    assert pruned.prune_record is not None
    assert pruned.prune_record["level"] == pytest.approx(0.5)
    assert pruned.metrics["params"] < base.metrics["params"]
    assert set(pruned.history) == {"train", "finetune"}
    assert res.environment["torch"]
    assert res.environment["threads"] >= 1
    assert res.metric_info["map50"]["higher_is_better"] is True
    # the event log (bundled observer plugin) saw every lifecycle hook
    events = [json.loads(line) for line in (res.run_dir / "events.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "suite_started"
    assert kinds[-1] == "suite_finished"
    for hook in ("cell_started", "stage_started", "epoch_finished", "stage_finished", "cell_finished"):
        assert hook in kinds
    assert sum(k == "cell_finished" for k in kinds) == 2
    assert_stage_events_in_order(events, res)


def assert_stage_events_in_order(events: list[dict[str, Any]], res: Any, *, synchronous: bool = True) -> None:
    """Every stage: stage_started, then its epochs, then stage_finished.

    ``synchronous`` (local executor): each epoch was logged before the stage's function returned. Under
    Ray the driver reads the event queue every 0.1 s (test_suite_executors proves the streaming).
    """
    by_stage: dict[str, list[dict[str, Any]]] = {}
    current: dict[str, str] = {}  # stage kind of a cell -> the key that is running
    for e in events:
        if e["event"] == "stage_started":
            by_stage.setdefault(e["key"], []).append(e)
            current[f"{e['cell']}/{e['stage']}"] = e["key"]
        elif e["event"] == "epoch_finished":
            by_stage[current[f"{e['cell']}/{e['stage']}"]].append(e)
        elif e["event"] == "stage_finished":
            by_stage[e["key"]].append(e)
    assert set(by_stage) == set(res.stages)  # every stage ran (nothing was cached)
    for key, seq in by_stage.items():
        assert seq[0]["event"] == "stage_started", (key, seq)
        assert seq[-1]["event"] == "stage_finished", (key, seq)
        assert seq[-1]["status"] == "done"
        epochs = [e for e in seq if e["event"] == "epoch_finished"]
        trained = [row for row in res.stages[key].history if row["epoch"] >= 0]  # epoch -1: validation first
        assert len(epochs) == len(trained)
        for e in epochs if synchronous else []:  # logged while the stage was still running
            assert e["time"] <= res.stages[key].finished


def test_same_spec_and_seed_give_the_same_numbers(reference_run: Any, write_spec: Any, tmp_path: Path,
                                                  stable_metrics: Any) -> None:
    again = pb.run(write_spec(out=tmp_path / "again"), progress=False)
    assert stable_metrics(again) == stable_metrics(reference_run)
    assert again.cells[0].history["train"] == reference_run.cells[0].history["train"]


def test_kill_9_then_resume_equals_an_uninterrupted_run(reference_run: Any, write_spec: Any,
                                                        tmp_path: Path, stable_metrics: Any) -> None:
    run_dir = tmp_path / "killed"
    spec = write_spec(out=run_dir)
    proc = subprocess.Popen([sys.executable, "-m", "prunebench", "run", str(spec), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    done_before: dict[str, dict[str, Any]] = {}
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if (run_dir / "results.sqlite").exists():
                try:
                    rows = _stage_rows(run_dir)
                except sqlite3.OperationalError:
                    rows = {}
                done = {k: r for k, r in rows.items() if r["status"] == "done"}
                if len(done) >= 2:  # data and the baseline training, at least
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            time.sleep(0.05)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"run ended before it could be killed: {proc.stderr.read()!r}"
    rows = _stage_rows(run_dir)
    done_before = {k: r for k, r in rows.items() if r["status"] == "done"}
    assert len(done_before) < len(rows), "everything finished before the kill"

    resumed = pb.run(spec, progress=False)
    after = _stage_rows(run_dir)
    for key, row in done_before.items():  # nothing finished was computed again
        assert after[key]["finished"] == row["finished"]
        assert after[key]["computed"] == 1
    assert all(r["status"] == "done" for r in after.values())
    assert stable_metrics(resumed) == stable_metrics(reference_run)
    for a, b in zip(resumed.cells, reference_run.cells):
        assert a.history == b.history
        assert a.prune_record == b.prune_record


FAILING_PLUGIN = '''
"""A temporary plugin whose pruner always raises."""
from prunebench.contracts import Pruner
from prunebench.hookspecs import hookimpl


class AlwaysFails(Pruner):
    name = "always-fails"
    description = "raises in prune (tests)"

    def prune(self, model, level, context):
        raise RuntimeError("this pruner always fails")


@hookimpl
def register_pruners(register):
    register(AlwaysFails)
'''


def test_a_failing_cell_is_recorded_and_the_others_finish(plugin_dir: Path, write_spec: Any) -> None:
    (plugin_dir / "failing_pruner_plugin.py").write_text(FAILING_PLUGIN, encoding="utf-8")
    spec = write_spec(plugins=["failing_pruner_plugin"],
                      pruners=[{"name": "always-fails", "levels": [0.5]}, {"name": "l1", "levels": [0.5]}])
    assert main(["run", str(spec), "--no-progress"]) == 1
    res = load_results(plugin_dir / "run")
    status = {c.key: (c.status, c.error) for c in res.cells}
    assert status["yolov5n/always-fails/0.5/s0"][0] == "failed"
    assert "this pruner always fails" in status["yolov5n/always-fails/0.5/s0"][1]
    assert "prune" in status["yolov5n/always-fails/0.5/s0"][1]
    assert status["yolov5n/l1/0.5/s0"] == ("done", None)
    assert status["yolov5n/baseline/s0"] == ("done", None)
    failed_cell = next(c for c in res.cells if c.status == "failed")
    assert failed_cell.metrics == {}
    # a rerun retries only the failed cell's stages (and fails again the same way)
    rows_before = _stage_rows(plugin_dir / "run")
    assert main(["run", str(spec), "--no-progress"]) == 1
    rows_after = _stage_rows(plugin_dir / "run")
    for key, row in rows_before.items():
        if row["status"] == "done":
            assert rows_after[key]["computed"] == 1


def test_a_changed_finetune_budget_reruns_only_finetune_and_evaluate(write_spec: Any, tmp_path: Path) -> None:
    spec = write_spec()
    pb.run(spec, progress=False)
    first = _stage_rows(tmp_path / "run")
    budget = {"epochs": 2, "imgsz": 64, "batch_size": 4, "max_batches": 1, "warmup_epochs": 0.0, "cache": False}
    spec = write_spec(finetune=budget)
    res = pb.run(spec, progress=False)
    second = _stage_rows(tmp_path / "run")
    new = {k: r for k, r in second.items() if k not in first}
    assert sorted(r["kind"] for r in new.values()) == ["evaluate", "finetune"]
    for key, row in first.items():
        assert second[key]["computed"] == 1
        assert second[key]["finished"] == row["finished"]
    assert all(c.status == "done" for c in res.cells)
    # the validation before fine-tuning (epoch -1), then the two epochs
    assert [row["epoch"] for row in res.cells[1].history["finetune"]] == [-1, 0, 1]
    # a new level adds only the new cell's prune, finetune and evaluate
    spec = write_spec(pruners=[{"name": "l1", "levels": [0.5, 0.7]}], finetune=budget)
    pb.run(spec, progress=False)
    third = _stage_rows(tmp_path / "run")
    assert sorted(r["kind"] for k, r in third.items() if k not in second) == ["evaluate", "finetune", "prune"]


def test_fresh_starts_over(write_spec: Any, tmp_path: Path) -> None:
    spec = write_spec(pruners=[], baseline=True)
    pb.run(spec, progress=False)
    pb.run(spec, progress=False, fresh=True)
    rows = _stage_rows(tmp_path / "run")
    assert all(r["computed"] == 1 for r in rows.values())
    conn = sqlite3.connect(tmp_path / "run" / "results.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    conn.close()


@pytest.mark.ray
def test_ray_and_local_give_the_same_results(reference_run: Any, write_spec: Any, tmp_path: Path,
                                             stable_metrics: Any) -> None:
    ray = pytest.importorskip("ray")
    from prunebench.suite.executors.ray_init import init_kwargs, init_ray

    init_ray(ray, init_kwargs(address=None, num_cpus=2))  # a local-only Ray, as prunebench starts one
    try:
        res = pb.run(write_spec(out=tmp_path / "ray", executor={"name": "ray", "options": {"num_cpus": 2}}),
                     progress=False)
    finally:
        ray.shutdown()
    assert all(c.status == "done" for c in res.cells), [(c.key, c.error) for c in res.cells]
    assert stable_metrics(res) == stable_metrics(reference_run)
    assert [c.history for c in res.cells] == [c.history for c in reference_run.cells]
    events = [json.loads(line) for line in (tmp_path / "ray" / "events.jsonl").read_text().splitlines()]
    assert_stage_events_in_order(events, res, synchronous=False)  # streamed from the Ray tasks
