"""``prunebench report``: redraw tables, plots and reports of a run folder from its results store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "handle", "reporter_refs"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="redraw tables, plots and reports from a run folder (no rerun)",
                       description="Read RUN_DIR's results store and run the reporters again: console tables, "
                                   "results.json/csv, plots/, report.md and report.html. Nothing is recomputed.")
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="run folder written by `prunebench run`")
    p.add_argument("--reporter", "-r", action="append", default=[], metavar="NAME",
                   help="run only this reporter (repeatable; default: the spec's reporters). "
                        "Bundled: console, json, csv, plots, markdown, html")
    p.add_argument("--width", type=int, default=None, metavar="N", help="console width for the tables")
    p.set_defaults(handler=handle)


def reporter_refs(spec: dict[str, Any], names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(name, options) of the reporters to run: ``names`` (with the spec's options where it has them),
    else the spec's reporters, else every bundled default."""
    stored: list[tuple[str, dict[str, Any]]] = []
    for ref in spec.get("reporters") or []:
        if isinstance(ref, str):
            stored.append((ref, {}))
        elif isinstance(ref, dict) and ref.get("name"):
            stored.append((str(ref["name"]), dict(ref.get("options") or {})))
    if not names:
        return stored or [(n, {}) for n in ("console", "json", "csv", "plots", "markdown", "html")]
    options = dict(stored)
    return [(n, options.get(n, {})) for n in dict.fromkeys(names)]


def handle(args: argparse.Namespace) -> int:
    from rich.console import Console

    from prunebench.errors import PrunebenchError
    from prunebench.plugins import get_catalogue
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
    reporters = [(name, cat.reporters.get(name)(opts)) for name, opts in refs]  # unknown names fail first
    console = Console(width=args.width)
    written: list[Path] = []
    failed = []
    for name, reporter in reporters:
        try:
            written += reporter.report(results, Path(args.run_dir), console)
        except PrunebenchError:
            raise
        except Exception as exc:  # one broken reporter must not cost the others
            if getattr(args, "debug", False):
                raise
            failed.append(name)
            console.print(f"[red]reporter {name!r} failed:[/] {type(exc).__name__}: {exc} "
                          f"(--debug shows the traceback)", highlight=False)
    if written:
        console.print(f"wrote {len(written)} files in {args.run_dir}: " + ", ".join(
            sorted({str(p.relative_to(args.run_dir)).split('/')[0] if p.is_relative_to(args.run_dir) else str(p)
                    for p in written})), highlight=False)
    return 1 if failed else 0
