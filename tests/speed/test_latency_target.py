"""target: latency: the per-layer latency table predicts a pruned model's latency; the level is achieved."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from prunebench.contracts import PruneContext
from prunebench.plugins import get_catalogue
from prunebench.pruning.costs import measure_costs
from prunebench.pruning.options import PrunerOptions
from prunebench.speed.latency_table import measure_latency_reduction
from prunebench.speed.latency_target import latency_table_for

pytestmark = pytest.mark.slow

IMGSZ = 160


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.nn.Module, PruneContext]:
    family = get_catalogue().models.get("yolov5n")({"width_multiple": 0.25, "depth_multiple": 0.33})
    torch.manual_seed(0)
    model = family.build(nc=2).eval()
    return model, PruneContext(family=family, example_inputs=family.example_inputs(64), seed=0, device="cpu",
                               imgsz=64)


def _quiet_or_skip(measured: dict) -> None:
    width = measured["reduction_hi"] - measured["reduction_lo"]
    if width > 0.1:  # the premise of a latency figure: the machine lets us measure one
        pytest.skip(f"machine too loaded to measure latency: reduction interval {width:.2f} wide")


def test_latency_table_predicts_a_pruned_models_latency(tiny, tmp_path: Path) -> None:
    """Within 15 % of the measured latency (issue 13), at a level whose channel counts are not multiples of
    the block (16 -> 12, 32 -> 23) while the calibration plan's are (half of every group): the table pads
    channels to the block it measured, else it predicted -30 %."""
    model, ctx = tiny
    ctx = PruneContext(**{**ctx.__dict__, "cache_dir": tmp_path})
    example = torch.zeros(1, 3, 32, 32)
    before = measure_costs(model, example)
    opts = PrunerOptions(scope="all", latency_threads=1, latency_imgsz=IMGSZ)
    table = latency_table_for(model, before, example, opts, ctx)
    assert table.scale > 0
    assert table.info["block"] in (1, 4, 8, 16)
    assert set(table.info["block_fit"]) == {"1", "4", "8", "16"}
    assert any(p.name.endswith("-all-calibrated.json") for p in tmp_path.iterdir())
    again = latency_table_for(model, before, example, opts, ctx)  # read from the cache
    assert again.to_dict() == table.to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruned = get_catalogue().pruners.get("l1")({"scope": "all"}).prune(model, 0.3, ctx).model
    after = measure_costs(pruned, example)
    removed_out = {n: s.cout - after.convs[n].cout for n, s in before.convs.items()}
    removed_in = {n: float(s.cin - after.convs[n].cin) for n, s in before.convs.items()}
    measured = measure_latency_reduction(model, pruned, runtime="torch", threads=1, imgsz=IMGSZ, time_cap_s=10)
    _quiet_or_skip(measured)
    predicted_ms = table.predict(removed_out, removed_in) * measured["before_ms"] / table.model_ms
    assert predicted_ms == pytest.approx(measured["after_ms"], rel=0.15)


def test_target_latency_reaches_its_level(tiny, tmp_path: Path) -> None:
    model, ctx = tiny
    ctx = PruneContext(**{**ctx.__dict__, "cache_dir": tmp_path})
    pruner = get_catalogue().pruners.get("l1")({"scope": "all", "target": "latency", "latency_threads": 1,
                                                "latency_imgsz": IMGSZ, "tolerance": 0.1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pruner.prune(model, 0.3, ctx)
    lat = res.record.extra["latency"]
    assert res.record.target == "latency"
    assert lat["runtime"] == "torch"
    assert lat["threads"] == 1
    assert 0.0 < lat["predicted_reduction"] < 0.6
    assert res.record.extra["achieved_target"] == lat["reduction"]
    _quiet_or_skip(lat)
    assert abs(lat["reduction"] - 0.3) <= 0.1, lat


def test_latency_runtime_is_checked() -> None:
    with pytest.raises(ValueError, match="latency_runtime must be one of"):
        PrunerOptions(target="latency", latency_runtime="tensorrt")


def test_an_unreachable_latency_target_prunes_as_far_as_the_scope_allows_and_warns(tiny, tmp_path: Path) -> None:
    from prunebench.pruning.removal import PruningWarning

    model, ctx = tiny
    ctx = PruneContext(**{**ctx.__dict__, "cache_dir": tmp_path})
    opts = {"scope": "backbone", "latency_threads": 1, "latency_imgsz": IMGSZ, "max_level_per_layer": 0.5}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = get_catalogue().pruners.get("l1")({**opts, "target": "latency"}).prune(model, 0.95, ctx)
    said = [str(w.message) for w in caught if issubclass(w.category, PruningWarning)]
    assert any("target latency at level 0.95: scope 'backbone' can remove at most" in m for m in said), said
    assert any(n.startswith("target latency at level 0.95") for n in res.record.notes)
    # pruned as far as the guard allows: every backbone group at half its channels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        furthest = get_catalogue().pruners.get("l1")(opts).prune(model, 0.5, ctx)
    assert res.record.extra["group_keep"] == furthest.record.extra["group_keep"]
    assert "latency" in res.record.extra  # and the achieved reduction was measured
