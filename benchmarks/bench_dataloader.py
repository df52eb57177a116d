"""Throughput (images/s) of the training loader and of one training epoch on the synthetic tea-bud set.

Loader: the trainer's training loader (mosaic, random perspective, HSV gains, flips; imgsz 320, batch 8,
hyp.scratch-low), built as the trainer builds it (label check, then the loader) and run for one epoch;
the label cache cold (removed first) or warm, the RAM image cache on (``ram``, the default) or ``off``,
in the main process (workers 0) and with 2 worker processes. Images/s = images / (build + epoch).

Epoch: one yolov5n epoch at imgsz 320, batch 8, through :func:`prunebench.engine.trainer.train`
(data, forward, loss, backward, SGD, EMA; the 8-image validation at its end is part of the timed call,
the loop-only rate from the first to the last backward is in ``extra_info``), channels_last off and on.

Run: ``python -m pytest benchmarks/bench_dataloader.py -o addopts="" --import-mode=importlib
--benchmark-group-by=group``. Results and the comparison with the official YOLOv5 loader: docs/training.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import torch

import prunebench as pb
from prunebench.data.check import check_split
from prunebench.data.loader import create_dataloader, set_epoch
from prunebench.data.synth import SynthOptions, generate_tea_bud
from prunebench.data.yolo import load_data_yaml
from prunebench.engine.config import TrainConfig
from prunebench.engine.trainer import TrainCallbacks, train

N_IMAGES, IMGSZ, BATCH = 64, 320, 8


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_tea_bud(tmp_path_factory.mktemp("bench") / "tb", SynthOptions(train=N_IMAGES, val=8,
                                                                                   imgsz=IMGSZ))


@pytest.mark.parametrize("cache", ["ram", "off"])
@pytest.mark.parametrize("labels", ["cold", "warm"])
@pytest.mark.parametrize("workers", [0, 2])
def test_train_loader(benchmark: Any, data: Path, workers: int, labels: str, cache: str) -> None:
    family = pb.get_model_family("yolov5n")
    hyp = family.default_hyp()
    label_cache = data.parent / "labels" / "train.cache"
    epoch = [0]

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        if labels == "cold":
            label_cache.unlink(missing_ok=True)
        else:
            check_split(load_data_yaml(data), "train")  # make sure it is there
        return (), {}

    def build_and_run() -> int:
        info = load_data_yaml(data)
        index = check_split(info, "train")
        loader = create_dataloader(info, "train", IMGSZ, BATCH, augment=True, hyp=hyp, workers=workers, cache=cache,
                                   index=index, log=lambda _: None)
        set_epoch(loader, epoch[0], mosaic=True)
        epoch[0] += 1
        return sum(imgs.shape[0] for imgs, *_ in loader)

    benchmark.group = f"training loader {IMGSZ}px batch {BATCH}"
    n = benchmark.pedantic(build_and_run, setup=setup, rounds=3, iterations=1, warmup_rounds=0)
    assert n == N_IMAGES
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["images_per_s"] = N_IMAGES / benchmark.stats.stats.mean


@pytest.mark.parametrize("channels_last", [False, True])
def test_train_epoch(benchmark: Any, data: Path, tmp_path: Path, channels_last: bool) -> None:
    family = pb.get_model_family("yolov5n")
    cfg = TrainConfig(epochs=1, imgsz=IMGSZ, batch_size=BATCH, nbs=64, channels_last=channels_last)
    stamps: list[float] = []
    loop_rates: list[float] = []
    runs = [0]

    def one_epoch() -> None:
        stamps.clear()
        torch.manual_seed(0)
        model = family.build(nc=1)
        runs[0] += 1
        train(model, family, data, cfg, tmp_path / str(runs[0]), seed=0, resume=False,
              callbacks=TrainCallbacks(after_backward=[lambda m: stamps.append(time.perf_counter())]))
        loop_rates.append((len(stamps) - 1) * BATCH / (stamps[-1] - stamps[0]))

    benchmark.group = f"yolov5n epoch {IMGSZ}px batch {BATCH} ({torch.get_num_threads()} threads)"
    benchmark.pedantic(one_epoch, rounds=2, iterations=1, warmup_rounds=0)
    assert len(stamps) == N_IMAGES // BATCH
    if benchmark.stats:
        benchmark.extra_info["images_per_s"] = N_IMAGES / benchmark.stats.stats.mean
        benchmark.extra_info["loop_images_per_s"] = sorted(loop_rates)[len(loop_rates) // 2]
