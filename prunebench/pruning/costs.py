"""Fused parameter counts and YOLOv5-convention GFLOPs, measured and predicted for a pruning plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from prunebench.metrics.complexity import forward_with_hooks

__all__ = ["ConvStat", "CostModel", "fused_params", "measure_costs"]

#: GFLOPs are stated at this input size, as YOLOv5 prints them.
GFLOPS_IMGSZ = 640


def fused_params(model: nn.Module) -> int:
    """Parameters after Conv+BN folding: every BatchNorm's 2c parameters become a c-element conv bias.

    This is YOLOv5's count of a fused model, for the usual case where a BatchNorm follows a bias-free
    convolution.
    """
    total = sum(p.numel() for p in model.parameters())
    bn = sum(m.num_features for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))
    return int(total - bn)


@dataclass
class ConvStat:
    """One convolution's shape and output size, enough to predict its cost after pruning."""

    cin: int
    cout: int
    kernel: int  # kh * kw
    groups: int
    pixels: int  # output h * w at the measuring size
    biased: bool  # has a bias in the fused model (own bias or a following BatchNorm)


@dataclass
class CostModel:
    """Costs of a model measured once, and predicted for per-group channel removals."""

    convs: dict[str, ConvStat]
    other_params: int  # fused params outside conv weights/biases
    other_macs: float  # upsample outputs etc. (per image at the measuring size)
    scale: float  # (GFLOPS_IMGSZ / measuring size) ** 2
    params: int = 0
    gflops: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def predict(self, removed_out: Mapping[str, int], removed_in: Mapping[str, float]) -> tuple[int, float]:
        """(fused params, GFLOPs) when convs lose these output / input channels."""
        params = self.other_params
        macs = self.other_macs
        for name, s in self.convs.items():
            cout = s.cout - removed_out.get(name, 0)
            cin = s.cin - round(removed_in.get(name, 0))
            w = (cin // s.groups) * cout * s.kernel
            params += w + (cout if s.biased else 0)
            macs += w * s.pixels
        return int(params), 2.0 * macs * self.scale / 1e9


def _measure(model: nn.Module, example: torch.Tensor) -> tuple[dict[str, ConvStat], float, float]:
    names = {m: n for n, m in model.named_modules()}
    bn_after: set[str] = set()
    convs: dict[str, ConvStat] = {}
    macs = 0.0
    other = 0.0
    last_conv: list[str] = []

    def conv_hook(m: nn.Conv2d, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal macs
        name = names[m]
        pixels = int(out.shape[-1] * out.shape[-2])
        k = int(m.kernel_size[0] * m.kernel_size[1])
        convs[name] = ConvStat(m.in_channels, m.out_channels, k, m.groups, pixels, m.bias is not None)
        macs += (m.in_channels // m.groups) * m.out_channels * k * pixels
        last_conv[:] = [name]

    def bn_hook(m: nn.Module, _inp: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        if last_conv:
            bn_after.add(last_conv[0])

    count_upsample = bool(getattr(model, "count_upsample_flops", True))  # False for YOLOv8 (ultralytics-thop)

    def up_hook(m: nn.Upsample, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal other
        if m.mode == "nearest" and count_upsample:
            other += out[0].numel()

    was_training = model.training
    try:
        model.eval()
        forward_with_hooks(model, example[:1], conv=conv_hook, bn=bn_hook, upsample=up_hook)
    finally:
        model.train(was_training)
    for name in bn_after:
        convs[name].biased = True
    return convs, macs, other


def measure_costs(model: nn.Module, example: torch.Tensor) -> CostModel:
    """Measure fused params and GFLOPs (2 x MACs, at 640 x 640) with one forward pass of ``example``.

    Counted like YOLOv5's fused ``model.info()``: convolution multiply-accumulates without bias plus
    each nearest Upsample's output elements, scaled from the example's size to 640 x 640.
    """
    convs, conv_macs, other_macs = _measure(model, example)
    side = int(example.shape[-1])
    scale = (GFLOPS_IMGSZ / side) ** 2
    params = fused_params(model)
    conv_params = sum(
        (s.cin // s.groups) * s.cout * s.kernel + (s.cout if s.biased else 0) for s in convs.values()
    )
    cm = CostModel(convs=convs, other_params=params - conv_params, other_macs=other_macs, scale=scale)
    cm.params = params
    cm.gflops = 2.0 * (conv_macs + other_macs) * scale / 1e9
    return cm
