"""Executors: dependency order, failures skip only their dependents, Ray gives what local gives."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from prunebench.plugins import get_catalogue
from prunebench.suite.executors.base import UpstreamFailed, topological


@dataclass(frozen=True)
class S:
    key: str
    deps: tuple[str, ...] = ()
    kind: str = "train"
    label: str = ""
    inputs: dict[str, Any] = field(default_factory=dict, hash=False)


def stages() -> list[S]:
    # a -> b -> d ; a -> c ; e (independent) ; listed out of order on purpose
    return [S("d", ("b",)), S("b", ("a",)), S("c", ("a", "cached")), S("a"), S("e")]


def test_topological_order_ignores_cached_dependencies() -> None:
    order = [s.key for s in topological(stages())]
    assert sorted(order) == ["a", "b", "c", "d", "e"]
    for s in stages():
        assert all(order.index(d) < order.index(s.key) for d in s.deps if d in order)


def test_topological_detects_cycles() -> None:
    with pytest.raises(ValueError, match="cycle"):
        topological([S("a", ("b",)), S("b", ("a",))])


class Adder:
    """A real stage function for executor tests: each result is the sum of its dependencies plus one."""

    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.observer: Any = None

    def with_device(self, device: str | None) -> Adder:
        return self

    def with_observer(self, observer: Any) -> Adder:
        return self

    def __call__(self, stage: Any, deps: dict[str, Any]) -> dict[str, Any]:
        if stage.key == self.fail:
            raise RuntimeError(f"stage {stage.key} broke")
        return {"value": 1 + sum(d["value"] for d in deps.values())}


def run_with(executor: str, fn: Adder, **options: Any) -> dict[str, tuple[Any, BaseException | None]]:
    seen: dict[str, tuple[Any, BaseException | None]] = {}
    order: list[str] = []

    def on_done(stage: Any, result: Any, error: BaseException | None) -> None:
        assert all(d in seen for d in stage.deps if d != "cached"), "reported before its dependencies"
        order.append(stage.key)
        seen[stage.key] = (result, error)

    get_catalogue().executors.get(executor)(options).run(stages(), fn, on_done)
    assert sorted(order) == ["a", "b", "c", "d", "e"]
    return seen


def test_local_runs_everything_in_order() -> None:
    seen = run_with("local", Adder())
    assert {k: r["value"] for k, (r, _) in seen.items()} == {"a": 1, "b": 2, "c": 2, "d": 3, "e": 1}


def test_local_failure_skips_only_dependents() -> None:
    seen = run_with("local", Adder(fail="b"))
    assert isinstance(seen["b"][1], RuntimeError)
    assert isinstance(seen["d"][1], UpstreamFailed)
    assert "broke" in str(seen["d"][1])
    assert seen["c"][0] == {"value": 2}
    assert seen["e"][0] == {"value": 1}


@pytest.mark.ray
def test_ray_matches_local_and_reports_failures() -> None:
    ray = pytest.importorskip("ray")
    from prunebench.suite.executors.ray_init import init_kwargs, init_ray

    init_ray(ray, init_kwargs(address=None, num_cpus=2))  # a local-only Ray, as prunebench starts one
    try:
        ok = run_with("ray", Adder())
        bad = run_with("ray", Adder(fail="b"))
    finally:
        ray.shutdown()
    assert {k: r["value"] for k, (r, _) in ok.items()} == {"a": 1, "b": 2, "c": 2, "d": 3, "e": 1}
    assert "stage b broke" in str(bad["b"][1])
    assert isinstance(bad["d"][1], UpstreamFailed)
    assert bad["e"][0] == {"value": 1}


class Handshake:
    """A stage function that reports an epoch, then waits until the driver has seen it (a flag file).

    If events only reached the driver after the task returned, the stage would wait in vain and
    return ``acked: False``.
    """

    def __init__(self, flag_dir: Path, observer: Any = None) -> None:
        self.flag_dir = flag_dir
        self.observer = observer

    def with_device(self, device: str | None) -> Handshake:
        return self

    def with_observer(self, observer: Any) -> Handshake:
        return Handshake(self.flag_dir, observer)

    def __getstate__(self) -> dict[str, Any]:
        return {"flag_dir": self.flag_dir, "observer": None}

    def __call__(self, stage: Any, deps: dict[str, Any]) -> dict[str, Any]:
        self.observer.stage_started(stage)
        self.observer.epoch_end(stage, 0, {"train/box_loss": 0.5})
        flag = self.flag_dir / f"{stage.key}.seen"
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return {"acked": flag.exists(), "returned": time.time()}


class DriverObserver:
    """The driver's side: records when each event arrives and acknowledges epochs with a flag file."""

    progress = None

    def __init__(self, flag_dir: Path) -> None:
        self.flag_dir = flag_dir
        self.events: list[tuple[str, str, float]] = []

    def stage_started(self, stage: Any) -> None:
        self.events.append(("stage_started", stage.key, time.time()))

    def epoch_end(self, stage: Any, epoch: int, row: dict[str, float]) -> None:
        self.events.append(("epoch_end", stage.key, time.time()))
        (self.flag_dir / f"{stage.key}.seen").touch()


@pytest.mark.ray
def test_ray_streams_events_to_the_driver_while_the_stage_runs(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from prunebench.suite.executors.ray_init import init_kwargs, init_ray

    observer = DriverObserver(tmp_path)
    done: dict[str, Any] = {}
    init_ray(ray, init_kwargs(address=None, num_cpus=2))  # a local-only Ray (127.0.0.1, no dashboard)
    try:
        get_catalogue().executors.get("ray")({}).run(
            [S("a"), S("b", ("a",))], Handshake(tmp_path, observer),
            lambda stage, result, error: done.__setitem__(stage.key, (result, error, time.time())))
    finally:
        ray.shutdown()
    for key in ("a", "b"):
        result, error, reported = done[key]
        assert error is None
        assert result["acked"] is True  # the driver saw the epoch while the task was still waiting for it
        kinds = [e for e, k, _ in observer.events if k == key]
        assert kinds == ["stage_started", "epoch_end"]
        seen = next(t for e, k, t in observer.events if k == key and e == "epoch_end")
        assert seen <= result["returned"] <= reported


def test_ray_missing_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from prunebench.errors import UsageError
    from prunebench.suite.executors import ray as ray_exec

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError) as info:
        ray_exec.import_ray()
    assert 'pip install "prunebench[ray]"' in (info.value.hint or "")
