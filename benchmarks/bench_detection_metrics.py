"""Speed of the YOLOv5-convention metrics: per-image matching (val.py's loop) and ap_per_class.

Run: ``python -m pytest benchmarks/bench_detection_metrics.py -o addopts="" --import-mode=importlib``.
The workload is 500 images with 10 labels and 100 detections each (3 classes), in pixel space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from prunebench.metrics.detection import DetectionStats, ap_per_class

N_IMAGES, N_LABELS, N_DETS, NC = 500, 10, 100, 3


@pytest.fixture(scope="module")
def images() -> list[tuple[torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(N_IMAGES):
        xy = rng.uniform(0, 600, (N_LABELS, 2))
        wh = rng.uniform(10, 120, (N_LABELS, 2))
        cls = rng.integers(0, NC, (N_LABELS, 1))
        labels = np.concatenate([cls, xy, xy + wh], 1)
        src = rng.integers(0, N_LABELS, N_DETS)
        jitter = rng.normal(0, 0.1, (N_DETS, 4)) * np.concatenate([wh[src], wh[src]], 1)
        boxes = np.concatenate([xy[src], xy[src] + wh[src]], 1) + jitter
        conf = np.sort(rng.random(N_DETS))[::-1]
        dcls = np.where(rng.random(N_DETS) < 0.8, cls[src, 0], rng.integers(0, NC, N_DETS))
        dets = np.concatenate([boxes, conf[:, None], dcls[:, None]], 1)
        out.append((torch.tensor(dets, dtype=torch.float32), torch.tensor(labels, dtype=torch.float32)))
    return out


@pytest.mark.benchmark(group="yolov5-metrics")
def test_detection_stats_update_and_compute(benchmark: Any, images: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    def run() -> float:
        stats = DetectionStats(keep_images=False)
        for dets, labels in images:
            stats.update(dets, labels)
        return stats.compute().map50_95

    value = benchmark.pedantic(run, rounds=3, iterations=1)
    assert 0 < value < 1


@pytest.mark.benchmark(group="yolov5-metrics")
def test_ap_per_class(benchmark: Any, images: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    stats = DetectionStats(keep_images=False)
    for dets, labels in images:
        stats.update(dets, labels)
    tp, conf, pred_cls, target_cls = stats.arrays()
    res = benchmark.pedantic(ap_per_class, args=(tp, conf, pred_cls, target_cls), rounds=5, iterations=1)
    assert res.ap.shape == (NC, 10)
