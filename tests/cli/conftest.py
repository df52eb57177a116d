"""Fixtures of the CLI tests: a tiny valid spec (tiny YOLOv5n, 8+4 synthetic 64 px images, 1 epoch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml


def tiny_spec(out: Path, data_dir: Path, **overrides: Any) -> dict[str, Any]:
    budget = {"epochs": 1, "imgsz": 64, "batch_size": 4, "max_batches": 2, "warmup_epochs": 0.0, "cache": False}
    spec: dict[str, Any] = {
        "name": "tiny",
        "seeds": [0],
        "device": "cpu",
        "output": str(out),
        "dataset": {"name": "tea-bud-synth",
                    "options": {"train": 8, "val": 4, "imgsz": 64, "seed": 0, "out": str(data_dir)}},
        "models": [{"name": "yolov5n", "options": {"width_multiple": 0.0625, "depth_multiple": 0.33}}],
        "pruners": [],
        "train": dict(budget),
        "finetune": dict(budget),
        "evaluate": {"batch_size": 4},
        "calibration_batches": 1,
        "metrics": ["params", "map50"],
        "reporters": [],
    }
    spec.update(overrides)
    return spec


@pytest.fixture(scope="session")
def cli_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tiny synthetic dataset is generated (once per session, on first use)."""
    return tmp_path_factory.mktemp("cli-tea-bud")


@pytest.fixture
def write_spec(tmp_path: Path, cli_data_dir: Path) -> Callable[..., Path]:
    """``write_spec(name="spec.yaml", out=tmp_path/"run", **overrides) -> path`` of a tiny valid spec."""

    def write(name: str = "spec.yaml", out: Path | None = None, **overrides: Any) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(tiny_spec(out or tmp_path / "run", cli_data_dir, **overrides),
                                       sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def spec_factory() -> Callable[..., dict[str, Any]]:
    """``spec_factory(out, data_dir, **overrides)``: the tiny valid spec as a mapping."""
    return tiny_spec
