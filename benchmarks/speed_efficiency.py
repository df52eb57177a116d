"""Efficiency of pruned YOLOv5 per runtime: speed-up / GFLOPs reduction, interleaved, with 95 % intervals.

Reproduces the table in docs/pruning.md ("Deployed speed")::

    python benchmarks/speed_efficiency.py --models yolov5n,yolov5s,yolov5m --levels 0.3,0.6,0.9 \\
        --threads 1,2 --runtimes torch,onnxruntime,openvino --cap 40 --out speed-efficiency.json

Each model (80 classes, untrained weights with BatchNorm statistics set to non-trivial values: speed does
not depend on what the weights learnt) is pruned with ``l1`` at each level (``--scope``, default
``backbone``; ``--round-to`` default none), and the baseline and its pruned variants are timed by
:func:`prunebench.speed.measure_speed` at 640 x 640, batch 1: per runtime, outputs checked against eager
PyTorch, then interleaved rounds until every speed-up's 95 % interval is within ±3 % or ``--cap`` seconds.
``efficiency`` = speed-up / (GFLOPs before / GFLOPs after): 1.0 means the model got as much faster as it
got cheaper. Rows print as a Markdown table and are saved as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any


def _models(name: str, levels: list[float], scope: str, round_to: Any) -> tuple[dict[str, Any], dict[str, float]]:
    import torch

    from prunebench.contracts import PruneContext
    from prunebench.plugins import get_catalogue

    cat = get_catalogue()
    family = cat.models.get(name)({})
    torch.manual_seed(0)
    model = family.build(nc=80).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.2, 1.5)
    ctx = PruneContext(family=family, example_inputs=family.example_inputs(640), seed=0, device="cpu", imgsz=640)
    variants: dict[str, Any] = {f"{name}/baseline": model}
    gflops: dict[str, float] = {}
    for level in levels:
        pruner = cat.pruners.get("l1")({"scope": scope, "round_to": round_to})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = pruner.prune(model, level, ctx)
        key = f"{name}/l1/{level:g}"
        if "round_to_auto" in res.record.extra:
            print(f"{key}: {res.record.extra['round_to_auto']['why']}", file=sys.stderr)
        variants[key] = res.model.eval()
        gflops[key] = res.record.gflops_after
        gflops[f"{name}/baseline"] = res.record.gflops_before
    return variants, gflops


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="yolov5n,yolov5s,yolov5m")
    p.add_argument("--levels", default="0.3,0.6,0.9")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--runtimes", default="torch,onnxruntime,openvino")
    p.add_argument("--scope", default="backbone")
    p.add_argument("--round-to", default="none", help="none, auto or an integer")
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--cap", type=float, default=40.0, help="seconds of timing rounds per model, runtime, threads")
    p.add_argument("--out", type=Path, default=Path("speed-efficiency.json"))
    a = p.parse_args(argv)
    from prunebench.speed import SpeedConfig, measure_speed
    from prunebench.speed.runtimes import RUNTIMES

    round_to: Any = None if a.round_to == "none" else (a.round_to if a.round_to == "auto" else int(a.round_to))
    runtimes = [r for r in a.runtimes.split(",") if RUNTIMES[r].unavailable("cpu") is None]
    rows: list[dict[str, Any]] = []
    t0 = time.time()
    for name in a.models.split(","):
        variants, gflops = _models(name, [float(v) for v in a.levels.split(",")], a.scope, round_to)
        for threads in (int(t) for t in a.threads.split(",")):
            cfg = SpeedConfig(runtimes=runtimes, threads=threads, imgsz=a.imgsz, time_cap_s=a.cap)
            with tempfile.TemporaryDirectory() as tmp:
                res = measure_speed(variants, f"{name}/baseline", cfg, workdir=Path(tmp))
            for r in res.rows:
                factor = gflops[f"{name}/baseline"] / gflops[r["variant"]]
                r.update(model=name, gflops=gflops[r["variant"]], gflops_factor=factor, scope=a.scope,
                         round_to=a.round_to)
                if r["status"] == "ok":
                    r.update(efficiency=r["speedup"] / factor, efficiency_lo=r["speedup_lo"] / factor,
                             efficiency_hi=r["speedup_hi"] / factor)
                rows.append(r)
                _print_row(r)
            a.out.write_text(json.dumps({"rows": rows, "seconds": time.time() - t0}, indent=1, default=str))
    return 0


def _print_row(r: dict[str, Any]) -> None:
    if r["status"] != "ok":
        print(f"| {r['variant']} | {r['runtime']} | {r['threads']} | failed: {r['error']} |", flush=True)
        return
    print(f"| {r['variant']} | {r['runtime']} | {r['threads']} | {r['memory_format']} | {r['gflops']:.2f} | "
          f"x{r['gflops_factor']:.2f} | {r['median_ms']:.1f} [{r['median_lo_ms']:.1f}, {r['median_hi_ms']:.1f}] | "
          f"x{r['speedup']:.2f} [{r['speedup_lo']:.2f}, {r['speedup_hi']:.2f}] | "
          f"{r.get('efficiency', 1.0):.2f} [{r.get('efficiency_lo', 1.0):.2f}, {r.get('efficiency_hi', 1.0):.2f}] | "
          f"{r['rounds']} | {r['max_abs_error']:.1e} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
