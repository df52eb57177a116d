"""Figures over independent runs (seeds): mean, sample std, n and a Student-t 95 % confidence interval."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from prunebench.stats.tdist import t_ppf

__all__ = ["SeedSummary", "t_interval"]


def t_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided Student-t interval of the mean of ``values`` (at least two finite values)."""
    vals = [float(v) for v in values]
    n = len(vals)
    if n < 2:
        raise ValueError(f"Expected at least 2 values for a t interval but got {n}.")
    mean = statistics.fmean(vals)
    half = t_ppf(0.5 + confidence / 2.0, n - 1) * statistics.stdev(vals) / math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True)
class SeedSummary:
    """Mean, sample std, n and the 95 % t interval of a figure over seeds (std and interval need n >= 2)."""

    mean: float | None
    std: float | None
    n: int
    low: float | None
    high: float | None

    @classmethod
    def of(cls, values: Iterable[float | None], confidence: float = 0.95) -> SeedSummary:
        vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not vals:
            return cls(None, None, 0, None, None)
        mean = statistics.fmean(vals)
        if len(vals) < 2:
            return cls(mean, None, 1, None, None)
        lo, hi = t_interval(vals, confidence)
        return cls(mean, statistics.stdev(vals), len(vals), lo, hi)
