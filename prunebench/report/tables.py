"""Result tables as plain data, then as rich tables (console) or Markdown: one row per (model, pruner, level)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prunebench.report.summary import (
    RETENTION,
    BestPruner,
    Row,
    Stat,
    best_pruners,
    latency_setting,
    metric_columns,
    metric_info,
    model_rows,
    summarize,
)
from prunebench.report.uncertainty import Comparison, Statistics, compute_statistics, number_format, speedup_rows
from prunebench.suite.results import Results

__all__ = [
    "MISSING",
    "TableData",
    "best_pruner_table",
    "comparison_tables",
    "failed_cells_table",
    "format_retention",
    "format_stat",
    "markdown_table",
    "model_tables",
    "print_tables",
    "rich_table",
]

#: What a missing figure shows as (never an empty cell, never a dropped column).
MISSING = "—"


@dataclass
class TableData:
    """A table as strings: a title, headers, rows, per-row styles and a caption."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    styles: list[str] = field(default_factory=list)  # rich style per row ("" for none)
    caption: str = ""
    #: per column: "id" (kept in every part), "accuracy", "cost" or "note"; empty for untyped tables
    groups: list[str] = field(default_factory=list)

    def width(self) -> int:
        """Characters needed to show every cell on one line (with rich's borders and padding)."""
        cols = [max([len(h), *(len(line) for r in self.rows for line in r[i].split("\n"))])
                for i, h in enumerate(self.headers)]
        return sum(cols) + 3 * len(cols) + 1

    def split(self) -> list[TableData]:
        """Two narrower tables: accuracy (+ notes) and cost/speed, each with the id columns."""
        if not self.groups:
            return [self]
        parts = []
        notes = []
        if "note" in self.groups:
            j = self.groups.index("note")
            notes = [f"{r[0]} {r[1]}: {r[j]}" for r in self.rows if r[j]]
        for name, keep in (("accuracy", {"id", "accuracy"}), ("cost and speed", {"id", "cost"})):
            idx = [i for i, g in enumerate(self.groups) if g in keep]
            caption = "Notes: " + "; ".join(notes) if name == "accuracy" and notes else ""
            parts.append(TableData(title=f"{self.title}: {name}", headers=[self.headers[i] for i in idx],
                                   rows=[[r[i] for i in idx] for r in self.rows], styles=list(self.styles),
                                   caption=self.caption if name != "accuracy" else caption,
                                   groups=[self.groups[i] for i in idx]))
        return parts


def format_stat(stat: Stat | None, fmt: str) -> str:
    """``mean`` or ``mean ± std`` (std shown when several seeds differ), or :data:`MISSING`."""
    if stat is None or stat.mean is None:
        return MISSING
    text = format(stat.mean, fmt)
    if stat.std is not None and stat.n > 1 and format(stat.std, fmt.lstrip(",")) != format(0.0, fmt.lstrip(",")):
        text += " ± " + format(stat.std, fmt)
    return text


def format_retention(name: str, stat: Stat | None) -> str:
    """A retention figure: percentages for ``*_kept``, ``1.23x`` for the speed-up."""
    if stat is None or stat.mean is None:
        return MISSING
    if RETENTION[name][1] == "inverse":
        text = f"{stat.mean:.2f}x"
        if stat.std is not None and stat.n > 1 and f"{stat.std:.2f}" != "0.00":
            text += f" ± {stat.std:.2f}"
        return text
    text = f"{100 * stat.mean:.1f}%"
    if stat.std is not None and stat.n > 1 and f"{100 * stat.std:.1f}" != "0.0":
        text += f" ± {100 * stat.std:.1f}"
    return text


def _level(row: Row) -> str:
    return "0" if row.is_baseline else f"{row.level:g}"


def model_tables(results: Results, rows: Sequence[Row] | None = None) -> list[TableData]:
    """One table per model like the tea-bud study's: baseline row first, then each pruner's levels."""
    rows = summarize(results) if rows is None else rows
    columns = metric_columns(results)
    infos = {m: metric_info(results, m) for m in columns}
    several_seeds = len(results.seeds) > 1
    stats = compute_statistics(results)
    speed = speedup_rows(results)
    tables = []
    for model in results.models:
        mrows = model_rows(rows, model)
        has_notes = any(r.note for r in mrows)
        headers = ["Pruner", "Level", *(infos[m]["label"] for m in columns),
                   *(label for _m, _h, label in RETENTION.values())]
        groups = ["id", "id", *("accuracy" if infos[m]["kind"] == "accuracy" else "cost" for m in columns),
                  *("accuracy" if RETENTION[n][0].startswith("map") else "cost" for n in RETENTION)]
        headers.append("Budget")
        groups.append("cost")
        if several_seeds:
            headers.insert(2, "Seeds")
            groups.insert(2, "id")
        if has_notes:
            headers.append("Note")
            groups.append("note")
        data = TableData(title=model, headers=headers, rows=[], styles=[], groups=groups)
        for r in mrows:
            cells = [r.label, _level(r)]
            if several_seeds:
                cells.append(f"{len(r.done)}/{len(r.cells)}")
            cells += [_speed_latency(speed, r) if m == "latency_ms" and speed and _unmeasured(r, m) else
                      format_stat(r.values.get(m), infos[m]["fmt"]) + _interval(stats, r, m, infos[m]["fmt"])
                      for m in columns]
            cells += [format_retention(name, r.retention.get(name))
                      + _interval(stats, r, name, "x" if RETENTION[name][1] == "inverse" else ".1%")
                      for name in RETENTION]
            cells.append(_budget(results, r))
            if has_notes:
                cells.append(r.note)
            data.rows.append(cells)
            data.styles.append("bold" if r.is_baseline else ("red" if r.status == "failed" else
                                                              ("yellow" if r.note else "")))
        seeds = results.seeds
        stat_note = (f"mean ± sample std over {len(seeds)} seeds ({', '.join(map(str, seeds))})"
                     if several_seeds else f"seed {seeds[0]}" if seeds else "no seeds")
        sources = {s.source for s in stats.summary if s.model == model and s.has_interval}
        interval_note = ("second line: 95 % interval (" + " or ".join(
            {"seeds": "Student t over seeds", "bootstrap": "image bootstrap, one seed",
             "timing": "interleaved timing"}[s] for s in sorted(sources)) + ")") if sources else "no intervals"
        latency_from_speed = bool(speed) and all(_unmeasured(r, "latency_ms") for r in mrows)
        data.caption = (f"{stat_note}; {interval_note}; retention against the same seed's baseline; "
                        f"{_speed_setting(results, speed, latency_from_speed)}; "
                        f"{MISSING} = not measured or failed")
        tables.append(data)
    return tables


def _unmeasured(row: Row, metric: str) -> bool:
    stat = row.values.get(metric)
    return stat is None or stat.mean is None


def _speed_latency(speed: dict[str, dict[str, Any]], row: Row) -> str:
    """Where the run has no ``latency_ms`` metric: the speed stage's interleaved median latency (first
    runtime, the one the caption names), with its interval; over seeds, the mean of the seeds' medians."""
    found = [speed[c.key] for c in row.done if c.key in speed and speed[c.key].get("median_ms") is not None]
    if not found:
        return MISSING
    if len(found) == 1:
        r = found[0]
        text = f"{r['median_ms']:.1f}"
        if r.get("median_lo_ms") is not None and r.get("median_hi_ms") is not None:
            text += f"\n[{r['median_lo_ms']:.1f}, {r['median_hi_ms']:.1f}]"
        return text
    return format_stat(Stat.of(float(r["median_ms"]) for r in found), ".1f")


def _speed_setting(results: Results, rows: dict[str, dict[str, Any]], latency_from_speed: bool = False) -> str:
    """Where the speed-up column was measured: the speed stage's first runtime (``rows``: its rows by cell),
    else the latency metric."""
    if not rows:
        return f"latency: {latency_setting(results)}"
    r = next(iter(rows.values()))
    what = "latency and speed-up" if latency_from_speed else "speed-up"
    return (f"{what}: {r.get('runtime')} on {r.get('cpu') or r.get('runtime_device') or 'this machine'}, "
            f"{r.get('threads')} threads, imgsz {r.get('imgsz')}, batch {r.get('batch')}, timed interleaved with "
            f"the baseline in one process")


def _budget(results: Results, row: Row) -> str:
    """The compute of the row's own training stage (fine-tuning; training for the baseline), seed mean."""
    from prunebench.report.cost import cell_cost

    costs = [cell_cost(results, c) for c in row.done]
    out = []
    for kind, short in (("train", "train") if row.is_baseline else ("finetune", "ft"), ("sparsity", "sparsity")):
        eps = [k[f"{kind}_epochs"] for k in costs if k.get(f"{kind}_epochs")]
        if not eps:
            continue
        imgs = [k[f"{kind}_images"] for k in costs if k.get(f"{kind}_images") is not None]
        secs = [k[f"{kind}_seconds"] for k in costs if k.get(f"{kind}_seconds") is not None]
        text = f"{short} {max(eps):g} ep"
        if imgs:
            text += f" {max(imgs):,.0f} img"
        if secs:
            text += f" {sum(secs) / len(secs):.0f} s"
        out.append(text)
    return "\n".join(out) if out else MISSING


def _interval(stats: Statistics, row: Row, metric: str, fmt: str) -> str:
    """``"\n[low, high]"`` when the figure has a 95 % interval (a second line: numbers are never broken)."""
    s = stats.stat(row.model, row.pruner, row.level, metric)
    if s is None or not s.has_interval:
        return ""
    if fmt == ".1%":
        return f"\n[{100 * s.low:.1f}, {100 * s.high:.1f}]%"
    if fmt == "x":  # a speed-up, printed like its point value
        return f"\n[{s.low:.2f}, {s.high:.2f}]x"
    f = fmt.lstrip(",")
    return f"\n[{s.low:{f}}, {s.high:{f}}]"


def comparison_tables(results: Results, stats: Statistics | None = None) -> list[TableData]:
    """One table per (model, level, metric): each pair's paired difference, interval, p and Holm's p."""
    stats = compute_statistics(results) if stats is None else stats
    groups: dict[tuple[str, float, str], list[Comparison]] = {}
    for c in stats.comparisons:
        groups.setdefault((c.model, c.level, c.metric), []).append(c)
    out = []
    for (model, level, metric), comps in groups.items():
        label = "speed-up" if metric == "speedup" else metric_info(results, metric)["label"]
        data = TableData(title=f"{model} at level {level:g}: {label}, paired comparisons",
                         headers=["A", "B", "A - B", "95% CI", "p", "p (Holm)", "Test", "n", "Verdict"], rows=[])
        for c in comps:
            f = "+" + number_format(c.diff, c.low, c.high)
            diff = f"{c.diff:.2f}x" if c.null == 1.0 else f"{c.diff:{f}}"
            ci = f"[{c.low:.2f}, {c.high:.2f}]" if c.null == 1.0 else f"[{c.low:{f}}, {c.high:{f}}]"
            p = MISSING if math.isnan(c.p) else f"{c.p:.3g}"
            ph = MISSING if math.isnan(c.p_holm) else f"{c.p_holm:.3g}"
            verdict = ("A higher" if c.diff > c.null else "A lower") if c.significant else "not distinguishable"
            data.rows.append([c.a, c.b, diff, ci, p, ph, c.method, str(c.n), verdict])
            data.styles.append("" if c.significant else "dim")
        data.caption = ("A - B paired by seed (and by resampled images for the bootstrap); speed-ups against the "
                        "baseline are ratios (1 = equal); Holm-adjusted within this table; significant: p (Holm) "
                        "< 0.05, or for timing the interval excludes 1.")
        out.append(data)
    return out


def best_pruner_table(results: Results, rows: Sequence[Row] | None = None,
                      metric: str = "map50_95") -> TableData | None:
    """Best pruner per model and level (by ``metric``); None when there are fewer than two pruners."""
    rows = summarize(results) if rows is None else rows
    best: list[BestPruner] = best_pruners(rows, metric)
    if not best:
        return None
    info = metric_info(results, metric)
    fmt = info["fmt"]
    stats = compute_statistics(results)
    data = TableData(title=f"Best pruner per level (by {info['label']})",
                     headers=["Model", "Level", "Best", info["label"], "Runner-up", "Margin", "Ties", "Verdict"],
                     rows=[])
    for b in best:
        c = stats.comparison(b.model, b.level, metric, b.best, b.runner_up) if b.runner_up else None
        if b.tied:
            verdict = "indistinguishable (tied)"
        elif c is None:
            verdict = "not tested"
        elif c.significant and (c.diff > 0) == (c.a == b.best):
            verdict = f"best (p_holm {c.p_holm:.2g})" if not math.isnan(c.p_holm) else "best"
        else:
            verdict = ("indistinguishable" + (f" (p_holm {c.p_holm:.2g})" if not math.isnan(c.p_holm) else ""))
        data.rows.append([b.model, f"{b.level:g}", b.best, format(b.value, fmt), b.runner_up or MISSING,
                          MISSING if b.margin is None else format(b.margin, fmt),
                          ", ".join(b.tied) + f" (equal to {format(b.value, fmt)})" if b.tied else "", verdict])
        data.styles.append("")
    data.caption = ("Ties: pruners whose mean equals the best at the shown precision. Verdict: 'best' only when the "
                    "paired test against the runner-up is significant (Holm-adjusted), else indistinguishable.")
    return data


def failed_cells_table(results: Results) -> TableData | None:
    """Every failed cell with its (shortened) error; None when nothing failed."""
    from prunebench.report.summary import short_error

    failed = [c for c in results.cells if c.status == "failed"]
    if not failed:
        return None
    data = TableData(title="Failed cells", headers=["Cell", "Error"], rows=[])
    for c in failed:
        data.rows.append([c.key, short_error(c.error, 120)])
        data.styles.append("red")
    return data


_TEXT_HEADERS = ("Note", "Best", "Runner-up", "Ties", "Error", "Model", "Cell", "Key", "Value", "Test", "Verdict",
                 "Budget")
_ID_HEADERS = ("Pruner", "Level", "Seeds", "Model", "Cell", "Best")


def rich_table(data: TableData) -> Any:
    """A :class:`rich.table.Table` of ``data`` (numbers right-aligned)."""
    from rich.table import Table

    table = Table(title=data.title, title_justify="left", caption=data.caption or None,
                  caption_justify="left", header_style="bold")
    for i, h in enumerate(data.headers):
        numeric = i >= 2 and h not in _TEXT_HEADERS
        ident = h in _ID_HEADERS
        if ident:
            width: int | None = max([len(h), *(len(r[i]) for r in data.rows)])
        elif numeric:  # never break a number: only the "± std" part may go to a second line
            width = max([0, *(len(line.split(" ± ")[0]) for r in data.rows for line in r[i].split("\n"))])
        else:
            width = 20 if h in ("Note", "Error") else None
        table.add_column(h, justify="right" if numeric else "left", overflow="fold", no_wrap=ident,
                         min_width=width)
    for cells, style in zip(data.rows, data.styles or [""] * len(data.rows)):
        table.add_row(*cells, style=style or None)
    return table


def print_tables(results: Results, console: Any) -> None:
    """Print every model's table, the best-pruner summary and the failed cells to a rich console.

    A table wider than the console is printed as two: accuracy, then cost and speed.
    """
    rows = summarize(results)
    for data in model_tables(results, rows):
        parts = [data] if data.width() <= console.width else data.split()
        for part in parts:
            console.print(rich_table(part))
    best = best_pruner_table(results, rows)
    if best is not None:
        console.print(rich_table(best))
    for data in comparison_tables(results):
        console.print(rich_table(data))
    from prunebench.speed.report import speed_tables  # the speed stage's interleaved figures

    for data in speed_tables(results):
        console.print(rich_table(data))
    failed = failed_cells_table(results)
    if failed is not None:
        console.print(rich_table(failed))


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(data: TableData) -> str:
    """``data`` as a GitHub-flavoured Markdown table (numbers right-aligned)."""
    align = ["---" if i < 2 or h in ("Note", "Best", "Runner-up", "Ties", "Error") else "---:"
             for i, h in enumerate(data.headers)]
    lines = ["| " + " | ".join(_md_escape(h) for h in data.headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in data.rows]
    return "\n".join(lines)
