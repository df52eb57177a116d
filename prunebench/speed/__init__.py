"""Deployed speed: runtime adapters, the interleaved timer and its intervals, and the speed stage's measurement.

See :mod:`prunebench.speed.measure` for the rows the speed stage stores (one per model, seed, runtime and
variant).
"""

from __future__ import annotations

from prunebench.speed.config import DEFAULT_RUNTIMES, SpeedConfig
from prunebench.speed.measure import SpeedResult, SpeedWarning, measure_speed
from prunebench.speed.runtimes import RUNTIME_NAMES, RUNTIMES, Runtime, check_runtimes
from prunebench.speed.stats import Interval, median_interval, ratio_interval
from prunebench.speed.timer import InterleavedTiming, time_interleaved

__all__ = [
    "DEFAULT_RUNTIMES",
    "RUNTIMES",
    "RUNTIME_NAMES",
    "InterleavedTiming",
    "Interval",
    "Runtime",
    "SpeedConfig",
    "SpeedResult",
    "SpeedWarning",
    "check_runtimes",
    "measure_speed",
    "median_interval",
    "ratio_interval",
    "time_interleaved",
]

