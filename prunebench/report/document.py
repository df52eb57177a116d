"""The report as a list of blocks (headings, text, tables, images, code), rendered to Markdown or HTML."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prunebench.report.findings import findings
from prunebench.report.plots import plot_jobs
from prunebench.report.summary import summarize
from prunebench.report.tables import (
    TableData,
    best_pruner_table,
    comparison_tables,
    failed_cells_table,
    model_tables,
)
from prunebench.speed.report import speed_findings, speed_tables
from prunebench.suite.results import Results

__all__ = ["Block", "build_document", "environment_table", "spec_yaml"]


@dataclass(frozen=True)
class Block:
    """One piece of the report. ``kind``: heading, text, bullets, table, image, code."""

    kind: str
    value: Any
    level: int = 2  # heading level
    caption: str = ""
    lang: str = ""


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def spec_yaml(results: Results) -> str:
    """The spec as the user wrote it (``spec_text``), else the stored mapping dumped as YAML."""
    if results.spec_text and results.spec_text.strip():
        return results.spec_text.rstrip() + "\n"
    import yaml

    return yaml.safe_dump(results.spec, sort_keys=False, allow_unicode=True)


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}" if prefix else str(k), v)
    elif isinstance(value, list | tuple):
        yield prefix, ", ".join(str(v) for v in value)
    else:
        yield prefix, "—" if value is None or value == "" else str(value)


def environment_table(results: Results) -> TableData:
    """The stored environment (versions, device, threads, git commit) as a two-column table."""
    rows = [[k, v] for k, v in _flatten("", results.environment or {})]
    return TableData(title="Environment", headers=["Key", "Value"], rows=rows or [["(not recorded)", "—"]],
                     styles=[""] * max(1, len(rows)))


def build_document(results: Results, plot_dir: Path, *, link_prefix: str = "plots") -> list[Block]:
    """Every block of the report; images are those of :func:`plot_jobs` present in ``plot_dir``."""
    rows = summarize(results)
    cells = results.cells
    done = sum(c.status == "done" for c in cells)
    failed = sum(c.status == "failed" for c in cells)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = [
        Block("heading", f"{results.name}: pruning benchmark report", level=1),
        Block("text", f"{_n(len(cells), 'cell')} ({done} done, {failed} failed) over "
                      f"{_n(len(results.models), 'model')} ({', '.join(results.models)}), "
                      f"{_n(len(results.pruners), 'pruner')} ({', '.join(results.pruners) or 'none'}) and "
                      f"{_n(len(results.seeds), 'seed')} ({', '.join(map(str, results.seeds))}). "
                      f"Drawn from the results store in `{results.run_dir}` on {now}; redraw with "
                      f"`prunebench report {results.run_dir}`."),
        Block("heading", "Findings"),
        Block("bullets", findings(results, rows) + speed_findings(results)),
        Block("heading", "Results"),
        Block("text", "Baseline row first, then each pruner's levels. Retention is against the same seed's "
                      "baseline; with several seeds, figures are mean ± sample std."),
    ]
    for table in model_tables(results, rows):
        doc.append(Block("heading", table.title, level=3))
        doc.append(Block("table", table, caption=table.caption))
    best = best_pruner_table(results, rows)
    if best is not None:
        doc += [Block("heading", best.title, level=3), Block("table", best, caption=best.caption)]
    speed = speed_tables(results)
    if speed:
        doc.append(Block("heading", "Deployed speed"))
        doc.append(Block("text", "The baseline and every pruned variant of a model timed in one process, "
                                 "interleaved round by round, on each runtime after checking its output against "
                                 "eager PyTorch; speed-ups are per-round ratios with 95% intervals."))
        for table in speed:
            doc += [Block("heading", table.title, level=3), Block("table", table, caption=table.caption)]
    comparisons = comparison_tables(results)
    if comparisons:
        doc.append(Block("heading", "Paired comparisons"))
        doc.append(Block("text", "Each pruner against the unpruned baseline and against every other pruner at the "
                                 "same level: the paired difference, its 95 % interval and p-value (paired t "
                                 "across seeds with 3 or more seeds, else the paired image bootstrap), "
                                 "Holm-adjusted within each table. See docs/statistics.md."))
        for table in comparisons:
            doc += [Block("heading", table.title, level=3), Block("table", table, caption=table.caption)]
    doc.append(Block("heading", "Failed cells"))
    failed_table = failed_cells_table(results)
    if failed_table is None:
        doc.append(Block("text", "None: every cell that ran finished."))
    else:
        doc.append(Block("table", failed_table))
        for c in cells:
            if c.status == "failed" and c.error:
                tail = "\n".join(c.error.strip().splitlines()[-15:])
                doc.append(Block("code", tail, caption=f"{c.key}", lang="text"))
    doc.append(Block("heading", "Plots"))
    section = None
    for job in plot_jobs(results):
        if not (plot_dir / job.name).is_file():
            continue
        if job.section != section:
            section = job.section
            doc.append(Block("heading", section, level=3))
        doc.append(Block("image", f"{link_prefix}/{job.name}", caption=job.caption))
    doc += [
        Block("heading", "Environment"),
        Block("table", environment_table(results)),
        Block("heading", "Spec"),
        Block("code", spec_yaml(results), lang="yaml"),
    ]
    return doc
