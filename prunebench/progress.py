"""The one progress display of prunebench: a rich ``Progress`` with the same columns everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.progress import Progress

__all__ = ["new_progress"]


def new_progress(console: Console | None = None, *, enabled: bool = True, **kwargs: Any) -> Progress:
    """A progress display: spinner, description, bar, done/total, elapsed and remaining time.

    The suite's live display and a training run outside the suite both use it; ``kwargs`` go to
    ``rich.progress.Progress`` (e.g. ``transient``).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console,
                    disable=not enabled, **kwargs)
