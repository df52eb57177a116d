"""``prunebench export``: write a cell's pruned, fine-tuned model as ONNX or as a checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from prunebench.cli._args import path_arg

__all__ = ["add_parser", "handle"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="export a cell's model as ONNX or a .pt checkpoint",
                       description="Export the evaluated (pruned and fine-tuned) model of one cell of RUN_DIR. "
                                   "onnx: fused, opset 17, dynamic batch axis, checked with onnxruntime when "
                                   "installed. pt: the model family's checkpoint (load it with "
                                   "prunebench.get_model_family(NAME).load(PATH)).")
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="run folder written by `prunebench run`")
    p.add_argument("--cell", required=True, metavar="CELL",
                   help="cell key, e.g. yolov5n/l1/0.6/s0 or yolov5n/baseline/s0 (see results.json)")
    p.add_argument("--format", choices=("onnx", "pt"), default="onnx", help="output format (default onnx)")
    p.add_argument("--out", type=path_arg, default=None, metavar="PATH",
                   help="output file (default RUN_DIR/exports/<cell>.<format>)")
    p.add_argument("--imgsz", type=int, default=None, metavar="N",
                   help="ONNX input size (default: the run's evaluation image size)")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime check")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out file (without it, an existing file is never overwritten)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from rich.console import Console

    from prunebench.report.model_export import export_cell
    from prunebench.report.run_folder import open_run

    if args.out is not None and args.out.is_file() and not args.force:  # never replace a file we may not own
        from prunebench.errors import UsageError

        raise UsageError(f"--out {str(args.out)!r} exists; export does not replace a file unless told to.",
                         hint="Give another path, or add --force to replace it.")
    if args.imgsz is not None and not 32 <= args.imgsz <= 4096:
        from prunebench.errors import UsageError

        raise UsageError(f"--imgsz must be between 32 and 4096 (a multiple of the model's stride), got {args.imgsz}.")
    results = open_run(args.run_dir)
    if args.out is None:
        from prunebench.suite.runfolder import read_only_error, read_only_problem

        problem = read_only_problem(Path(args.run_dir))
        if problem is not None:
            raise read_only_error(Path(args.run_dir), "`prunebench export` writes RUN_DIR/exports/ by default",
                                  problem, instead="Give --out PATH in a writable folder")
    res = export_cell(results, args.cell, args.format, args.out, imgsz=args.imgsz, verify=not args.no_verify)
    Console(highlight=False).print(f"exported {args.cell} ({res.params:,} parameters) to {res.path} "
                                   f"[{res.format}, imgsz {res.imgsz}]; {res.verified}")
    return 0
