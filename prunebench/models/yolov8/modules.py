"""YOLOv8 building blocks with the official attribute names: Bottleneck, C2f, DFL and the anchor-free Detect.

``Conv``, ``SPPF`` and ``Concat`` are the same blocks as YOLOv5's (same structure, same state_dict keys) and
are shared from :mod:`prunebench.models.yolov5.common`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from prunebench.models.yolov5.common import Conv

__all__ = ["DFL", "Bottleneck", "C2f", "Detect", "dist2bbox", "make_anchors"]


class Bottleneck(nn.Module):
    """Two 3x3 Convs (hidden width ``c2 * e``), with a residual add when enabled and shapes allow."""

    def __init__(self, c1: int, c2: int, shortcut: bool = True, g: int = 1, e: float = 1.0) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 3, 1)
        self.cv2 = Conv(c_, c2, 3, 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class C2f(nn.Module):
    """CSP bottleneck with two convolutions: cv1 to 2c, split in (a, b), n bottlenecks from b, cv2 over all.

    The official block splits with ``chunk(2)``. Here the two halves are read from the layers themselves
    (b feeds the first bottleneck, so ``b = m[0].cv1`` input width and ``a`` = the rest): identical for an
    unpruned block, and still right after pruning removed different numbers of channels from a and b.
    """

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut, g, e=1.0) for _ in range(n))

    def split_sizes(self) -> tuple[int, int]:
        """Widths of the two halves (a, b) of cv1's output."""
        total = self.cv1.conv.out_channels
        b = self.m[0].cv1.conv.in_channels if len(self.m) else total // 2
        return total - b, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ya, yb = self.cv1(x).split(self.split_sizes(), 1)
        y = [ya, yb * 1.0]
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class DFL(nn.Module):
    """Distribution focal loss integral: softmax over ``c1`` bins per side, then the expected bin (fixed 1x1 conv)."""

    def __init__(self, c1: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, a = x.shape  # batch, 4 * c1, anchors
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


def make_anchors(feats: Sequence[torch.Tensor], strides: torch.Tensor | Sequence[float],
                 offset: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor centres ``[A, 2]`` in grid units (x + offset, y + offset; P3 first, row-major) and strides ``[A, 1]``."""
    points, stride_t = [], []
    dtype = feats[0].dtype
    for i, f in enumerate(feats):
        h, w = f.shape[2:]
        sx = torch.arange(w, device=f.device).type_as(f) + offset
        sy = torch.arange(h, device=f.device).type_as(f) + offset
        sy, sx = torch.meshgrid(sy, sx, indexing="ij")
        points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_t.append(torch.full((h * w, 1), float(strides[i]), dtype=dtype, device=f.device))
    return torch.cat(points), torch.cat(stride_t)


def dist2bbox(distance: torch.Tensor, anchor_points: torch.Tensor, xywh: bool = True, dim: int = -1) -> torch.Tensor:
    """(left, top, right, bottom) distances from ``anchor_points`` -> xywh (or xyxy) boxes along ``dim``."""
    lt, rb = distance.chunk(2, dim)
    x1y1 = anchor_points - lt
    x2y2 = anchor_points + rb
    if xywh:
        return torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), dim)
    return torch.cat((x1y1, x2y2), dim)


class Detect(nn.Module):
    """The anchor-free YOLOv8 head: per level a box branch (cv2, to 4 * reg_max bins) and a class branch (cv3).

    Training mode returns the list of raw ``[bs, 4 * reg_max + nc, h, w]`` tensors (box bins first).
    Eval mode returns ``(y, raw list)`` with ``y`` ``[bs, 4 + nc, A]``: centre x, centre y, width, height in
    input pixels, then the sigmoid class probabilities (no objectness).
    """

    def __init__(self, nc: int = 80, ch: Sequence[int] = (), reg_max: int = 16) -> None:
        super().__init__()
        self.nc = nc
        self.nl = len(ch)
        self.reg_max = reg_max
        self.no = nc + reg_max * 4
        # not in the state_dict (as official), but moved/cast with the module
        self.register_buffer("stride", torch.zeros(self.nl), persistent=False)
        c2, c3 = max(16, ch[0] // 4, reg_max * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1))
                                 for x in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
        self.dfl = DFL(reg_max) if reg_max > 1 else nn.Identity()
        self._anchor_key: Any = None
        self._anchors = torch.empty(0)
        self._strides = torch.empty(0)

    def forward(self, x: list[torch.Tensor]) -> Any:
        x = [torch.cat((self.cv2[i](xi), self.cv3[i](xi)), 1) for i, xi in enumerate(x)]
        if self.training:
            return x
        # The decoded boxes never need gradients (losses read the raw list); decoding outside autograd also
        # keeps the DFL reshapes and the box/class split out of Torch-Pruning's traced channel graph.
        with torch.no_grad():
            y = self.decode(x)
        return y, x

    def decode(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        """Raw per-level outputs -> ``[bs, 4 + nc, A]`` (xywh pixels, class probabilities)."""
        bs = x[0].shape[0]
        x_cat = torch.cat([xi.view(bs, self.no, -1) for xi in x], 2)
        box, cls = x_cat.split((self.reg_max * 4, self.nc), 1)
        key = (tuple(xi.shape[2:] for xi in x), x_cat.device, x_cat.dtype)
        if key != self._anchor_key:
            a, s = make_anchors(x, self.stride, 0.5)
            self._anchors, self._strides, self._anchor_key = a.transpose(0, 1), s.transpose(0, 1), key
        dbox = dist2bbox(self.dfl(box), self._anchors.unsqueeze(0), xywh=True, dim=1) * self._strides
        return torch.cat((dbox, cls.sigmoid()), 1)

    def bias_init(self, only: Sequence[int] | None = None) -> None:
        """Official init: box bias 2.0, class bias log(5 / nc / (640 / stride)^2) (of levels ``only``, default all)."""
        for i, (a, b) in enumerate(zip(self.cv2, self.cv3, strict=True)):
            if only is not None and i not in only:
                continue
            a[-1].bias.data[:] = 2.0
            b[-1].bias.data[: self.nc] = math.log(5 / self.nc / (640 / float(self.stride[i])) ** 2)
