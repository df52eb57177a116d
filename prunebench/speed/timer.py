"""The interleaved timer: a baseline and its variants timed round-robin in one process, with paired ratios.

Machine load on a shared computer comes and goes over seconds; a model timed minutes apart from its
baseline sees another machine. Here every round times each model once (the order rotates from round to
round so that no model always runs after the same neighbour), and the speed-up of a variant is taken per
round (baseline time / variant time, both from the same round) before it is summarised: its median with
a distribution-free 95 % interval on the log-ratios (:func:`~prunebench.speed.stats.ratio_interval`).
Rounds continue until every ratio's interval lies within ``precision`` of its estimate (after
``min_rounds``), or ``time_cap_s`` or ``max_rounds`` is reached; which of them stopped it is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from prunebench.speed.stats import Interval, median_interval, ratio_interval

__all__ = ["InterleavedTiming", "time_interleaved"]


@dataclass
class InterleavedTiming:
    """Per-round times (ms) of every model, and the summaries the speed stage stores."""

    baseline: str
    times_ms: dict[str, list[float]]
    stopped_by: str  # "precision", "time cap" or "max rounds"
    seconds: float
    latency: dict[str, Interval] = field(default_factory=dict)  # median ms per model with its interval
    speedup: dict[str, Interval] = field(default_factory=dict)  # baseline / model per round, median + interval

    @property
    def rounds(self) -> int:
        return len(self.times_ms[self.baseline])

    @property
    def converged(self) -> bool:
        return self.stopped_by == "precision"


def _summaries(times: Mapping[str, list[float]], baseline: str,
               confidence: float) -> tuple[dict[str, Interval], dict[str, Interval]]:
    latency = {k: median_interval(v, confidence) for k, v in times.items()}
    speedup = {k: ratio_interval(times[baseline], v, confidence) for k, v in times.items() if k != baseline}
    return latency, speedup


def time_interleaved(timers: Mapping[str, Callable[[], float]], baseline: str, *, warmup: int = 3,
                     min_rounds: int = 8, max_rounds: int = 400, time_cap_s: float = 60.0,
                     precision: float = 0.03, confidence: float = 0.95,
                     clock: Callable[[], float] = time.monotonic) -> InterleavedTiming:
    """Time every ``timers[name]()`` (each returns the ms of one pass) in interleaved rounds.

    ``baseline`` must be one of ``timers``; each other model gets a speed-up ratio against it. At least
    ``min(min_rounds, max_rounds)`` rounds run even past ``time_cap_s`` (a ratio needs rounds).
    """
    if baseline not in timers:
        raise ValueError(f"baseline {baseline!r} is not among the timed models {sorted(timers)}")
    names = list(timers)
    for _ in range(warmup):
        for n in names:
            timers[n]()
    times: dict[str, list[float]] = {n: [] for n in names}
    floor = min(min_rounds, max_rounds)
    start = clock()
    stopped_by = "max rounds"
    for r in range(max_rounds):
        k = r % len(names)
        order = names[k:] + names[:k]
        if r % 2:  # alternate the direction too: every model runs before and after every other one
            order.reverse()
        for n in order:
            times[n].append(float(timers[n]()))
        done = r + 1
        if done < floor:
            continue
        if len(names) == 1:
            if median_interval(times[baseline], confidence).half_width <= precision:
                stopped_by = "precision"
                break
        else:
            _, speedup = _summaries(times, baseline, confidence)
            if all(iv.half_width <= precision for iv in speedup.values()):
                stopped_by = "precision"
                break
        if clock() - start >= time_cap_s:
            stopped_by = "time cap"
            break
    latency, speedup = _summaries(times, baseline, confidence)
    return InterleavedTiming(baseline=baseline, times_ms=times, stopped_by=stopped_by, seconds=clock() - start,
                             latency=latency, speedup=speedup)
