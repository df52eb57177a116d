"""depth_multiple / width_multiple beside weights must describe the checkpoint, never be ignored silently."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from prunebench.errors import UsageError
from prunebench.plugins import get_catalogue


@pytest.mark.parametrize("name", ["yolov5n", "yolov8n"])
def test_scale_options_that_contradict_the_weights_are_refused(name: str, tmp_path: Path) -> None:
    cls = get_catalogue().models.get(name)
    tiny = cls({"width_multiple": 0.0625, "depth_multiple": 0.33})
    torch.manual_seed(0)
    path = tiny.save(tiny.build(nc=2), tmp_path / "tiny.pt")
    assert cls({"width_multiple": 0.0625, "depth_multiple": 0.33}).build(nc=2, weights=path) is not None
    assert cls({}).build(nc=2, weights=path) is not None  # no scale given: the checkpoint's own layers
    with pytest.raises(UsageError) as info:
        cls({"width_multiple": 0.25}).build(nc=2, weights=path)
    text = " ".join(info.value.message.split())
    assert "tiny.pt" in text
    assert "width_multiple: 0.25" in text
    assert "in the checkpoint" in text
    assert "leave depth_multiple/width_multiple out" in (info.value.hint or "")
