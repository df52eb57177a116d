"""The trainer and validator read the family's loss part names: no YOLOv5 three-part assumption."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, ClassVar

import torch

from prunebench.engine.config import TrainConfig
from prunebench.engine.trainer import results_columns, train
from prunebench.models.yolov5.family import YOLOv5n


class _TwoPartFamily(YOLOv5n):
    """yolov5n whose loss reports two parts (box, obj+cls): a family with other loss names."""

    name: ClassVar[str] = "two-part-test"
    loss_names: ClassVar[tuple[str, ...]] = ("box", "rest")

    def loss(self, model: Any, hyp: Any) -> Any:
        inner = super().loss(model, hyp)

        def fn(outputs: Any, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            total, items = inner(outputs, targets)
            return total, torch.stack((items[0], items[1] + items[2]))

        return fn


def test_results_columns_follow_the_loss_names() -> None:
    cols = results_columns(("box", "cls", "dfl"))
    assert cols[1:4] == ("train/box_loss", "train/cls_loss", "train/dfl_loss")
    assert cols[8:11] == ("val/box_loss", "val/cls_loss", "val/dfl_loss")


def test_a_two_part_family_trains_and_writes_its_columns(tiny_data: Path, tmp_path: Path) -> None:
    family = _TwoPartFamily({"width_multiple": 0.0625})
    torch.manual_seed(0)
    cfg = TrainConfig.model_validate({"epochs": 1, "batch_size": 4, "imgsz": 64, "nbs": 4, "workers": 0,
                                      "warmup_epochs": 0.0})
    res = train(family.build(nc=1), family, tiny_data, cfg, tmp_path, seed=0)
    row = res.history[-1]
    assert {"train/box_loss", "train/rest_loss", "val/box_loss", "val/rest_loss"} <= set(row)
    assert "train/obj_loss" not in row
    assert row["val/rest_loss"] > 0
    with open(tmp_path / "results.csv", newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == results_columns(("box", "rest"))
