"""Data-loader throughput (images/s) on the synthetic tea-bud set: training (mosaic + HSV + flip) and
validation (letterbox, rectangular batches), RAM-cached, in the main process and with 2 workers.

Run: ``python -m pytest benchmarks/bench_dataloader.py --benchmark-enable --benchmark-group-by=group``.
Images/s = images per epoch / the benchmark's mean time. Results: docs/data.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prunebench.data.loader import create_dataloader, set_epoch
from prunebench.data.synth import SynthOptions, generate_tea_bud

N_IMAGES, IMGSZ, BATCH = 64, 320, 16


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_tea_bud(tmp_path_factory.mktemp("bench") / "tb", SynthOptions(train=N_IMAGES, val=N_IMAGES,
                                                                                   imgsz=IMGSZ))


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("mode", ["train", "val"])
def test_loader_throughput(benchmark: Any, data: Path, mode: str, workers: int) -> None:
    train = mode == "train"
    loader = create_dataloader(data, mode, IMGSZ, BATCH, augment=train, rect=not train, workers=workers,
                               cache=True)
    epoch = [0]

    def one_epoch() -> int:
        set_epoch(loader, epoch[0])
        epoch[0] += 1
        return sum(imgs.shape[0] for imgs, *_ in loader)

    benchmark.group = f"data loader {IMGSZ}px"
    n = benchmark.pedantic(one_epoch, rounds=3, iterations=1, warmup_rounds=0)
    assert n == N_IMAGES
    benchmark.extra_info["images_per_s"] = N_IMAGES / benchmark.stats.stats.mean
