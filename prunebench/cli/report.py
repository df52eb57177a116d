"""``prunebench report``: redraw tables, plots and reports of a run folder from its results store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "handle"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="redraw tables, plots and reports from a run folder (no rerun)",
                       description="Read RUN_DIR's results store and run the reporters again: console tables, "
                                   "results.json/csv, plots/, report.md and report.html. Nothing is recomputed.")
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="run folder written by `prunebench run`")
    p.add_argument("--reporter", "-r", action="append", default=[], metavar="NAME",
                   help="run only this reporter (repeatable; default: the spec's reporters). "
                        "Bundled: console, json, csv, plots, markdown, html")
    p.add_argument("--width", type=_width, default=None, metavar="N",
                   help="console width for the tables (40 to 10000)")
    p.set_defaults(handler=handle)


def _width(value: str) -> int:
    try:
        width = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of columns, got {value!r}") from None
    if not 40 <= width <= 10_000:
        raise argparse.ArgumentTypeError(f"must be between 40 and 10000 columns, got {width}")
    return width


def handle(args: argparse.Namespace) -> int:
    from rich.console import Console

    from prunebench.plugins import get_catalogue
    from prunebench.report.reporting import build_reporters, reporter_refs, run_reporters
    from prunebench.report.run_folder import open_run

    results = open_run(args.run_dir)
    refs = reporter_refs(results.spec or {}, list(args.reporter))
    if any(name != "console" for name, _ in refs):
        from prunebench.suite.runfolder import read_only_error, read_only_problem

        problem = read_only_problem(Path(args.run_dir))
        if problem is not None:
            raise read_only_error(Path(args.run_dir), "`prunebench report` writes results.json/csv, plots/ and "
                                                      "report.md/html there", problem,
                                  instead=f"Print the tables only with `prunebench report {args.run_dir} -r "
                                          f"console`, or copy the run folder somewhere writable and report there")
    cat = get_catalogue([str(m) for m in (results.spec or {}).get("plugins") or []])
    reporters = build_reporters(cat, refs)  # unknown names fail first
    console = Console(width=args.width)
    outcome = run_reporters(reporters, results, Path(args.run_dir), console, debug=bool(getattr(args, "debug", False)))
    written = outcome.written
    if written:
        console.print(f"wrote {len(written)} files in {args.run_dir}: " + ", ".join(
            sorted({str(p.relative_to(args.run_dir)).split('/')[0] if p.is_relative_to(args.run_dir) else str(p)
                    for p in written})), highlight=False)
    return 1 if outcome.failed else 0
