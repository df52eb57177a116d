"""What every executor shares: dependency order, and skipping the dependents of a failed stage."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.suite.stage import Stage

__all__ = ["OnDone", "StageFunction", "StageObserver", "UpstreamFailed", "topological"]


class StageObserver(Protocol):
    """What the driver watches while a stage runs: called in the stage's process (a proxy under Ray)."""

    progress: Any  # a rich Progress the trainer adds its epoch bar to, or None (a worker draws no bars)

    def stage_started(self, stage: Stage) -> None: ...

    def epoch_end(self, stage: Stage, epoch: int, row: dict[str, float]) -> None: ...


class StageFunction(Protocol):
    """``run_stage(stage, dep_results) -> result``, what an executor runs (``prunebench.suite.stages.StageRunner``).

    It pickles without its observer. :attr:`observer` is the driver's; an executor that runs a stage in
    another process gives it a proxy that streams the events back (:meth:`with_observer`) and the device
    that process sees (:meth:`with_device`).
    """

    observer: StageObserver | None

    def __call__(self, stage: Any, dep_results: Mapping[str, Any]) -> Any: ...

    def with_device(self, device: str | None) -> StageFunction: ...

    def with_observer(self, observer: StageObserver | None) -> StageFunction: ...


#: ``on_done(stage, result, error)``: called in the driver for every stage (result None when it failed)
OnDone = Callable[[Any, Any, BaseException | None], None]


class UpstreamFailed(RuntimeError):
    """A stage did not run because a stage it depends on failed."""

    def __init__(self, upstream: Any, reason: BaseException | str | None = None) -> None:
        self.upstream = upstream
        label = getattr(upstream, "label", None) or getattr(upstream, "key", str(upstream))
        text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else reason
        super().__init__(f"skipped: {label} failed" + (f" ({text})" if text else ""))


def topological(stages: Sequence[Any]) -> list[Any]:
    """``stages`` in an order where each comes after those of its ``deps`` that are in the list.

    Dependencies outside the list are treated as already satisfied (cached by the runner). A cycle
    raises ``ValueError`` naming the stages involved.
    """
    by_key = {s.key: s for s in stages}
    order: list[Any] = []
    state: dict[str, int] = {}  # 1: visiting, 2: done

    for root in stages:
        if state.get(root.key) == 2:
            continue
        stack: list[tuple[Any, int]] = [(root, 0)]
        while stack:
            stage, i = stack.pop()
            state[stage.key] = 1
            deps = [d for d in stage.deps if d in by_key]
            if i < len(deps):
                stack.append((stage, i + 1))
                dep = by_key[deps[i]]
                if state.get(dep.key) == 1:
                    raise ValueError(f"dependency cycle between stages {stage.key} and {dep.key}")
                if state.get(dep.key) != 2:
                    stack.append((dep, 0))
                continue
            state[stage.key] = 2
            order.append(stage)
    return order
