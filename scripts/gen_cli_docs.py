"""Regenerate docs/cli.md from the CLI's own --help texts (run after changing a command)."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

from prunebench.cli import COMMANDS, build_parser

INTRO = """# The `prunebench` command

Every sub-command prints its own help with `--help`; this page is generated from those texts by
`python scripts/gen_cli_docs.py`.

Exit codes: `0` success; `1` a suite ran but at least one cell failed (each failure is recorded in the
results store and the report); `2` a user error (a bad spec, an unknown name, a missing or malformed file:
the message names the file, the line or index, the field, the value received and what is allowed);
`130` interrupted by Ctrl-C, `143` stopped by SIGTERM (for both, run the same command again to resume).
Errors print without a traceback unless
`--debug` is given before the sub-command (`prunebench --debug run spec.yaml`).

"""


def main() -> None:
    parser = build_parser()
    out = [INTRO, "## `prunebench`\n\n```text\n" + parser.format_help() + "```\n"]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMANDS:
        p = sub.choices.get(name)
        if p is None:
            continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            p.print_help()
        out.append(f"## `prunebench {name}`\n\n```text\n{buf.getvalue()}```\n")
    (Path(__file__).resolve().parents[1] / "docs" / "cli.md").write_text("\n".join(out), encoding="utf-8")


if __name__ == "__main__":
    main()
