"""Distribution-free intervals for a median and for a median of paired ratios (order statistics)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Interval", "median_interval", "ratio_interval"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval and the interval's actual coverage.

    ``coverage`` is the exact probability that the order-statistic interval holds the true median of
    a continuous distribution (at least the nominal level once there are 6 or more values; below that
    the interval is [min, max] and its coverage is smaller, stated here).
    """

    estimate: float
    low: float
    high: float
    n: int
    coverage: float

    @property
    def half_width(self) -> float:
        """The larger relative distance of a bound from the estimate (0.03 means within ±3 %)."""
        if self.estimate <= 0 or not math.isfinite(self.estimate):
            return math.inf
        return max(self.high / self.estimate - 1.0, 1.0 - self.low / self.estimate)


def _binom_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n


def _order_ranks(n: int, confidence: float) -> tuple[int, int, float]:
    """1-based ranks (lo, hi) of the order statistics bounding the median, and the exact coverage."""
    alpha = 1.0 - confidence
    best = 1  # [x_(1), x_(n)] is the widest interval there is
    for k in range(1, n // 2 + 1):
        if 2.0 * _binom_cdf(k - 1, n) <= alpha:
            best = k
        else:
            break
    coverage = 1.0 - 2.0 * _binom_cdf(best - 1, n)
    return best, n - best + 1, coverage


def _median(sorted_values: Sequence[float]) -> float:
    n = len(sorted_values)
    mid = n // 2
    return sorted_values[mid] if n % 2 else 0.5 * (sorted_values[mid - 1] + sorted_values[mid])


def median_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """The median of ``values`` with a distribution-free interval (order statistics, binomial ranks).

    Robust to the outliers a loaded machine produces (a descheduled pass moves one order statistic, not
    the interval's location).
    """
    if not values:
        raise ValueError("median_interval needs at least one value")
    xs = sorted(float(v) for v in values)
    lo, hi, coverage = _order_ranks(len(xs), confidence)
    return Interval(_median(xs), xs[lo - 1], xs[hi - 1], len(xs), coverage)


def ratio_interval(numerators: Sequence[float], denominators: Sequence[float],
                   confidence: float = 0.95) -> Interval:
    """The median of paired ratios ``numerators[i] / denominators[i]`` with its interval.

    Computed on log-ratios (symmetric for speed-ups and slow-downs) and transformed back: the estimate
    is the median per-round ratio; pairs measured in the same round share that round's machine load.
    """
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError("ratio_interval needs two non-empty sequences of the same length")
    logs = [math.log(a / b) for a, b in zip(numerators, denominators)]
    iv = median_interval(logs, confidence)
    return Interval(math.exp(iv.estimate), math.exp(iv.low), math.exp(iv.high), iv.n, iv.coverage)
