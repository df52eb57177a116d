"""Intervals and tests from stored results: summary rows (seeds or bootstrap) and paired comparisons.

Everything here reads the store's numbers (cell metrics, the evaluate stages' ``bootstrap`` diagnostic,
the speed stage's ``speed`` table); nothing runs a model.

- **Summary rows**: per (model, pruner, level) and metric, mean, sample std, n and a 95 % interval.
  With two or more seeds the interval is Student's t over the seeds (``source: seeds``); with one seed it
  is the image bootstrap's percentile interval (``source: bootstrap``); a speed-up takes the speed stage's
  interval (``source: timing``).
- **Comparisons**: per (model, level) every pruner against the baseline and against every other pruner,
  on mAP50 and mAP50-95 (and the speed-up where the speed stage measured it): the paired difference
  ``a - b`` (same seed; for the bootstrap the same resampled images), its 95 % interval and a p-value
  (paired t-test across seeds when n >= 3, else the paired bootstrap), Holm-adjusted within each
  (model, level, metric) table.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from prunebench.stats.cell import BOOTSTRAP_DIAGNOSTIC, draws_of
from prunebench.stats.intervals import SeedSummary
from prunebench.stats.significance import bootstrap_p, holm, paired_t_test
from prunebench.suite.results import CellResult, Results

__all__ = [
    "ACCURACY_METRICS",
    "COMPARED_METRICS",
    "Comparison",
    "Statistics",
    "SummaryStat",
    "compare_cells",
    "compute_statistics",
    "number_format",
    "speedup_rows",
]

#: metrics whose intervals come from the image bootstrap when there is one seed
ACCURACY_METRICS: tuple[str, ...] = ("precision", "recall", "f1", "map50", "map50_95")
#: retention figures (pruned / baseline of the same seed), computed paired
RETAINED: dict[str, str] = {"map50_kept": "map50", "map50_95_kept": "map50_95"}
#: the headline metrics of the comparison tables
COMPARED_METRICS: tuple[str, ...] = ("map50", "map50_95", "speedup")
#: t-tests across seeds from this many seeds on; below it the paired bootstrap
MIN_SEEDS_FOR_T = 3


@dataclass(frozen=True)
class SummaryStat:
    """One figure of one table row with its uncertainty."""

    model: str
    pruner: str | None  # None: the unpruned baseline
    level: float
    metric: str
    n: int  # seeds that contributed
    mean: float | None
    std: float | None  # across seeds (source seeds) or of the bootstrap draws (source bootstrap)
    low: float | None
    high: float | None
    source: str  # seeds | bootstrap | timing | single

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci95_low"], out["ci95_high"] = out.pop("low"), out.pop("high")
        return out


@dataclass(frozen=True)
class Comparison:
    """``a`` minus ``b`` on one metric at one (model, level), paired; ``b`` "baseline" is the unpruned model."""

    model: str
    level: float
    metric: str
    a: str
    b: str
    diff: float
    low: float
    high: float
    p: float
    p_holm: float
    n: int
    method: str  # paired t | paired bootstrap | timing

    @property
    def null(self) -> float:
        """The value of "no difference": 1 for a speed-up against the baseline (a ratio), else 0."""
        return 1.0 if self.metric == "speedup" and self.b == "baseline" else 0.0

    @property
    def significant(self) -> bool:
        """Holm-adjusted p < 0.05; without a p-value (timing), the interval excludes :attr:`null`."""
        if math.isnan(self.p_holm):
            return math.isnan(self.p) and (self.low > self.null or self.high < self.null)
        return self.p_holm < 0.05

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci95_low"], out["ci95_high"] = out.pop("low"), out.pop("high")
        return out

    def evidence(self, fmt: str | None = None) -> str:
        """``"Δ -0.120 [-0.180, -0.070], p_holm 0.004, paired t, n=3"``: what a finding cites."""
        fmt = fmt or number_format(self.diff, self.low, self.high)
        sym = "×" if self.metric == "speedup" and self.b == "baseline" else "Δ "
        p = "" if math.isnan(self.p) else f", p {_p(self.p)}" + (
            "" if math.isnan(self.p_holm) else f", p_holm {_p(self.p_holm)}")
        n = f"n={self.n} seed" + ("s" if self.n != 1 else "")
        return f"{sym}{self.diff:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]{p}, {self.method}, {n}"


def number_format(*values: float | None) -> str:
    """``.3f`` for figures of accuracy size; ``.2e`` when every value is below 0.01 (so they do not read 0.000)."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    return ".2e" if finite and max(finite) < 0.01 and max(finite) > 0 else ".3f"


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else "<0.001"


@dataclass
class Statistics:
    """Every summary row and comparison of a run."""

    summary: list[SummaryStat]
    comparisons: list[Comparison]

    def stat(self, model: str, pruner: str | None, level: float, metric: str) -> SummaryStat | None:
        key = (model, pruner, _lv(level), metric)
        return self._index.get(key)

    def comparison(self, model: str, level: float, metric: str, a: str, b: str) -> Comparison | None:
        for c in self.comparisons:
            if (c.model, _lv(c.level), c.metric) == (model, _lv(level), metric) and {c.a, c.b} == {a, b}:
                return c
        return None

    def __post_init__(self) -> None:
        self._index = {(s.model, s.pruner, _lv(s.level), s.metric): s for s in self.summary}


def _lv(level: float) -> float:
    return round(float(level), 6)


def _finite(values: Iterable[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _done(cells: Iterable[CellResult]) -> list[CellResult]:
    return [c for c in cells if c.status == "done"]


def _boot(cell: CellResult) -> dict[str, Any] | None:
    d = cell.diagnostics.get(BOOTSTRAP_DIAGNOSTIC)
    return d if isinstance(d, dict) and d.get("draws") else None


def speedup_rows(results: Results) -> dict[str, dict[str, Any]]:
    """Cell key -> the speed stage's row of its first runtime (``speedup``, ``speedup_lo``, ``speedup_hi``)."""
    out: dict[str, dict[str, Any]] = {}
    for res in results.stages.values():
        table = res.diagnostics.get("speed") if res.diagnostics else None
        if not isinstance(table, list):
            continue
        for row in table:
            if not isinstance(row, dict) or row.get("status") != "ok" or row.get("speedup") is None:
                continue
            out.setdefault(str(row.get("variant")), row)
    return out


def _groups(results: Results) -> dict[tuple[str, str | None, float], list[CellResult]]:
    groups: dict[tuple[str, str | None, float], list[CellResult]] = {}
    for c in results.cells:
        groups.setdefault((c.model, c.pruner, 0.0 if c.pruner is None else _lv(c.level)), []).append(c)
    return groups


def _paired_draws(cells: Sequence[CellResult], base: dict[int, CellResult], metric: str, how: str) -> np.ndarray | None:
    """Bootstrap draws of the seed-mean of ``metric`` (how: value) or of its ratio / difference to the baseline."""
    per_seed = []
    for c in cells:
        a = draws_of(_boot(c), metric)
        if a is None:
            return None
        if how == "value":
            per_seed.append(a)
            continue
        b_cell = base.get(c.seed)
        b = draws_of(_boot(b_cell), metric) if b_cell is not None else None
        if b is None or b.shape != a.shape:
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            per_seed.append(np.where(b > 0, a / b, np.nan) if how == "ratio" else a - b)
    return np.mean(per_seed, axis=0) if per_seed else None


def _summary_stat(key: tuple[str, str | None, float], metric: str, values: list[float],
                  draws: np.ndarray | None, point: float | None) -> SummaryStat:
    model, pruner, level = key
    if len(values) >= 2:
        s = SeedSummary.of(values)
        return SummaryStat(model, pruner, level, metric, s.n, s.mean, s.std, s.low, s.high, "seeds")
    if draws is not None and point is not None:
        d = draws[np.isfinite(draws)]
        if d.size:
            lo, hi = np.percentile(d, [2.5, 97.5])
            return SummaryStat(model, pruner, level, metric, len(values), point, float(d.std(ddof=1)),
                               float(lo), float(hi), "bootstrap")
    mean = statistics.fmean(values) if values else None
    return SummaryStat(model, pruner, level, metric, len(values), mean, None, None, None, "single")


def _summaries(results: Results, groups: dict[tuple[str, str | None, float], list[CellResult]],
               speed: dict[str, dict[str, Any]]) -> list[SummaryStat]:
    out: list[SummaryStat] = []
    for key, cells in groups.items():
        model, pruner, _level = key
        done = _done(cells)
        base = {c.seed: c for c in _done(groups.get((model, None, 0.0), []))}
        for metric in ACCURACY_METRICS:
            values = _finite(c.metrics.get(metric) for c in done)
            draws = _paired_draws(done, base, metric, "value") if done else None
            out.append(_summary_stat(key, metric, values, draws, values[0] if len(values) == 1 else None))
        if pruner is None:
            continue
        for name, metric in RETAINED.items():
            ratios = []
            for c in done:
                b = base.get(c.seed)
                bv, v = (b.metrics.get(metric) if b else None), c.metrics.get(metric)
                ratios.append(v / bv if v is not None and bv else None)
            values = _finite(ratios)
            draws = _paired_draws(done, base, metric, "ratio") if done else None
            out.append(_summary_stat(key, name, values, draws, values[0] if len(values) == 1 else None))
        sp = [speed[c.key] for c in done if c.key in speed]
        if len(sp) >= 2:
            s = SeedSummary.of(float(r["speedup"]) for r in sp)
            out.append(SummaryStat(model, pruner, key[2], "speedup", s.n, s.mean, s.std, s.low, s.high, "seeds"))
        elif len(sp) == 1:
            r = sp[0]
            out.append(SummaryStat(model, pruner, key[2], "speedup", 1, float(r["speedup"]), None,
                                   _maybe(r.get("speedup_lo")), _maybe(r.get("speedup_hi")), "timing"))
    return out


def _maybe(v: Any) -> float | None:
    return None if v is None else float(v)


def compare_cells(model: str, level: float, metric: str, a_name: str, a: Sequence[CellResult], b_name: str,
             b: Sequence[CellResult], speed: dict[str, dict[str, Any]]) -> Comparison | None:
    """``a - b`` paired by seed (and by resample); None when they share no finished seed."""
    a_by, b_by = {c.seed: c for c in _done(a)}, {c.seed: c for c in _done(b)}
    seeds = sorted(set(a_by) & set(b_by))
    if not seeds:
        return None
    if metric == "speedup":
        return _compare_speed(model, level, a_name, b_name, [a_by[s] for s in seeds], [b_by[s] for s in seeds], speed)
    va = [a_by[s].metrics.get(metric) for s in seeds]
    vb = [b_by[s].metrics.get(metric) for s in seeds]
    pairs = [(x, y) for x, y in zip(va, vb) if x is not None and y is not None]
    if not pairs:
        return None
    if len(pairs) >= MIN_SEEDS_FOR_T:
        t = paired_t_test([x for x, _ in pairs], [y for _, y in pairs])
        return Comparison(model, level, metric, a_name, b_name, t.diff, t.low, t.high, t.p, math.nan, t.n,
                          "paired t")
    diffs = []
    for s in seeds:
        da, db = draws_of(_boot(a_by[s]), metric), draws_of(_boot(b_by[s]), metric)
        if da is None or db is None or da.shape != db.shape:
            diffs = []
            break
        diffs.append(da - db)
    if not diffs:  # no stored bootstrap (a run of an older version): the paired t-test, if it can run at all
        if len(pairs) < 2:
            return None
        t = paired_t_test([x for x, _ in pairs], [y for _, y in pairs])
        return Comparison(model, level, metric, a_name, b_name, t.diff, t.low, t.high, t.p, math.nan, t.n,
                          "paired t")
    d = np.mean(diffs, axis=0)
    lo, hi = np.percentile(d, [2.5, 97.5])
    point = statistics.fmean(x - y for x, y in pairs)
    return Comparison(model, level, metric, a_name, b_name, point, float(lo), float(hi), bootstrap_p(d),
                      math.nan, len(pairs), "paired bootstrap")


def _compare_speed(model: str, level: float, a_name: str, b_name: str, a: Sequence[CellResult],
                   b: Sequence[CellResult], speed: dict[str, dict[str, Any]]) -> Comparison | None:
    """Speed-up of ``a`` over ``b`` (a ratio; 1 = equal). Against the baseline, the speed stage's own interval."""
    rows_a = [speed.get(c.key) for c in a]
    if any(r is None for r in rows_a):
        return None
    if b_name == "baseline":
        sp = [float(r["speedup"]) for r in rows_a]  # type: ignore[index]
        if len(sp) >= MIN_SEEDS_FOR_T:
            t = paired_t_test(sp, [1.0] * len(sp))
            return Comparison(model, level, "speedup", a_name, b_name, 1 + t.diff, 1 + t.low, 1 + t.high, t.p,
                              math.nan, t.n, "paired t")
        r = rows_a[0]
        lo, hi = _maybe(r.get("speedup_lo")), _maybe(r.get("speedup_hi"))  # type: ignore[union-attr]
        if lo is None or hi is None:
            return None
        # the interleaved timing gives an interval, not a p-value: the verdict reads the interval
        return Comparison(model, level, "speedup", a_name, b_name, statistics.fmean(sp), lo, hi, math.nan, math.nan,
                          len(sp), "timing")
    rows_b = [speed.get(c.key) for c in b]
    if any(r is None for r in rows_b) or len(rows_a) < MIN_SEEDS_FOR_T:
        return None
    t = paired_t_test([float(r["speedup"]) for r in rows_a],  # type: ignore[index]
                      [float(r["speedup"]) for r in rows_b])  # type: ignore[index]
    return Comparison(model, level, "speedup", a_name, b_name, t.diff, t.low, t.high, t.p, math.nan, t.n,
                      "paired t")


def compute_statistics(results: Results) -> Statistics:
    """Summary rows and Holm-adjusted comparisons of every (model, level) of the run."""
    groups = _groups(results)
    speed = speedup_rows(results)
    summary = _summaries(results, groups, speed)
    comparisons: list[Comparison] = []
    for model in results.models:
        base = groups.get((model, None, 0.0), [])
        levels = sorted({lv for (m, p, lv) in groups if m == model and p is not None})
        for level in levels:
            pruners = [p for p in results.pruners if (model, p, level) in groups]
            for metric in COMPARED_METRICS:
                table: list[Comparison] = []
                for i, pa in enumerate(pruners):
                    c = compare_cells(model, level, metric, pa, groups[(model, pa, level)], "baseline", base, speed)
                    if c is not None:
                        table.append(c)
                    for pb in pruners[i + 1:]:
                        c = compare_cells(model, level, metric, pa, groups[(model, pa, level)], pb,
                                     groups[(model, pb, level)], speed)
                        if c is not None:
                            table.append(c)
                adjusted = holm([c.p for c in table])
                comparisons += [_with_holm(c, p) for c, p in zip(table, adjusted)]
    return Statistics(summary=summary, comparisons=comparisons)


def _with_holm(c: Comparison, p_holm: float) -> Comparison:
    return Comparison(**{**asdict(c), "p_holm": p_holm})
