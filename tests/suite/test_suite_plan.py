"""The plan: cells, shared stages, and cache keys that change only with what a stage depends on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prunebench.plugins import get_catalogue
from prunebench.spec import Spec
from prunebench.suite.plan import Plan, build_plan, cell_key


@pytest.fixture
def plan_for(spec_dict: Any) -> Any:
    def make(tmp_path: Path, **overrides: Any) -> Plan:
        spec = Spec.model_validate(spec_dict(tmp_path / "run", tmp_path / "data", **overrides))
        return build_plan(spec, get_catalogue(), threads=1)

    return make


def kinds(plan: Plan) -> dict[str, int]:
    return plan.counts()


def test_cells_and_shared_stages(plan_for: Any, tmp_path: Path) -> None:
    plan = plan_for(tmp_path, seeds=[0, 1], pruners=[{"name": "l1", "levels": [0.3, 0.6]}])
    assert [c.key for c in plan.cells] == [
        "yolov5n/baseline/s0", "yolov5n/l1/0.3/s0", "yolov5n/l1/0.6/s0",
        "yolov5n/baseline/s1", "yolov5n/l1/0.3/s1", "yolov5n/l1/0.6/s1"]
    assert kinds(plan) == {"data": 1, "train": 2, "evaluate": 6, "prune": 4, "finetune": 4}
    base, p3, p6 = plan.cells[:3]
    assert base.stages[:2] == p3.stages[:2] == p6.stages[:2]  # data and baseline training are shared
    assert [plan.stages[k].kind for k in p3.stages] == ["data", "train", "prune", "finetune", "evaluate"]
    assert [plan.stages[k].kind for k in base.stages] == ["data", "train", "evaluate"]
    assert len(plan.cells_of(base.stages[1])) == 3
    order = list(plan.stages)
    for stage in plan.stage_list():  # topological: dependencies first
        assert all(order.index(d) < order.index(stage.key) for d in stage.deps)


def test_a_changed_finetune_budget_changes_only_finetune_and_evaluate_keys(plan_for: Any, spec_dict: Any,
                                                                           tmp_path: Path) -> None:
    a = plan_for(tmp_path)
    budget = {**spec_dict(tmp_path, tmp_path)["finetune"], "epochs": 3}
    b = plan_for(tmp_path, finetune=budget)
    changed = {a.stages[k].kind for k in set(a.stages) - set(b.stages)}
    assert changed == {"finetune", "evaluate"}
    assert a.cells[0].stages == b.cells[0].stages  # the baseline does not fine-tune


def test_new_levels_and_seeds_only_add_stages(plan_for: Any, tmp_path: Path) -> None:
    a = plan_for(tmp_path, pruners=[{"name": "l1", "levels": [0.3, 0.6]}])
    b = plan_for(tmp_path, pruners=[{"name": "l1", "levels": [0.3, 0.6, 0.9]}], seeds=[0, 7])
    assert set(a.stages) <= set(b.stages)
    assert cell_key("yolov5n", "l1", 0.9, 7) in {c.key for c in b.cells}


def test_keys_follow_model_options_seed_device_and_pruner_options(plan_for: Any, tmp_path: Path) -> None:
    a = plan_for(tmp_path)
    wider = plan_for(tmp_path, models=[{"name": "yolov5n", "options": {"width_multiple": 0.125,
                                                                        "depth_multiple": 0.33}}])
    assert set(a.stages) & set(wider.stages) == {a.cells[0].stages[0]}  # only the data stage is shared
    other_seed = plan_for(tmp_path, seeds=[1])
    assert set(a.stages) & set(other_seed.stages) == {a.cells[0].stages[0]}
    scoped = plan_for(tmp_path, pruners=[{"name": "l1", "levels": [0.5], "options": {"scope": "all"}}])
    diff = {a.stages[k].kind for k in set(a.stages) - set(scoped.stages)}
    assert diff == {"prune", "finetune", "evaluate"}


def test_same_pruner_under_two_labels_shares_its_stages(plan_for: Any, tmp_path: Path) -> None:
    plan = plan_for(tmp_path, pruners=[{"name": "l1", "levels": [0.5]},
                                       {"name": "l1", "label": "l1-again", "levels": [0.5]}])
    a, b = plan.cells[1], plan.cells[2]
    assert (a.key, b.key) == ("yolov5n/l1/0.5/s0", "yolov5n/l1-again/0.5/s0")
    assert a.stages == b.stages


def test_sparsity_training_is_shared_across_levels(plan_for: Any, tmp_path: Path) -> None:
    plan = plan_for(tmp_path, pruners=[{"name": "bn-scale", "levels": [0.3, 0.6]}],
                    sparsity={"epochs": 1, "imgsz": 64, "batch_size": 4, "max_batches": 1})
    assert kinds(plan)["sparsity"] == 1
    p3, p6 = plan.cells[1], plan.cells[2]
    assert [plan.stages[k].kind for k in p3.stages] == ["data", "train", "sparsity", "prune", "finetune",
                                                       "evaluate"]
    assert p3.stages[2] == p6.stages[2]


def test_code_version_invalidates_a_stage_kind_and_downstream(plan_for: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from prunebench.suite import plan as plan_mod

    a = plan_for(tmp_path)
    monkeypatch.setitem(plan_mod.STAGE_VERSIONS, "prune", 99)
    b = plan_for(tmp_path)
    assert {a.stages[k].kind for k in set(a.stages) - set(b.stages)} == {"prune", "finetune", "evaluate"}


def test_loader_speed_settings_are_not_in_the_keys_but_reach_the_stage(plan_for: Any, spec_dict: Any,
                                                                       tmp_path: Path) -> None:
    base = spec_dict(tmp_path, tmp_path)
    a = plan_for(tmp_path)
    speed = {"workers": 3, "prefetch": 5, "persistent_workers": False, "pin_memory": False, "cache": "off"}
    b = plan_for(tmp_path, train={**base["train"], **speed}, finetune={**base["finetune"], **speed})
    assert list(a.stages) == list(b.stages)  # same keys: nothing recomputes for a faster loader
    trains = [s for s in b.stages.values() if s.kind in {"train", "finetune"}]
    assert trains
    assert all(s.params["loader"] == speed for s in trains)
    assert all("workers" not in s.inputs["budget"] for s in trains)
    c = plan_for(tmp_path, train={**base["train"], "channels_last": True})  # can change the numbers: hashed
    assert {a.stages[k].kind for k in set(a.stages) - set(c.stages)} >= {"train"}
