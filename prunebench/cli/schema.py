"""``prunebench schema``: the JSON schema of the spec, for editors and linters."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "handle"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the JSON schema of the spec",
                       description="Print the JSON schema of the spec (point your editor's YAML support at it).")
    p.add_argument("--out", type=Path, help="write the schema to this file instead of printing it")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from prunebench.spec import spec_schema

    text = json.dumps(spec_schema(), indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0
