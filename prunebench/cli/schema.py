"""``prunebench schema``: the JSON schema of the spec, for editors and linters."""

from __future__ import annotations

import argparse
import json
from typing import Any

from prunebench.cli._args import path_arg

__all__ = ["add_parser", "handle"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the JSON schema of the spec",
                       description="Print the JSON schema of the spec (point your editor's YAML support at it).")
    p.add_argument("--out", type=path_arg, metavar="FILE", help="write the schema to this file instead of printing it")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from prunebench.spec import spec_schema

    text = json.dumps(spec_schema(), indent=2)
    if args.out:
        from prunebench.errors import UsageError
        from prunebench.files import output_file_problem

        problem = output_file_problem(args.out, "--out file")
        if problem is None and not args.out.parent.is_dir():
            problem = f"the folder {str(args.out.parent)!r} of --out does not exist; create it first"
        if problem is not None:
            raise UsageError(f"Cannot write the schema: {problem}.")
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0
