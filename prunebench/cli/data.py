"""``prunebench data``: check a YOLO-format dataset, or generate the synthetic tea-bud set."""

from __future__ import annotations

import argparse
from typing import Any

from prunebench.cli._args import path_arg

__all__ = ["add_parser", "handle"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("data", help="check a YOLO dataset or generate the synthetic tea-bud set",
                       description="Dataset tools: `check` a data.yaml (images decode, labels valid), "
                                   "`synth tea-bud` to generate the synthetic tea-bud set.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    c = dsub.add_parser("check", help="check every image and label of a data.yaml and print a summary",
                        description="Check a YOLO-format dataset once (the result is cached beside the labels, "
                                    "keyed by file sizes and mtimes); list skipped files with the reason.")
    c.add_argument("data_yaml", metavar="DATA_YAML", help="path to the dataset's data.yaml")
    c.add_argument("--split", action="append", choices=("train", "val", "test"),
                   help="check only this split (repeatable; default: every split the yaml names)")
    c.add_argument("--no-cache", action="store_true", help="ignore and do not write the check cache")
    c.add_argument("--max-list", type=_count, default=20, metavar="N",
                   help="list at most N skipped files per split (0: none)")
    c.set_defaults(handler=handle)
    s = dsub.add_parser("synth", help="generate a synthetic dataset (tea-bud)",
                        description="Generate the synthetic tea-bud set in YOLO format with a data.yaml. "
                                    "Deterministic for a seed; an identical generation is not redone.")
    s.add_argument("kind", choices=("tea-bud",), help="which synthetic dataset")
    s.add_argument("--out", required=True, type=path_arg, metavar="DIR", help="output folder")
    s.add_argument("--train", type=int, default=400, metavar="N", help="training images (default 400)")
    s.add_argument("--val", type=int, default=40, metavar="M", help="validation images (default 40)")
    s.add_argument("--test", type=int, default=0, metavar="T", help="test images (default 0)")
    s.add_argument("--imgsz", type=int, default=320, metavar="S", help="image width in pixels (default 320)")
    s.add_argument("--seed", type=int, default=0, metavar="K", help="generator seed (default 0)")
    s.add_argument("--force", action="store_true", help="regenerate even if an identical set exists")
    s.set_defaults(handler=handle)
    p.set_defaults(handler=handle, data_command=None)


def _count(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {n}")
    return n


def _check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from prunebench.data.check import check_split, summary_table
    from prunebench.data.yolo import load_data_yaml
    from prunebench.errors import UsageError

    console = Console()
    info = load_data_yaml(args.data_yaml)
    splits = args.split or [s for s in ("train", "val", "test") if s in info.sources]
    indexes = {}
    for split in splits:
        try:
            indexes[split] = check_split(info, split, cache=not args.no_cache)
        except UsageError as exc:
            if "prunebench data check" not in (exc.hint or ""):
                raise
            raise UsageError(exc.message, hint="Fix or replace the files of that split (the reason of the first "
                                               "is above), then check again.") from exc
    console.print(summary_table(indexes, title=f"{info.yaml_path} (nc={info.nc}: {', '.join(info.names)})"))
    for split, idx in indexes.items():
        if idx.instances == 0:
            console.print(f"[yellow]warning:[/] {split}: no labels at all ({idx.images} images); "
                          "metrics on this split would be meaningless.")
        for path, reason in idx.skipped[: max(0, args.max_list)]:
            console.print(f"[yellow]skipped[/] {split}: {escape(str(path))}: {escape(reason)}")
        if len(idx.skipped) > args.max_list:
            console.print(f"... and {len(idx.skipped) - args.max_list} more skipped in {split} (--max-list)")
    return 0


def _synth(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console

    from prunebench.data.synth import SynthOptions, generate_tea_bud
    from prunebench.errors import UsageError

    bounds = {"train": (1, 100_000), "val": (1, 100_000), "test": (0, 100_000), "imgsz": (64, 4096),
              "seed": (0, 2**31 - 1)}  # the tea-bud-synth dataset plugin's bounds
    for name, (lo, hi) in bounds.items():
        if not lo <= getattr(args, name) <= hi:
            raise UsageError(f"--{name} must be between {lo:,} and {hi:,}, got {getattr(args, name):,}.")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {str(args.out)!r} is a file; give the folder to generate the dataset in.")
    for parent in args.out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--out {str(args.out)!r}: {str(parent)!r} is a file, not a folder.")
            break
    t0 = time.perf_counter()
    opts = SynthOptions(train=args.train, val=args.val, test=args.test, imgsz=args.imgsz, seed=args.seed)
    path = generate_tea_bud(args.out, opts, force=args.force)
    Console().print(f"tea-bud: {path} ({time.perf_counter() - t0:.1f} s); check it with "
                    f"`prunebench data check {path}`")
    return 0


def handle(args: argparse.Namespace) -> int:
    if args.data_command == "check":
        return _check(args)
    if args.data_command == "synth":
        return _synth(args)
    print("usage: prunebench data {check,synth} ... (see prunebench data --help)")
    return 2
