"""Pruned vs unpruned latency per level: CPU, 2 threads, batch 1, 640 x 640, fused, inference mode.

Run: ``python -m pytest benchmarks/bench_pruned_latency.py -o addopts= --import-mode=importlib
-p no:cacheprovider --benchmark-only -s``. Environment: ``PRUNEBENCH_BENCH_MODELS`` (default
``yolov5n,yolov5s,yolov5m``), ``PRUNEBENCH_BENCH_LEVELS`` (default ``0.3,0.6,0.9``),
``PRUNEBENCH_BENCH_ROUND_TO`` (default ``none,auto``; integers allowed), ``PRUNEBENCH_BENCH_ROUNDS``
(default 7), ``PRUNEBENCH_BENCH_THREADS`` (default 2), ``PRUNEBENCH_BENCH_IMGSZ`` (default 640),
``PRUNEBENCH_BENCH_DEVICE`` (default ``cpu``; ``cuda:0`` synchronises around every pass).

Each case is timed by pytest-benchmark (the pruned model alone), and then pruned and unpruned are
timed **interleaved** (one pass of each in turn, median of each) so that load from other processes on
a shared machine hits both alike: the speed-up columns come from that A/B comparison, by wall clock
and by CPU time (the thread's CPU time with one thread: robust against other processes; the
process's with more, which then includes OpenMP spin-waiting). The table at
the end puts the measured speed-up beside the GFLOPs reduction (``ratio`` = speed-up / GFLOPs
reduction factor; 1.0 means the model got as much faster as it got cheaper).
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn

import prunebench as pb

MODELS = tuple(os.environ.get("PRUNEBENCH_BENCH_MODELS", "yolov5n,yolov5s,yolov5m").split(","))
ROUNDS = int(os.environ.get("PRUNEBENCH_BENCH_ROUNDS", "7"))
THREADS = int(os.environ.get("PRUNEBENCH_BENCH_THREADS", "2"))
IMGSZ = int(os.environ.get("PRUNEBENCH_BENCH_IMGSZ", "640"))
DEVICE = os.environ.get("PRUNEBENCH_BENCH_DEVICE", "cpu")
LEVELS = tuple(float(v) for v in os.environ.get("PRUNEBENCH_BENCH_LEVELS", "0.3,0.6,0.9").split(","))
ROUND_TO: tuple[Any, ...] = tuple(
    None if v == "none" else (v if v == "auto" else int(v))
    for v in os.environ.get("PRUNEBENCH_BENCH_ROUND_TO", "none,auto").split(","))

_rows: list[dict[str, Any]] = []


def _sync() -> None:
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def _timer(model: nn.Module, x: torch.Tensor) -> Callable[[], tuple[float, float]]:
    """One pass: (wall seconds, CPU seconds of this process; of this thread when running one thread)."""
    cpu_clock = time.thread_time if THREADS == 1 else time.process_time

    def once() -> tuple[float, float]:
        _sync()
        c, t = cpu_clock(), time.perf_counter()
        model(x)
        _sync()
        return time.perf_counter() - t, cpu_clock() - c
    return once


@pytest.fixture(scope="module", autouse=True)
def _threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)
    if _rows:
        print(f"\n\nPruned vs unpruned, l1, scope backbone, {DEVICE}, {THREADS} threads, batch 1, {IMGSZ}x{IMGSZ}, "
              f"fused, median of {ROUNDS} interleaved passes")
        print("| model | level | round_to | GFLOPs | GFLOPs reduction | unpruned ms | pruned ms | speed-up | ratio "
              "| CPU-time speed-up | ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in _rows:
            print(f"| {r['model']} | {r['level']} | {r['round_to']} | {r['gflops']:.2f} | x{r['flops_factor']:.2f} | "
                  f"{r['base_ms']:.1f} | {r['pruned_ms']:.1f} | x{r['speedup']:.2f} | {r['ratio']:.2f} | "
                  f"x{r['cpu_speedup']:.2f} | {r['cpu_ratio']:.2f} |")


@pytest.fixture(scope="module")
def baselines() -> dict[str, tuple[nn.Module, nn.Module, float]]:
    """name -> (unpruned model, its fused copy, GFLOPs); built once per module."""
    out = {}
    for name in MODELS:
        family = pb.get_model_family(name)
        model = pb.create_model(name, nc=1).eval()
        rec = pb.prune(model, "l1", level=0.0, family=family)[1]
        out[name] = (model, family.fuse(model).to(DEVICE).eval(), rec.gflops_before)
    return out


@pytest.mark.parametrize("round_to", ROUND_TO, ids=lambda r: f"round_to={r}")
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", MODELS)
def test_pruned_latency(benchmark: Any, baselines: dict[str, tuple[nn.Module, nn.Module, float]], name: str,
                        level: float, round_to: Any) -> None:
    model, base_fused, base_gflops = baselines[name]
    family = pb.get_model_family(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruned, rec = pb.prune(model, "l1", level=level, family=family, round_to=round_to)
    fused = family.fuse(pruned.eval()).to(DEVICE).eval()
    x = torch.zeros(1, 3, IMGSZ, IMGSZ, device=DEVICE)
    benchmark.group = f"{name} {DEVICE} {THREADS} threads {IMGSZ}px"
    with torch.inference_mode():
        for _ in range(2):
            fused(x)
            base_fused(x)
        benchmark.pedantic(fused, args=(x,), rounds=ROUNDS, warmup_rounds=1, iterations=1)
        pruned_t, base_t = _timer(fused, x), _timer(base_fused, x)
        a, b = [], []
        for _ in range(ROUNDS):
            a.append(base_t())
            b.append(pruned_t())
    base_ms, pruned_ms = (statistics.median(t[0] for t in a) * 1e3, statistics.median(t[0] for t in b) * 1e3)
    cpu_speedup = statistics.median(t[1] for t in a) / statistics.median(t[1] for t in b)
    factor = base_gflops / rec.gflops_after
    speedup = base_ms / pruned_ms
    row = {"model": name, "level": level, "round_to": round_to, "gflops": rec.gflops_after, "flops_factor": factor,
           "base_ms": base_ms, "pruned_ms": pruned_ms, "speedup": speedup, "ratio": speedup / factor,
           "cpu_speedup": cpu_speedup, "cpu_ratio": cpu_speedup / factor,
           "params": rec.params_after, "device": DEVICE, "threads": THREADS, "imgsz": IMGSZ}
    benchmark.extra_info.update(row)
    _rows.append(row)
    assert rec.gflops_after < base_gflops
