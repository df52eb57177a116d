"""``prunebench info``: a model's layers, parameters and GFLOPs (fused and unfused), optionally before/after pruning."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "collect", "handle"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "info", help="model summary: layers, parameters, GFLOPs (fused and unfused)",
        description="Build MODEL (or load --weights) and print YOLOv5's model summary: layers, parameters, "
                    "gradients and GFLOPs at --imgsz and at 640, unfused and fused. With --prune, prune it "
                    "with a registered pruner and show the summary before and after.")
    p.add_argument("model", metavar="MODEL", help="registered model name, e.g. yolov5n (see `prunebench plugins`)")
    p.add_argument("--nc", type=int, default=None, metavar="N",
                   help="number of classes (default: the checkpoint's with --weights, else 80)")
    p.add_argument("--imgsz", type=int, default=640, metavar="S", help="image size in pixels (default 640)")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="a prunebench checkpoint, an official YOLOv5 .pt or a state_dict (loaded safely)")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="a model-family option, e.g. -o width_multiple=0.0625 (values parsed as JSON)")
    p.add_argument("--prune", default=None, metavar="PRUNER", help="prune with this registered pruner")
    p.add_argument("--level", type=float, default=None, metavar="L", help="pruning level in (0, 1)")
    p.add_argument("--scope", default=None, metavar="S", help="pruning scope: backbone, backbone+neck or all")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=handle)


def _options(items: list[str]) -> dict[str, Any]:
    from prunebench.errors import UsageError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option {item!r}: expected KEY=VALUE, e.g. width_multiple=0.0625.")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """The summary as a dict (what ``--json`` prints)."""
    import prunebench as pb
    from prunebench.errors import UsageError
    from prunebench.metrics.complexity import model_summary

    if not 32 <= args.imgsz <= 4096 or args.imgsz % 32:
        raise UsageError(f"--imgsz must be a multiple of 32 between 32 and 4096, got {args.imgsz}.")
    if args.nc is not None and not 1 <= args.nc <= 100_000:
        raise UsageError(f"--nc must be between 1 and 100000, got {args.nc}.")
    if (args.prune is None) != (args.level is None):
        raise UsageError("--prune and --level go together: e.g. --prune l1 --level 0.3.")
    if args.level is not None and not 0 < args.level < 1:
        raise UsageError(f"--level must be in (0, 1), got {args.level}.")
    fam = pb.get_model_family(args.model, **_options(args.option))
    asked = args.nc if args.nc is not None else 80
    model = fam.build(nc=asked, weights=args.weights)
    det = getattr(model, "model", None)
    nc = getattr(det[-1], "nc", asked) if det is not None else asked
    if args.nc is not None and nc != args.nc:
        raise UsageError(f"--nc {args.nc}, but the checkpoint {args.weights!r} has {nc} classes.",
                         hint="Leave --nc out to use the checkpoint's, or give -o transfer=true to start from its "
                              "weights with a new head of --nc classes.")
    out: dict[str, Any] = {"model": args.model, "nc": nc, "imgsz": args.imgsz, "weights": args.weights,
                           **model_summary(model, args.imgsz)}
    if args.prune is not None:
        opts = {} if args.scope is None else {"scope": args.scope}
        pruned, record = pb.prune(model, args.prune, level=args.level, family=fam, imgsz=args.imgsz, **opts)
        out["pruned"] = {"pruner": args.prune, "level": args.level, "scope": record.scope,
                         **model_summary(pruned, args.imgsz),
                         "params_reduction": record.params_reduction, "flops_reduction": record.flops_reduction,
                         "notes": list(record.notes)}
    return out


def _table(data: dict[str, Any]) -> Any:
    from rich.table import Table

    imgsz = data["imgsz"]
    title = f"{data['model']} (nc={data['nc']})" + (f" from {data['weights']}" if data["weights"] else "")
    table = Table(title=title, title_justify="left")
    cols = ["model", "layers", "parameters", "gradients", f"GFLOPs@{imgsz}"] + (["GFLOPs@640"] if imgsz != 640 else [])
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    rows = [("unfused", data["unfused"]), ("fused", data["fused"])]
    if "pruned" in data:
        p = data["pruned"]
        tag = f"{p['pruner']} {p['level']:g}"
        rows += [(f"{tag} unfused", p["unfused"]), (f"{tag} fused", p["fused"])]
    for name, s in rows:
        cells = [name, f"{s['layers']:,}", f"{s['params']:,}", f"{s['gradients']:,}", f"{s['gflops']:.2f}"]
        table.add_row(*cells, *([f"{s['gflops_640']:.2f}"] if imgsz != 640 else []))
    return table


def handle(args: argparse.Namespace) -> int:
    data = collect(args)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    from rich.console import Console

    console = Console()
    console.print(_table(data))
    if "pruned" in data:
        p = data["pruned"]
        console.print(f"pruned ({p['pruner']}, level {p['level']:g}, scope {p['scope']}): parameters "
                      f"-{p['params_reduction']:.1%}, GFLOPs -{p['flops_reduction']:.1%}", highlight=False)
        for note in p["notes"]:
            console.print(f"[dim]note:[/] {note}")
    console.print("[dim]GFLOPs as YOLOv5 prints them (2 x MACs, thop convention); parameters of the fused model "
                  "are what the study reports.[/]")
    return 0
