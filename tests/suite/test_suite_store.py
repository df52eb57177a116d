"""The SQLite store: transactions, what is cached, and Results read back exactly as written."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from prunebench.errors import UsageError
from prunebench.plugins import get_catalogue
from prunebench.spec import Spec
from prunebench.suite.plan import Plan, build_plan
from prunebench.suite.results import load_results
from prunebench.suite.stage import Artifact, StageResult, file_sha256
from prunebench.suite.store import Store


@pytest.fixture
def plan(spec_dict: Any, tmp_path: Path) -> Plan:
    spec = Spec.model_validate(spec_dict(tmp_path / "run", tmp_path / "data", pruners=[{"name": "l1",
                                                                                        "levels": [0.5]}]))
    return build_plan(spec, get_catalogue(), threads=1)


def result_for(kind: str, run_dir: Path, key: str) -> StageResult:
    """A result of ``kind`` as the stage functions return it (with a real one-byte artifact)."""
    weights = run_dir / "stages" / key / "w.pt"
    weights.parent.mkdir(parents=True, exist_ok=True)
    weights.write_bytes(b"x")
    art = Artifact(weights.relative_to(run_dir).as_posix(), size=1, sha256=file_sha256(weights))
    out = StageResult(kind=kind, artifacts={"weights": art}, started=1.0, finished=2.0, seconds=1.0,
                      compute_seconds=0.5)
    if kind == "data":
        out = StageResult(kind=kind, values={"nc": 1, "names": ["bud"]})
    if kind in ("train", "finetune"):
        out.history = [{"epoch": 0, "train/box_loss": 0.5}, {"epoch": 1, "train/box_loss": 0.25}]
    if kind == "prune":
        out.record = {"pruner": "l1", "level": 0.5, "params_before": 10, "params_after": 5}
    if kind == "evaluate":
        out.metrics = {"map50": 0.5, "params": 123.0}
        out.metric_info = {"map50": {"unit": "", "higher_is_better": True}}
        out.curves = {"px": [0.0, 1.0], "p_curve": [[0.1, 0.2]]}
    return out


def test_roundtrip_and_cache(plan: Plan, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with Store(run_dir) as store:
        run_id = store.start_run(name="tiny", spec={"name": "tiny"}, spec_text="name: tiny\n",
                                 environment={"torch": "x"}, plan=plan, executor="local")
        assert store.cached_results(plan) == {}
        for stage in plan.stage_list():
            store.finish_stage(stage, result_for(stage.kind, run_dir, stage.key), None, run_id)
        for cell in plan.cells:
            store.finish_cell(cell, "done", None, run_id)
        assert set(store.cached_results(plan)) == set(plan.stages)
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    res = load_results(run_dir)
    assert res.name == "tiny"
    assert res.spec_text == "name: tiny\n"
    assert res.environment == {"torch": "x"}
    base, pruned = res.cells
    assert base.is_baseline
    assert pruned.pruner == "l1"
    assert pruned.level == 0.5
    assert pruned.metrics == {"map50": 0.5, "params": 123.0}
    assert pruned.history["finetune"][1]["train/box_loss"] == 0.25
    assert set(pruned.history) == {"train", "finetune"}
    assert pruned.prune_record == {"pruner": "l1", "level": 0.5, "params_before": 10, "params_after": 5}
    assert pruned.curves["p_curve"] == [[0.1, 0.2]]
    assert pruned.artifacts["weights"].startswith("stages/evaluate-")
    assert pruned.artifacts["pruned"].startswith("stages/prune-")
    assert "pruned" not in base.artifacts
    assert res.metric_info["map50"]["higher_is_better"] is True


def test_missing_artifacts_are_not_cached_and_downstream_follows(plan: Plan, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with Store(run_dir) as store:
        run_id = store.start_run(name="t", spec={}, spec_text="", environment={}, plan=plan, executor="local")
        for stage in plan.stage_list():
            store.finish_stage(stage, result_for(stage.kind, run_dir, stage.key), None, run_id)
        train = next(s for s in plan.stage_list() if s.kind == "train")
        (run_dir / "stages" / train.key / "w.pt").unlink()
        cached = store.cached_results(plan)
    assert {plan.stages[k].kind for k in cached} == {"data"}  # everything downstream of train reruns


def test_failed_stage_and_restart_resets_running(plan: Plan, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stage = plan.stage_list()[1]
    with Store(run_dir) as store:
        run_id = store.start_run(name="t", spec={}, spec_text="", environment={}, plan=plan, executor="local")
        store.mark_running(stage, run_id)
        store.finish_stage(stage, None, "RuntimeError: boom", run_id, traceback="tb")
        row = store.stage_rows()[stage.key]
        assert (row["status"], row["error"], row["computed"]) == ("failed", "RuntimeError: boom", 1)
        store.mark_running(stage, run_id)
    with Store(run_dir) as store:  # a new run: a stage left running (killed) is pending again
        store.start_run(name="t", spec={}, spec_text="", environment={}, plan=plan, executor="local")
        assert store.stage_rows()[stage.key]["status"] == "pending"
        assert [r["status"] for r in store.cell_rows()] == ["pending", "pending"]


def test_load_results_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="has no results store"):
        load_results(tmp_path)
    (tmp_path / "results.sqlite").write_bytes(b"not a database at all" * 10)
    with pytest.raises(UsageError, match="is damaged: it is not a readable prunebench results store"):
        load_results(tmp_path)


def test_tables_exist(plan: Plan, tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.start_run(name="t", spec={}, spec_text="", environment={}, plan=plan, executor="local")
    conn = sqlite3.connect(tmp_path / "results.sqlite")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {"meta", "runs", "cells", "stages", "artifacts", "metrics", "history", "curves", "prune_records",
            "diagnostics", "metric_info"} <= tables
    assert "gammas" not in tables  # schema 2: a pruner's diagnostics are kept generically
