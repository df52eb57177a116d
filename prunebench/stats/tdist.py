"""Student's t distribution for integer degrees of freedom, in closed form (no scipy at run time).

``P(|T| <= t)`` for integer ``df`` is a finite trigonometric series (Abramowitz & Stegun 26.7.3-4);
quantiles invert it by bisection to machine precision.
"""

from __future__ import annotations

import math

__all__ = ["t_cdf", "t_ppf", "t_two_sided_p"]


def _central(t: float, df: int) -> float:
    """``P(|T| <= |t|)`` for ``T`` Student-t with ``df`` (a positive integer) degrees of freedom."""
    if math.isinf(t):
        return 1.0
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2:  # odd: (2/pi) [theta + sin(theta) (c + 2/3 c^3 + ... )]
        if df == 1:
            return 2.0 * theta / math.pi
        term, total = c, c
        for k in range(3, df - 1, 2):
            term *= c * c * (k - 1) / k
            total += term
        return 2.0 / math.pi * (theta + s * total)
    term, total = 1.0, 1.0  # even: sin(theta) [1 + 1/2 c^2 + 1*3/(2*4) c^4 + ...]
    for k in range(2, df - 1, 2):
        term *= c * c * (k - 1) / k
        total += term
    return s * total


def _check_df(df: int) -> int:
    if int(df) != df or df < 1:
        raise ValueError(f"Expected `df` to be a positive integer but got {df!r}.")
    return int(df)


def t_cdf(t: float, df: int) -> float:
    """``P(T <= t)``."""
    df = _check_df(df)
    a = _central(t, df)
    return 0.5 + 0.5 * a if t >= 0 else 0.5 - 0.5 * a


def t_two_sided_p(t: float, df: int) -> float:
    """Two-sided p-value ``P(|T| >= |t|)``; ``t`` NaN gives NaN."""
    if math.isnan(t):
        return math.nan
    return max(0.0, 1.0 - _central(t, _check_df(df)))


def t_ppf(q: float, df: int) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (``0 < q < 1``)."""
    df = _check_df(df)
    if not 0.0 < q < 1.0:
        raise ValueError(f"Expected `q` in (0, 1) but got {q!r}.")
    if q == 0.5:
        return 0.0
    target = abs(2.0 * q - 1.0)  # P(|T| <= x) = target
    lo, hi = 0.0, 1.0
    while _central(hi, df) < target:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _central(mid, df) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
    x = 0.5 * (lo + hi)
    return x if q > 0.5 else -x
