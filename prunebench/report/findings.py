"""Short, automatically written findings: accuracy trend per model, best pruner per level, speed-up vs GFLOPs."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

from prunebench.report.summary import Row, best_pruners, latency_setting, metric_info, summarize
from prunebench.suite.results import Results

__all__ = ["findings"]


def _decimals(fmt: str) -> int:
    digits = "".join(ch for ch in fmt.rsplit(".", maxsplit=1)[-1] if ch.isdigit()) if "." in fmt else ""
    return int(digits) if digits else 3


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _trend(results: Results, rows: Sequence[Row], model: str, pruner: str, metric: str) -> str | None:
    base = next((r for r in rows if r.model == model and r.is_baseline), None)
    prow = [r for r in rows if r.model == model and r.pruner == pruner]
    if base is None or not prow or base.mean(metric) is None:
        return None
    label = metric_info(results, metric)["label"]
    fmt = metric_info(results, metric)["fmt"]
    vals = [r.mean(metric) for r in prow]
    shown = " / ".join("failed" if v is None else format(v, fmt) for v in vals)
    kept = " / ".join(_pct(r.retention.get(f"{metric}_kept").mean if r.retention.get(f"{metric}_kept")
                           else None) for r in prow)
    levels = " / ".join(f"{r.level:g}" for r in prow)
    seq = [base.mean(metric), *(v for v in vals if v is not None)]
    if len(seq) < 2:
        verdict = "no pruned result to compare"
    elif max(seq) - min(seq) < 10 ** -_decimals(fmt):
        verdict = "does not change with the level"
    elif all(b <= a for a, b in itertools.pairwise(seq)):
        verdict = "falls steadily with the level"
    elif all(b >= a for a, b in itertools.pairwise(seq)):
        verdict = "does not fall with the level"
    else:
        verdict = "does not change monotonically with the level"
    return (f"{model}, {pruner}: {label} {format(base.mean(metric), fmt)} unpruned, {shown} at levels "
            f"{levels} ({kept} kept); it {verdict}.")


def _tolerance(rows: Sequence[Row], results: Results, metric: str) -> list[str]:
    out = []
    for pruner in results.pruners:
        levels = sorted({r.level for r in rows if r.pruner == pruner})
        if not levels or len(results.models) < 2:
            continue
        top = levels[-1]
        kept = [(r.retention[f"{metric}_kept"].mean, r.model) for r in rows
                if r.pruner == pruner and r.level == top and r.retention.get(f"{metric}_kept")
                and r.retention[f"{metric}_kept"].mean is not None]
        if len(kept) < 2:
            continue
        kept.sort(reverse=True)
        label = metric_info(results, metric)["label"]
        out.append(f"At {pruner} level {top:g}, {kept[0][1]} keeps the most {label} ({100 * kept[0][0]:.1f}%) and "
                   f"{kept[-1][1]} the least ({100 * kept[-1][0]:.1f}%).")
    return out


def _best(rows: Sequence[Row], results: Results, metric: str) -> list[str]:
    best = best_pruners(rows, metric)
    if not best:
        return []
    label = metric_info(results, metric)["label"]
    wins = Counter(b.best for b in best)
    lines = [f"Best pruner by {label}: " + ", ".join(f"{p} in {n} of {len(best)} (model, level) pairs"
                                                   for p, n in wins.most_common()) + "."]
    by_key = {(r.model, r.pruner, r.level): r for r in rows}
    close = []
    for b in best:
        if b.tied:
            close.append(f"{b.model} {b.level:g}: {b.best} tied with {', '.join(b.tied)}")
            continue
        if b.runner_up is None or b.margin is None:
            continue
        s1 = by_key[(b.model, b.best, b.level)].values[metric].std or 0.0
        s2 = by_key[(b.model, b.runner_up, b.level)].values[metric].std or 0.0
        if b.margin <= max(s1, s2):
            close.append(f"{b.model} {b.level:g}: {b.best} ahead of {b.runner_up} by {b.margin:.3f}, within "
                         f"the seed std")
    if close:
        lines.append("Not clear-cut: " + "; ".join(close) + ".")
    return lines


def _speed(rows: Sequence[Row], results: Results) -> list[str]:
    out = []
    for model in results.models:
        base = next((r for r in rows if r.model == model and r.is_baseline), None)
        if base is None or base.mean("gflops") is None:
            continue
        for pruner in results.pruners:
            prow = [r for r in rows if r.model == model and r.pruner == pruner]
            parts = []
            for r in prow:
                g, s = r.mean("gflops"), r.retention.get("speedup")
                if g is None or s is None or s.mean is None:
                    continue
                ideal = base.mean("gflops") / g if g else float("nan")
                odd = " (more than the GFLOPs ratio allows: noisy timing?)" if s.mean > 1.25 * ideal else ""
                parts.append(f"{r.level:g}: GFLOPs -{_pct(1 - g / base.mean('gflops'))} (ideal {ideal:.2f}x), "
                             f"measured {s.mean:.2f}x{odd}")
            if parts:
                out.append(f"{model}, {pruner}: " + "; ".join(parts) + ".")
    if out:
        out.append(f"Latency measured on {latency_setting(results)}; the ideal speed-up is the GFLOPs ratio.")
    return out


def findings(results: Results, rows: Sequence[Row] | None = None, metric: str = "map50") -> list[str]:
    """A few sentences that summarise the run (each a bullet of the report)."""
    rows = summarize(results) if rows is None else rows
    out: list[str] = []
    for model in results.models:
        for pruner in results.pruners:
            line = _trend(results, rows, model, pruner, metric)
            if line:
                out.append(line)
    out += _tolerance(rows, results, "map50_95")
    out += _best(rows, results, "map50_95")
    out += _speed(rows, results)
    failed = [c.key for c in results.cells if c.status == "failed"]
    if failed:
        out.append(f"{len(failed)} of {len(results.cells)} cells failed: {', '.join(failed[:5])}"
                   + (" ..." if len(failed) > 5 else "") + " (see Failed cells).")
    pending = [c for c in results.cells if c.status not in ("done", "failed")]
    if pending:
        out.append(f"{len(pending)} cells have not finished; run `prunebench run` again to complete them.")
    return out
