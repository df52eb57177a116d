"""Model complexity as YOLOv5 reports it: layers, parameters, gradients and GFLOPs (thop's counting)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["count_gradients", "count_layers", "count_params", "forward_with_hooks", "gflops", "model_stride",
           "model_summary"]


def count_layers(model: nn.Module) -> int:
    """``len(list(model.modules()))``: shared modules (YOLOv5's one SiLU) count once."""
    return len(list(model.modules()))


def count_params(model: nn.Module) -> int:
    """Number of parameter elements (shared parameters count once)."""
    return sum(p.numel() for p in model.parameters())


def count_gradients(model: nn.Module) -> int:
    """Number of parameter elements that require gradients."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_stride(model: nn.Module, default: int = 32) -> int:
    """The model's largest stride (``model.stride``), or ``default`` when it has none."""
    stride = getattr(model, "stride", None)
    if isinstance(stride, torch.Tensor) and stride.numel():
        return max(int(stride.max()), 1)
    if isinstance(stride, (int, float)) and stride > 0:
        return int(stride)
    return default


def _in_channels(model: nn.Module) -> int:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
    return 3


@torch.no_grad()
def gflops(model: nn.Module, imgsz: int | tuple[int, int] = 640, *, stride: int | None = None) -> float:
    """GFLOPs at ``imgsz`` as YOLOv5 prints them (thop convention), for any Conv2d/BN/Upsample model.

    2 x (Conv2d multiply-accumulates without bias + 4 x each BatchNorm's input elements + each nearest
    Upsample's output elements) / 1e9, measured at a ``stride``-sized square input (default: the model's
    largest stride) and scaled by ``(h / stride) * (w / stride)``. Pooling and activations count zero.
    A model whose class sets ``count_upsample_flops = False`` (YOLOv8, as ultralytics-thop counts it)
    counts nearest upsampling as zero.
    """
    count_upsample = bool(getattr(model, "count_upsample_flops", True))
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    s = stride or model_stride(model)
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None else torch.float32
    m = copy.deepcopy(model).eval()
    total = [0]

    def conv_hook(mod: nn.Conv2d, inp: Any, out: torch.Tensor) -> None:
        k = mod.weight[0, 0].numel()
        total[0] += out.numel() * (mod.in_channels // mod.groups) * k

    def bn_hook(mod: nn.Module, inp: Any, out: torch.Tensor) -> None:
        total[0] += inp[0].numel() * (4 if getattr(mod, "affine", True) else 2)

    def up_hook(mod: nn.Upsample, inp: Any, out: torch.Tensor) -> None:
        total[0] += out.numel() if mod.mode == "nearest" and count_upsample else 0

    forward_with_hooks(m, torch.zeros(1, _in_channels(m), s, s, device=device, dtype=dtype),
                       conv=conv_hook, bn=bn_hook, upsample=up_hook)
    return total[0] * 2 / 1e9 * (h / s) * (w / s)


Hook = Callable[[Any, Any, Any], None]


@torch.no_grad()
def forward_with_hooks(model: nn.Module, x: torch.Tensor, *, conv: Hook | None = None, bn: Hook | None = None,
                       upsample: Hook | None = None) -> None:
    """Run ``model(x)`` once with a forward hook on every Conv2d, BatchNorm and Upsample (removed afterwards).

    The one layer walk behind every count of convolutions (GFLOPs here, the pruning cost model);
    ``model``'s train/eval mode is left as the caller set it.
    """
    handles = []
    for mod in model.modules():
        hook = (conv if isinstance(mod, nn.Conv2d) else bn if isinstance(mod, nn.modules.batchnorm._BatchNorm)
                else upsample if isinstance(mod, nn.Upsample) else None)
        if hook is not None:
            handles.append(mod.register_forward_hook(hook))
    try:
        model(x)
    finally:
        for hd in handles:
            hd.remove()


def model_summary(model: nn.Module, imgsz: int = 640) -> dict[str, Any]:
    """YOLOv5's model summary, unfused and fused: layers, parameters, gradients, GFLOPs at ``imgsz`` and 640.

    Fusing folds every BatchNorm that directly follows a Conv2d (YOLOv5 ``Conv`` blocks); the input
    model is not changed.
    """
    fused = _fused_copy(model)
    out: dict[str, Any] = {"imgsz": imgsz}
    for tag, m in (("unfused", model), ("fused", fused)):
        out[tag] = {
            "layers": count_layers(m),
            "params": count_params(m),
            "gradients": count_gradients(m),
            "gflops": gflops(m, imgsz),
            "gflops_640": gflops(m, 640),
        }
    return out


def _fused_copy(model: nn.Module) -> nn.Module:
    from prunebench.models.yolov5.yolo import fuse_model

    return fuse_model(model)
