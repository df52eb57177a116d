"""A pruned YOLOv5 fine-tunes with the trainer (its loss falls); bn-scale's regulariser runs in the trainer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import prunebench as pb
from prunebench.contracts import PruneContext
from prunebench.data.synth import SynthOptions, generate_tea_bud
from prunebench.engine.config import TrainConfig
from prunebench.engine.trainer import TrainCallbacks, train
from prunebench.pruning import bn_gammas


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_tea_bud(tmp_path_factory.mktemp("tb") / "tb", SynthOptions(train=8, val=4, imgsz=96, seed=0))


def _cfg(**kw: object) -> TrainConfig:
    base = {"epochs": 5, "batch_size": 4, "imgsz": 64, "nbs": 4, "workers": 0, "warmup_epochs": 0.0,
            "hyp": {"lr0": 0.02}}
    return TrainConfig.model_validate({**base, **kw})


def _total(row: dict[str, float]) -> float:
    return row["train/box_loss"] + row["train/obj_loss"] + row["train/cls_loss"]


def test_pruned_model_finetunes_and_loss_falls(data: Path, tmp_path: Path) -> None:
    family = pb.get_model_family("yolov5n", width_multiple=0.125)
    torch.manual_seed(0)
    model = family.build(nc=1)
    pruned, _rec = pb.prune(model, "l1", level=0.6, family=family, imgsz=64, scope="all")
    # the whole set as one batch, augmentation off: every step sees the same images, so the loss falls by
    # optimisation alone (with mosaic draws, 10 steps on 8 tiny images are dominated by augmentation noise)
    no_aug = {"lr0": 0.02, "mosaic": 0.0, "scale": 0.0, "translate": 0.0, "fliplr": 0.0, "hsv_h": 0.0,
              "hsv_s": 0.0, "hsv_v": 0.0}
    res = train(pruned, family, data, _cfg(batch_size=8, nbs=8, hyp=no_aug), tmp_path, seed=0, stage="finetune")
    assert sum(p.numel() for p in res.model.parameters()) == sum(p.numel() for p in pruned.parameters())
    assert _total(res.history[-1]) < _total(res.history[0])
    reloaded = family.load(res.last_path)
    assert [p.shape for p in reloaded.parameters()] == [p.shape for p in pruned.parameters()]


def test_bn_scale_sparsity_training_through_the_trainer(data: Path, tmp_path: Path) -> None:
    family = pb.get_model_family("yolov5n", width_multiple=0.125)
    torch.manual_seed(0)
    model = family.build(nc=1)
    pruner = pb.create_pruner("bn-scale", **{"lambda": 0.01, "sparsity_epochs": 3})
    before = bn_gammas(model, "backbone", family)
    reg = pruner.regularizer(model, family)
    res = train(model, family, data, _cfg(epochs=pruner.sparsity_epochs()), tmp_path, seed=0, stage="sparsity",
                callbacks=TrainCallbacks(after_backward=[reg]))
    after = bn_gammas(res.model, "backbone", family)
    assert before.shape == after.shape
    assert np.abs(after).mean() < np.abs(before).mean()  # the L1 penalty pulls gammas towards zero
    result = pruner.prune(res.model, 0.3, PruneContext(family=family, example_inputs=family.example_inputs(64)))
    assert not any("equal" in n for n in result.record.notes)  # no ties left after sparsity training
    assert result.record.params_after < result.record.params_before
