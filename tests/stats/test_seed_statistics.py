"""Student-t intervals, the paired t-test and Holm's adjustment against scipy and hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from prunebench.stats import SeedSummary, holm, paired_t_test, t_cdf, t_interval, t_ppf, t_two_sided_p
from prunebench.stats.significance import bootstrap_p


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 10, 29, 60])
def test_t_quantiles_and_p_values_match_scipy(df: int) -> None:
    for q in (0.6, 0.9, 0.975, 0.995, 0.025):
        assert t_ppf(q, df) == pytest.approx(sps.t.ppf(q, df), rel=1e-10, abs=1e-12)
    for t in (0.0, 0.3, 1.0, 2.5, -4.0, 12.0):
        assert t_cdf(t, df) == pytest.approx(sps.t.cdf(t, df), rel=1e-10, abs=1e-14)
        assert t_two_sided_p(t, df) == pytest.approx(2 * sps.t.sf(abs(t), df), rel=1e-9, abs=1e-14)


def test_t_interval_matches_scipy_and_hand_value() -> None:
    vals = [0.61, 0.58, 0.66]
    lo, hi = t_interval(vals)
    ref = sps.t.interval(0.95, 2, loc=np.mean(vals), scale=sps.sem(vals))
    assert (lo, hi) == pytest.approx(ref, rel=1e-10)
    # by hand: mean 0.6167, s 0.04041, t(0.975, 2) = 4.3027 -> half-width 0.1004
    assert (hi - lo) / 2 == pytest.approx(4.302652729911275 * 0.040414518843273774 / math.sqrt(3), rel=1e-9)
    s = SeedSummary.of([*vals, None, float("nan")])
    assert (s.n, s.low, s.high) == (3, pytest.approx(lo), pytest.approx(hi))
    assert SeedSummary.of([0.5]).low is None


def test_paired_t_test_matches_scipy() -> None:
    a = [0.512, 0.498, 0.530, 0.505]
    b = [0.470, 0.481, 0.502, 0.466]
    res = paired_t_test(a, b)
    ref = sps.ttest_rel(a, b)
    assert res.p == pytest.approx(ref.pvalue, rel=1e-9)
    d = np.subtract(a, b)
    assert res.diff == pytest.approx(d.mean())
    assert (res.low, res.high) == pytest.approx(sps.t.interval(0.95, 3, loc=d.mean(), scale=sps.sem(d)), rel=1e-9)
    same = paired_t_test([1.0, 2.0], [1.0, 2.0])
    assert same.p == 1.0


def test_holm_hand_worked() -> None:
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> kept monotone at 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = holm([0.5, float("nan"), 0.2])
    assert out[0] == pytest.approx(0.5)
    assert math.isnan(out[1])
    assert out[2] == pytest.approx(0.4)
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


def test_bootstrap_p_value() -> None:
    rng = np.random.default_rng(0)
    assert bootstrap_p(rng.normal(5, 1, 999)) == pytest.approx(2 / 1000)
    assert bootstrap_p(rng.normal(0, 1, 999)) > 0.5
