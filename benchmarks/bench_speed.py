"""Pruned-model efficiency per runtime, tracked with pytest-benchmark: one case per runtime x model x level.

Run: ``python -m pytest benchmarks/bench_speed.py -o addopts= --import-mode=importlib -p no:cacheprovider
--benchmark-only -s``. Environment: ``PRUNEBENCH_BENCH_MODELS`` (default ``yolov5n``),
``PRUNEBENCH_BENCH_LEVELS`` (default ``0.3``), ``PRUNEBENCH_BENCH_RUNTIMES`` (default: every installed
CPU runtime), ``PRUNEBENCH_BENCH_THREADS`` (default 2), ``PRUNEBENCH_BENCH_IMGSZ`` (default 640),
``PRUNEBENCH_BENCH_ROUND_TO`` (default ``auto``, the deployment setting; ``none`` for exact counts).

The target: no pruned model slower than its baseline, i.e. the speed-up's 95 % interval lies above 1
(``round_to: auto``; with exact counts yolov5n@0.3 is slower on ONNX Runtime, docs/pruning.md).

pytest-benchmark times one pass of the pruned model on the runtime (its history tracks the pruned
model's latency across commits); the interleaved speed-up against the unpruned model, with its 95 %
interval, and speed-up / GFLOPs reduction go into ``benchmark.extra_info`` and print at the end. The full
table of docs/pruning.md comes from ``benchmarks/speed_efficiency.py``.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from prunebench.speed import SpeedConfig, measure_speed
from prunebench.speed.runtimes import RUNTIMES, ExportCache, get_runtime

MODELS = tuple(os.environ.get("PRUNEBENCH_BENCH_MODELS", "yolov5n").split(","))
LEVELS = tuple(float(v) for v in os.environ.get("PRUNEBENCH_BENCH_LEVELS", "0.3").split(","))
THREADS = int(os.environ.get("PRUNEBENCH_BENCH_THREADS", "2"))
IMGSZ = int(os.environ.get("PRUNEBENCH_BENCH_IMGSZ", "640"))
_RT = os.environ.get("PRUNEBENCH_BENCH_ROUND_TO", "auto")
ROUND_TO: Any = None if _RT == "none" else (_RT if _RT == "auto" else int(_RT))
RUNTIME_NAMES = tuple(os.environ.get("PRUNEBENCH_BENCH_RUNTIMES", ",".join(
    n for n, rt in RUNTIMES.items() if rt.unavailable("cpu") is None)).split(","))

_rows: list[dict[str, Any]] = []
_models: dict[tuple[str, float], tuple[Any, Any, float]] = {}


def _pair(name: str, level: float) -> tuple[Any, Any, float]:
    if (name, level) not in _models:
        from prunebench.contracts import PruneContext
        from prunebench.plugins import get_catalogue

        cat = get_catalogue()
        family = cat.models.get(name)({})
        torch.manual_seed(0)
        base = family.build(nc=80).eval()
        ctx = PruneContext(family=family, example_inputs=family.example_inputs(640), seed=0, device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = cat.pruners.get("l1")({"scope": "backbone", "round_to": ROUND_TO}).prune(base, level, ctx)
        _models[(name, level)] = (base, res.model.eval(), res.record.gflops_before / res.record.gflops_after)
    return _models[(name, level)]


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    if _rows:
        print(f"\n\nl1 backbone, round_to {_RT}, cpu, {THREADS} threads, batch 1, {IMGSZ}x{IMGSZ}, interleaved")
        print("| model | level | runtime | pruned ms | speed-up [95% CI] | GFLOPs cut | speed-up / GFLOPs cut |")
        print("|---|---|---|---|---|---|---|")
        for r in _rows:
            print(f"| {r['model']} | {r['level']} | {r['runtime']} | {r['ms']:.1f} | x{r['speedup']:.2f} "
                  f"[{r['lo']:.2f}, {r['hi']:.2f}] | x{r['factor']:.2f} | {r['efficiency']:.2f} |")


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("runtime", RUNTIME_NAMES)
def test_pruned_efficiency(benchmark: Any, runtime: str, model: str, level: float) -> None:
    base, pruned, factor = _pair(model, level)
    cfg = SpeedConfig(runtimes=[runtime], threads=THREADS, imgsz=IMGSZ, time_cap_s=30)
    with tempfile.TemporaryDirectory() as tmp:
        res = measure_speed({"base": base, "pruned": pruned}, "base", cfg, workdir=Path(tmp))
        row = res.row(runtime, "pruned")
        assert row["status"] == "ok", row["error"]
        x = torch.rand(1, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(0))
        before = torch.get_num_threads()
        torch.set_num_threads(THREADS)
        try:
            prepared = get_runtime(runtime).prepare("pruned", pruned, x, device="cpu", threads=THREADS,
                                                    exports=ExportCache(Path(tmp)))
            benchmark.pedantic(prepared.time_once, rounds=5, warmup_rounds=1)
        finally:
            torch.set_num_threads(before)
    efficiency = row["speedup"] / factor
    benchmark.extra_info.update(speedup=row["speedup"], speedup_lo=row["speedup_lo"], speedup_hi=row["speedup_hi"],
                                gflops_factor=factor, efficiency=efficiency, threads=THREADS, imgsz=IMGSZ)
    _rows.append({"model": model, "level": level, "runtime": runtime, "ms": row["median_ms"],
                  "speedup": row["speedup"], "lo": row["speedup_lo"], "hi": row["speedup_hi"], "factor": factor,
                  "efficiency": efficiency})
    assert row["speedup_lo"] > 1.0, (f"{model}@{level} on {runtime} is not faster than its baseline: "
                                     f"x{row['speedup']:.2f} [{row['speedup_lo']:.2f}, {row['speedup_hi']:.2f}]")
