"""Executors: dependency order, failures skip only their dependents, Ray gives what local gives."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def with_device(self, device: str | None) -> Adder:
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


def test_ray_missing_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from prunebench.errors import UsageError
    from prunebench.suite.executors import ray as ray_exec

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError) as info:
        ray_exec.import_ray()
    assert 'pip install "prunebench[ray]"' in (info.value.hint or "")
