"""``prunebench plugins``: every registered model, pruner, metric, dataset, executor and reporter."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "collect", "handle"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("plugins", help="list registered plugins with their origin and version",
                       description="List every registered model, pruner, metric, dataset, executor and "
                                   "reporter with the plugin (and version) it came from.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="also load this plugin module (as a spec's plugins: list would)")
    p.set_defaults(handler=handle)


def collect(extra: list[str] | None = None) -> dict[str, Any]:
    from prunebench.plugins import KINDS, get_catalogue

    cat = get_catalogue(extra or [])
    out: dict[str, Any] = {"plugins": [], **{k + "s": [] for k in KINDS}}
    for name, (source, version) in cat.origins.items():
        out["plugins"].append({"name": name, "source": source, "version": version})
    for kind in KINDS:
        for e in cat.registry(kind).entries():
            row = {"name": e.name, "plugin": e.plugin, "version": e.version, "available": e.available}
            if e.available:
                row["description"] = getattr(e.obj, "description", "")
            else:
                row["reason"] = e.reason
            out[kind + "s"].append(row)
    return out


def handle(args: argparse.Namespace) -> int:
    data = collect(args.plugin)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for kind in ("models", "pruners", "metrics", "datasets", "executors", "reporters"):
        table = Table(title=kind.capitalize(), title_justify="left")
        for col in ("name", "plugin", "version", "description"):
            table.add_column(col)
        for row in data[kind]:
            desc = row.get("description", "") if row["available"] else f"[yellow]unavailable:[/] {row['reason']}"
            table.add_row(row["name"], row["plugin"], row["version"] or "", desc)
        console.print(table)
    return 0
