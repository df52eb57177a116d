"""StageResult: the one typed result of a stage, through pickle (Ray), stage.json and the store, field by field."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from prunebench.plugins import get_catalogue
from prunebench.spec import Spec
from prunebench.suite.plan import Plan, build_plan
from prunebench.suite.stage import (
    STAGE_JSON,
    Artifact,
    StageResult,
    file_sha256,
    read_stage_json,
    write_stage_json,
)
from prunebench.suite.store import Store


@pytest.fixture
def plan(spec_dict: Any, tmp_path: Path) -> Plan:
    spec = Spec.model_validate(spec_dict(tmp_path / "run", tmp_path / "data"))
    return build_plan(spec, get_catalogue(), threads=1)


def full_result(run_dir: Path, key: str) -> StageResult:
    """A result with every field set, diagnostics of each shape: array, mapping of arrays, table, scalar."""
    path = run_dir / "stages" / key / "weights" / "best.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"checkpoint bytes")
    return StageResult(
        kind="prune",
        artifacts={"weights": Artifact(path.relative_to(run_dir).as_posix(), 16, file_sha256(path))},
        values={"nc": 3, "names": ["a", "b", "c"], "best_fitness": 0.25},
        history=[{"epoch": 0, "train/box_loss": 0.5}, {"epoch": 1, "train/box_loss": 0.125}],
        metrics={"map50": 0.5, "latency_ms": None},
        metric_info={"map50": {"unit": "", "higher_is_better": True, "kind": "accuracy", "fmt": ".3f",
                               "description": "mAP"}},
        curves={"px": [0.0, 0.5, 1.0], "p_curve": [[0.9, 0.5, 0.1]]},
        record={"pruner": "l1", "level": 0.5, "removed": {"model.0.conv": 3}},
        diagnostics={"bn_gamma": {"before": [1.0, -0.5], "after": [0.25, 0.0]},
                     "per_image_tp": [[1, 0], [0, 1]],
                     "latency": [{"model": "yolov5n", "seed": 0, "ms": 12.5}],
                     "speedup": 1.75},
        started=10.0, finished=12.5, seconds=2.5, compute_seconds=2.0)


def test_stage_result_pickles_and_round_trips_as_json(tmp_path: Path) -> None:
    result = full_result(tmp_path, "prune-0123456789abcdef")
    assert pickle.loads(pickle.dumps(result)) == result  # what a Ray task sends back
    assert StageResult.from_dict(result.to_dict()) == result
    assert result.weights == result.artifacts["weights"].path
    with pytest.raises(KeyError, match="no artifact 'data_yaml'"):
        result.path("data_yaml")
    with pytest.raises(ValueError, match="unknown StageResult fields"):
        StageResult.from_dict({"kind": "train", "gammas": []})


def test_to_dict_gives_plain_json_types() -> None:
    result = StageResult(kind="evaluate", metrics={"map50": float("nan")},
                         diagnostics={"bn_gamma": {"before": np.array([1.0, 2.0]), "after": np.float32(0.5)}})
    data = result.to_dict()
    assert data["metrics"] == {"map50": None}
    assert data["diagnostics"] == {"bn_gamma": {"before": [1.0, 2.0], "after": 0.5}}


def test_stage_json_keeps_the_stage_and_its_result(plan: Plan, tmp_path: Path) -> None:
    stage = next(s for s in plan.stage_list() if s.kind == "prune")
    result = full_result(tmp_path, stage.key)
    path = write_stage_json(tmp_path, stage, result)
    assert path.name == STAGE_JSON
    desc, back = read_stage_json(path)
    assert back == result
    assert (desc["key"], desc["kind"], tuple(desc["deps"])) == (stage.key, "prune", stage.deps)
    assert desc["inputs"]["level"] == stage.inputs["level"]
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not readable JSON"):
        read_stage_json(path)


def test_store_persists_and_reloads_every_field(plan: Plan, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stage = next(s for s in plan.stage_list() if s.kind == "prune")
    result = full_result(run_dir, stage.key)
    with Store(run_dir) as store:
        run_id = store.start_run(name="t", spec={}, spec_text="", environment={}, plan=plan, executor="local")
        store.finish_stage(stage, result, None, run_id)
    with Store(run_dir, readonly=True) as store:
        back = store.stage_results([stage.key])[stage.key]
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert back == result
    assert back.diagnostics["latency"] == [{"model": "yolov5n", "seed": 0, "ms": 12.5}]
    assert "gammas" not in tables  # diagnostics need no table of their own


def test_diagnostics_reach_the_cell_results(plan: Plan, tmp_path: Path) -> None:
    from prunebench.suite.results import load_results

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with Store(run_dir) as store:
        run_id = store.start_run(name="t", spec={}, spec_text="", environment={}, plan=plan, executor="local")
        for stage in plan.stage_list():
            res = StageResult(kind=stage.kind)
            if stage.kind == "prune":
                res = full_result(run_dir, stage.key)
            store.finish_stage(stage, res, None, run_id)
    results = load_results(run_dir)
    pruned = next(c for c in results.cells if c.pruner is not None)
    base = next(c for c in results.cells if c.pruner is None)
    assert pruned.diagnostics["bn_gamma"] == {"before": [1.0, -0.5], "after": [0.25, 0.0]}
    assert base.diagnostics == {}
    assert results.stages[pruned.stage_keys["prune"]].diagnostics["speedup"] == 1.75


def test_rebuild_restores_intact_stage_folders_only(plan: Plan, tmp_path: Path) -> None:
    from prunebench.suite.results import load_results
    from prunebench.suite.store import rebuild_store

    run_dir = tmp_path / "run"
    stages = {s.kind: s for s in plan.stage_list()}
    good = full_result(run_dir, stages["prune"].key)
    write_stage_json(run_dir / "stages" / stages["prune"].key, stages["prune"], good)
    aside = run_dir / "stages" / f"{stages['prune'].key}.changed-20261201T000000Z"
    aside.mkdir()
    write_stage_json(aside, stages["prune"], StageResult(kind="prune", values={"old": True}))
    bad = full_result(run_dir, stages["train"].key)
    write_stage_json(run_dir / "stages" / stages["train"].key, stages["train"], bad)
    (run_dir / bad.path("weights")).write_bytes(b"CHECKPOINT BYTES")  # same size, changed after the stage
    (run_dir / "stages" / "evaluate-0000000000000000").mkdir()
    (run_dir / "stages" / "evaluate-0000000000000000" / STAGE_JSON).write_text("{", encoding="utf-8")
    (run_dir / "results.sqlite").write_bytes(b"garbage" * 100)

    report = rebuild_store(run_dir)
    assert report.restored == [stages["prune"].key]
    assert len(report.skipped) == 3
    assert any("not the folder of stage" in s for s in report.skipped)
    assert any(stages["train"].key in s and "SHA-256 differs" in s for s in report.skipped)
    assert [p.name.startswith("results.sqlite.damaged-") for p in report.kept] == [True]
    assert report.kept[0].read_bytes() == b"garbage" * 100  # kept as it was
    with Store(run_dir, readonly=True) as store:
        assert store.stage_results()[stages["prune"].key] == good
    assert load_results(run_dir).cells == []  # cells come with the next run's plan
