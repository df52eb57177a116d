"""Measure a baseline and its pruned variants on every requested runtime: checked, interleaved, with intervals.

:func:`measure_speed` is the speed stage's work. For each runtime in turn it prepares every variant
(fused, exported where needed), checks each one's output against eager PyTorch fp32 on the same input
(a mismatch beyond the tolerance fails that variant's figure on that runtime, loudly: a
:class:`SpeedWarning` and a row with ``status: failed``), then times all checked variants interleaved
(:func:`~prunebench.speed.timer.time_interleaved`).

Rows (``SpeedResult.rows``, one per runtime x variant; the speed stage adds ``model`` and ``seed`` and
stores them as the ``speed`` table, so a row is keyed by (model, seed, runtime, variant))::

    variant          str    the cell key of the variant (e.g. "yolov5n/l1/0.3/s0"); the baseline's too
    baseline         str    the cell key of the baseline every speed-up is relative to
    is_baseline      bool
    runtime          str    torch | torch-fp16 | onnxruntime | onnxruntime-tensorrt | openvino
    runtime_version  str    version of the runtime's package
    status           str    "ok", or "failed" (then ``error`` says why and the timing fields are None)
    error            str | None
    median_ms        float  median latency of one batch (ms) over the interleaved rounds
    median_lo_ms, median_hi_ms   float  its distribution-free 95 % interval (order statistics)
    speedup          float  median over rounds of (baseline ms / variant ms) in the same round; 1 for the baseline
    speedup_lo, speedup_hi       float  its 95 % interval (order statistics of the log-ratios); a variant
                                        is "slower than unpruned" only when speedup_hi < 1
    coverage         float  exact coverage of the intervals (>= 0.95 from 6 rounds; smaller below)
    rounds           int    interleaved rounds timed (the same for every variant of a runtime)
    converged        bool   every ratio's interval got within ``precision``; False: stopped by the time cap
    stopped_by       str    "precision" | "time cap" | "max rounds"
    throughput_ips   float  images per second at ``batch``: batch * 1000 / median_ms
    max_abs_error    float  max |runtime output - eager fp32 output| on the same input
    max_rel_error    float  max_abs_error / max(1, max |eager output|)
    tolerance        float  the absolute part of the check's tolerance
    cpu, threads, imgsz, batch, dtype, memory_format, runtime_device   the conditions of the figure
    memory_format_reason  str  how the torch memory format was chosen (measured, or set in the spec)
    details          dict   runtime specifics (provider, the contiguous/channels_last probe medians, ...)
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.speed.config import SpeedConfig
from prunebench.speed.runtimes import ExportCache, Prepared, check_runtimes, cpu_name, eager_reference, get_runtime
from prunebench.speed.timer import time_interleaved

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["SpeedResult", "SpeedWarning", "measure_speed"]


class SpeedWarning(UserWarning):
    """A runtime's figure could not be given (its output differs from eager PyTorch, or it failed)."""


@dataclass
class SpeedResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, runtime: str, variant: str) -> dict[str, Any]:
        for r in self.rows:
            if r["runtime"] == runtime and r["variant"] == variant:
                return r
        raise KeyError((runtime, variant))


_TIMING_FIELDS = ("median_ms", "median_lo_ms", "median_hi_ms", "speedup", "speedup_lo", "speedup_hi", "coverage",
                  "rounds", "converged", "stopped_by", "throughput_ips")


def _compare(out: Any, ref: Any) -> tuple[float, float]:
    import numpy as np

    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if out.shape != ref.shape:
        raise ValueError(f"output shape {tuple(out.shape)} differs from eager PyTorch's {tuple(ref.shape)}")
    if not np.all(np.isfinite(out)):
        return float("inf"), float("inf")
    err = float(np.max(np.abs(out - ref))) if out.size else 0.0
    return err, err / max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)


def measure_speed(variants: Mapping[str, nn.Module], baseline: str, config: SpeedConfig | None = None, *,
                  device: str = "cpu", workdir: Path, in_channels: int = 3,
                  log: Callable[[str], None] | None = None) -> SpeedResult:
    """Check and time ``variants`` (name -> model, the baseline among them) on every runtime of ``config``.

    ``workdir`` receives the ONNX exports. Torch's thread count is fixed to ``config.threads`` for the
    measurement and restored afterwards. Raises :class:`UsageError` when a runtime is not installed.
    """
    import torch

    from prunebench.metrics.latency import fixed_threads

    cfg = config or SpeedConfig()
    if baseline not in variants:
        raise ValueError(f"baseline {baseline!r} is not among the variants {sorted(variants)}")
    check_runtimes(cfg.runtimes, device)
    say = log or (lambda _msg: None)
    x = torch.rand(cfg.batch, in_channels, cfg.imgsz, cfg.imgsz, generator=torch.Generator().manual_seed(0))
    exports = ExportCache(Path(workdir) / "onnx")
    result = SpeedResult()
    with fixed_threads(cfg.threads) as threads:
        refs = {name: eager_reference(m, x) for name, m in variants.items()}
        common = {"baseline": baseline, "cpu": cpu_name(), "threads": threads, "imgsz": cfg.imgsz,
                  "batch": cfg.batch}
        if str(device).startswith("cuda"):
            common["gpu"] = torch.cuda.get_device_name(torch.device(device))
        for rt_name in cfg.runtimes:
            result.rows.extend(_one_runtime(rt_name, variants, baseline, cfg, x, refs, device, threads, exports,
                                            common, result.notes, say))
            gc.collect()
    return result


def _one_runtime(rt_name: str, variants: Mapping[str, nn.Module], baseline: str, cfg: SpeedConfig, x: Any,
                 refs: Mapping[str, Any], device: str, threads: int, exports: ExportCache,
                 common: Mapping[str, Any], notes: list[str], say: Callable[[str], None]) -> list[dict[str, Any]]:
    rt = get_runtime(rt_name)
    atol, rtol = rt.tolerance(cfg.tolerance, device)
    rows: dict[str, dict[str, Any]] = {}
    ready: dict[str, Prepared] = {}
    for name, model in variants.items():
        row: dict[str, Any] = {**common, "variant": name, "is_baseline": name == baseline, "runtime": rt_name,
                               "runtime_version": rt.version(), "status": "ok", "error": None,
                               "dtype": rt.dtype, "tolerance": atol, "max_abs_error": None,
                               "max_rel_error": None, **dict.fromkeys(_TIMING_FIELDS)}
        rows[name] = row
        try:
            say(f"{rt_name}: preparing {name}")
            prepared = rt.prepare(name, model, x, device=device, threads=threads, exports=exports,
                                  memory_format=cfg.memory_format)
            err, rel = _compare(prepared.output(), refs[name])
        except Exception as exc:  # a runtime that cannot take this model fails its figure, not the stage
            _fail(row, f"{type(exc).__name__}: {exc}", notes)
            continue
        info = dict(prepared.info)
        row.update(max_abs_error=err, max_rel_error=rel, dtype=info.pop("dtype", rt.dtype),
                   memory_format=info.pop("memory_format", None), runtime_device=info.pop("runtime_device", device),
                   memory_format_reason=info.pop("memory_format_reason", None), details=info)
        scale = err / rel if rel else 1.0
        if not err <= atol + rtol * scale:
            _fail(row, f"output differs from eager PyTorch fp32 by {err:.3g} (allowed {atol:g} + {rtol:g} x "
                       f"{scale:.3g}): this runtime's figure is not valid for this model", notes)
            continue
        ready[name] = prepared
    if baseline not in ready:
        for row in rows.values():
            if row["status"] == "ok":
                _fail(row, f"the baseline failed on {rt_name}, so no speed-up can be given", notes)
        return list(rows.values())
    say(f"{rt_name}: timing {len(ready)} models interleaved")
    timing = time_interleaved({n: p.time_once for n, p in ready.items()}, baseline, warmup=cfg.warmup,
                              min_rounds=cfg.min_rounds, max_rounds=cfg.max_rounds, time_cap_s=cfg.time_cap_s,
                              precision=cfg.precision)
    if not timing.converged:
        notes.append(f"{rt_name}: stopped by the {timing.stopped_by} after {timing.rounds} rounds; some speed-up "
                     f"intervals are wider than ±{cfg.precision:.0%}")
    for name in ready:
        lat = timing.latency[name]
        sp = timing.speedup.get(name)
        rows[name].update(median_ms=lat.estimate, median_lo_ms=lat.low, median_hi_ms=lat.high,
                          speedup=sp.estimate if sp else 1.0, speedup_lo=sp.low if sp else 1.0,
                          speedup_hi=sp.high if sp else 1.0, coverage=lat.coverage, rounds=timing.rounds,
                          converged=timing.converged, stopped_by=timing.stopped_by,
                          throughput_ips=cfg.batch * 1000.0 / lat.estimate if lat.estimate > 0 else None,
                          timing_seconds=timing.seconds)
    return list(rows.values())


def _fail(row: dict[str, Any], message: str, notes: list[str]) -> None:
    row["status"] = "failed"
    row["error"] = message
    text = f"speed: {row['runtime']} {row['variant']}: {message}"
    notes.append(text)
    warnings.warn(text, SpeedWarning, stacklevel=3)
