"""Speed of one training step (forward, loss, backward, SGD step) for yolov5n/s and yolov8n/s.

Run: ``python -m pytest benchmarks/bench_train.py --benchmark-enable --benchmark-group-by=group``.
Batch 16 at 320x320 on synthetic tea-bud batches (mosaic-augmented, as the trainer sees them), one
class. The thread count is stated in the benchmark's extra info. Results: docs/training.md.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import prunebench as pb
from prunebench.data.loader import create_dataloader, set_epoch
from prunebench.data.synth import SynthOptions, generate_tea_bud
from prunebench.engine.optim import build_optimizer

BATCH, IMGSZ = 16, 320


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.Tensor, torch.Tensor]:
    data = generate_tea_bud(tmp_path_factory.mktemp("bench") / "tb", SynthOptions(train=BATCH, val=2, imgsz=IMGSZ))
    loader = create_dataloader(data, "train", IMGSZ, BATCH, augment=True)
    set_epoch(loader, 0)
    imgs, targets, _, _ = next(iter(loader))
    return imgs.float() / 255, targets


@pytest.mark.parametrize("name", ["yolov5n", "yolov5s", "yolov8n", "yolov8s"])
def test_train_step(benchmark: Any, batch: tuple[torch.Tensor, torch.Tensor], name: str) -> None:
    family = pb.get_model_family(name)
    torch.manual_seed(0)
    model = family.build(nc=1).train()
    loss_fn = family.loss(model, {**family.default_hyp(), "imgsz": IMGSZ})
    opt = build_optimizer(model, "SGD", 0.01, 0.937, 5e-4)
    imgs, targets = batch

    def step() -> float:
        loss, _ = loss_fn(model(imgs), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    benchmark.group = f"train step b{BATCH} {IMGSZ}px"
    benchmark.extra_info.update({"threads": torch.get_num_threads(), "batch": BATCH, "imgsz": IMGSZ,
                                 "images_per_step": BATCH})
    loss = benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)
    assert loss == loss  # finite
