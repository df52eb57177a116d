"""Forward latency of the fused YOLOv5n/s/m (batch 1, 640x640, CPU, inference mode), with pytest-benchmark.

Run: ``pytest benchmarks/bench_models.py --benchmark-enable`` (``PRUNEBENCH_BENCH_THREADS`` sets the torch
thread count, default 2 as in the reference measurements). Also times NMS on a worst-case input and the
GFLOPs count, the two other model-side costs an evaluation pays.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import pytest
import torch

from prunebench.metrics.complexity import gflops
from prunebench.models.nms import non_max_suppression
from prunebench.models.yolov5.yolo import build_yolov5, fuse_model

THREADS = int(os.environ.get("PRUNEBENCH_BENCH_THREADS", "2"))


def _env(benchmark: Any, **extra: Any) -> None:
    benchmark.extra_info.update({"device": "cpu", "threads": torch.get_num_threads(), "torch": torch.__version__,
                                 "cpu": platform.processor() or platform.machine(), **extra})


@pytest.mark.parametrize("size", ["n", "s", "m"])
def test_forward_latency_fused_640(benchmark: Any, size: str) -> None:
    torch.set_num_threads(THREADS)
    model = fuse_model(build_yolov5(size, 80)).eval()
    x = torch.zeros(1, 3, 640, 640)

    def forward() -> torch.Tensor:
        with torch.inference_mode():
            return model(x)[0]

    for _ in range(2):  # warm-up outside the timed rounds
        forward()
    _env(benchmark, model=f"yolov5{size}", imgsz=640, batch=1, fused=True)
    out = benchmark.pedantic(forward, rounds=5, iterations=1, warmup_rounds=1)
    assert out.shape == (1, 25200, 85)


def test_nms_worst_case(benchmark: Any) -> None:
    """30,000 candidates of 80 classes (an untrained model at conf_thres 0.001)."""
    torch.set_num_threads(THREADS)
    g = torch.Generator().manual_seed(0)
    n = 25200
    pred = torch.cat((torch.rand(1, n, 2, generator=g) * 640, torch.rand(1, n, 2, generator=g) * 200 + 4,
                      torch.rand(1, n, 81, generator=g)), 2)
    _env(benchmark, candidates=n, nc=80, multi_label=True)
    out = benchmark.pedantic(lambda: non_max_suppression(pred, 0.001, 0.6, multi_label=True, max_det=300),
                             rounds=3, iterations=1, warmup_rounds=1)
    assert out[0].shape[0] == 300


def test_gflops_count_yolov5s(benchmark: Any) -> None:
    torch.set_num_threads(THREADS)
    model = build_yolov5("s", 80)
    _env(benchmark, model="yolov5s")
    value = benchmark.pedantic(lambda: gflops(model, 640), rounds=3, iterations=1)
    assert abs(value - 16.6253) < 0.05
