"""Throughput-only loader fields: they never change a training's numbers, so keys may leave them out."""

from __future__ import annotations

from pathlib import Path

import torch

from prunebench.contracts import ModelFamily
from prunebench.engine.config import TrainConfig
from prunebench.engine.trainer import train


def test_result_and_throughput_dumps_split_the_config() -> None:
    cfg = TrainConfig.model_validate({"epochs": 2, "workers": 2, "cache": "off"})
    result, speed = cfg.result_dump(), cfg.throughput_dump()
    assert set(speed) == TrainConfig.THROUGHPUT_FIELDS
    assert not set(result) & set(speed)
    assert set(result) | set(speed) == set(cfg.model_dump())
    assert TrainConfig.model_validate({**result, **speed}) == cfg


def test_throughput_fields_leave_the_trained_weights_bit_identical(tiny_family: ModelFamily, tiny_data: Path,
                                                                  tmp_path: Path) -> None:
    base = {"epochs": 1, "batch_size": 4, "imgsz": 64, "nbs": 4, "warmup_epochs": 0.0}
    states = []
    for i, speed in enumerate([{"workers": 0, "cache": "ram"},
                               {"workers": 2, "cache": "off", "prefetch": 1, "persistent_workers": False,
                                "pin_memory": False}]):
        torch.manual_seed(0)
        model = tiny_family.build(nc=1)
        res = train(model, tiny_family, tiny_data, TrainConfig.model_validate({**base, **speed}),
                    tmp_path / str(i), seed=3)
        states.append({k: v.clone() for k, v in res.model.state_dict().items()})
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
