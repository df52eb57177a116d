"""The YOLOv5 detection model (v6.0+ yaml, anchor-based): Detect head, DetectionModel, fuse()."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from prunebench.models.layered import LayeredDetectionModel, parse_layers
from prunebench.models.yolov5.common import C3, SPPF, Bottleneck, Concat, Conv

__all__ = ["ANCHORS", "LAYERS", "SIZES", "Detect", "DetectionModel", "build_yolov5", "fuse_conv_and_bn",
           "fuse_model", "make_divisible"]

#: default anchors in pixels, one row per level (P3/8, P4/16, P5/32): w0, h0, w1, h1, w2, h2
ANCHORS: list[list[int]] = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]

#: (depth_multiple, width_multiple) of the official sizes
SIZES: dict[str, tuple[float, float]] = {
    "n": (0.33, 0.25), "s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}

#: the v6.0+ architecture: (from, repeats, module, args); "nc"/"anchors" are filled in for Detect
LAYERS: list[tuple[int | list[int], int, str, list[Any]]] = [
    # backbone
    (-1, 1, "Conv", [64, 6, 2, 2]),  # 0-P1/2
    (-1, 1, "Conv", [128, 3, 2]),  # 1-P2/4
    (-1, 3, "C3", [128]),
    (-1, 1, "Conv", [256, 3, 2]),  # 3-P3/8
    (-1, 6, "C3", [256]),
    (-1, 1, "Conv", [512, 3, 2]),  # 5-P4/16
    (-1, 9, "C3", [512]),
    (-1, 1, "Conv", [1024, 3, 2]),  # 7-P5/32
    (-1, 3, "C3", [1024]),
    (-1, 1, "SPPF", [1024, 5]),  # 9
    # head
    (-1, 1, "Conv", [512, 1, 1]),
    (-1, 1, "Upsample", [None, 2, "nearest"]),
    ([-1, 6], 1, "Concat", [1]),  # cat backbone P4
    (-1, 3, "C3", [512, False]),  # 13
    (-1, 1, "Conv", [256, 1, 1]),
    (-1, 1, "Upsample", [None, 2, "nearest"]),
    ([-1, 4], 1, "Concat", [1]),  # cat backbone P3
    (-1, 3, "C3", [256, False]),  # 17 (P3/8-small)
    (-1, 1, "Conv", [256, 3, 2]),
    ([-1, 14], 1, "Concat", [1]),  # cat head P4
    (-1, 3, "C3", [512, False]),  # 20 (P4/16-medium)
    (-1, 1, "Conv", [512, 3, 2]),
    ([-1, 10], 1, "Concat", [1]),  # cat head P5
    (-1, 3, "C3", [1024, False]),  # 23 (P5/32-large)
    ([17, 20, 23], 1, "Detect", ["nc", "anchors"]),  # Detect(P3, P4, P5)
]


def make_divisible(x: float, divisor: int = 8) -> int:
    """Round ``x`` up to the nearest multiple of ``divisor`` (YOLOv5's channel rounding)."""
    return math.ceil(x / divisor) * divisor


class Detect(nn.Module):
    """The YOLOv5 detection head: one 1x1 Conv2d (with bias) per level to na*(5+nc) channels.

    ``anchors`` is a buffer ``[nl, na, 2]`` in grid units (pixels divided by the level's stride).
    Training mode returns the list of raw ``[bs, na, ny, nx, 5+nc]`` tensors; eval mode returns
    ``(decoded [bs, sum(na*ny*nx), 5+nc], raw list)``.
    """

    def __init__(self, nc: int = 80, anchors: Sequence[Sequence[float]] = (), ch: Sequence[int] = (),
                 inplace: bool = True) -> None:
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.grid: list[torch.Tensor] = [torch.empty(0) for _ in range(self.nl)]
        self.anchor_grid: list[torch.Tensor] = [torch.empty(0) for _ in range(self.nl)]
        self.register_buffer("anchors", torch.tensor(anchors).float().view(self.nl, -1, 2))
        # not in the state_dict (as official), but moved/cast with the module
        self.register_buffer("stride", torch.ones(self.nl), persistent=False)
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.inplace = inplace

    def forward(self, x: list[torch.Tensor]) -> Any:
        z = []
        x = list(x)
        for i in range(self.nl):
            x[i] = self.m[i](x[i])
            bs, _, ny, nx = x[i].shape
            x[i] = x[i].view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            if not self.training:
                g = self.grid[i]
                if g.shape[2:4] != x[i].shape[2:4] or g.device != x[i].device or g.dtype != self.anchors.dtype:
                    self.grid[i], self.anchor_grid[i] = self._make_grid(nx, ny, i)
                xy, wh, conf = x[i].sigmoid().split((2, 2, self.nc + 1), 4)
                xy = (xy * 2 + self.grid[i]) * self.stride[i]
                wh = (wh * 2) ** 2 * self.anchor_grid[i]
                y = torch.cat((xy, wh, conf), 4)
                z.append(y.view(bs, self.na * nx * ny, self.no))
        return x if self.training else (torch.cat(z, 1), x)

    def _make_grid(self, nx: int, ny: int, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        d, t = self.anchors[i].device, self.anchors[i].dtype
        shape = 1, self.na, ny, nx, 2
        y, x = torch.arange(ny, device=d, dtype=t), torch.arange(nx, device=d, dtype=t)
        yv, xv = torch.meshgrid(y, x, indexing="ij")
        grid = torch.stack((xv, yv), 2).expand(shape) - 0.5  # offset so that xy = 2*sig - 0.5 + grid
        anchor_grid = (self.anchors[i] * self.stride[i]).view((1, self.na, 1, 1, 2)).expand(shape)
        return grid, anchor_grid


_MODULES: dict[str, type[nn.Module]] = {"Conv": Conv, "C3": C3, "SPPF": SPPF, "Bottleneck": Bottleneck,
                                        "Concat": Concat, "Upsample": nn.Upsample, "Detect": Detect}


class DetectionModel(LayeredDetectionModel):
    """YOLOv5 model: ``.model`` is an ``nn.Sequential`` of layers with ``.f`` (from), ``.i``, ``.np``.

    ``cfg`` holds ``nc``, ``anchors``, ``depth_multiple``, ``width_multiple`` and optionally
    ``repeats`` (layer index -> number of bottlenecks, used to rebuild checkpoints exactly).
    """

    def __init__(self, cfg: Mapping[str, Any], ch: int = 3) -> None:
        super().__init__()
        self.yaml: dict[str, Any] = {
            "nc": int(cfg.get("nc", 80)),
            "depth_multiple": float(cfg.get("depth_multiple", 0.33)),
            "width_multiple": float(cfg.get("width_multiple", 0.25)),
            "anchors": [list(a) for a in cfg.get("anchors", ANCHORS)],
        }
        self._init_layers(cfg, ch, _parse_model)
        m = self.model[-1]
        if isinstance(m, Detect):
            s = 256
            m.inplace = self.inplace
            self.train()
            with torch.no_grad():
                out = self.forward(torch.zeros(1, ch, s, s))
            m.stride = torch.tensor([s / x.shape[-2] for x in out])
            _check_anchor_order(m)
            m.anchors /= m.stride.view(-1, 1, 1)
            self._initialize_biases()
        _initialize_weights(self)

    def _initialize_biases(self, only: Sequence[int] | None = None) -> None:
        """Official Detect bias init (of the output convs ``only``, default all)."""
        m = self.model[-1]
        for i, (mi, s) in enumerate(zip(m.m, m.stride)):
            if only is not None and i not in only:
                continue
            b = mi.bias.view(m.na, -1)
            b.data[:, 4] += math.log(8 / (640 / s) ** 2)  # 8 objects per 640 image
            b.data[:, 5:5 + m.nc] += math.log(0.6 / (m.nc - 0.99999))
            mi.bias = nn.Parameter(b.view(-1), requires_grad=True)

    def fuse(self) -> DetectionModel:
        """Fold every Conv's BatchNorm into its convolution, in place; return self."""
        fuse_model(self, inplace=True)
        return self


def _check_anchor_order(m: Detect) -> None:
    a = m.anchors.prod(-1).mean(-1).view(-1)
    da, ds = a[-1] - a[0], m.stride[-1] - m.stride[0]
    if da and (da.sign() != ds.sign()):
        m.anchors[:] = m.anchors.flip(0)


def _initialize_weights(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-3
            m.momentum = 0.03
        elif isinstance(m, (nn.Hardswish, nn.LeakyReLU, nn.ReLU, nn.ReLU6, nn.SiLU)):
            m.inplace = True


def _parse_model(d: Mapping[str, Any], ch_in: int) -> tuple[nn.Sequential, list[int]]:
    nc, anchors, gw = d["nc"], d["anchors"], d["width_multiple"]
    na = len(anchors[0]) // 2
    no = na * (nc + 5)

    def shape(mod: type[nn.Module], args: list[Any], n: int, ch: list[int], f: Any, c2: int,
              ) -> tuple[list[Any], int, int]:
        args = [nc if a == "nc" else anchors if a == "anchors" else a for a in args]
        if mod in (Conv, C3, SPPF, Bottleneck):
            c1, c2 = ch[f], args[0]
            if c2 != no:
                c2 = make_divisible(c2 * gw, 8)
            args = [c1, c2, *args[1:]]
            if mod is C3:
                args.insert(2, n)
                n = 1
        elif mod is Concat:
            c2 = sum(ch[x] for x in f)
        elif mod is Detect:
            args.append([ch[x] for x in f])
        else:
            c2 = ch[f]
        return args, n, c2

    return parse_layers(LAYERS, _MODULES, d, ch_in, shape)


def build_yolov5(size: str = "n", nc: int = 80, *, depth_multiple: float | None = None,
                 width_multiple: float | None = None, anchors: Sequence[Sequence[float]] | None = None,
                 repeats: Mapping[int, int] | None = None) -> DetectionModel:
    """Build YOLOv5 ``size`` (n/s/m/l/x) for ``nc`` classes; multiples and anchors may be overridden."""
    gd, gw = SIZES[size]
    cfg: dict[str, Any] = {
        "nc": nc,
        "depth_multiple": gd if depth_multiple is None else depth_multiple,
        "width_multiple": gw if width_multiple is None else width_multiple,
        "anchors": [list(a) for a in (anchors or ANCHORS)],
    }
    if repeats:
        cfg["repeats"] = dict(repeats)
    return DetectionModel(cfg)


@torch.no_grad()
def fuse_conv_and_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A Conv2d (with bias) equal to ``bn(conv(x))`` in eval mode, with YOLOv5's fusing arithmetic."""
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=conv.kernel_size, stride=conv.stride,
                      padding=conv.padding, dilation=conv.dilation, groups=conv.groups,
                      bias=True).requires_grad_(False).to(conv.weight.device, conv.weight.dtype)
    w_conv = conv.weight.clone().view(conv.out_channels, -1)
    w_bn = torch.diag(bn.weight.div(torch.sqrt(bn.eps + bn.running_var)))
    fused.weight.copy_(torch.mm(w_bn, w_conv).view(fused.weight.shape))
    b_conv = (torch.zeros(conv.weight.size(0), device=conv.weight.device, dtype=conv.weight.dtype)
              if conv.bias is None else conv.bias)
    b_bn = bn.bias - bn.weight.mul(bn.running_mean).div(torch.sqrt(bn.running_var + bn.eps))
    fused.bias.copy_(torch.mm(w_bn, b_conv.reshape(-1, 1)).reshape(-1) + b_bn)
    return fused


def fuse_model(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """Fold Conv+BN in every YOLOv5 ``Conv`` block (a deep copy unless ``inplace``); eval mode."""
    if not inplace:
        model = copy.deepcopy(model)
    for m in model.modules():
        if isinstance(m, Conv) and getattr(m, "bn", None) is not None:
            m.conv = fuse_conv_and_bn(m.conv, m.bn)
            delattr(m, "bn")
    return model.eval()
