"""Metric metadata comes from the metric classes (stored with each evaluation), not from a table in the reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunebench.defaults import DEFAULT_METRICS
from prunebench.plugins import get_catalogue
from prunebench.report.summary import metric_info
from prunebench.suite.results import Results


def _results(metric_info: dict[str, dict[str, object]]) -> Results:
    return Results(run_dir=Path("."), name="t", spec={}, spec_text="", environment={}, cells=[],
                   metric_info=metric_info)


@pytest.mark.parametrize("name", DEFAULT_METRICS)
def test_a_store_without_metadata_shows_what_the_metric_class_says(name: str) -> None:
    cls = get_catalogue().metrics.get(name)
    info = metric_info(_results({}), name)
    for key in ("unit", "higher_is_better", "kind", "fmt", "description"):
        assert info[key] == cls.info()[key], key
    assert info["label"] == cls.label  # every default metric names its own column


def test_the_store_wins_over_the_class_and_labels_default_to_name_and_unit() -> None:
    info = metric_info(_results({"latency_ms": {"fmt": ".3f", "unit": "ms"}}), "latency_ms")
    assert info["fmt"] == ".3f"  # what was measured
    assert info["label"] == "Latency ms"  # completed from the class
    aux = metric_info(_results({"mystery": {"unit": "J"}}), "mystery")
    assert aux["label"] == "mystery (J)"
    assert metric_info(_results({}), "latency_ms")["fmt"] == ".1f"
    assert metric_info(_results({}), "size_mb")["unit"] == "MB (fp16)"


def test_every_registered_metric_describes_itself() -> None:
    cat = get_catalogue()
    for name in cat.metrics.names():
        info = cat.metrics.get(name).info()
        assert info["description"], name
        assert info["kind"] in ("accuracy", "complexity", "speed"), name
        assert format(1234.5678, info["fmt"]), name
