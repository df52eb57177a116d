"""round_to: auto times each candidate plan's pruned copy whole, keeps the SIMD width unless clearly beaten,
caches the decision in the run folder and says why."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from prunebench.contracts import PruneContext
from prunebench.plugins import get_catalogue
from prunebench.pruning.options import cpu_block
from prunebench.speed.round_choice import CANDIDATES, pick_multiple


def _rows(**gains: tuple[float, float]) -> dict[str, dict[str, float]]:
    return {k.lstrip("m"): {"gain": g, "gain_low": lo} for k, (g, lo) in gains.items()}


def test_the_prior_stands_unless_a_candidate_is_clearly_more_efficient() -> None:
    # a better estimate whose interval reaches below 1 is not enough: the SIMD width stays, run after run
    assert pick_multiple(_rows(m1=(1.04, 0.98), m4=(1.02, 0.99), m8=(1.01, 0.97), m16=(1.0, 1.0)), 16) == 16
    # clearly better: the best estimate of those whose whole interval lies above 1
    assert pick_multiple(_rows(m1=(0.8, 0.7), m4=(1.10, 1.02), m8=(1.20, 1.05), m16=(1.0, 1.0)), 16) == 8
    assert pick_multiple(_rows(m1=(1.2, 1.1), m4=(1.2, 1.1), m8=(1.0, 1.0), m16=(0.9, 0.8)), 8) == 1  # ties: smaller
    assert pick_multiple({"16": {"gain": 1.0, "gain_low": None}, "1": {"gain": 2.0, "gain_low": None}}, 16) == 16


@pytest.mark.slow
def test_round_to_auto_is_measured_on_whole_models_cached_and_recorded(tmp_path: Path) -> None:
    family = get_catalogue().models.get("yolov5n")({"width_multiple": 0.25, "depth_multiple": 0.33})
    torch.manual_seed(0)
    model = family.build(nc=2).eval()
    ctx = PruneContext(family=family, example_inputs=family.example_inputs(64), seed=0, device="cpu", imgsz=64,
                       cache_dir=tmp_path)
    pruner = get_catalogue().pruners.get("l1")({"scope": "all", "round_to": "auto", "latency_threads": 1,
                                                "latency_imgsz": 96})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = pruner.prune(model, 0.3, ctx).record
        files = sorted(p.name for p in tmp_path.iterdir())
        second = pruner.prune(model, 0.3, ctx).record  # the cached decision: the same choice, no new timing
    auto = first.extra["round_to_auto"]
    assert auto["prior"] == cpu_block()
    assert (auto["runtime"], auto["threads"], auto["imgsz"]) == ("torch", 1, 96)
    assert set(auto["candidates"]) >= {str(m) for m in CANDIDATES}
    for row in auto["candidates"].values():
        assert row["median_ms"] > 0
        assert 0 < row["gflops"] < first.gflops_before
        assert row["gain_low"] <= row["gain"] <= row["gain_high"]
    assert auto["candidates"][str(auto["prior"])]["gain"] == pytest.approx(1.0)
    assert auto["chosen"] == pick_multiple(auto["candidates"], auto["prior"])
    assert auto["rounds"] >= 8
    assert not auto["cached"]
    assert first.extra["round_to"] == (auto["chosen"] if auto["chosen"] > 1 else None)
    assert any(n.startswith(f"round_to auto: multiple {auto['chosen']} chosen") for n in first.notes)
    assert [f for f in files if f.startswith("round-torch-t1-96-")], files
    again = second.extra["round_to_auto"]
    assert again["cached"]
    assert {k: v for k, v in again.items() if k != "cached"} == {k: v for k, v in auto.items() if k != "cached"}
    assert second.extra["group_keep"] == first.extra["group_keep"]
    assert sorted(p.name for p in tmp_path.iterdir()) == files
