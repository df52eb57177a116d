"""``round_to: auto`` from measurement: the channel multiple that makes a plan's latency drop the most per GFLOP.

The starting point (the *prior*) is the CPU's fp32 SIMD width in channels
(:func:`~prunebench.pruning.options.resolve_round_to`: 16 with AVX-512, else 8), the block oneDNN, ONNX
Runtime's NCHWc kernels and OpenVINO lay channels out in. For each candidate multiple (:data:`CANDIDATES`)
the planned channel counts are rounded to it (groups of fewer than
:data:`~prunebench.pruning.options.AUTO_MIN_BLOCKS` multiples keep exact counts) and their latency is
predicted by the model's per-layer latency table (:mod:`prunebench.speed.latency_table`: every
convolution timed alone at three widths on ``latency_runtime`` / ``latency_threads`` / ``latency_imgsz``,
with channels padded to the channel block the measurements fit best; cached in the run folder's
``cache/``). A candidate replaces the prior only when its predicted *efficiency* (latency reduction /
GFLOPs reduction) beats the prior's by more than :data:`MARGIN`: predictions closer than that are within
the table's noise, and a choice that flipped with noise would give a fresh run folder other channel counts
and so other accuracy numbers for the same spec and seed. The record says what was chosen, from which
table and with which predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import PruneContext
    from prunebench.pruning.costs import CostModel
    from prunebench.pruning.options import PrunerOptions

__all__ = ["CANDIDATES", "MARGIN", "choose_round_to"]

#: channel multiples ``auto`` chooses between (1: exact counts)
CANDIDATES = (1, 4, 8, 16)
#: how much better (in predicted latency reduction / GFLOPs reduction) a candidate must be to replace the
#: prior; among candidates that clear it, the best wins
MARGIN = 0.05

Counts = Mapping[str, int]


def choose_round_to(model: nn.Module, before: CostModel, example: Any, options: PrunerOptions,
                    context: PruneContext, plan: Callable[[int | None, int], Counts],
                    latency_of: Callable[[Any, Counts], float],
                    gflops_of: Callable[[Counts], float]) -> tuple[int | None, int, dict[str, Any]]:
    """The measured ``round_to`` for ``auto`` on CPU: ``(multiple or None, round_min, why)``.

    ``plan(round_to, round_min)`` gives the kept channels per group, ``latency_of(table, counts)`` their
    predicted latency (ms) and ``gflops_of(counts)`` their GFLOPs.
    """
    from prunebench.pruning.options import AUTO_MIN_BLOCKS, cpu_block
    from prunebench.speed.latency_table import build_latency_table

    cache = getattr(context, "cache_dir", None)
    table = build_latency_table(model, before, runtime=options.latency_runtime, threads=options.latency_threads,
                                imgsz=options.latency_imgsz, probe_side=int(example.shape[-1]),
                                cache_dir=Path(cache) if cache is not None else None,
                                in_channels=int(example.shape[1]))
    full_ms, full_g = table.predict(), before.gflops
    rows: dict[str, dict[str, float | None]] = {}
    for m in CANDIDATES:
        counts = plan(m if m > 1 else None, AUTO_MIN_BLOCKS * m if m > 1 else 0)
        ms, g = latency_of(table, counts), gflops_of(counts)
        g_red = 1.0 - g / full_g if full_g > 0 else 0.0
        eff = (1.0 - ms / full_ms) / g_red if g_red > 1e-9 and full_ms > 0 else None
        rows[str(m)] = {"predicted_ms": ms, "gflops": g, "efficiency": eff}
    prior = cpu_block()
    best = pick_multiple(rows, prior)
    block = table.info.get("block")
    reason = ("the CPU's SIMD width, no candidate clearly better" if best == prior else
              f"predicted clearly better than the CPU's SIMD width {prior}")
    why = (f"round_to auto: multiple {best} chosen on {options.latency_runtime} ({options.latency_threads} threads, "
           f"{options.latency_imgsz}px), {reason}: predicted latency reduction / GFLOPs reduction "
           + ", ".join(f"{k}: " + ("-" if v["efficiency"] is None else f"{v['efficiency']:.3f}")
                       for k, v in rows.items())
           + f" (per-layer table fits a channel block of {block}; a candidate must beat {prior} by more than "
           f"{MARGIN})")
    record = {"chosen": best, "prior": prior, "margin": MARGIN, "candidates": rows, "table_block": block,
              "block_fit": table.info.get("block_fit"),
              "table_key": table.key, "table_model_ms": table.model_ms, "runtime": options.latency_runtime,
              "threads": options.latency_threads, "imgsz": options.latency_imgsz, "why": why}
    return (best if best > 1 else None), (AUTO_MIN_BLOCKS * best if best > 1 else 0), record


def pick_multiple(rows: Mapping[str, Mapping[str, float | None]], prior: int) -> int:
    """The prior multiple unless a candidate's efficiency beats the prior's by more than :data:`MARGIN`
    (then the best such candidate; equal ones go to the smaller multiple)."""
    base = rows.get(str(prior), {}).get("efficiency")
    if base is None:
        return prior
    better = [(float(r["efficiency"]), -int(m)) for m, r in rows.items()
              if r.get("efficiency") is not None and float(r["efficiency"]) > base + MARGIN]  # type: ignore[arg-type]
    return -max(better)[1] if better else prior
