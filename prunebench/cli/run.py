"""``prunebench run``: run a benchmark suite from a spec (resuming what the run folder already holds)."""

from __future__ import annotations

import argparse
from typing import Any

from prunebench.cli._args import path_arg

__all__ = ["add_parser", "handle"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run a benchmark suite from a spec (resumes an interrupted run)",
                       description="Plan the spec's cells, reuse the stages the run folder already holds, run "
                                   "the rest, and write results.sqlite, results.json/csv, plots and report.md. "
                                   "Exit code 1 when any cell failed, 2 for a bad spec.")
    p.add_argument("spec", nargs="?", default=None, metavar="SPEC",
                   help="YAML spec (default: the embedded quick tea-bud study, specs/tea-bud-quick.yaml)")
    p.add_argument("--out", type=path_arg, default=None, metavar="DIR",
                   help="run folder (default: the spec's output, else runs/<name>)")
    p.add_argument("--fresh", action="store_true",
                   help="start over: delete the run folder's results store and stage artifacts first")
    p.add_argument("--executor", default=None, metavar="NAME",
                   help="run with this executor (local, ray) instead of the spec's")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="run on this device (cpu, cuda, cuda:N, mps) instead of the spec's `device:`; the device is "
                        "part of the stage keys, so stages computed on another device are not reused")
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.add_argument("--verify", action="store_true",
                   help="hash every reused artifact (by default sizes are always checked and SHA-256 sums of "
                        "files up to 64 MB); a changed artifact reruns its stage and what depends on it")
    p.add_argument("--rebuild-store", action="store_true",
                   help="rebuild a damaged results.sqlite from the stage folders' stage.json records first "
                        "(the damaged file is kept; intact stages are not recomputed)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from prunebench.suite.runner import default_spec_path, run

    if args.fresh and args.rebuild_store:
        from prunebench.errors import UsageError

        raise UsageError("--fresh and --rebuild-store contradict each other: --fresh deletes the store and the stage "
                         "folders, --rebuild-store rebuilds the store from those folders.",
                         hint="Give --rebuild-store to keep what was computed, or --fresh to start over.")
    spec = args.spec if args.spec is not None else default_spec_path()
    results = run(spec, out=args.out, fresh=args.fresh, progress=not args.no_progress, executor=args.executor,
                  verify=args.verify, rebuild_store=args.rebuild_store, device=args.device)
    return 1 if any(c.status == "failed" for c in results.cells) else 0
