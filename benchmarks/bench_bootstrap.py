"""Speed of the image bootstrap (1,000 resamples) on one CPU thread: a tea-bud-sized and a COCO-sized cell.

Run: ``OMP_NUM_THREADS=1 python -m pytest benchmarks/bench_bootstrap.py -o addopts="" --import-mode=importlib``.
Targets (issue 12): 40 images <= 2 s; 5,000 images (80 classes, COCO val's 36k labels) <= 30 s.
Environment: ``PRUNEBENCH_BENCH_COCO_DETS`` detections per COCO image (default 100).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from prunebench.stats import bootstrap_weights, detection_draws
from prunebench.stats.synthetic import synthetic_image_stats

RESAMPLES = 1000


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.mark.benchmark(group="bootstrap")
def test_bootstrap_tea_bud_cell(benchmark: Any) -> None:
    """40 images, 1 class, 2.5 labels and 300 detections per image (val.py's max_det at conf 0.001)."""
    st = synthetic_image_stats(40, nc=1, labels_per_image=2.5, dets_per_image=300.0, seed=0)
    w = bootstrap_weights(40, RESAMPLES, seed=0)
    out = benchmark.pedantic(detection_draws, args=(st, w), rounds=3, iterations=1)
    assert np.isfinite(out["map50"]).all()


@pytest.mark.benchmark(group="bootstrap")
def test_bootstrap_coco_sized_cell(benchmark: Any) -> None:
    """5,000 images, 80 classes, 7.3 labels per image, PRUNEBENCH_BENCH_COCO_DETS detections per image."""
    dets = float(os.environ.get("PRUNEBENCH_BENCH_COCO_DETS", "100"))
    st = synthetic_image_stats(5000, nc=80, labels_per_image=7.3, dets_per_image=dets, seed=0)
    w = bootstrap_weights(5000, RESAMPLES, seed=0)
    out = benchmark.pedantic(detection_draws, args=(st, w), rounds=1, iterations=1)
    assert np.isfinite(out["map50_95"]).all()
