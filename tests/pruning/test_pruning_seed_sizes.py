"""The seed study's pruned sizes, reproduced exactly by l1 with the default options (scope backbone)."""

from __future__ import annotations

import pytest
import torch

import prunebench as pb
from prunebench.contracts import PruneContext
from prunebench.metrics.complexity import count_params, gflops

# model, level -> fused params, GFLOPs at 640 (the article prints 2.1 / 1.4 / 25.4 / 17.7)
SEED = {
    ("yolov5n", 0.6): (932_592, 2.07),
    ("yolov5n", 0.9): (710_530, 1.41),
    ("yolov5m", 0.6): (11_711_883, 25.45),
    ("yolov5m", 0.9): (8_908_815, 17.74),
}


@pytest.fixture(scope="module")
def built() -> dict[str, torch.nn.Module]:
    return {name: pb.create_model(name, nc=1) for name in ("yolov5n", "yolov5m")}


@pytest.mark.parametrize(("name", "level"), list(SEED))
def test_seed_sizes_reproduced(built: dict[str, torch.nn.Module], name: str, level: float) -> None:
    family = pb.get_model_family(name)
    pruner = pb.create_pruner("l1")
    result = pruner.prune(built[name], level, PruneContext(family=family, example_inputs=family.example_inputs(64)))
    params, gfl = SEED[(name, level)]
    rec = result.record
    assert rec.params_after == params
    assert round(rec.gflops_after, 2) == gfl
    assert rec.scope == "backbone"
    assert rec.level == level
    assert rec.target == "channels"
    fused = family.fuse(result.model)  # the independent counter agrees with the record
    assert count_params(fused) == params
    assert gflops(fused) == pytest.approx(rec.gflops_after, rel=1e-9)


def test_unpruned_reference_sizes(built: dict[str, torch.nn.Module]) -> None:
    rec = pb.prune(built["yolov5n"], "l1", level=0.0, family="yolov5n")[1]
    assert (rec.params_before, rec.params_after) == (1_760_518, 1_760_518)
    assert rec.gflops_before == pytest.approx(4.1296, abs=1e-4)


def test_yolov5s_follows_the_same_rule(built: dict[str, torch.nn.Module]) -> None:
    """The article's yolov5s sizes match no rule (yolov5-facts.md); the seed rule gives these."""
    model = pb.create_model("yolov5s", nc=1)
    assert pb.prune(model, "l1", level=0.6, family="yolov5s")[1].params_after == 3_695_635
    assert pb.prune(model, "l1", level=0.9, family="yolov5s")[1].params_after == 2_813_976
