"""Fixtures for the model tests: a helper that prunes a tiny YOLOv5 by hand (as a pruner would)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn


def _slice_conv(conv: nn.Conv2d, out_keep: torch.Tensor | None, in_keep: torch.Tensor | None) -> nn.Conv2d:
    w = conv.weight.data
    if out_keep is not None:
        w = w[out_keep]
    if in_keep is not None:
        w = w[:, in_keep]
    new = nn.Conv2d(w.shape[1], w.shape[0], conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    conv.groups, bias=conv.bias is not None)
    new.weight.data = w.clone()
    if conv.bias is not None:
        new.bias.data = (conv.bias.data[out_keep] if out_keep is not None else conv.bias.data).clone()
    return new


def _slice_bn(bn: nn.BatchNorm2d, keep: torch.Tensor) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(keep), eps=bn.eps, momentum=bn.momentum)
    for name in ("weight", "bias"):
        getattr(new, name).data = getattr(bn, name).data[keep].clone()
    new.running_mean = bn.running_mean[keep].clone()
    new.running_var = bn.running_var[keep].clone()
    return new


def prune_like(model: nn.Module) -> nn.Module:
    """Shrink three places a pruner touches: a bottleneck hidden width (layer 2), a C3 output feeding the
    neck and a Detect input (layer 17 cv3 -> layer 18 conv and Detect m.0), and a neck bottleneck (layer 13)."""
    m = model.model
    with torch.no_grad():
        b = m[2].m[0]
        keep = torch.arange(1, b.cv1.conv.out_channels)  # drop channel 0
        b.cv1.conv = _slice_conv(b.cv1.conv, keep, None)
        b.cv1.bn = _slice_bn(b.cv1.bn, keep)
        b.cv2.conv = _slice_conv(b.cv2.conv, None, keep)

        c3 = m[17].cv3
        keep = torch.arange(0, c3.conv.out_channels - 3)
        c3.conv = _slice_conv(c3.conv, keep, None)
        c3.bn = _slice_bn(c3.bn, keep)
        m[18].conv = _slice_conv(m[18].conv, None, keep)
        m[24].m[0] = _slice_conv(m[24].m[0], None, keep)

        b = m[13].m[0]
        keep = torch.tensor([0, 2])
        b.cv2.conv = _slice_conv(b.cv2.conv, keep, None)
        b.cv2.bn = _slice_bn(b.cv2.bn, keep)
        # the bottleneck output goes (via m) into cv3 after the concat: its first c_ inputs
        c_ = m[13].cv2.conv.out_channels
        m[13].cv3.conv = _slice_conv(m[13].cv3.conv, None, torch.cat((keep, torch.arange(c_, 2 * c_))))
    return model


@pytest.fixture
def pruned() -> Callable[[nn.Module], nn.Module]:
    """``pruned(model)`` removes channels in place (see :func:`prune_like`) and returns the model."""
    return prune_like
