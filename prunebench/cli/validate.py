"""``prunebench validate``: check a spec and print its plan, with what the run folder has cached."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.cli._args import path_arg

if TYPE_CHECKING:  # pragma: no cover
    from rich.table import Table

    from prunebench.suite.plan import Plan

__all__ = ["add_parser", "handle"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a spec and show its plan and what is cached",
                       description="Validate SPEC (exit 2 listing every problem with file, line and field), "
                                   "then print its cells and stages and which stages the run folder's store "
                                   "already holds.")
    p.add_argument("spec", metavar="SPEC", help="YAML spec")
    p.add_argument("--out", type=path_arg, default=None, metavar="DIR",
                   help="run folder to look for cached stages in (default: the spec's output)")
    p.add_argument("--stages", action="store_true", help="also list every stage with its key")
    p.set_defaults(handler=handle)


def _stage_status(run_dir: Path) -> dict[str, str]:
    """Stage key -> status in the run folder's store (empty without one; a damaged store is an error)."""
    from prunebench.suite.store import STORE_NAME, Store

    if not (run_dir / STORE_NAME).is_file():
        return {}
    with Store(run_dir, readonly=True) as store:
        return store.stage_status()


def handle(args: argparse.Namespace) -> int:
    from rich.console import Console

    from prunebench.plugins import get_catalogue
    from prunebench.spec import load_spec
    from prunebench.suite.plan import build_plan
    from prunebench.suite.preflight import preflight
    from prunebench.suite.runfolder import check_run_dir_path

    spec = load_spec(args.spec)
    run_dir = args.out if args.out is not None else spec.run_dir
    check_run_dir_path(run_dir)
    cat = get_catalogue(spec.plugins)
    preflight(spec, cat)  # what `run` would fail on here: the device, weights, hyper-parameters, dataset
    plan = build_plan(spec, cat)
    status = _stage_status(run_dir)
    console = Console(highlight=False)
    console.print(f"[bold]{spec.name}[/]: spec OK - {len(plan.cells)} cells, {len(plan.stages)} stages; "
                  f"run folder {run_dir}")
    console.print(_cells_table(plan, status))
    done = sum(1 for k in plan.stages if status.get(k) == "done")
    counts = ", ".join(f"{n} {kind}" for kind, n in plan.counts().items())
    console.print(f"stages: {counts}; {done} of {len(plan.stages)} cached in {run_dir}")
    if args.stages:
        console.print(_stages_table(plan, status))
    return 0


def _cells_table(plan: Plan, status: dict[str, str]) -> Table:
    """One row per cell, one column per stage kind: cached, to run or failed before."""
    from rich.table import Table

    from prunebench.suite.plan import STAGE_KINDS

    table = Table(title="plan: cells (model/pruner/level/seed) and their stages (✓ cached, · to run, ✗ failed before)")
    table.add_column("cell", overflow="fold", min_width=20)
    for kind in STAGE_KINDS:
        table.add_column(kind, justify="center")
    marks = {"done": "[green]✓[/]", "failed": "[red]✗[/]"}
    for cell in plan.cells:
        by_kind = {plan.stages[k].kind: k for k in cell.stages}
        row = [cell.key]
        row += [marks.get(status.get(by_kind[k], ""), "·") if k in by_kind else "" for k in STAGE_KINDS]
        table.add_row(*row)
    return table


def _stages_table(plan: Plan, status: dict[str, str]) -> Table:
    """Every stage with its key, kind, label, dependencies and status in the store."""
    from rich.table import Table

    st = Table(title="stages")
    for col in ("key", "kind", "label", "depends on", "status"):
        st.add_column(col, overflow="fold")
    for s in plan.stage_list():
        st.add_row(s.key, s.kind, s.label, ", ".join(s.deps) or "—", status.get(s.key, "not run"))
    return st
