"""Importing an official YOLOv5 best.pt (a pickled models.yolo.DetectionModel, fp16) without the yolov5 package."""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from prunebench.models.yolov5.family import YOLOv5n, YOLOv5s
from prunebench.models.yolov5.yolo import DetectionModel, build_yolov5

_COMMON = "from torch import nn\n" + "".join(
    f"class {n}(nn.Module):\n    pass\n\n" for n in ("Conv", "C3", "SPPF", "Bottleneck", "Concat"))
_YOLO = "from torch import nn\n" + "".join(f"class {n}(nn.Module):\n    pass\n\n" for n in ("Detect", "DetectionModel"))


@pytest.fixture
def fake_yolov5(tmp_path: Path) -> Iterator[dict[str, ModuleType]]:
    """A throwaway ``models`` package whose class paths are the official ones (models.yolo.DetectionModel...)."""
    root = tmp_path / "fake_yolov5_repo"
    (root / "models").mkdir(parents=True)
    (root / "models" / "__init__.py").write_text("")
    (root / "models" / "common.py").write_text(_COMMON)
    (root / "models" / "yolo.py").write_text(_YOLO)
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "models" or k.startswith("models.")}
    sys.path.insert(0, str(root))
    try:
        yield {"common": importlib.import_module("models.common"), "yolo": importlib.import_module("models.yolo")}
    finally:
        sys.path.remove(str(root))
        for k in [k for k in sys.modules if k == "models" or k.startswith("models.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def _as_official(model: DetectionModel, mods: dict[str, ModuleType]) -> nn.Module:
    """A deep copy whose prunebench classes are swapped for the fake official ones (so pickle names them)."""
    off = copy.deepcopy(model)
    for m in off.modules():
        name = type(m).__name__
        if name in ("Detect", "DetectionModel"):
            m.__class__ = getattr(mods["yolo"], name)
        elif name in ("Conv", "C3", "SPPF", "Bottleneck", "Concat"):
            m.__class__ = getattr(mods["common"], name)
    off.__dict__["names"] = {0: "tea", 1: "bud", 2: "leaf"}  # v7.0 stores a dict
    off.__dict__["nc"] = 3
    off.__dict__["stride"] = torch.tensor([8.0, 16.0, 32.0])
    off.__dict__["hyp"] = {"lr0": 0.01}
    return off


def _tiny(seed: int = 0) -> DetectionModel:
    torch.manual_seed(seed)
    model = build_yolov5("n", 3, width_multiple=0.0625)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def test_official_checkpoint_equals_state_dict_import(tmp_path: Path, fake_yolov5: dict[str, ModuleType]) -> None:
    model = _tiny()
    official = _as_official(model, fake_yolov5).half()
    assert type(official).__module__ == "models.yolo"
    best = tmp_path / "best.pt"
    torch.save({"epoch": -1, "best_fitness": None, "model": official, "ema": None, "updates": None,
                "optimizer": None, "opt": {"imgsz": 640, "weights": "yolov5n.pt"}, "git": None,
                "date": "2024-01-01T00:00:00"}, best)
    sd_file = tmp_path / "sd.pt"
    torch.save(model.half().state_dict(), sd_file)
    for k in [k for k in sys.modules if k == "models" or k.startswith("models.")]:
        del sys.modules[k]  # the yolov5 code is no longer importable: loading must not need it
    sys.path.pop(0)
    try:
        from_official = YOLOv5n().load(best)
        from_sd = YOLOv5s().load(sd_file)
    finally:
        sys.path.insert(0, str(tmp_path / "fake_yolov5_repo"))
    assert from_official.names == ["tea", "bud", "leaf"]
    assert from_official.nc == 3
    assert from_official.checkpoint_format == "yolov5"
    assert "models" not in sys.modules
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        a, b = from_official.eval()(x)[0], from_sd.eval()(x)[0]
    assert torch.equal(a, b)
    with torch.no_grad():
        ref = model.float().eval()(x)[0]
    assert torch.allclose(a, ref, atol=5e-2, rtol=1e-2)  # fp16 rounding of the weights only


def test_official_last_pt_prefers_ema(tmp_path: Path, fake_yolov5: dict[str, ModuleType]) -> None:
    model, ema = _tiny(0), _tiny(1)
    last = tmp_path / "last.pt"
    import numpy as np

    torch.save({"epoch": 5, "best_fitness": np.array([0.4321]), "model": _as_official(model, fake_yolov5).half(),
                "ema": _as_official(ema, fake_yolov5).half(), "updates": 10, "date": "2024-01-01",
                "opt": {"imgsz": 640, "hyp": {"lr0": 0.01}, "rect": False, "score": np.float64(0.5)},
                "optimizer": torch.optim.SGD(model.parameters(), lr=0.01).state_dict()}, last)
    loaded = YOLOv5n().load(last)
    with torch.no_grad():
        ref = ema.half().float().state_dict()
    assert torch.equal(loaded.state_dict()["model.0.conv.weight"], ref["model.0.conv.weight"])
    assert loaded.checkpoint_meta["epoch"] == 5


def test_official_checkpoint_with_a_payload_is_refused(tmp_path: Path, fake_yolov5: dict[str, ModuleType]) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple:
            import os

            return (os.system, (f"touch {marker}",))

    official = _as_official(_tiny(), fake_yolov5)
    official.__dict__["hyp"] = Payload()
    path = tmp_path / "best.pt"
    torch.save({"model": official, "epoch": 1}, path)
    from prunebench.errors import UsageError

    with pytest.raises(UsageError, match="system"):
        YOLOv5n().load(path)
    assert not marker.exists()
