"""Turn NNI's per-conv output-channel masks into one kept-index list per coupled group of convs.

The rule (documented in docs/nni.md): inside a group of convs whose output channels are coupled (a C3
shortcut, a Concat, SPPF), every channel gets the number of member convs whose NNI mask keeps it
(its *votes*) and the sum over members of NNI's importance score divided by that member's mean score
(so every conv weighs the same whatever its scale). Channels are ranked by votes, then by that summed
importance (then by lower index), and the group's kept count (the level's rounding rule) is kept. For a
group of one conv at NNI's own count this is exactly NNI's mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["RULE", "Resolution", "combined_importance", "keep_from_mask", "resolve_groups"]

RULE = ("votes-then-importance: rank each coupled group's channels by how many member convs' NNI masks "
        "keep them, ties broken by the sum of each member's NNI importance divided by its mean, then by "
        "the lower channel index; keep the group's count from the level and its rounding")


@dataclass
class Resolution:
    """Kept output-channel indices per conv and what the resolution had to decide."""

    keep: dict[str, list[int]] = field(default_factory=dict)
    groups: int = 0  #: groups with at least one conv NNI scored
    coupled_groups: int = 0  #: of those, groups of two or more scored convs
    channels_disagreed: int = 0  #: channels that some members keep and others remove
    votes_overridden: int = 0  #: (conv, channel) decisions of NNI that the group's decision reversed
    channels_removed: int = 0  #: channels removed, summed over groups (not over members)


def keep_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """A boolean vector over output channels (dim 0): True where any weight of the channel is kept."""
    return mask.detach().reshape(mask.shape[0], -1).ne(0).any(dim=1).cpu()


def _normalised(score: torch.Tensor) -> torch.Tensor:
    score = score.detach().double().reshape(-1).abs().cpu()
    mean = float(score.mean()) if score.numel() else 0.0
    return score / mean if mean > 0 else torch.zeros_like(score)


def combined_importance(members: Sequence[str], scores: Mapping[str, torch.Tensor], c: int) -> torch.Tensor:
    """Sum over ``members`` of NNI's per-channel importance divided by that conv's mean (float64, length c)."""
    total = torch.zeros(c, dtype=torch.float64)
    for name in members:
        if name in scores and scores[name].numel() == c:
            total += _normalised(scores[name])
    return total


def resolve_groups(
    groups: Mapping[str, Sequence[str]],
    votes: Mapping[str, torch.Tensor],
    scores: Mapping[str, torch.Tensor],
    counts: Mapping[str, int],
) -> Resolution:
    """Apply the votes-then-importance rule to every group that has at least one conv NNI masked.

    :param groups: group key -> coupled conv names (their output channels are pruned together), e.g.
        the lists of ``prunebench.pruning.removal.coupled_groups``.
    :param votes: conv name -> boolean keep vector from NNI's mask (see :func:`keep_from_mask`).
    :param scores: conv name -> NNI's per-channel importance (missing: votes alone decide, then index).
    :param counts: group key -> channels to keep (groups not named keep NNI's majority count).
    """
    res = Resolution()
    for key, group in groups.items():
        members = [name for name in group if name in votes]
        if not members:
            continue
        sizes = {name: int(votes[name].numel()) for name in members}
        c = max(sizes.values())
        # a conv tied to only part of the group (YOLOv8 C2f: a bottleneck with half of cv1) has no vote of
        # the group's width; the convs carrying every channel decide, as prunebench's own criteria do
        members = [name for name in members if sizes[name] == c]
        vote = torch.zeros(c, dtype=torch.float64)
        for name in members:
            vote += votes[name].reshape(-1).double()
        importance = combined_importance(members, scores, c)
        n = len(members)
        default = int((vote * 2 >= n).sum())
        k = max(1, min(c, int(counts.get(key, default))))
        # lexicographic ranking: votes first, importance second, lower index last (stable sorts)
        order = torch.argsort(importance, descending=True, stable=True)
        order = order[torch.argsort(vote[order], descending=True, stable=True)]
        kept = torch.zeros(c, dtype=torch.bool)
        kept[order[:k]] = True
        idx = sorted(int(i) for i in order[:k])
        for name in group:
            res.keep[name] = idx
        res.groups += 1
        res.coupled_groups += int(n > 1)
        res.channels_disagreed += int(((vote > 0) & (vote < n)).sum())
        res.votes_overridden += sum(int((votes[name].reshape(-1).bool() != kept).sum()) for name in members)
        res.channels_removed += c - k
    return res
