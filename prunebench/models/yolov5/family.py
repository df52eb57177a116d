"""The YOLOv5 model families (``yolov5n``, ``yolov5s``, ``yolov5m``) fulfilling ``contracts.ModelFamily``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import torch
from pydantic import Field, field_validator
from torch import nn

from prunebench.errors import UsageError
from prunebench.models.family_base import YoloFamilyBase, YoloOptions, detect_head
from prunebench.models.yolov5.checkpoint import read_checkpoint, save_checkpoint, state_dict_to_model
from prunebench.models.yolov5.common import Bottleneck, Conv
from prunebench.models.yolov5.loss import ComputeLoss, scale_hyp
from prunebench.models.yolov5.yolo import Detect, build_yolov5, fuse_model

__all__ = ["HYP_SCRATCH_LOW", "YOLOv5Family", "YOLOv5m", "YOLOv5n", "YOLOv5s", "prunable_convs"]

#: hyp.scratch-low.yaml (official YOLOv5 v7.0)
HYP_SCRATCH_LOW: dict[str, float] = {
    "lr0": 0.01, "lrf": 0.01, "momentum": 0.937, "weight_decay": 0.0005, "warmup_epochs": 3.0,
    "warmup_momentum": 0.8, "warmup_bias_lr": 0.1, "box": 0.05, "cls": 0.5, "cls_pw": 1.0, "obj": 1.0,
    "obj_pw": 1.0, "iou_t": 0.20, "anchor_t": 4.0, "fl_gamma": 0.0, "hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4,
    "degrees": 0.0, "translate": 0.1, "scale": 0.5, "shear": 0.0, "perspective": 0.0, "flipud": 0.0,
    "fliplr": 0.5, "mosaic": 1.0, "mixup": 0.0, "copy_paste": 0.0, "label_smoothing": 0.0,
}

_SCOPE_LAYERS: dict[str, range] = {"backbone": range(10), "backbone+neck": range(24), "all": range(10_000)}


def _detect_of(model: nn.Module) -> Detect:
    return detect_head(model, Detect, "YOLOv5 DetectionModel (with .model[-1] a Detect head)")


def prunable_convs(model: nn.Module, scope: str) -> list[nn.Conv2d]:
    """Conv2d modules whose output channels may be pruned in ``scope`` (see docs/models.md).

    ``backbone``: layers 0-9; ``backbone+neck``: layers 0-23. Both take every Conv block's conv (stem,
    downsampling convs, C3 cv1/cv2/cv3, bottleneck cv2, SPPF cv1/cv2) but NOT bottleneck cv1 (the hidden
    width). ``all``: layers 0-23 including bottleneck cv1. Detect's output convs are never included.
    """
    if scope not in _SCOPE_LAYERS:
        raise UsageError(f"Unknown scope {scope!r}.", hint="Allowed: backbone, backbone+neck, all.")
    m = getattr(model, "module", model)
    _detect_of(model)
    out: list[nn.Conv2d] = []
    last = len(m.model) - 1  # Detect
    for i in _SCOPE_LAYERS[scope]:
        if i >= last:
            break
        layer = m.model[i]
        hidden = {id(b.cv1) for b in layer.modules() if isinstance(b, Bottleneck)}
        for mod in layer.modules():
            if isinstance(mod, Conv) and (scope == "all" or id(mod) not in hidden):
                out.append(mod.conv)
    return out


class YOLOv5Family(YoloFamilyBase):
    """Anchor-based YOLOv5 (v6.0+/v7.0) in pure torch; official state_dict keys, counts and outputs."""

    size: ClassVar[str] = "n"
    stride: ClassVar[int] = 32

    class Options(YoloOptions):
        anchors: list[list[float]] | None = Field(
            None, min_length=1, max_length=5,
            description="anchors in pixels, one row per level: [w0, h0, w1, h1, ...] (default: YOLOv5's)")
        half: bool = Field(False, description="save checkpoints in fp16 (half the file size)")
        transfer: bool = Field(
            False, description="build(nc, weights) with a file of another nc: keep its weights but re-create "
                               "Detect's output convs for nc (YOLOv5 transfer learning, e.g. from COCO "
                               "yolov5s.pt); off: the file's nc wins")

        @field_validator("anchors")
        @classmethod
        def _check_anchors(cls, v: list[list[float]] | None) -> list[list[float]] | None:
            if v is None:
                return v
            lens = {len(row) for row in v}
            if len(lens) != 1 or next(iter(lens)) % 2 or next(iter(lens)) == 0:
                raise ValueError(f"every anchor row needs the same even number of values (w, h pairs), got {v}")
            if any(a <= 0 for row in v for a in row):
                raise ValueError(f"anchors must be positive pixel sizes, got {v}")
            if len(v) != 3:
                raise ValueError(f"YOLOv5 has 3 detection levels (P3, P4, P5): give 3 anchor rows, got {len(v)}")
            return v

    # ---------------------------------------------------------------------------------------------- build
    def _build_new(self, nc: int) -> nn.Module:
        o = self.options
        return build_yolov5(self.size, nc, depth_multiple=o.depth_multiple, width_multiple=o.width_multiple,
                            anchors=o.anchors)

    _head_of = staticmethod(_detect_of)
    _prunable_convs = staticmethod(prunable_convs)
    _fuse_model = staticmethod(fuse_model)
    _read_checkpoint = staticmethod(read_checkpoint)
    _save_checkpoint = staticmethod(save_checkpoint)
    _state_dict_to_model = staticmethod(state_dict_to_model)

    def default_hyp(self) -> dict[str, float]:
        return dict(HYP_SCRATCH_LOW)

    # ---------------------------------------------------------------------------------------------- pruning
    def ignored_layers(self, model: nn.Module) -> list[nn.Module]:
        return list(_detect_of(model).m)

    # ---------------------------------------------------------------------------------------------- train/eval
    def loss(self, model: nn.Module, hyp: Mapping[str, float]) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
        """ComputeLoss with gains scaled as train.py does (box*3/nl, cls*nc/80*3/nl, obj*(imgsz/640)^2*3/nl).

        ``hyp`` holds unscaled gains (as :meth:`default_hyp`); give the training size as ``hyp["imgsz"]``
        (default 640). Pass ``hyp["scaled"] = 1`` if the gains are already scaled.
        """
        h = {**HYP_SCRATCH_LOW, **dict(hyp)}
        det = _detect_of(model)
        if not h.get("scaled"):
            h = scale_hyp(h, nl=det.nl, nc=det.nc, imgsz=int(h.get("imgsz", 640)))
        return ComputeLoss(model, h)


class YOLOv5n(YOLOv5Family):
    name: ClassVar[str] = "yolov5n"
    description: ClassVar[str] = "YOLOv5n v7.0 (depth 0.33, width 0.25; 1.87M params, 4.5 GFLOPs at nc=80)"
    size: ClassVar[str] = "n"


class YOLOv5s(YOLOv5Family):
    name: ClassVar[str] = "yolov5s"
    description: ClassVar[str] = "YOLOv5s v7.0 (depth 0.33, width 0.50; 7.2M params, 16.6 GFLOPs at nc=80)"
    size: ClassVar[str] = "s"


class YOLOv5m(YOLOv5Family):
    name: ClassVar[str] = "yolov5m"
    description: ClassVar[str] = "YOLOv5m v7.0 (depth 0.67, width 0.75; 21.2M params, 49.2 GFLOPs at nc=80)"
    size: ClassVar[str] = "m"

