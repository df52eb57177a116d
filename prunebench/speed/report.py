"""The speed stage in the reports: a table per model (latency and speed-up per runtime) and two plots.

Every figure is an interleaved one (baseline and variants timed in the same rounds) with its 95 %
interval; a variant is called slower than its baseline only when the whole interval lies below 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prunebench.speed.stage import speed_rows

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.report.tables import TableData
    from prunebench.suite.results import Results

__all__ = ["speed_findings", "speed_plot_jobs", "speed_setting", "speed_tables"]


def _cells(results: Results) -> dict[str, Any]:
    return {c.key: c for c in results.cells}


def speed_setting(rows: Sequence[dict[str, Any]]) -> str:
    """Where the figures were measured, e.g. ``"AMD EPYC, 2 threads, 640x640, batch 1"``."""
    if not rows:
        return ""
    r = rows[0]
    where = r.get("gpu") or r.get("cpu") or "?"
    return f"{where}, {r.get('threads')} threads, {r.get('imgsz')}x{r.get('imgsz')}, batch {r.get('batch')}"


def _verdict(row: dict[str, Any]) -> str:
    if row["is_baseline"]:
        return "baseline"
    if row["speedup_hi"] < 1.0:
        return "slower"
    if row["speedup_lo"] > 1.0:
        return "faster"
    return "no clear difference"


def speed_tables(results: Results) -> list[TableData]:
    """One table per model and seed: every variant on every runtime, interleaved figures with intervals."""
    from prunebench.report.tables import TableData

    rows = speed_rows(results)
    cells = _cells(results)
    out: list[TableData] = []
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["model"], int(r["seed"])), []).append(r)
    for (model, seed), group in groups.items():
        table_rows: list[list[str]] = []
        styles: list[str] = []
        for r in group:
            cell = cells.get(r["variant"])
            label = "baseline" if r["is_baseline"] else (
                f"{cell.pruner} {cell.level:g}" if cell is not None else r["variant"])
            gflops = cell.metrics.get("gflops") if cell is not None else None
            base_cell = cells.get(r["baseline"])
            base_gflops = base_cell.metrics.get("gflops") if base_cell is not None else None
            if r["status"] != "ok":
                table_rows.append([label, r["runtime"], "—", "—", "—", "—", "—", f"failed: {r['error']}"])
                styles.append("red")
                continue
            eff = "—"
            if gflops and base_gflops and not r["is_baseline"]:
                eff = f"{r['speedup'] / (base_gflops / gflops):.2f}"
            fmt = r.get("memory_format") or ""
            table_rows.append([
                label, r["runtime"] + (f" ({fmt})" if r["runtime"].startswith("torch") and fmt else ""),
                f"{r['median_ms']:.2f} [{r['median_lo_ms']:.2f}, {r['median_hi_ms']:.2f}]",
                "1" if r["is_baseline"] else f"{r['speedup']:.2f} [{r['speedup_lo']:.2f}, {r['speedup_hi']:.2f}]",
                eff, f"{r['throughput_ips']:.1f}", f"{r['max_abs_error']:.1e}",
                _verdict(r) + ("" if r["converged"] else f" ({r['stopped_by']}, {r['rounds']} rounds)"),
            ])
            styles.append("red" if _verdict(r) == "slower" else "")
        out.append(TableData(
            title=f"{model} (seed {seed}): deployed speed per runtime",
            headers=["Variant", "Runtime", "Latency ms [95% CI]", "Speed-up [95% CI]", "Speed-up / GFLOPs cut",
                     "Images/s", "Max |err|", "Note"],
            rows=table_rows, styles=styles,
            caption=(f"Interleaved in one process ({speed_setting(group)}); speed-up = baseline / variant per "
                     "round, median and distribution-free 95% interval; 'slower' only when the whole interval "
                     "is below 1; Max |err| = largest output difference from eager PyTorch fp32")))
    return out


def speed_findings(results: Results) -> list[str]:
    """Sentences for the report's findings: slower variants (interval below 1) and failed runtime checks."""
    out: list[str] = []
    rows = speed_rows(results)
    slower = [r for r in rows if r["status"] == "ok" and not r["is_baseline"] and r["speedup_hi"] < 1.0]
    failed = [r for r in rows if r["status"] != "ok"]
    ok = [r for r in rows if r["status"] == "ok" and not r["is_baseline"]]
    if ok:
        best = max(ok, key=lambda r: r["speedup"])
        out.append(f"Deployed speed ({speed_setting(rows)}, interleaved): {len(ok)} pruned figures, "
                   f"{len(slower)} slower than their baseline (whole 95% interval below 1); the largest speed-up "
                   f"is x{best['speedup']:.2f} [{best['speedup_lo']:.2f}, {best['speedup_hi']:.2f}] "
                   f"({best['variant']} on {best['runtime']}).")
    for r in slower:
        out.append(f"{r['variant']} is slower than its baseline on {r['runtime']}: x{r['speedup']:.2f} "
                   f"[{r['speedup_lo']:.2f}, {r['speedup_hi']:.2f}].")
    for r in failed:
        out.append(f"No {r['runtime']} figure for {r['variant']}: {r['error']}")
    return out


def speed_plot_jobs(results: Results) -> list[Any]:
    """Plot jobs (see :class:`prunebench.report.plots.PlotJob`): speed-up per runtime, accuracy vs latency."""
    rows = [r for r in speed_rows(results) if r["status"] == "ok"]
    if not rows:
        return []
    from prunebench.report.plots import PlotJob

    setting = speed_setting(rows)
    return [
        PlotJob("speed_speedup_vs_gflops.png", f"Measured speed-up (interleaved, 95% interval) against the GFLOPs "
                f"reduction factor, per runtime ({setting}); the dashed line is speed-up = GFLOPs cut.",
                "Deployed speed", lambda: _speedup_plot(results, rows)),
        PlotJob("speed_tradeoff_latency.png", f"mAP50-95 against interleaved latency, one panel per runtime "
                f"({setting}).", "Deployed speed", lambda: _tradeoff_plot(results, rows)),
    ]


def _speedup_plot(results: Results, rows: list[dict[str, Any]]) -> Any:
    import matplotlib.pyplot as plt

    cells = _cells(results)
    fig, ax = plt.subplots(figsize=(6.4, 4.6), layout="constrained")
    top = 1.0
    for rt in dict.fromkeys(r["runtime"] for r in rows):
        xs, ys, lo, hi = [], [], [], []
        for r in rows:
            cell, base = cells.get(r["variant"]), cells.get(r["baseline"])
            if r["runtime"] != rt or r["is_baseline"] or cell is None or base is None:
                continue
            g, g0 = cell.metrics.get("gflops"), base.metrics.get("gflops")
            if not g or not g0:
                continue
            xs.append(g0 / g)
            ys.append(r["speedup"])
            lo.append(r["speedup"] - r["speedup_lo"])
            hi.append(r["speedup_hi"] - r["speedup"])
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, label=rt)
            top = max(top, *xs, *ys)
    ax.plot([1, top], [1, top], "k--", lw=0.8)
    ax.axhline(1.0, color="grey", lw=0.6)
    ax.set_xlabel("GFLOPs reduction factor (baseline / pruned)")
    ax.set_ylabel("measured speed-up")
    ax.legend()
    return fig


def _tradeoff_plot(results: Results, rows: list[dict[str, Any]]) -> Any:
    import matplotlib.pyplot as plt

    cells = _cells(results)
    runtimes = list(dict.fromkeys(r["runtime"] for r in rows))
    fig, axes = plt.subplots(1, len(runtimes), figsize=(4.8 * len(runtimes), 4.0), layout="constrained",
                             squeeze=False)
    for ax, rt in zip(axes.ravel(), runtimes):
        for model in dict.fromkeys(r["model"] for r in rows):
            pts = []
            for r in rows:
                cell = cells.get(r["variant"])
                if r["runtime"] == rt and r["model"] == model and cell is not None \
                        and cell.metrics.get("map50_95") is not None:
                    pts.append((r["median_ms"], cell.metrics["map50_95"], r["median_lo_ms"], r["median_hi_ms"]))
            if pts:
                pts.sort()
                ax.errorbar([p[0] for p in pts], [p[1] for p in pts],
                            xerr=[[p[0] - p[2] for p in pts], [p[3] - p[0] for p in pts]], fmt="o-", capsize=2,
                            label=model)
        ax.set_title(rt)
        ax.set_xlabel("latency (ms, interleaved median)")
        ax.set_ylabel("mAP50-95")
        ax.legend(fontsize="small")
    return fig
