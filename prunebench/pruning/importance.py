"""Channel importance criteria: one score per output channel of a coupled group (higher = keep)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from prunebench.errors import UsageError

__all__ = ["CRITERIA", "Criterion", "GroupView", "accumulate_taylor_grads", "normalise"]


@dataclass
class GroupView:
    """The layers of one coupled group, by role, in the model as it is now."""

    key: str  # the group's name: its first output conv in module order
    channels: int
    convs_out: list[nn.Conv2d] = field(default_factory=list)
    bns: list[nn.Module] = field(default_factory=list)
    convs_in: list[tuple[nn.Conv2d, list[int]]] = field(default_factory=list)  # conv, its input idxs


Criterion = Callable[[GroupView, torch.Generator | None], torch.Tensor]


def _filters(conv: nn.Conv2d) -> torch.Tensor:
    """The conv's filters as rows, fp32 on the CPU (scores are ranked on the CPU whatever the device)."""
    return conv.weight.detach().flatten(1).float().cpu()


def l1(group: GroupView, _gen: torch.Generator | None = None) -> torch.Tensor:
    """Sum of absolute filter weights (Li et al. 2017), summed over coupled convs."""
    return sum((_filters(c).abs().sum(1) for c in group.convs_out), torch.zeros(group.channels))


def l2(group: GroupView, _gen: torch.Generator | None = None) -> torch.Tensor:
    """Euclidean norm of each filter, summed over coupled convs."""
    return sum((_filters(c).norm(dim=1) for c in group.convs_out), torch.zeros(group.channels))


def fpgm(group: GroupView, _gen: torch.Generator | None = None) -> torch.Tensor:
    """Filter pruning via geometric median (He et al. 2019): total distance to the other filters.

    Filters close to the geometric median are the most replaceable, so they score lowest.
    """
    total = torch.zeros(group.channels)
    for c in group.convs_out:
        w = _filters(c)
        total += torch.cdist(w[None], w[None])[0].sum(1)
    return total


def lamp(group: GroupView, _gen: torch.Generator | None = None) -> torch.Tensor:
    """LAMP (Lee et al. 2021) on channel magnitudes: v_i / sum of v_j >= v_i, with v = squared L2.

    The scores are comparable across groups by construction, which makes LAMP suited to global ranking.
    """
    v = sum((_filters(c).pow(2).sum(1) for c in group.convs_out), torch.zeros(group.channels)).double()
    order = torch.argsort(v, descending=True, stable=True)
    sorted_v = v[order]
    cum = torch.cumsum(sorted_v, 0)  # sum of all scores >= this one
    lamp_sorted = sorted_v / cum.clamp_min(1e-30)
    out = torch.empty_like(v)
    out[order] = lamp_sorted
    return out.float()


def random(group: GroupView, gen: torch.Generator | None = None) -> torch.Tensor:
    """Uniform random scores from the seeded generator: the baseline every criterion must beat."""
    return torch.rand(group.channels, generator=gen)


def bn_scale(group: GroupView, _gen: torch.Generator | None = None) -> torch.Tensor:
    """|gamma| of the BatchNorms after the group's convs (network slimming, Liu et al. 2017).

    Coupled BatchNorms are averaged so the scores stay on gamma's scale (global ranking compares raw |gamma|).
    """
    if not group.bns:
        raise UsageError(f"bn-scale needs a BatchNorm after conv group {group.key!r}, but it has none.",
                         hint="Use another pruner (l1, l2, fpgm, ...) for layers without BatchNorm.")
    total = sum((bn.weight.detach().abs().float().cpu() for bn in group.bns), torch.zeros(group.channels))
    return total / len(group.bns)


def taylor(group: GroupView, _gen: torch.Generator | None = None) -> torch.Tensor:
    """First-order Taylor (Molchanov et al. 2019): |sum of weight x gradient| over each channel's parameters.

    Needs gradients accumulated by :func:`accumulate_taylor_grads` first.
    """
    total = torch.zeros(group.channels, dtype=torch.float64)
    for c in group.convs_out:
        if c.weight.grad is None:
            raise RuntimeError(f"taylor: no gradient on conv of group {group.key!r}")
        total += (c.weight.detach() * c.weight.grad).flatten(1).sum(1).double().cpu()
        if c.bias is not None and c.bias.grad is not None:
            total += (c.bias.detach() * c.bias.grad).double().cpu()
    for bn in group.bns:
        if bn.weight.grad is not None:
            total += (bn.weight.detach() * bn.weight.grad).double().cpu()
            total += (bn.bias.detach() * bn.bias.grad).double().cpu()
    return total.abs().float()


CRITERIA: dict[str, Criterion] = {
    "l1": l1, "l2": l2, "fpgm": fpgm, "lamp": lamp, "random": random, "bn-scale": bn_scale, "taylor": taylor,
}

#: Criteria whose raw scores are already comparable across groups (no per-group normalisation).
GLOBAL_RAW = frozenset({"lamp", "random", "bn-scale"})


def normalise(scores: torch.Tensor) -> torch.Tensor:
    """Divide by the group's mean score so groups of different sizes compare under global ranking."""
    mean = scores.double().mean()
    return scores if float(mean) == 0.0 else (scores.double() / mean).float()


def accumulate_taylor_grads(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                            loss_fn: Callable[..., object], max_batches: int, device: torch.device) -> int:
    """Back-propagate the loss of up to ``max_batches`` calibration batches; return how many ran.

    BatchNorm statistics are frozen (eval-mode BN) so calibration does not change the model.
    """
    was_training = model.training
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    model.zero_grad(set_to_none=True)
    n = 0
    try:
        with torch.enable_grad():
            for images, targets in batches:
                if n >= max_batches:
                    break
                images = images.to(device)
                if images.dtype == torch.uint8:
                    images = images.float() / 255.0
                out = model(images)
                result = loss_fn(out, targets.to(device))
                loss = result[0] if isinstance(result, tuple) else result
                loss.backward()  # type: ignore[union-attr]
                n += 1
    finally:
        model.train(was_training)
    return n
