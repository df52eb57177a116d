"""Ctrl-C and SIGTERM that are never lost.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be when the signal arrives; when that
is a ``__del__`` method, a ``weakref`` finaliser or a garbage-collector callback (a DataLoader iterator, a
tensor), Python prints "Exception ignored in ..." and the program goes on as if nothing had happened: a
benchmark run then trains on for hours after Ctrl-C. A SIGTERM sent to the whole process group (``timeout``,
a scheduler) also kills the DataLoader workers, and the trainer then fails with "DataLoader worker ... is
killed by signal", an ordinary stage failure instead of the stop that was asked for.

So the handlers installed by :func:`handle_signals` record the signal before raising, and the suite calls
:func:`raise_if_interrupted` at its safe points (a stage starts, an epoch ends, a stage comes back): a signal
whose exception was swallowed, or turned into another error, stops the run there.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Terminated", "handle_signals", "interrupted", "raise_if_interrupted"]

_pending: int | None = None  # the signal received and not yet acted on
_owner: int | None = None  # the pid that installed the handlers (a forked child inherits them)


class Terminated(KeyboardInterrupt):
    """SIGTERM (what a cluster scheduler sends), handled exactly like Ctrl-C; exit code 143."""


def _exception(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _ignore(signum: int, frame: object) -> None:
    return None


def _on_signal(signum: int, frame: object) -> None:
    global _pending
    if os.getpid() != _owner:  # a forked child (a DataLoader worker before torch sets its own): die as usual
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    if _pending is not None:  # a second signal must not cut the clean-up short
        return
    _pending = signum
    if hasattr(signal, "SIGCHLD"):  # a process-group signal also stops the DataLoader workers: the run is over,
        signal.signal(signal.SIGCHLD, _ignore)  # and torch's dead-worker check must not raise in clean-up
        # (a callable, not SIG_DFL: Python raises "Signal 17 ignored due to race condition" for a pending one)
    raise _exception(signum)


def interrupted() -> int | None:
    """The signal received and not acted on yet (``signal.SIGINT`` / ``signal.SIGTERM``), or None."""
    return _pending


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` (``Terminated`` for SIGTERM) when a signal arrived; call at safe points."""
    if _pending is not None and os.getpid() == _owner:
        raise _exception(_pending)


@contextmanager
def handle_signals() -> Iterator[None]:
    """Install the recording SIGINT and SIGTERM handlers for the block (main thread only; else nothing)."""
    global _pending, _owner
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _pending, _owner = None, os.getpid()
    for s in previous:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _pending, _owner = None, None
