"""YOLOv8 checkpoints: an Ultralytics .pt (a pickled ultralytics.nn.tasks.DetectionModel, fp16) read without
ultralytics, a planted payload refused, prunebench round trips (pruned too) and transfer to another nc."""

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

import prunebench as pb
from prunebench.errors import UsageError
from prunebench.metrics.complexity import count_params
from prunebench.models.yolov8.family import YOLOv8n
from prunebench.models.yolov8.model import DetectionModel, build_yolov8

_CLASSES = {"nn/tasks.py": ("DetectionModel",), "nn/modules/conv.py": ("Conv", "Concat"),
            "nn/modules/block.py": ("C2f", "Bottleneck", "SPPF", "DFL"), "nn/modules/head.py": ("Detect",)}


@pytest.fixture
def fake_ultralytics(tmp_path: Path) -> Iterator[dict[str, ModuleType]]:
    """A throwaway ``ultralytics`` package whose class paths are the official ones (nothing else in it)."""
    root = tmp_path / "fake_ultralytics"
    for rel, names in _CLASSES.items():
        path = root / "ultralytics" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("from torch import nn\n" + "".join(f"class {n}(nn.Module):\n    pass\n\n" for n in names))
    for d in (root / "ultralytics", root / "ultralytics" / "nn", root / "ultralytics" / "nn" / "modules"):
        (d / "__init__.py").write_text("")
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "ultralytics" or k.startswith("ultralytics.")}
    sys.path.insert(0, str(root))
    try:
        yield {rel: importlib.import_module("ultralytics." + rel[:-3].replace("/", ".")) for rel in _CLASSES}
    finally:
        sys.path.remove(str(root))
        for k in [k for k in sys.modules if k == "ultralytics" or k.startswith("ultralytics.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def _tiny(nc: int = 2, seed: int = 0) -> DetectionModel:
    torch.manual_seed(seed)
    model = build_yolov8("n", nc, width_multiple=0.0625)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _official_pt(model: nn.Module, mods: dict[str, ModuleType], path: Path, payload: object = None) -> Path:
    """Save ``model`` as Ultralytics 8.4 does: the whole model pickled, fp16, with its training args."""
    off = copy.deepcopy(model).half()
    for m in off.modules():
        for rel, names in _CLASSES.items():
            if type(m).__name__ in names:
                m.__class__ = getattr(mods[rel], type(m).__name__)
    off.__dict__.update(names={0: "bud", 1: "leaf"}, yaml={"nc": 2, "scale": "n"}, args={"box": 7.5})
    off.__dict__["stride"] = torch.tensor([8.0, 16.0, 32.0])
    ckpt = {"date": "2026-01-01", "version": "8.4.190", "license": "AGPL-3.0", "epoch": -1, "model": off,
            "train_args": {"imgsz": 640}, "best_fitness": None, "ema": None, "updates": None, "optimizer": None}
    if payload is not None:
        ckpt["train_metrics"] = payload
    torch.save(ckpt, path)
    return path


def test_official_pt_gives_the_same_outputs_without_ultralytics(tmp_path: Path,
                                                                  fake_ultralytics: dict[str, ModuleType]) -> None:
    model = _tiny()
    path = _official_pt(model, fake_ultralytics, tmp_path / "best.pt")
    for k in [k for k in sys.modules if k.startswith("ultralytics")]:
        del sys.modules[k]  # loading must not import (or need) the package
    loaded = pb.create_model("yolov8n", weights=path)
    assert not any(k.startswith("ultralytics") for k in sys.modules)
    assert loaded.checkpoint_format == "ultralytics"
    assert loaded.names == ["bud", "leaf"]
    assert loaded.nc == 2
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ref = copy.deepcopy(model).half().float()(x)[0]  # the same fp16-rounded weights
        assert torch.allclose(loaded.eval()(x)[0], ref, rtol=1e-5, atol=1e-4)


class _Evil:
    def __reduce__(self) -> tuple:
        import os

        return (os.system, ("echo pwned",))


def test_planted_payload_is_refused(tmp_path: Path, fake_ultralytics: dict[str, ModuleType]) -> None:
    path = _official_pt(_tiny(), fake_ultralytics, tmp_path / "evil.pt", payload=_Evil())
    with pytest.raises(UsageError) as err:
        YOLOv8n().load(path)
    assert str(path) in str(err.value)
    assert "system" in str(err.value)


def test_prunebench_round_trip_of_a_pruned_model(tmp_path: Path) -> None:
    fam = pb.get_model_family("yolov8n", width_multiple=0.0625)
    model = _tiny()
    pruned, _ = pb.prune(model, "l1", level=0.5, family=fam, imgsz=64, scope="all")
    path = fam.save(pruned.eval(), tmp_path / "p.pt", epoch=1)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "prunebench"
    assert raw["model"] == "yolov8n"
    loaded = fam.load(path).eval()
    assert count_params(loaded) == count_params(pruned) < count_params(model)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x)[0], pruned(x)[0])


def test_transfer_reheads_for_another_nc(tmp_path: Path) -> None:
    model = _tiny(nc=2)
    path = YOLOv8n().save(model, tmp_path / "coco.pt")
    assert YOLOv8n().build(nc=5, weights=path).nc == 2  # the file wins without transfer
    moved = YOLOv8n({"transfer": True}).build(nc=5, weights=path)
    assert moved.nc == 5
    sd, new = model.state_dict(), moved.state_dict()
    reheaded = {f"model.22.cv3.{i}.2.{p}" for i in range(3) for p in ("weight", "bias")}
    assert all(torch.equal(new[k], v) for k, v in sd.items() if k not in reheaded)
    assert moved.model[-1].cv3[0][-1].out_channels == 5
    with torch.no_grad():
        assert moved.eval()(torch.rand(1, 3, 64, 64))[0].shape == (1, 9, 84)


def test_not_a_yolov8_file(tmp_path: Path) -> None:
    path = tmp_path / "v5.pt"
    pb.get_model_family("yolov5n").save(pb.create_model("yolov5n", nc=1, width_multiple=0.0625), path)
    with pytest.raises(UsageError, match="not a YOLOv8"):
        YOLOv8n().load(path)
