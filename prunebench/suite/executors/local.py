"""The ``local`` executor: run stages in this process, one after another, in dependency order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from prunebench.contracts import Executor, PluginOptions
from prunebench.suite.executors.base import OnDone, StageFunction, UpstreamFailed, topological

__all__ = ["LocalExecutor", "run_local"]


def run_local(stages: Sequence[Any], run_stage: StageFunction, on_done: OnDone) -> None:
    """Run every stage in-process; a failed stage's dependents are reported as :class:`UpstreamFailed`.

    The stage function's observer (the driver) sees each stage start and each epoch end directly.
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


class LocalExecutor(Executor):
    """Run every stage in this process, one after another, in dependency order."""

    name: ClassVar[str] = "local"
    description: ClassVar[str] = "runs the stages in this process, one after another (live progress display)"

    class Options(PluginOptions):
        pass

    def run(self, stages: list[Any], run_stage: StageFunction, on_done: OnDone) -> None:
        run_local(stages, run_stage, on_done)
