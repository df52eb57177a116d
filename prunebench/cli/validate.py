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
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="check and plan for this device (cpu, cuda, cuda:N, mps) instead of the spec's "
                        "`device:`, as `run --device` would run it (the stage keys depend on it)")
    p.add_argument("--verify", action="store_true",
                   help="hash every finished stage's artifacts, as `run --verify` does (by default sizes are "
                        "checked and SHA-256 sums of files up to 64 MB, as `run` does)")
    p.set_defaults(handler=handle)


def _stage_status(run_dir: Path, plan: Plan, verify: bool) -> tuple[dict[str, str], list[str]]:
    """Stage key -> what ``run`` would do with it, and the sentences ``run`` would print about changed artifacts.

    The store's own status, except that a finished stage counts as cached only where ``run`` would reuse it
    (:meth:`Store.reuse`, the same check): one whose artifact is missing or changed is ``to rerun (artifact
    changed: <file>)``, one downstream of it ``to rerun (upstream changed)``. Empty without a store; a
    damaged store is an error.
    """
    from prunebench.suite.store import STORE_NAME, Store

    if not (run_dir / STORE_NAME).is_file():
        return {}, []
    with Store(run_dir, readonly=True) as store:
        status = store.stage_status()
        reuse = store.reuse(plan, verify=verify)
    for key in plan.stages:
        if status.get(key) != "done" or key in reuse.results:
            continue
        changed = reuse.changed.get(key)
        status[key] = (f"to rerun (artifact changed: {', '.join(changed)})" if changed
                       else "to rerun (upstream changed)")
    return status, reuse.problems


def handle(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from prunebench.plugins import get_catalogue
    from prunebench.spec import load_spec, with_device
    from prunebench.suite.plan import build_plan
    from prunebench.suite.preflight import preflight
    from prunebench.suite.runfolder import check_run_dir_path, read_only_problem

    spec = with_device(load_spec(args.spec), args.device)
    run_dir = args.out if args.out is not None else spec.run_dir
    check_run_dir_path(run_dir)
    cat = get_catalogue(spec.plugins)
    preflight(spec, cat)  # what `run` would fail on here: the device, weights, hyper-parameters, dataset
    plan = build_plan(spec, cat)
    status, problems = _stage_status(run_dir, plan, args.verify)
    console = Console(highlight=False)
    console.print(f"[bold]{spec.name}[/]: spec OK - {len(plan.cells)} cells, {len(plan.stages)} stages; "
                  f"run folder {run_dir}")
    for problem in problems:  # word for word what `run` will say
        console.print(f"[yellow]artifact changed[/] {problem}")
    if read_only_problem(run_dir) is not None:  # readable, so validate goes on; `run` would stop here
        console.print(f"[yellow]warning:[/] the run folder {escape(str(run_dir))} is read-only: `prunebench run` "
                      "cannot write there (copy it somewhere writable, or give another folder with --out)",
                      soft_wrap=True)
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

    table = Table(title="plan: cells (model/pruner/level/seed) and their stages (✓ cached, · to run, ↻ to rerun: "
                        "an artifact changed, ✗ failed before)")
    table.add_column("cell", overflow="fold", min_width=20)
    for kind in STAGE_KINDS:
        table.add_column(kind, justify="center")
    marks = {"done": "[green]✓[/]", "failed": "[red]✗[/]"}

    def mark(key: str) -> str:
        state = status.get(key, "")
        return "[yellow]↻[/]" if state.startswith("to rerun") else marks.get(state, "·")

    for cell in plan.cells:
        by_kind = {plan.stages[k].kind: k for k in cell.stages}
        row = [cell.key]
        row += [mark(by_kind[k]) if k in by_kind else "" for k in STAGE_KINDS]
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
