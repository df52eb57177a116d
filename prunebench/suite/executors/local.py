"""Run stages in this process, one after another, in dependency order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prunebench.suite.executors.base import UpstreamFailed, topological

__all__ = ["run_local"]


def run_local(stages: Sequence[Any], run_stage: Callable[[Any, dict[str, Any]], Any],
              on_done: Callable[[Any, Any, BaseException | None], None]) -> None:
    """Run every stage in-process; a failed stage's dependents are reported as :class:`UpstreamFailed`.

    ``KeyboardInterrupt`` (and other ``BaseException``) propagates at once: the stage in flight is not
    reported, so the runner restarts it next time.
    """
    results: dict[str, Any] = {}
    failed: dict[str, tuple[Any, BaseException]] = {}  # stage key -> (the stage that failed first, its error)
    for stage in topological(stages):
        bad = next((d for d in stage.deps if d in failed), None)
        if bad is not None:
            root, exc = failed[bad]
            failed[stage.key] = (root, exc)
            on_done(stage, None, UpstreamFailed(root, exc))
            continue
        deps = {d: results[d] for d in stage.deps if d in results}
        try:
            result = run_stage(stage, deps)
        except Exception as exc:
            failed[stage.key] = (stage, exc)
            on_done(stage, None, exc)
            continue
        results[stage.key] = result
        on_done(stage, result, None)
