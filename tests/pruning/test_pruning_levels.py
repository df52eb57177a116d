"""Level semantics: kept counts, rounding, guards, global ranking and the shared options."""

from __future__ import annotations

import pydantic
import pytest
import torch

from prunebench.pruning import levels
from prunebench.pruning.options import PrunerOptions, cpu_block, resolve_round_to, round_min_channels


@pytest.mark.parametrize(("c", "level", "rounding", "keep"), [
    (16, 0.6, "ceil", 7), (16, 0.6, "floor", 6), (16, 0.6, "round", 6),
    (16, 0.9, "ceil", 2), (16, 0.9, "floor", 1), (100, 0.7, "ceil", 30), (10, 0.9, "ceil", 1),
    (64, 0.3, "ceil", 45), (64, 0.0, "ceil", 64), (5, 0.5, "round", 3),
])
def test_keep_count(c: int, level: float, rounding: str, keep: int) -> None:
    assert levels.keep_count(c, level, rounding) == keep


def test_keep_ceil_equals_removing_floor() -> None:
    for c in (3, 8, 16, 24, 48, 96, 192, 768):
        for level in (0.1, 0.3, 0.6, 0.9):
            assert c - levels.keep_count(c, level, "ceil") == int(c * level + 1e-9)


def test_round_to_never_zero_and_capped() -> None:
    assert levels.round_keep(3, 64, 8) == 8  # would round to 0: one multiple instead
    assert levels.round_keep(45, 64, 8) == 48
    assert levels.round_keep(44, 64, 8) == 48  # halves up
    assert levels.round_keep(43, 64, 8) == 40
    assert levels.round_keep(5, 6, 8) == 6  # a group smaller than the multiple stays whole
    assert levels.round_keep(45, 64, None) == 45
    assert levels.round_keep(23, 32, 16, round_min=64) == 23  # too small a group for 4 blocks: exact
    assert levels.round_keep(90, 128, 16, round_min=64) == 96


def test_guard_keeps_at_least_one() -> None:
    counts = levels.local_counts({"a": 4, "b": 100}, 0.99)
    assert counts == {"a": 1, "b": 1}
    assert levels.local_counts({"a": 10}, 0.9, max_level_per_layer=0.5) == {"a": 5}


def test_global_counts_rank_across_groups() -> None:
    scores = {"a": torch.tensor([1.0, 2.0, 3.0, 4.0]), "b": torch.tensor([10.0, 20.0, 30.0, 40.0])}
    assert levels.global_counts(scores, 0.5) == {"a": 1, "b": 3}  # guard keeps one of 'a'
    assert levels.global_counts(scores, 0.25) == {"a": 2, "b": 4}


def test_keep_indices_and_ties() -> None:
    s = torch.tensor([0.5, 3.0, 1.0, 3.0])
    assert levels.keep_indices(s, 2) == [1, 3]
    assert not levels.cut_is_tied(s, 2)
    same = torch.ones(6)
    assert levels.keep_indices(same, 3) == [0, 1, 2]
    assert levels.cut_is_tied(same, 3)


def test_interpolate_counts_reaches_final() -> None:
    original, final = {"a": 64}, {"a": 10}
    seen = [levels.interpolate_counts(original, final, s, 3)["a"] for s in (1, 2, 3)]
    assert seen == [46, 28, 10]


def test_options_bounds_and_defaults() -> None:
    o = PrunerOptions()
    assert (o.scope, o.target, o.round_to, o.rounding, o.iterative_steps) == ("backbone", "channels", None, "ceil", 1)
    for bad in ({"round_to": 0}, {"round_to": "eight"}, {"scope": "neck"}, {"iterative_steps": 0},
                {"tolerance": 0.5}, {"max_level_per_layer": 1.0}, {"levle": 0.3}):
        with pytest.raises(pydantic.ValidationError):
            PrunerOptions(**bad)  # type: ignore[arg-type]
    assert resolve_round_to("auto", "cpu") == cpu_block() in (8, 16)
    assert resolve_round_to("auto", "cuda:0") == 8
    assert resolve_round_to(1, "cpu") is None
    assert resolve_round_to(16, "cpu") == 16
    assert round_min_channels("auto", "cuda:0") == 8  # groups under one block keep exact counts
    assert round_min_channels(8, "cpu") == 0  # an explicit multiple rounds every group
