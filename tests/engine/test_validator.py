"""The validator: every image scored once, boxes in native pixels, loss components, device checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from prunebench.contracts import ModelFamily
from prunebench.data.check import check_split
from prunebench.data.yolo import load_data_yaml
from prunebench.engine.config import EvalConfig
from prunebench.engine.validator import resolve_device, validate
from prunebench.errors import UsageError


def test_validate_scores_every_image_in_native_pixels(tiny_family: ModelFamily, tiny_data: Path) -> None:
    torch.manual_seed(0)
    model = tiny_family.build(nc=1)
    loss_fn = tiny_family.loss(model, {**tiny_family.default_hyp(), "imgsz": 64})
    res = validate(model, tiny_family, tiny_data, EvalConfig(imgsz=64, batch_size=3), loss_fn=loss_fn)
    info = load_data_yaml(tiny_data)
    idx = check_split(info, "val")
    assert res.n_images == 4
    assert len(res.images) == 4
    assert res.loss is not None
    assert res.loss.shape == (3,)
    assert res.metrics.n_labels == idx.instances
    by_path = dict(zip(map(str, idx.files), idx.shapes, strict=True))
    for (det, _lab), path, shape in zip(res.images, res.paths, res.shapes, strict=True):
        assert by_path[path] == shape
        h, w = shape
        assert (det[:, [0, 2]] <= w).all()
        assert (det[:, [1, 3]] <= h).all()
        assert (det[:, :4] >= 0).all()
    # labels come back to the native pixels of the label files (within rounding)
    native = {str(f): lb for f, lb in zip(idx.files, idx.labels, strict=True)}
    for (_, lab), path, (_h, w) in zip(res.images, res.paths, res.shapes, strict=True):
        want = native[path]
        cx = (lab[:, 1] + lab[:, 3]) / 2 / w
        assert sorted(cx.round(3).tolist()) == pytest.approx(sorted(want[:, 1].tolist()), abs=2e-3)
    assert model.training  # the mode is restored


def test_square_batches_give_the_same_labels(tiny_family: ModelFamily, tiny_data: Path) -> None:
    model = tiny_family.build(nc=1)
    rect = validate(model, tiny_family, tiny_data, EvalConfig(imgsz=64), rect=True)
    square = validate(model, tiny_family, tiny_data, EvalConfig(imgsz=64), rect=False)
    assert rect.metrics.n_labels == square.metrics.n_labels


def test_device_names() -> None:
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(UsageError, match="not supported"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            resolve_device("cuda:1")
