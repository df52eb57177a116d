"""Fixtures for the engine tests: a tiny synthetic dataset, a tiny YOLOv5 family, one torch thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import prunebench as pb
from prunebench.contracts import ModelFamily
from prunebench.data.synth import SynthOptions, generate_tea_bud


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 training and 4 validation images of 96x72 pixels."""
    return generate_tea_bud(tmp_path_factory.mktemp("teabud") / "tb", SynthOptions(train=8, val=4, imgsz=96, seed=0))


@pytest.fixture
def tiny_family() -> ModelFamily:
    """yolov5n at 1/16 width (about 0.1 M parameters)."""
    return pb.get_model_family("yolov5n", width_multiple=0.0625, depth_multiple=0.33)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a shared machine OpenMP spinning costs a lot."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
