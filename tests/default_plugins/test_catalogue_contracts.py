"""Contract tests over the whole catalogue: every registered plugin of every kind (timm style)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from prunebench import contracts, plugins

BASES = {"model": contracts.ModelFamily, "pruner": contracts.Pruner, "metric": contracts.Metric,
         "dataset": contracts.DatasetProvider, "executor": contracts.Executor, "reporter": contracts.Reporter}

# The hook that fills each registry, and names the bundled plugins must register through it.
BUNDLED = {
    "register_models": ("model", {"yolov5n", "yolov5s", "yolov5m"}),
    "register_pruners": ("pruner", {"l1", "l2", "random", "lamp", "fpgm", "taylor", "bn-scale"}),
    "register_metrics": ("metric", {"params", "gflops", "size_mb", "latency_ms", "precision", "recall", "f1",
                                    "map50", "map50_95"}),
    "register_datasets": ("dataset", {"yolo", "tea-bud-synth"}),
    "register_executors": ("executor", {"local", "ray"}),
    "register_reporters": ("reporter", {"console", "json", "csv", "plots", "markdown", "html"}),
}


def _entries() -> list[tuple[str, str]]:
    cat = plugins.get_catalogue()
    return [(kind, name) for kind in BASES for name in cat.registry(kind).names()]


@pytest.mark.parametrize("hook", sorted(BUNDLED))
def test_bundled_plugins_register_through_each_catalogue_hook(hook: str) -> None:
    kind, expected = BUNDLED[hook]
    cat = plugins.build_catalogue(entry_points=False)
    impls = [cat.pm.get_name(i.plugin) for i in getattr(cat.pm.hook, hook).get_hookimpls()]
    assert any(name in plugins.DEFAULT_PLUGINS for name in impls), f"no bundled plugin implements {hook}"
    registered = set(cat.registry(kind).names())
    assert expected <= registered, f"missing {kind}s: {sorted(expected - registered)}"
    for name in expected:
        assert cat.registry(kind).entry(name).plugin in plugins.DEFAULT_PLUGINS


@pytest.mark.parametrize(("kind", "name"), _entries())
def test_plugin_contract(kind: str, name: str) -> None:
    cls = plugins.get_catalogue().registry(kind).get(name)
    assert issubclass(cls, BASES[kind])
    assert cls.name == name
    assert cls.description, f"{kind} {name!r} has no description"
    assert issubclass(cls.Options, BaseModel)
    assert cls.Options.model_config.get("extra") == "forbid", f"{kind} {name!r} Options allow unknown keys"
    for fname, field in cls.Options.model_fields.items():
        assert field.description, f"{kind} {name!r} option {fname!r} has no description"
    instance = cls({})  # default options are valid
    assert instance.options is not None
    if kind == "metric":
        assert isinstance(cls.higher_is_better, bool)
        assert cls.kind in ("accuracy", "complexity", "speed")
