"""round_to: auto chooses its multiple from the per-layer latency table (cached), and says why."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from prunebench.contracts import PruneContext
from prunebench.plugins import get_catalogue
from prunebench.pruning.options import cpu_block
from prunebench.speed.round_choice import CANDIDATES, MARGIN, pick_multiple


def test_the_prior_stands_unless_a_candidate_is_clearly_better() -> None:
    def rows(**eff: float) -> dict[str, dict[str, float]]:
        return {k.lstrip("m"): {"efficiency": v} for k, v in eff.items()}

    # within the margin (noise of a per-layer table): the SIMD width stays, run after run
    assert pick_multiple(rows(m1=0.508, m4=0.509, m8=0.515, m16=0.519), 16) == 16
    assert pick_multiple(rows(m1=0.52, m4=0.509, m8=0.55, m16=0.519), 16) == 16
    # clearly better: the best of those that clear the margin
    assert pick_multiple(rows(m1=0.40, m4=0.50, m8=0.70, m16=0.60), 16) == 8
    assert pick_multiple(rows(m1=0.80, m4=0.80, m8=0.50, m16=0.50), 8) == 1  # equal: the smaller multiple
    assert pick_multiple(rows(m1=0.5, m16=0.5 + MARGIN), 16) == 16
    assert pick_multiple({"16": {"efficiency": None}, "1": {"efficiency": 2.0}}, 16) == 16  # nothing to compare


pytestmark = pytest.mark.slow


def test_round_to_auto_is_measured_cached_and_recorded(tmp_path: Path) -> None:
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
        tables = sorted(p.name for p in tmp_path.iterdir())
        second = pruner.prune(model, 0.3, ctx).record  # the cached table: the same choice
    auto = first.extra["round_to_auto"]
    assert auto["chosen"] in CANDIDATES
    assert (auto["runtime"], auto["threads"], auto["imgsz"]) == ("torch", 1, 96)
    assert auto["table_block"] in CANDIDATES
    assert [p for p in tables if p.startswith("latency-torch-t1-96-")], tables
    for m in CANDIDATES:
        row = auto["candidates"][str(m)]
        assert row["predicted_ms"] > 0
        assert 0 < row["gflops"] < first.gflops_before
    assert auto["prior"] == cpu_block()
    assert auto["chosen"] == pick_multiple(auto["candidates"], auto["prior"])  # the prior unless clearly beaten
    assert first.extra["round_to"] == (auto["chosen"] if auto["chosen"] > 1 else None)
    assert any(n.startswith(f"round_to auto: multiple {auto['chosen']} chosen") for n in first.notes)
    assert second.extra["round_to_auto"] == auto
    assert second.extra["group_keep"] == first.extra["group_keep"]
    assert sorted(p.name for p in tmp_path.iterdir()) == tables

