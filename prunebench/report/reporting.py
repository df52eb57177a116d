"""Run reporters over stored results, with one error policy for ``prunebench run`` and ``prunebench report``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.defaults import DEFAULT_REPORTERS
from prunebench.errors import PrunebenchError

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from prunebench.contracts import Reporter
    from prunebench.plugins import Catalogue
    from prunebench.suite.results import Results

__all__ = ["ReportOutcome", "build_reporters", "reporter_refs", "run_reporters"]


@dataclass
class ReportOutcome:
    """What the reporters did: the files they wrote and the names of those that failed."""

    written: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def reporter_refs(spec: dict[str, Any], names: Sequence[str] = ()) -> list[tuple[str, dict[str, Any]]]:
    """(name, options) of the reporters to run: ``names`` (with the spec's options where it has them),
    else the stored spec's reporters, else the defaults."""
    stored: list[tuple[str, dict[str, Any]]] = []
    for ref in spec.get("reporters") or []:
        if isinstance(ref, str):
            stored.append((ref, {}))
        elif isinstance(ref, dict) and ref.get("name"):
            stored.append((str(ref["name"]), dict(ref.get("options") or {})))
    if not names:
        return stored or [(n, {}) for n in DEFAULT_REPORTERS]
    options = dict(stored)
    return [(n, options.get(n, {})) for n in dict.fromkeys(names)]


def build_reporters(catalogue: Catalogue, refs: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, Reporter]]:
    """Instantiate every reporter first, so an unknown name or bad options fail before anything is written."""
    return [(name, catalogue.reporters.get(name)(options)) for name, options in refs]


def run_reporters(reporters: Sequence[tuple[str, Reporter]], results: Results, run_dir: Path, console: Console, *,
                  debug: bool = False) -> ReportOutcome:
    """Run each reporter over ``results``; one broken reporter does not cost the others.

    A :class:`PrunebenchError` (a problem the user can act on) stops at once. Any other exception is
    printed in one line naming the reporter and the others still run; with ``debug`` (``--debug``) it
    propagates with its traceback instead.
    """
    outcome = ReportOutcome()
    for name, reporter in reporters:
        try:
            outcome.written += list(reporter.report(results, Path(run_dir), console) or [])
        except PrunebenchError:
            raise
        except Exception as exc:
            if debug:
                raise
            outcome.failed.append(name)
            console.print(f"[red]reporter {name!r} failed:[/] {type(exc).__name__}: {exc} "
                          f"(--debug shows the traceback)", highlight=False)
    return outcome
