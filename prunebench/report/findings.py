"""Automatic findings that claim only what the data support, each citing its evidence (interval, p, n).

Verbs are chosen from the tests of :mod:`prunebench.report.uncertainty`:

- "falls with the level" only when every step (baseline -> first level -> next level ...) is a significant
  drop (Holm-adjusted over the steps of that line); otherwise the steps that are not are named;
- "faster" / "slower than unpruned" only when the speed-up's interval lies above / below 1, else "not
  distinguishable"; a latency without an interval is reported as a single measurement, never as a finding;
- "best pruner" only when it is significantly better than the runner-up, else "indistinguishable";
- "larger models tolerate pruning better" (the source study's second conclusion) only when the larger
  model's retention interval lies above the smaller one's at every level.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from prunebench.report.cost import cell_cost
from prunebench.report.summary import Row, metric_info, summarize
from prunebench.report.uncertainty import (
    Comparison,
    Statistics,
    SummaryStat,
    compare_cells,
    compute_statistics,
    number_format,
)
from prunebench.stats.significance import holm
from prunebench.suite.results import CellResult, Results

__all__ = ["findings", "pareto_front", "trend_verdict"]


def _cells(results: Results, model: str, pruner: str | None, level: float) -> list[CellResult]:
    return [c for c in results.cells if c.model == model and c.pruner == pruner
            and (pruner is None or round(c.level, 6) == round(level, 6))]


def _ci(s: SummaryStat | None, fmt: str | None = None) -> str:
    if s is None or s.mean is None:
        return "—"
    fmt = fmt or number_format(s.mean, s.low, s.high)
    if not s.has_interval:
        return f"{s.mean:{fmt}} (no interval)"
    return f"{s.mean:{fmt}} [{s.low:{fmt}}, {s.high:{fmt}}]"


def _source(stats: Statistics) -> str:
    sources = {s.source for s in stats.summary if s.metric == "map50"}
    parts = []
    if "seeds" in sources:
        parts.append("95 % intervals over several seeds are Student-t intervals (training and validation noise)")
    if "bootstrap" in sources:
        parts.append("95 % intervals of one seed come from the image bootstrap (validation-set noise only, not "
                     "training noise)")
    return "; ".join(parts) if parts else "no intervals could be computed (one seed and no stored bootstrap)"


def trend_verdict(steps: Sequence[Comparison]) -> str:
    """The verb for a line baseline -> levels from its Holm-adjusted step comparisons (``a`` = the lower level)."""
    if not steps:
        return "cannot be tested (no paired results)"
    if all(s.significant and s.diff > 0 for s in steps):
        return "falls with the level (every step is significant)"
    if all(not s.significant for s in steps):
        return "is not distinguishable from one level to the next"
    if any(s.significant and s.diff < 0 for s in steps):
        return "does not fall monotonically (a step rises significantly)"
    return "falls, but not at every step"


def _trend(results: Results, stats: Statistics, model: str, pruner: str, metric: str) -> str | None:
    levels = sorted({round(c.level, 6) for c in results.cells if c.model == model and c.pruner == pruner})
    if not levels:
        return None
    chain: list[tuple[str, str | None, float]] = [("baseline", None, 0.0)]
    chain += [(f"{lv:g}", pruner, lv) for lv in levels]
    steps: list[Comparison] = []
    for (na, pa, la), (nb, pb, lb) in itertools.pairwise(chain):
        c = compare_cells(model, lb, metric, na, _cells(results, model, pa, la), nb, _cells(results, model, pb, lb),
                          {})
        if c is not None:
            steps.append(c)
    adjusted = holm([s.p for s in steps])
    steps = [Comparison(**{**s.__dict__, "p_holm": p}) for s, p in zip(steps, adjusted)]
    label = metric_info(results, metric)["label"]
    values = " → ".join(_ci(stats.stat(model, p, lv, metric)) for _, p, lv in chain)
    verdict = trend_verdict(steps)
    detail = "; ".join(f"{s.a}→{s.b}: {s.evidence()}" + ("" if s.significant else " (not significant)")
                       for s in steps)
    steps_text = f" Steps (drop = earlier - later): {detail}." if detail else ""
    return (f"{model}, {pruner}: {label} {values} at levels 0 / {' / '.join(f'{lv:g}' for lv in levels)}; "
            f"it {verdict}.{steps_text}")


def _speed(results: Results, stats: Statistics) -> list[str]:
    out = []
    for s in stats.summary:
        if s.metric != "speedup" or s.pruner is None:
            continue
        where = f"{s.model}, {s.pruner} at {s.level:g}"
        if not s.has_interval:
            out.append(f"{where}: speed-up {s.mean:.2f}× from one measurement without an interval (not tested).")
        elif s.high < 1:  # type: ignore[operator]
            out.append(f"{where} is slower than unpruned: speed-up {_ci(s, '.2f')}× ({s.source}, n={s.n}).")
        elif s.low > 1:  # type: ignore[operator]
            out.append(f"{where} is faster than unpruned: speed-up {_ci(s, '.2f')}× ({s.source}, n={s.n}).")
        else:
            out.append(f"{where} is not distinguishable from unpruned in speed: {_ci(s, '.2f')}× "
                       f"(the interval contains 1; {s.source}, n={s.n}).")
    if not out:
        rows = [r for r in summarize(results) if not r.is_baseline and r.retention.get("speedup")
                and r.retention["speedup"].mean is not None]
        if rows:
            out.append("Latency was measured once per cell, not interleaved with the baseline: its ratios "
                       "(table column 'Speed-up x') carry no interval and are not findings; add a `speed:` "
                       "section for interleaved speed-ups with intervals.")
    return out


def _best(results: Results, stats: Statistics, rows: Sequence[Row], metric: str) -> list[str]:
    out = []
    label = metric_info(results, metric)["label"]
    keys = dict.fromkeys((r.model, r.level) for r in rows if not r.is_baseline)
    for model, level in keys:
        cands = [(r.mean(metric), r.pruner) for r in rows if r.model == model and r.level == level
                 and not r.is_baseline and r.mean(metric) is not None]
        if len(cands) < 2:
            continue
        cands.sort(key=lambda t: t[0], reverse=True)
        (_, best), (_, runner) = cands[0], cands[1]
        c = stats.comparison(model, level, metric, str(best), str(runner))
        if c is None:
            out.append(f"{model} at {level:g}: {best} has the highest {label}, ahead of {runner}; the difference "
                       "could not be tested.")
            continue
        sign = 1 if c.a == best else -1
        if sign == -1:  # state it as best - runner-up: the difference, and its interval, change sign
            c = Comparison(**{**c.__dict__, "a": c.b, "b": c.a, "diff": -c.diff, "low": -c.high, "high": -c.low})
        ev = c.evidence()
        if c.significant and c.diff > 0:
            out.append(f"{model} at {level:g}: best pruner by {label} is {best}, significantly ahead of {runner} "
                       f"({best} - {runner} {ev}).")
        else:
            out.append(f"{model} at {level:g}: {best} and {runner} are indistinguishable by {label} at this budget "
                       f"({best} - {runner} {ev}).")
    return out


def _tolerance(results: Results, stats: Statistics) -> list[str]:
    """Retention per model at each (pruner, level), and whether the larger model keeps more (intervals apart)."""
    sizes = {}
    for r in summarize(results):
        if r.is_baseline and r.mean("params") is not None:
            sizes[r.model] = r.mean("params")
    models = sorted(sizes, key=lambda m: sizes[m])
    if len(models) < 2:
        return []
    lines, holds = [], True
    tested = False
    for pruner in results.pruners:
        levels = sorted({round(c.level, 6) for c in results.cells if c.pruner == pruner})
        for lv in levels:
            kept = [(m, stats.stat(m, pruner, lv, "map50_kept")) for m in models]
            kept = [(m, s) for m, s in kept if s is not None and s.mean is not None]
            if len(kept) < 2:
                continue
            tested = True
            text = ", ".join(f"{m} {100 * s.mean:.0f}%" + (f" [{100 * s.low:.0f}, {100 * s.high:.0f}]"
                                                            if s.has_interval else "") for m, s in kept)
            lines.append(f"mAP50 kept at {pruner} {lv:g}: {text}.")
            for (_m1, s1), (_m2, s2) in itertools.pairwise(kept):  # smaller, then larger
                if not (s1.has_interval and s2.has_interval and s2.low > s1.high):  # type: ignore[operator]
                    holds = False
    if not tested:
        return lines
    verdict = ("holds on this run: each larger model's retention interval lies above the smaller one's" if holds
               else "is not supported on this run: at some level a larger model's retention interval does not lie "
                    "above the smaller one's (overlapping intervals count as not shown)")
    return [*lines, f"Source study, 'larger models tolerate pruning better': {verdict}."]


def _study_trend(lines: list[str]) -> str | None:
    trends = [ln for ln in lines if "it falls with the level" in ln or "; it " in ln]
    if not trends:
        return None
    ok = all("it falls with the level" in ln for ln in trends)
    return ("Source study, 'accuracy falls steadily with the level': " +
            ("holds on this run (every step of every line is a significant drop)." if ok else
             "not shown on this run for every line (see the steps above that are not significant)."))


def pareto_front(rows: Sequence[Row], cost: str) -> list[Row]:
    """Rows not dominated in (lower ``cost``, higher mAP50) among every model, pruner and level."""
    pts = [r for r in rows if r.mean(cost) is not None and r.mean("map50") is not None]
    front = []
    for r in pts:
        dominated = any(o is not r and o.mean(cost) <= r.mean(cost) and o.mean("map50") >= r.mean("map50")
                        and (o.mean(cost) < r.mean(cost) or o.mean("map50") > r.mean("map50")) for o in pts)
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: r.mean(cost))


def _pareto(results: Results, stats: Statistics, rows: Sequence[Row]) -> list[str]:
    cost = "latency_ms" if any(r.mean("latency_ms") is not None for r in rows) else "gflops"
    front = pareto_front(rows, cost)
    if not front:
        return []
    unit = "ms" if cost == "latency_ms" else "GFLOPs"
    pts = "; ".join(f"{r.model} {r.label}{'' if r.is_baseline else ' ' + format(r.level, 'g')} "
                    f"({r.mean(cost):.3g} {unit}, mAP50 {_ci(stats.stat(r.model, r.pruner, r.level, 'map50'))})"
                    for r in front)
    out = [f"Accuracy-{'latency' if cost == 'latency_ms' else 'GFLOPs'} Pareto front over every model and level "
           f"(point estimates): {pts}."]
    for b in (r for r in front if r.is_baseline):
        for model in results.models:
            if model == b.model:
                continue
            pruned = [r for r in rows if r.model == model and not r.is_baseline and r.mean(cost) is not None
                      and r.mean("map50") is not None]
            if pruned and all(r.mean(cost) >= b.mean(cost) and r.mean("map50") <= b.mean("map50") for r in pruned):
                out.append(f"At ≤ {b.mean(cost):.3g} {unit}, unpruned {b.model} beats every pruned {model} "
                           f"(mAP50 {b.mean('map50'):.3f} against at most "
                           f"{max(r.mean('map50') for r in pruned):.3f}).")
    return out


def _budget(results: Results) -> list[str]:
    costs = [(c, cell_cost(results, c)) for c in results.cells if c.status == "done" and c.pruner is not None]
    if not costs:
        return []
    ft = {(k["finetune_epochs"], k["finetune_images"]) for _, k in costs}
    line = []
    if len(ft) == 1:
        ep, img = next(iter(ft))
        if ep:
            line.append(f"every pruned cell was fine-tuned with the same budget ({ep:g} epochs"
                        + (f", {img:,.0f} images" if img else "") + ")")
    else:
        line.append("fine-tuning budgets differ between cells (see the cost columns of results.csv)")
    sparse = {c.pruner: k for c, k in costs if k.get("sparsity_epochs")}
    for pruner, k in sparse.items():
        line.append(f"{pruner} also had {k['sparsity_epochs']:g} epochs of sparsity training"
                    + (f" ({k['sparsity_images']:,.0f} images)" if k.get("sparsity_images") else ""))
    return ["Budget: " + "; ".join(line) + "."] if line else []


def findings(results: Results, rows: Sequence[Row] | None = None, metric: str = "map50",
             stats: Statistics | None = None) -> list[str]:
    """Sentences that summarise the run, each with its evidence (a bullet of the report each)."""
    rows = summarize(results) if rows is None else rows
    stats = compute_statistics(results) if stats is None else stats
    out: list[str] = [f"How to read: {_source(stats)}; 'Δ' is a paired difference (same seed, same resampled "
                      "images) with its 95 % interval; p_holm is Holm-adjusted within each (model, level, "
                      "metric) table; 'significant' means p_holm < 0.05."]
    trends = []
    for model in results.models:
        for pruner in results.pruners:
            line = _trend(results, stats, model, pruner, metric)
            if line:
                trends.append(line)
    out += trends
    study = _study_trend(trends)
    if study:
        out.append(study)
    out += _tolerance(results, stats)
    out += _best(results, stats, rows, "map50_95")
    out += _pareto(results, stats, rows)
    out += _speed(results, stats)
    out += _budget(results)
    failed = [c.key for c in results.cells if c.status == "failed"]
    if failed:
        out.append(f"{len(failed)} of {len(results.cells)} cells failed: {', '.join(failed[:5])}"
                   + (" ..." if len(failed) > 5 else "") + " (see Failed cells).")
    pending = [c for c in results.cells if c.status not in ("done", "failed")]
    if pending:
        out.append(f"{len(pending)} cells have not finished; run `prunebench run` again to complete them.")
    return [ln for ln in out if ln and not (isinstance(ln, float) and math.isnan(ln))]
