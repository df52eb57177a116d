"""The YOLOv8 model families (``yolov8n``, ``yolov8s``, ``yolov8m``) fulfilling ``contracts.ModelFamily``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from prunebench.errors import UsageError
from prunebench.models.family_base import YoloFamilyBase, YoloOptions, detect_head
from prunebench.models.yolov5.common import Conv
from prunebench.models.yolov8.checkpoint import read_checkpoint, save_checkpoint, state_dict_to_model
from prunebench.models.yolov8.loss import V8DetectionLoss
from prunebench.models.yolov8.model import build_yolov8, fuse_model
from prunebench.models.yolov8.modules import Bottleneck, Detect

__all__ = ["HYP_V8", "YOLOv8Family", "YOLOv8m", "YOLOv8n", "YOLOv8s", "prunable_convs", "to_v5_layout"]

#: ultralytics 8.4 cfg/default.yaml: optimisation, loss gains and augmentation
HYP_V8: dict[str, float] = {
    "lr0": 0.01, "lrf": 0.01, "momentum": 0.937, "weight_decay": 0.0005, "warmup_epochs": 3.0,
    "warmup_momentum": 0.8, "warmup_bias_lr": 0.1, "box": 7.5, "cls": 0.5, "dfl": 1.5,
    "hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4, "degrees": 0.0, "translate": 0.1, "scale": 0.5, "shear": 0.0,
    "perspective": 0.0, "flipud": 0.0, "fliplr": 0.5, "mosaic": 1.0, "mixup": 0.0, "copy_paste": 0.0,
}

#: layer ranges of the scopes (Detect, layer 22, is added by ``all`` only: its hidden convs)
_SCOPE_LAYERS: dict[str, range] = {"backbone": range(10), "backbone+neck": range(22), "all": range(22)}


def _detect_of(model: nn.Module) -> Detect:
    return detect_head(model, Detect, "YOLOv8 DetectionModel (with .model[-1] a YOLOv8 Detect head)")


def prunable_convs(model: nn.Module, scope: str) -> list[nn.Conv2d]:
    """Conv2d modules whose output channels may be pruned in ``scope`` (see docs/pruning.md).

    ``backbone``: layers 0-9; ``backbone+neck``: layers 0-21. Both take every Conv block's conv (stem,
    downsampling convs, C2f cv1/cv2, bottleneck cv2, SPPF cv1/cv2) but NOT bottleneck cv1 (the hidden
    width). ``all``: layers 0-21 including bottleneck cv1, plus Detect's hidden convs (the first two Convs
    of every box and class branch). The final box (64-bin) and class convs and the DFL never lose outputs.
    """
    if scope not in _SCOPE_LAYERS:
        raise UsageError(f"Unknown scope {scope!r}.", hint="Allowed: backbone, backbone+neck, all.")
    m = getattr(model, "module", model)
    det = _detect_of(model)
    out: list[nn.Conv2d] = []
    for i in _SCOPE_LAYERS[scope]:
        layer = m.model[i]
        hidden = {id(b.cv1) for b in layer.modules() if isinstance(b, Bottleneck)}
        for mod in layer.modules():
            if isinstance(mod, Conv) and (scope == "all" or id(mod) not in hidden):
                out.append(mod.conv)
    if scope == "all":
        for branch in (*det.cv2, *det.cv3):
            out.extend(block.conv for block in branch[:-1] if isinstance(block, Conv))
    return out


def to_v5_layout(y: torch.Tensor) -> torch.Tensor:
    """``[bs, 4 + nc, A]`` (xywh, class probabilities) -> ``[bs, A, 5 + nc]`` with objectness 1.

    YOLOv5's NMS then scores each box by its class probability alone, which is YOLOv8's rule (no objectness).
    """
    y = y.transpose(1, 2)
    return torch.cat((y[..., :4], torch.ones_like(y[..., :1]), y[..., 4:]), 2)


class YOLOv8Family(YoloFamilyBase):
    """Anchor-free YOLOv8 (Ultralytics 8.4 yolov8.yaml) in pure torch; official state_dict keys, counts, outputs."""

    size: ClassVar[str] = "n"
    stride: ClassVar[int] = 32
    loss_names: ClassVar[tuple[str, ...]] = ("box", "cls", "dfl")

    class Options(YoloOptions):
        half: bool = Field(False, description="save checkpoints in fp16 (half the file size)")
        transfer: bool = Field(
            False, description="build(nc, weights) with a file of another nc: load every tensor whose name and "
                               "shape fit a model for nc and start the rest afresh (Ultralytics transfer "
                               "learning, e.g. from COCO yolov8n.pt); off: the file's nc wins")

    # ---------------------------------------------------------------------------------------------- build
    def _build_new(self, nc: int) -> nn.Module:
        o = self.options
        return build_yolov8(self.size, nc, depth_multiple=o.depth_multiple, width_multiple=o.width_multiple)

    _head_of = staticmethod(_detect_of)
    _prunable_convs = staticmethod(prunable_convs)
    _fuse_model = staticmethod(fuse_model)
    _read_checkpoint = staticmethod(read_checkpoint)
    _save_checkpoint = staticmethod(save_checkpoint)
    _state_dict_to_model = staticmethod(state_dict_to_model)

    def default_hyp(self) -> dict[str, float]:
        return dict(HYP_V8)

    def train_recipe(self) -> dict[str, Any]:
        """Ultralytics 8.4: optimizer auto, no 100-iteration warm-up floor, close_mosaic 10, best.pt by mAP50-95;
        the warm-up ramps SGD momentum only (never Adam's beta1)."""
        return {"optimizer": "auto", "close_mosaic": 10, "warmup_min_iters": 0, "fitness": "map50-95",
                "warmup_betas": False}

    # ---------------------------------------------------------------------------------------------- pruning
    def ignored_layers(self, model: nn.Module) -> list[nn.Module]:
        det = _detect_of(model)
        return [*(branch[-1] for branch in (*det.cv2, *det.cv3)), *det.dfl.modules()]

    # ---------------------------------------------------------------------------------------------- train/eval
    def loss(self, model: nn.Module, hyp: Mapping[str, float]) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
        """Ultralytics 8.4's v8DetectionLoss with gains ``hyp`` box/cls/dfl (defaults 7.5/0.5/1.5).

        Other keys of ``hyp`` (such as ``imgsz``) are ignored: the loss reads sizes from the outputs.
        """
        return V8DetectionLoss(model, {**HYP_V8, **dict(hyp)})

    def _nms_input(self, outputs: Any) -> torch.Tensor:
        return to_v5_layout(outputs[0] if isinstance(outputs, (tuple, list)) else outputs)


class YOLOv8n(YOLOv8Family):
    name: ClassVar[str] = "yolov8n"
    description: ClassVar[str] = "YOLOv8n, Ultralytics 8.4 (depth 0.33, width 0.25; 3.16M params, 8.9 GFLOPs at nc=80)"
    size: ClassVar[str] = "n"


class YOLOv8s(YOLOv8Family):
    name: ClassVar[str] = "yolov8s"
    description: ClassVar[str] = "YOLOv8s, Ultralytics 8.4 (depth 0.33, width 0.50; 11.2M params, 28.8 GFLOPs at nc=80)"
    size: ClassVar[str] = "s"


class YOLOv8m(YOLOv8Family):
    name: ClassVar[str] = "yolov8m"
    description: ClassVar[str] = "YOLOv8m, Ultralytics 8.4 (depth 0.67, width 0.75; 25.9M params, 79.3 GFLOPs at nc=80)"
    size: ClassVar[str] = "m"
