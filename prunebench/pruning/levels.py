"""Level semantics: how many channels each group keeps for a level, with rounding, guards and ranking."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

__all__ = [
    "all_equal",
    "cut_is_tied",
    "global_counts",
    "interpolate_counts",
    "keep_count",
    "keep_indices",
    "local_counts",
    "min_keep",
    "round_keep",
]


def _clean(x: float) -> float:
    """Drop floating noise such as 100 * (1 - 0.7) = 30.000000000000004 before ceil/floor."""
    return round(x, 9)


def min_keep(channels: int, max_level_per_layer: float | None) -> int:
    """The fewest channels a group of ``channels`` may keep (at least one)."""
    if max_level_per_layer is None:
        return 1
    return max(1, math.ceil(_clean(channels * (1.0 - max_level_per_layer))))


def keep_count(channels: int, level: float, rounding: str = "ceil") -> int:
    """Channels kept when ``level`` of ``channels`` are removed, before guards and ``round_to``.

    ``ceil`` keeps ceil(c * (1 - level)) (the tea-bud study's rule, the same as removing floor(c * level)),
    ``floor`` keeps floor(c * (1 - level)), ``round`` the nearest integer (halves up).
    """
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"level must be in [0, 1], got {level}")
    exact = _clean(channels * (1.0 - level))
    if rounding == "ceil":
        return math.ceil(exact)
    if rounding == "floor":
        return math.floor(exact)
    if rounding == "round":
        return math.floor(exact + 0.5)
    raise ValueError(f"rounding must be 'ceil', 'floor' or 'round', got {rounding!r}")


def round_keep(keep: int, channels: int, round_to: int | None, round_min: int = 0) -> int:
    """Round a kept count to the nearest multiple of ``round_to`` (halves up), never below one multiple.

    Torch-Pruning rounds a group that would go to 0 channels by leaving it unpruned; here such a group
    keeps one multiple instead (or all its channels when it has no more than that). Groups of fewer
    than ``round_min`` channels keep their exact count.
    """
    if not round_to or round_to <= 1 or channels < round_min:
        return keep
    multiple = max(1, math.floor(keep / round_to + 0.5)) * round_to
    return min(channels, multiple)


def local_counts(channels: Mapping[str, int], level: float, *, rounding: str = "ceil",
                 round_to: int | None = None, max_level_per_layer: float | None = None,
                 round_min: int = 0) -> dict[str, int]:
    """Kept channels per group when every group loses ``level`` of its channels."""
    out: dict[str, int] = {}
    for key, c in channels.items():
        keep = max(keep_count(c, level, rounding), min_keep(c, max_level_per_layer))
        out[key] = round_keep(keep, c, round_to, round_min)
    return out


def global_counts(scores: Mapping[str, torch.Tensor], level: float, *, rounding: str = "ceil",
                  round_to: int | None = None, max_level_per_layer: float | None = None,
                  round_min: int = 0) -> dict[str, int]:
    """Kept channels per group when ``level`` of all channels go, the lowest (normalised) scores first.

    Ties are broken by group order, then channel index (a stable sort), so a result is reproducible; a
    group never goes below :func:`min_keep`.
    """
    keys = list(scores)
    sizes = {k: int(scores[k].numel()) for k in keys}
    total = sum(sizes.values())
    n_remove = total - keep_count(total, level, rounding)
    flat = torch.cat([scores[k].detach().double().flatten().cpu() for k in keys]) if keys else torch.zeros(0)
    owner = torch.cat([torch.full((sizes[k],), i, dtype=torch.long) for i, k in enumerate(keys)]) if keys \
        else torch.zeros(0, dtype=torch.long)
    order = torch.sort(flat, stable=True).indices.tolist()
    removed = dict.fromkeys(keys, 0)
    limit = {k: sizes[k] - min_keep(sizes[k], max_level_per_layer) for k in keys}
    owners = owner.tolist()
    done = 0
    for i in order:
        if done >= n_remove:
            break
        key = keys[owners[i]]
        if removed[key] < limit[key]:
            removed[key] += 1
            done += 1
    return {k: round_keep(sizes[k] - removed[k], sizes[k], round_to, round_min) for k in keys}


def keep_indices(scores: torch.Tensor, keep: int) -> list[int]:
    """Indices of the ``keep`` highest scores (ties: the lower channel index wins), sorted ascending."""
    n = int(scores.numel())
    if keep >= n:
        return list(range(n))
    order = torch.sort(scores.detach().double().flatten().cpu(), descending=True, stable=True).indices
    return sorted(order[:keep].tolist())


def cut_is_tied(scores: torch.Tensor, keep: int) -> bool:
    """True when the lowest kept score equals the highest removed one (the choice was arbitrary)."""
    n = int(scores.numel())
    if keep <= 0 or keep >= n:
        return False
    s = torch.sort(scores.detach().double().flatten().cpu(), descending=True, stable=True).values
    return bool(s[keep - 1] == s[keep])


def interpolate_counts(original: Mapping[str, int], final: Mapping[str, int], step: int,
                       steps: int) -> dict[str, int]:
    """Kept channels after ``step`` of ``steps`` equal steps from ``original`` towards ``final``."""
    return {k: original[k] - math.floor((original[k] - final[k]) * step / steps + 1e-9) for k in final}


def all_equal(values: Sequence[float]) -> bool:
    return len(values) > 1 and max(values) == min(values)
