"""Order-statistic intervals of a median and of paired ratios."""

from __future__ import annotations

import math
import random

import pytest

from prunebench.speed.stats import median_interval, ratio_interval


def test_median_interval_ranks_and_coverage() -> None:
    iv = median_interval(list(range(1, 21)))  # n = 20: ranks 6 and 15 give coverage 95.86 %
    assert iv.estimate == pytest.approx(10.5)
    assert (iv.low, iv.high) == (6.0, 15.0)
    assert iv.coverage == pytest.approx(0.9586, abs=1e-4)
    small = median_interval([3.0, 1.0, 2.0])  # too few values for 95 %: [min, max], coverage stated
    assert (small.low, small.high, small.estimate) == (1.0, 3.0, 2.0)
    assert small.coverage == pytest.approx(0.75)


def test_median_interval_ignores_an_outlier() -> None:
    values = [10.0 + 0.01 * i for i in range(30)] + [500.0]
    iv = median_interval(values)
    assert iv.high < 10.4
    assert iv.half_width < 0.03


def test_ratio_interval_is_symmetric_in_logs_and_covers() -> None:
    rng = random.Random(0)
    hits = 0
    trials = 400
    for _ in range(trials):
        base = [4.0 * math.exp(rng.gauss(0, 0.05)) for _ in range(15)]
        var = [1.0 * math.exp(rng.gauss(0, 0.05)) for _ in range(15)]
        iv = ratio_interval(base, var)
        hits += iv.low <= 4.0 <= iv.high
    assert hits / trials >= 0.93  # nominal >= 95 %; a few percent of Monte Carlo slack
    inv = ratio_interval([1.0, 1.1, 0.9], [2.0, 2.2, 1.8])
    assert inv.estimate == pytest.approx(0.5)


def test_ratio_interval_refuses_unpaired_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        ratio_interval([1.0, 2.0], [1.0])
