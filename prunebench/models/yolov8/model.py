"""The YOLOv8 detection model (yolov8.yaml, anchor-free): layers, DetectionModel, build_yolov8, fuse."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from prunebench.models.layered import LayeredDetectionModel, parse_layers
from prunebench.models.yolov5.common import SPPF, Concat, Conv
from prunebench.models.yolov5.yolo import fuse_model
from prunebench.models.yolov8.modules import C2f, Detect

__all__ = ["LAYERS", "SIZES", "DetectionModel", "build_yolov8", "fuse_model"]

#: (depth_multiple, width_multiple, max_channels) of the official scales
SIZES: dict[str, tuple[float, float, int]] = {
    "n": (0.33, 0.25, 1024), "s": (0.33, 0.50, 1024), "m": (0.67, 0.75, 768), "l": (1.00, 1.00, 512),
    "x": (1.00, 1.25, 512)}

#: yolov8.yaml: (from, repeats, module, args)
LAYERS: list[tuple[int | list[int], int, str, list[Any]]] = [
    # backbone
    (-1, 1, "Conv", [64, 3, 2]),  # 0-P1/2
    (-1, 1, "Conv", [128, 3, 2]),  # 1-P2/4
    (-1, 3, "C2f", [128, True]),
    (-1, 1, "Conv", [256, 3, 2]),  # 3-P3/8
    (-1, 6, "C2f", [256, True]),
    (-1, 1, "Conv", [512, 3, 2]),  # 5-P4/16
    (-1, 6, "C2f", [512, True]),
    (-1, 1, "Conv", [1024, 3, 2]),  # 7-P5/32
    (-1, 3, "C2f", [1024, True]),
    (-1, 1, "SPPF", [1024, 5]),  # 9
    # head
    (-1, 1, "Upsample", [None, 2, "nearest"]),
    ([-1, 6], 1, "Concat", [1]),  # cat backbone P4
    (-1, 3, "C2f", [512]),  # 12
    (-1, 1, "Upsample", [None, 2, "nearest"]),
    ([-1, 4], 1, "Concat", [1]),  # cat backbone P3
    (-1, 3, "C2f", [256]),  # 15 (P3/8-small)
    (-1, 1, "Conv", [256, 3, 2]),
    ([-1, 12], 1, "Concat", [1]),  # cat head P4
    (-1, 3, "C2f", [512]),  # 18 (P4/16-medium)
    (-1, 1, "Conv", [512, 3, 2]),
    ([-1, 9], 1, "Concat", [1]),  # cat head P5
    (-1, 3, "C2f", [1024]),  # 21 (P5/32-large)
    ([15, 18, 21], 1, "Detect", ["nc"]),  # Detect(P3, P4, P5)
]

_MODULES: dict[str, type[nn.Module]] = {"Conv": Conv, "C2f": C2f, "SPPF": SPPF, "Concat": Concat,
                                        "Upsample": nn.Upsample, "Detect": Detect}


class DetectionModel(LayeredDetectionModel):
    """YOLOv8 model: ``.model`` is an ``nn.Sequential`` of layers with ``.f`` (from), ``.i``, ``.type``, ``.np``.

    ``cfg`` holds ``nc``, ``depth_multiple``, ``width_multiple``, ``max_channels`` and optionally ``repeats``
    (layer index -> number of bottlenecks, used to rebuild checkpoints exactly).
    """

    #: ultralytics 8.4 (ultralytics-thop) counts nearest upsampling as zero FLOPs; YOLOv5's thop counted one
    count_upsample_flops = False

    def __init__(self, cfg: Mapping[str, Any], ch: int = 3) -> None:
        super().__init__()
        self.yaml: dict[str, Any] = {
            "nc": int(cfg.get("nc", 80)),
            "depth_multiple": float(cfg.get("depth_multiple", 0.33)),
            "width_multiple": float(cfg.get("width_multiple", 0.25)),
            "max_channels": int(cfg.get("max_channels", 1024)),
            "reg_max": int(cfg.get("reg_max", 16)),
        }
        self._init_layers(cfg, ch, _parse_model)
        m = self.model[-1]
        s = 256
        self.train()
        with torch.no_grad():
            out = self.forward(torch.zeros(1, ch, s, s))
        m.stride = torch.tensor([s / x.shape[-2] for x in out])
        m.bias_init()
        _initialize_weights(self)

    def fuse(self) -> DetectionModel:
        """Fold every Conv's BatchNorm into its convolution, in place; return self."""
        fuse_model(self, inplace=True)
        return self


def _initialize_weights(model: nn.Module) -> None:
    for m in model.modules():
        if type(m) is nn.BatchNorm2d:
            m.eps = 1e-3
            m.momentum = 0.03


def _parse_model(d: Mapping[str, Any], ch_in: int) -> tuple[nn.Sequential, list[int]]:
    nc, gw, max_ch = d["nc"], d["width_multiple"], d["max_channels"]

    def shape(mod: type[nn.Module], args: list[Any], n: int, ch: list[int], f: Any, c2: int,
              ) -> tuple[list[Any], int, int]:
        args = [nc if a == "nc" else a for a in args]
        if mod in (Conv, C2f, SPPF):
            c1, c2 = ch[f], args[0]
            c2 = math.ceil(min(c2, max_ch) * gw / 8) * 8
            args = [c1, c2, *args[1:]]
            if mod is C2f:
                args.insert(2, n)
                n = 1
        elif mod is Concat:
            c2 = sum(ch[x] for x in f)
        elif mod is Detect:
            args = [nc, [ch[x] for x in f], int(d.get("reg_max", 16))]
        else:
            c2 = ch[f]
        return args, n, c2

    return parse_layers(LAYERS, _MODULES, d, ch_in, shape)


def build_yolov8(size: str = "n", nc: int = 80, *, depth_multiple: float | None = None,
                 width_multiple: float | None = None, max_channels: int | None = None,
                 repeats: Mapping[int, int] | None = None) -> DetectionModel:
    """Build YOLOv8 ``size`` (n/s/m/l/x) for ``nc`` classes; the scale may be overridden."""
    gd, gw, mc = SIZES[size]
    cfg: dict[str, Any] = {
        "nc": nc,
        "depth_multiple": gd if depth_multiple is None else depth_multiple,
        "width_multiple": gw if width_multiple is None else width_multiple,
        "max_channels": mc if max_channels is None else max_channels,
    }
    if repeats:
        cfg["repeats"] = dict(repeats)
    return DetectionModel(cfg)
