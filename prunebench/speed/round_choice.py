"""``round_to: auto`` from measurement: the channel multiple that runs a plan's GFLOPs fastest, timed whole.

The starting point (the *prior*) is the CPU's fp32 SIMD width in channels
(:func:`~prunebench.pruning.options.cpu_block`: 16 with AVX-512, else 8), the block oneDNN, ONNX
Runtime's NCHWc kernels and OpenVINO lay channels out in. Each candidate multiple of :data:`CANDIDATES`
rounds the level's planned channel counts (groups smaller than one multiple keep exact counts); every
distinct plan is built as a real pruned copy of the model and the copies are **timed whole, interleaved**
in one process on ``latency_runtime`` / ``latency_threads`` / ``latency_imgsz``, until the ratios are
within ±2 % or :data:`TIME_CAP_S`.

What is compared is a plan's *efficiency*, speed-up ÷ GFLOPs reduction factor, which for two plans of the
same model is ``(ms_prior / ms_c) * (GFLOPs_c / GFLOPs_prior)``: GFLOPs per millisecond, how well the
runtime uses the channels it is given. A multiple that keeps channels the runtime computes anyway
(padding) keeps accuracy at no cost in time and scores higher. A candidate replaces the prior only when
the 95 % interval of that ratio lies entirely above 1; among several such, the best estimate wins.

Why whole models and not the per-layer latency table (:mod:`prunebench.speed.latency_table`, which
``target: latency`` plans with): a convolution timed alone pays the layout reorders around it, and the
table's predictions for different multiples were within its noise of each other (yolov5n@0.3, two
builds on the same idle machine: 0.170 / 0.168 / 0.149 / 0.172 and 0.282 / 0.288 / 0.366 / 0.399 for
1 / 4 / 8 / 16), so a choice read from it changed from run to run, and with it a fresh run folder's
channel counts and accuracy numbers. The whole-model comparison carries its interval, and the decision
is cached in the run folder (``cache/round-*.json``), so a rerun, a resumed run and every executor reuse
it. The record says what was chosen, why, and every candidate's measured milliseconds and GFLOPs.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.files import write_text_atomic

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import PruneContext
    from prunebench.pruning.options import PrunerOptions

__all__ = ["CANDIDATES", "PRECISION", "TIME_CAP_S", "choose_round_to", "pick_multiple"]

#: channel multiples ``auto`` chooses between (1: exact counts)
CANDIDATES = (1, 4, 8, 16)
#: the timing stops when every ratio's 95 % interval is within this fraction of its estimate ...
PRECISION = 0.02
#: ... or after this many seconds of interleaved rounds (at least 8 rounds always run)
TIME_CAP_S = 12.0

Counts = Mapping[str, int]


def choose_round_to(options: PrunerOptions, context: PruneContext, example: Any,
                    plan: Callable[[int | None, int], Counts], build: Callable[[Counts], nn.Module],
                    gflops_of: Callable[[Counts], float]) -> tuple[int | None, int, dict[str, Any]]:
    """The measured ``round_to`` for ``auto`` on CPU: ``(multiple or None, round_min, record)``.

    ``plan(round_to, round_min)`` gives the kept channels per group, ``build(counts)`` a pruned copy of
    the model with those counts, ``gflops_of(counts)`` their GFLOPs.
    """
    from prunebench.pruning.options import AUTO_MIN_BLOCKS, cpu_block

    prior = cpu_block()
    plans = {m: dict(plan(m if m > 1 else None, AUTO_MIN_BLOCKS * m if m > 1 else 0))
             for m in sorted({*CANDIDATES, prior})}
    gflops = {m: float(gflops_of(c)) for m, c in plans.items()}
    same_as: dict[int, int] = {}  # a candidate whose plan equals a smaller one's needs no timing of its own
    for m in sorted(plans):
        same_as[m] = next((k for k in sorted(plans) if k < m and plans[k] == plans[m]), m)
    side = int(options.latency_imgsz)
    cache = getattr(context, "cache_dir", None)
    key = _key(plans, options, int(example.shape[1]))
    path = Path(cache) / f"round-{options.latency_runtime}-t{options.latency_threads}-{side}-{key}.json" \
        if cache is not None else None
    measured = _read(path)
    if measured is None:
        distinct = sorted({same_as[m] for m in plans})  # the prior's plan is among them
        measured = _time_plans({m: build(plans[m]) for m in distinct}, str(same_as[prior]), options,
                               int(example.shape[1]))
        if path is not None:
            _write(path, measured)
    base = str(same_as[prior])
    rows: dict[str, dict[str, Any]] = {}
    for m in sorted(plans):
        t = measured["models"][str(same_as[m])]
        factor = gflops[m] / gflops[prior] if gflops[prior] > 0 else 1.0
        ratio = measured["ratio"].get(str(same_as[m])) if str(same_as[m]) != base else None
        lo, est, hi = (1.0, 1.0, 1.0) if ratio is None else (ratio["low"], ratio["estimate"], ratio["high"])
        rows[str(m)] = {"median_ms": t["median_ms"], "gflops": gflops[m], "same_plan_as": same_as[m],
                        "gain": est * factor, "gain_low": lo * factor, "gain_high": hi * factor}
    best = pick_multiple(rows, prior)
    shown = ", ".join(f"{k}: {v['median_ms']:.1f} ms / {v['gflops']:.3f} GFLOPs" for k, v in rows.items())
    if best == prior:
        reason = f"the CPU's SIMD width; no candidate clearly more efficient (95 % interval above x1.00 vs {prior})"
    else:
        r = rows[str(best)]
        reason = (f"clearly more efficient than the CPU's SIMD width {prior}: x{r['gain']:.2f} "
                  f"[{r['gain_low']:.2f}, {r['gain_high']:.2f}] GFLOPs per ms")
    why = (f"round_to auto: multiple {best} chosen on {options.latency_runtime} ({options.latency_threads} threads, "
           f"{side}px, whole pruned models timed interleaved, {measured['rounds']} rounds), {reason}: {shown}")
    record = {"chosen": best, "prior": prior, "candidates": rows, "runtime": options.latency_runtime,
              "threads": options.latency_threads, "imgsz": side, "rounds": measured["rounds"],
              "stopped_by": measured["stopped_by"], "cached": measured.get("cached", False), "key": key, "why": why}
    return (best if best > 1 else None), (AUTO_MIN_BLOCKS * best if best > 1 else 0), record


def pick_multiple(rows: Mapping[str, Mapping[str, Any]], prior: int) -> int:
    """The prior unless a candidate's efficiency gain over it has its whole 95 % interval above 1 (then the
    candidate with the best estimate among those; equal estimates go to the smaller multiple)."""
    better = [(float(r["gain"]), -int(m)) for m, r in rows.items()
              if int(m) != prior and r.get("gain_low") is not None and float(r["gain_low"]) > 1.0]
    return -max(better)[1] if better else prior


def _key(plans: Mapping[int, Counts], options: PrunerOptions, in_channels: int) -> str:
    from prunebench.speed.runtimes import cpu_name, get_runtime

    payload = {"plans": {str(m): dict(sorted(c.items())) for m, c in sorted(plans.items())},
               "runtime": options.latency_runtime, "version": get_runtime(options.latency_runtime).version(),
               "threads": options.latency_threads, "imgsz": options.latency_imgsz, "cpu": cpu_name(),
               "in_channels": in_channels, "v": 1}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _read(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and {"models", "ratio", "rounds"} <= set(data):
            return {**data, "cached": True}
    except (OSError, ValueError):
        pass  # unreadable: measure again
    return None


def _write(path: Path, measured: Mapping[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(measured, indent=1, sort_keys=True))
    except OSError:
        pass  # a read-only cache folder only costs the measurement next time


def _time_plans(models: Mapping[int, nn.Module], baseline: str, options: PrunerOptions,
                in_channels: int) -> dict[str, Any]:
    """Time the pruned copies interleaved; ratios are ``ms(baseline) / ms(candidate)`` per round."""
    import torch

    from prunebench.metrics.latency import fixed_threads
    from prunebench.speed.runtimes import ExportCache, get_runtime
    from prunebench.speed.timer import time_interleaved

    rt = get_runtime(options.latency_runtime)
    side = int(options.latency_imgsz)
    x = torch.rand(1, in_channels, side, side, generator=torch.Generator().manual_seed(0))
    with fixed_threads(int(options.latency_threads)) as threads, \
            tempfile.TemporaryDirectory(prefix="prunebench-round-") as tmp:
        exports = ExportCache(Path(tmp))
        timers = {str(m): rt.prepare(f"round{m}", model.eval(), x, device="cpu", threads=threads,
                                     exports=exports).time_once for m, model in models.items()}
        timing = time_interleaved(timers, baseline, warmup=2, min_rounds=8, time_cap_s=TIME_CAP_S,
                                  precision=PRECISION)
    return {"models": {k: {"median_ms": iv.estimate, "low_ms": iv.low, "high_ms": iv.high}
                       for k, iv in timing.latency.items()},
            "ratio": {k: {"estimate": iv.estimate, "low": iv.low, "high": iv.high}
                      for k, iv in timing.speedup.items()},
            "baseline": baseline, "rounds": timing.rounds, "stopped_by": timing.stopped_by}
