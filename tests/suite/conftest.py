"""Fixtures of the suite tests: a tiny spec (tiny YOLOv5n, 8+4 synthetic images at 64 px, 1 epoch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from prunebench.testing_tiny import tiny_spec

#: metrics that are the same on every run of the same spec and seed on CPU (latency is a timing)
STABLE_METRICS = ("params", "gflops", "precision", "recall", "f1", "map50", "map50_95")


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated tiny dataset shared by every suite test (generated once, on first use)."""
    return tmp_path_factory.mktemp("tea-bud-tiny")


def tiny_spec_dict(out: Path, data_dir: Path, **overrides: Any) -> dict[str, Any]:
    """The tiny spec with l1 at 0.5 and every bundled metric."""
    metrics = ["params", "gflops", "size_mb", {"name": "latency_ms", "options": {"warmup": 1, "repeats": 3}},
               "precision", "recall", "f1", "map50", "map50_95"]
    return tiny_spec(out, data_dir, **{"pruners": [{"name": "l1", "levels": [0.5]}], "metrics": metrics, **overrides})


@pytest.fixture
def write_spec(tmp_path: Path, synth_dir: Path) -> Callable[..., Path]:
    """``write_spec(name, out=..., **overrides) -> path`` of a tiny spec YAML in tmp_path."""

    def write(name: str = "spec.yaml", out: Path | None = None, **overrides: Any) -> Path:
        path = tmp_path / name
        data = tiny_spec_dict(out or tmp_path / "run", synth_dir, **overrides)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


def _stable_metrics(results: Any) -> dict[str, dict[str, float]]:
    return {c.key: {k: v for k, v in c.metrics.items() if k in STABLE_METRICS} for c in results.cells}


@pytest.fixture
def stable_metrics() -> Callable[[Any], dict[str, dict[str, float]]]:
    """``stable_metrics(results)``: per cell, the metrics that must not change between equal runs."""
    return _stable_metrics


@pytest.fixture
def spec_dict() -> Callable[..., dict[str, Any]]:
    """``spec_dict(out, data_dir, **overrides)``: the tiny spec as a mapping."""
    return tiny_spec_dict


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory, synth_dir: Path) -> Any:
    """The tiny suite run once, uninterrupted, with the local executor (compared against by other tests)."""
    import prunebench as pb

    root = tmp_path_factory.mktemp("reference")
    path = root / "spec.yaml"
    path.write_text(yaml.safe_dump(tiny_spec_dict(root / "run", synth_dir), sort_keys=False), encoding="utf-8")
    return pb.run(path, progress=False)
