"""The ``prunebench`` command: one module per sub-command, dispatched from here.

Each sub-command module defines ``add_parser(subparsers)`` and ``handle(args) -> int`` and must stay
light at import time (no torch): heavy imports go inside ``handle``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from prunebench._version import __version__
from prunebench.errors import PrunebenchError
from prunebench.interrupts import Terminated, handle_signals

__all__ = ["COMMANDS", "Terminated", "build_parser", "main"]

#: sub-command name -> module (in the order ``--help`` shows them)
COMMANDS: dict[str, str] = {
    "run": "prunebench.cli.run",
    "validate": "prunebench.cli.validate",
    "report": "prunebench.cli.report",
    "export": "prunebench.cli.export",
    "plugins": "prunebench.cli.plugins",
    "info": "prunebench.cli.info",
    "evaluate": "prunebench.cli.evaluate",
    "data": "prunebench.cli.data",
    "schema": "prunebench.cli.schema",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prunebench",
        description="Benchmark structured pruning of neural networks from one declarative spec.",
        epilog="Docs: docs/index.md. Add --debug to any command to see tracebacks.",
    )
    parser.add_argument("--version", action="version", version=f"prunebench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a command whose module is not there yet
            if exc.name != module:
                raise
            continue
        mod.add_parser(sub)
    return parser


def _print_error(exc: PrunebenchError) -> None:
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    err.print(f"[bold red]error:[/] {escape(exc.message)}")
    if exc.hint:
        err.print(f"[dim]hint:[/] {escape(exc.hint)}")


def _user_error(exc: BaseException) -> PrunebenchError | None:
    """The user error behind an exception that escaped a command (bad values, files), or None for a bug."""
    from prunebench.errors import UsageError

    if "pydantic" in sys.modules:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            problems = []
            for err in exc.errors():
                loc = ".".join(str(p) for p in err.get("loc", ()) if not (isinstance(p, str) and "[" in p))
                msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
                got = f" (got {err['input']!r})" if "input" in err and err.get("type") != "missing" else ""
                problems.append(f"{loc or exc.title}: {msg}{got}")
            return UsageError(f"invalid {exc.title}: " + "; ".join(problems))
    full_hint = ("Free space (or move the folder to a larger disk) and rerun the same command: what finished is "
                 "stored and is not recomputed.")
    if "sqlite3" in sys.modules:
        import sqlite3

        if isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc):
            return UsageError("The disk is full: the results store could not be written (SQLite: database or "
                              "disk is full).", hint=full_hint)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f"{str(exc.filename)!r}: " if exc.filename is not None else ""
        return UsageError(f"{where}no space left on the device.", hint=full_hint)
    if isinstance(exc, UnicodeDecodeError):
        return UsageError(f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}).",
                          hint="Save it as UTF-8; --debug shows which file was being read.")
    if isinstance(exc, OSError) and (exc.filename is not None or exc.errno is not None):
        where = f"{str(exc.filename)!r}: " if exc.filename is not None else ""
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return UsageError(f"{where}{reason} (read-only or not yours).",
                              hint="Give a path you can write, or make it writable.")
        if exc.errno in (errno.ENOTDIR, errno.EEXIST) and exc.filename is not None and Path(exc.filename).is_file():
            return UsageError(f"{where}is a file, where a folder is needed.")
        if exc.errno == errno.ENOTDIR:
            return UsageError(f"{where}a part of this path is a file, not a folder.")
        if exc.errno == errno.EISDIR:
            return UsageError(f"{where}is a folder, not a file.")
        if exc.errno == errno.ENOENT:
            return UsageError(f"{where}no such file or folder.")
        return UsageError(f"{where}{reason}.")
    return None


def _interrupted(exc: KeyboardInterrupt, command: str) -> int:
    what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
    print(f"\n{what}", file=sys.stderr)
    if command == "run":
        print("hint: everything finished so far is stored; rerun the same command to resume "
              "(the stage in flight starts again)", file=sys.stderr)
    return 143 if isinstance(exc, Terminated) else 130


@contextlib.contextmanager
def plain_warnings(debug: bool) -> Iterator[None]:
    """Show each warning as one line, ``warning: <message>`` on stderr (with ``--debug``: Python's own
    format, with the file and source line that raised it)."""
    if debug:
        yield
        return
    previous = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        text = " ".join(str(message).split())
        kind = "" if category in (UserWarning,) else f"{category.__name__}: "
        print(f"warning: {kind}{text}", file=file or sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: exit 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    if not args.command:
        parser.print_help()
        return 2
    try:
        # Ctrl-C and SIGTERM recorded, so that neither is ever lost (see interrupts); warnings one line each
        with handle_signals(), plain_warnings(debug):
            return int(args.handler(args) or 0)
    except Exception as exc:
        user = exc if isinstance(exc, PrunebenchError) else _user_error(exc)
        if user is None:  # a bug: the traceback is what helps
            raise
        if debug:  # the traceback, then the same message and the same exit code
            traceback.print_exc()
        _print_error(user)
        return user.exit_code
    except KeyboardInterrupt as exc:
        code = _interrupted(exc, args.command)
    _collect_interrupted(debug)
    return code


def _collect_interrupted(debug: bool) -> None:
    """Finalise the interrupted stage's objects now, quietly (all of it with ``--debug``).

    A SIGTERM sent to the process group also stops the DataLoader workers; the loader, kept in a reference
    cycle by the stage's exception, would otherwise be finalised at exit, where torch reports the killed
    worker as "Exception ignored ... RuntimeError: DataLoader worker ... is killed by signal".
    """
    import gc

    if debug:
        gc.collect()
        return
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
