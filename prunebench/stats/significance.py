"""Tests between methods: the paired t-test, a bootstrap p-value, and Holm's step-down adjustment."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prunebench.stats.tdist import t_ppf, t_two_sided_p

__all__ = ["PairedTest", "bootstrap_p", "holm", "paired_t_test"]


@dataclass(frozen=True)
class PairedTest:
    """The mean paired difference ``a - b``, its 95 % interval, the p-value and how they were obtained."""

    diff: float
    low: float
    high: float
    p: float
    n: int
    method: str  # "paired t" | "bootstrap"


def paired_t_test(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedTest:
    """Student's paired t-test of ``mean(a - b) = 0`` (pairs: the same seed), two-sided.

    With all differences equal the p-value is 0 when they are non-zero and 1 when they are zero.
    """
    if len(a) != len(b):
        raise ValueError(f"Expected paired values of equal length but got {len(a)} and {len(b)}.")
    d = [float(x) - float(y) for x, y in zip(a, b)]
    n = len(d)
    if n < 2:
        raise ValueError(f"Expected at least 2 pairs for a paired t-test but got {n}.")
    mean = statistics.fmean(d)
    sd = statistics.stdev(d)
    if sd == 0.0:
        return PairedTest(mean, mean, mean, 0.0 if mean else 1.0, n, "paired t")
    se = sd / math.sqrt(n)
    half = t_ppf(0.5 + confidence / 2.0, n - 1) * se
    return PairedTest(mean, mean - half, mean + half, t_two_sided_p(mean / se, n - 1), n, "paired t")


def bootstrap_p(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "the difference is 0" from the draws of a difference.

    ``2 * min(P*(d <= 0), P*(d >= 0))`` with the ``(k + 1) / (B + 1)`` correction, so it is never 0.
    """
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return math.nan
    b = d.size
    lower = (np.count_nonzero(d <= 0) + 1) / (b + 1)
    upper = (np.count_nonzero(d >= 0) + 1) / (b + 1)
    return float(min(1.0, 2.0 * min(lower, upper)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (NaN stays NaN and is not counted).

    Sorted ascending, the i-th of m p-values (i from 0) becomes ``max_{j<=i} (m - j) p_(j)``, capped at 1.
    """
    idx = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    out = [math.nan] * len(p_values)
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda k: p_values[k])):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        out[i] = running
    return out
