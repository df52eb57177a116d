"""The coupled-group rule of prunebench-nni: votes first, NNI importance second, exact kept counts."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("prunebench_nni", reason="the prunebench-nni plugin is not installed")
from prunebench_nni._resolve import RULE, keep_from_mask, resolve_groups


def _votes(*bits: int) -> torch.Tensor:
    return torch.tensor(bits, dtype=torch.bool)


def test_single_conv_group_reproduces_the_nni_mask() -> None:
    votes = {"a": _votes(1, 0, 1, 0, 1, 1)}
    scores = {"a": torch.tensor([5.0, 0.1, 4.0, 0.2, 3.0, 6.0])}
    res = resolve_groups({"a": ["a"]}, votes, scores, {"a": 4})
    assert res.keep["a"] == [0, 2, 4, 5]
    assert res.channels_disagreed == 0
    assert res.votes_overridden == 0
    assert res.coupled_groups == 0
    assert res.channels_removed == 2


def test_coupled_group_ranks_votes_then_importance_and_counts_disagreements() -> None:
    # channel 0: both keep; 1: only a keeps; 2: only b keeps; 3: nobody keeps
    votes = {"a": _votes(1, 1, 0, 0), "b": _votes(1, 0, 1, 0)}
    # b's scale is 100x a's: normalisation by the mean makes each conv weigh the same
    scores = {"a": torch.tensor([4.0, 3.0, 1.0, 0.0]), "b": torch.tensor([400.0, 0.0, 100.0, 0.0])}
    res = resolve_groups({"a": ["a", "b"]}, votes, scores, {"a": 2})
    # channel 1 (a: 3/2=1.5) vs channel 2 (a: 1/2=0.5, b: 100/125=0.8 -> 1.3): channel 1 wins
    assert res.keep["a"] == res.keep["b"] == [0, 1]
    assert res.channels_disagreed == 2
    assert res.votes_overridden == 2  # b's vote for channel 1 (remove) and for channel 2 (keep)
    assert res.coupled_groups == 1


def test_kept_count_follows_the_count_not_the_votes() -> None:
    votes = {"a": _votes(1, 1, 0, 0)}
    scores = {"a": torch.tensor([4.0, 3.0, 2.0, 1.0])}
    res = resolve_groups({"a": ["a"]}, votes, scores, {"a": 3})
    assert res.keep["a"] == [0, 1, 2]
    assert res.votes_overridden == 1


def test_unscored_groups_are_skipped_and_counts_are_clamped() -> None:
    votes = {"a": _votes(0, 0, 0)}
    res = resolve_groups({"a": ["a"], "z": ["z"]}, votes, {}, {"a": 0})
    assert res.keep == {"a": [0]}  # at least one channel stays; ties broken by the lower index
    assert res.groups == 1


def test_a_partly_tied_member_does_not_vote() -> None:
    """YOLOv8 C2f: a bottleneck conv carries half of cv1's channels; cv1 (the full width) decides for both."""
    res = resolve_groups({"g": ["wide", "part"]}, {"wide": _votes(1, 0, 1, 1), "part": _votes(0, 0)}, {}, {"g": 2})
    assert res.keep == {"wide": [0, 2], "part": [0, 2]}


def test_keep_from_mask_reads_output_channels() -> None:
    mask = torch.ones(4, 2, 3, 3)
    mask[1] = 0
    mask[3, 0] = 0  # a partially masked filter still counts as kept
    assert keep_from_mask(mask).tolist() == [True, False, True, True]
    assert RULE.startswith("votes-then-importance")
