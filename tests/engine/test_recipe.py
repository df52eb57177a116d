"""A family's training recipe: YOLOv5's train.py, YOLOv8's Ultralytics 8.4 rules, spec settings win."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

import prunebench as pb
from prunebench.engine.config import TrainConfig
from prunebench.engine.recipe import resolve_recipe
from prunebench.engine.trainer import results_columns, train


def _cfg(**kw: object) -> TrainConfig:
    return TrainConfig.model_validate({"epochs": 10, "batch_size": 16, **kw})


def test_yolov5_recipe_is_train_py() -> None:
    fam = pb.get_model_family("yolov5n")
    r = resolve_recipe(fam, _cfg(), fam.default_hyp(), nc=1, images=100)
    assert (r.optimizer, r.lr0, r.momentum, r.warmup_bias_lr) == ("SGD", 0.01, 0.937, 0.1)
    assert (r.warmup_min_iters, r.close_mosaic, r.fitness, r.warmup_betas) == (100, 0, "map50-weighted", True)


@pytest.mark.parametrize(("nc", "lr"), [(1, 0.002), (80, 0.000119)])
def test_yolov8_auto_optimizer_for_short_runs(nc: int, lr: float) -> None:
    fam = pb.get_model_family("yolov8n")
    r = resolve_recipe(fam, _cfg(), fam.default_hyp(), nc=nc, images=1000)
    assert (r.optimizer, r.lr0, r.momentum, r.warmup_bias_lr) == ("AdamW", lr, 0.9, 0.0)
    assert r.warmup_momentum_to == 0.937  # the warm-up still ramps to args.momentum
    assert (r.warmup_min_iters, r.close_mosaic, r.fitness, r.warmup_betas) == (0, 10, "map50-95", False)


def test_yolov8_auto_optimizer_for_long_runs() -> None:
    fam = pb.get_model_family("yolov8n")
    r = resolve_recipe(fam, _cfg(epochs=100), fam.default_hyp(), nc=1, images=6400 + 1)  # 101 x 100 > 10000
    assert (r.optimizer, r.lr0, r.momentum) == ("SGD", 0.01, 0.9)


def test_spec_settings_override_the_recipe() -> None:
    fam = pb.get_model_family("yolov8n")
    cfg = _cfg(optimizer="SGD", close_mosaic=2, warmup_min_iters=5, fitness="map50-weighted")
    r = resolve_recipe(fam, cfg, {**fam.default_hyp(), "lr0": 0.02}, nc=1, images=100)
    assert (r.optimizer, r.lr0, r.close_mosaic, r.warmup_min_iters, r.fitness) == ("SGD", 0.02, 2, 5, "map50-weighted")
    v5 = pb.get_model_family("yolov5n")
    assert resolve_recipe(v5, _cfg(optimizer="auto"), v5.default_hyp(), nc=3, images=100).lr0 == round(0.01 / 7, 6)


def test_yolov8_trains_with_its_recipe(tiny_data: Path, tmp_path: Path) -> None:
    fam = pb.get_model_family("yolov8n", width_multiple=0.0625)
    torch.manual_seed(0)
    cfg = TrainConfig.model_validate({"epochs": 2, "batch_size": 4, "imgsz": 64, "nbs": 4, "workers": 0,
                                      "warmup_epochs": 1.0})
    res = train(fam.build(nc=1), fam, tiny_data, cfg, tmp_path, seed=0)
    with open(tmp_path / "results.csv", newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == results_columns(("box", "cls", "dfl"))
    row = res.history[-1]
    assert row["train/dfl_loss"] > 0
    assert row["val/cls_loss"] > 0
    assert res.best_fitness == pytest.approx(max(r["metrics/mAP_0.5:0.95"] for r in res.history))
    assert fam.load(res.best_path).nc == 1
