"""Tiny parts for fast tests: a one-epoch spec on 8+4 synthetic 64 px images, BatchNorm layers as if trained."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["TINY_MODEL", "as_if_trained", "tiny_spec"]

#: YOLOv5n at a sixteenth of its width: a model that trains in a second on a CPU
TINY_MODEL: dict[str, Any] = {"name": "yolov5n", "options": {"width_multiple": 0.0625, "depth_multiple": 0.33}}


def tiny_spec(out: Path, data_dir: Path, **overrides: Any) -> dict[str, Any]:
    """A spec (as a mapping) of :data:`TINY_MODEL` trained and fine-tuned 1 epoch of 2 batches, ``overrides`` applied.

    The dataset (tea-bud-synth) is generated in ``data_dir``; results go to ``out``. Without overrides it has no
    pruners and measures params and map50.
    """
    budget = {"epochs": 1, "imgsz": 64, "batch_size": 4, "max_batches": 2, "warmup_epochs": 0.0, "cache": False}
    spec: dict[str, Any] = {
        "name": "tiny",
        "seeds": [0],
        "device": "cpu",
        "output": str(out),
        "dataset": {"name": "tea-bud-synth",
                    "options": {"train": 8, "val": 4, "imgsz": 64, "seed": 0, "out": str(data_dir)}},
        "models": [copy.deepcopy(TINY_MODEL)],
        "pruners": [],
        "train": dict(budget),
        "finetune": dict(budget),
        "evaluate": {"batch_size": 4},
        "calibration_batches": 1,
        "metrics": ["params", "map50"],
        "reporters": [],
    }
    spec.update(overrides)
    return spec


def as_if_trained(model: nn.Module, seed: int = 0, *, running_stats: bool = False) -> nn.Module:
    """Distinct BatchNorm gammas and betas (and running statistics if asked), as after training; eval mode.

    A fresh model has every gamma 1, which leaves magnitude pruners nothing to rank.
    """
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = torch.rand(m.num_features, generator=g) + 0.5
            m.bias.data = torch.rand(m.num_features, generator=g) * 0.2 - 0.1
            if running_stats:
                m.running_mean = torch.rand(m.num_features, generator=g) * 0.2 - 0.1
                m.running_var = torch.rand(m.num_features, generator=g) + 0.5
    return model.eval()
