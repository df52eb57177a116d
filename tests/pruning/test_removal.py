"""Channel removal (pruning.removal) on a small net with YOLOv5's couplings (residual C3, SPPF, upsample + concat)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from prunebench.contracts import PruneContext
from prunebench.errors import UsageError
from prunebench.pruning import PruningWarning, coupled_groups, prune_by_indices, prune_model
from prunebench.pruning.costs import fused_params, measure_costs
from prunebench.pruning.options import PrunerOptions

X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
CRITERIA = ("l1", "l2", "fpgm", "lamp", "random", "bn-scale")


def _ctx(family, **kw) -> PruneContext:  # type: ignore[no-untyped-def]
    return PruneContext(family=family, example_inputs=family.example_inputs(64), **kw)


def test_coupled_groups_follow_residuals_and_scope(toy_model, toy_family) -> None:
    groups = coupled_groups(toy_model, toy_family, "backbone", X)
    assert ["model.1.cv1.conv", "model.1.m.0.cv2.conv", "model.1.m.1.cv2.conv"] in groups
    flat = [n for g in groups for n in g]
    assert "model.1.m.0.cv1.conv" not in flat  # bottleneck hidden width: only in scope 'all'
    assert not any(n.startswith(("model.5", "model.7", "out")) for n in flat)
    everything = [n for g in coupled_groups(toy_model, toy_family, "all", X) for n in g]
    assert "model.1.m.0.cv1.conv" in everything
    assert "model.7.cv3.conv" in everything
    assert not any(n.startswith("out") for n in everything)  # the 'Detect' outputs never


def test_prune_by_indices_keeps_exactly_those_channels(toy_model, toy_family) -> None:
    keep = {"model.1.cv1.conv": [0, 2, 5], "model.0.conv": list(range(0, 16, 2))}
    res = prune_by_indices(toy_model, toy_family, keep, example_inputs=X, scope="backbone",
                           record_meta={"pruner": "nni-l1", "level": 0.5, "notes": ["union rule"]})
    m = res.model
    assert m.model[1].cv1.conv.out_channels == 3
    assert m.model[1].m[1].cv2.conv.out_channels == 3  # coupled by the residual sum
    assert m.model[1].m[0].cv1.conv.in_channels == 3
    assert torch.equal(m.model[1].cv1.conv.weight, toy_model.model[1].cv1.conv.weight[[0, 2, 5]][:, ::2])
    assert toy_model.model[1].cv1.conv.out_channels == 8  # the input model is untouched
    rec = res.record
    assert rec.pruner == "nni-l1"
    assert rec.level == 0.5
    assert "union rule" in rec.notes
    assert rec.removed["model.1.m.1.cv2.conv"] == 5
    assert rec.removed["model.0.conv"] == 8
    assert rec.params_after == fused_params(m) < rec.params_before
    assert [o.shape for o in m(X)] == [o.shape for o in toy_model(X)]


@pytest.mark.parametrize(("keep", "fragment"), [
    ({"model.5.conv": [0]}, "not a prunable conv of scope 'backbone'"),
    ({"model.0.conv": []}, "is empty"),
    ({"model.0.conv": [0, 16]}, "index 16"),
    ({"model.1.cv1.conv": [0, 1], "model.1.m.0.cv2.conv": [0, 2]}, "are coupled"),
])
def test_prune_by_indices_errors_name_the_problem(toy_model, toy_family, keep, fragment) -> None:
    with pytest.raises(UsageError, match=fragment):
        prune_by_indices(toy_model, toy_family, keep, example_inputs=X, scope="backbone")


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("opts", [{}, {"scope": "all", "global_pruning": True},
                                  {"scope": "backbone+neck", "iterative_steps": 3}, {"rounding": "floor"}])
def test_every_criterion_prunes_consistently(toy_model, toy_family, criterion, opts) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PruningWarning)
        res = prune_model(toy_model, 0.5, _ctx(toy_family), PrunerOptions(**opts), criterion=criterion, name="t")
    out = res.model.eval()(X)
    assert [o.shape for o in out] == [o.shape for o in toy_model(X)]
    rec = res.record
    measured = measure_costs(res.model, X)
    assert (rec.params_after, rec.gflops_after) == (measured.params, pytest.approx(measured.gflops))
    assert rec.params_after < rec.params_before
    assert rec.gflops_after < rec.gflops_before
    assert 0.4 <= rec.channel_reduction <= 0.6
    assert sum(rec.removed.values()) == rec.channels_before - rec.channels_after


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("target", ["params", "flops"])
def test_matched_cost_hits_the_level(toy_model, toy_family, criterion, target) -> None:
    opts = PrunerOptions(scope="all", target=target)
    res = prune_model(toy_model, 0.4, _ctx(toy_family), opts, criterion=criterion, name="t")
    achieved = res.record.params_reduction if target == "params" else res.record.flops_reduction
    assert abs(achieved - 0.4) <= 0.01
    assert res.record.extra["achieved_target"] == pytest.approx(achieved)


def test_matched_cost_out_of_reach_is_a_usage_error(toy_model, toy_family) -> None:
    with pytest.raises(UsageError, match="can remove at most"):
        prune_model(toy_model, 0.95, _ctx(toy_family), PrunerOptions(target="flops"), criterion="l1", name="t")


def test_rounding_up_that_raises_gflops_warns(toy_model, toy_family) -> None:
    with pytest.warns(PruningWarning, match="raised GFLOPs"):
        res = prune_model(toy_model, 0.3, _ctx(toy_family), PrunerOptions(round_to=8), criterion="l1", name="t")
    assert any("raised GFLOPs" in n for n in res.record.notes)
    assert any("left" in n and "unpruned" in n for n in res.record.notes)  # 8-channel groups stay whole
    for conv in (m for m in res.model.modules() if isinstance(m, nn.Conv2d)):
        assert conv.out_channels % 8 == 0 or conv.out_channels == 6


def test_equal_scores_are_reported(toy_model, toy_family) -> None:
    for m in toy_model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
    with pytest.warns(PruningWarning, match="scores in scope .backbone. are equal within every group"):
        res = prune_model(toy_model, 0.5, _ctx(toy_family), PrunerOptions(global_pruning=True),
                          criterion="bn-scale", name="bn-scale")
    assert any("sparsity-trained" in n for n in res.record.notes)
    assert res.record.channel_reduction > 0.4  # it still prunes, by channel index


def test_random_is_seeded(toy_model, toy_family) -> None:
    a = prune_model(toy_model, 0.5, _ctx(toy_family, seed=3), PrunerOptions(), criterion="random", name="r").model
    b = prune_model(toy_model, 0.5, _ctx(toy_family, seed=3), PrunerOptions(), criterion="random", name="r").model
    c = prune_model(toy_model, 0.5, _ctx(toy_family, seed=4), PrunerOptions(), criterion="random", name="r").model
    assert torch.equal(a.model[0].conv.weight, b.model[0].conv.weight)
    assert not torch.equal(a.model[0].conv.weight, c.model[0].conv.weight)


def test_taylor_needs_data_and_uses_gradients(toy_model, toy_family) -> None:
    with pytest.raises(UsageError, match="no calibration and no loss_fn"):
        prune_model(toy_model, 0.5, _ctx(toy_family), PrunerOptions(), criterion="taylor", name="taylor")
    batches = [(torch.rand(2, 3, 64, 64), torch.rand(3, 6)) for _ in range(2)]
    ctx = _ctx(toy_family, calibration=batches, loss_fn=toy_family.loss(toy_model, {}))
    res = prune_model(toy_model, 0.5, ctx, PrunerOptions(), criterion="taylor", name="taylor")
    assert res.record.channel_reduction == pytest.approx(0.5, abs=0.1)
    assert all(p.grad is None for p in toy_model.parameters())
    l1 = prune_model(toy_model, 0.5, _ctx(toy_family), PrunerOptions(), criterion="l1", name="l1")
    assert not torch.equal(res.model.model[2].conv.weight, l1.model.model[2].conv.weight)


def test_level_out_of_range(toy_model, toy_family) -> None:
    with pytest.raises(UsageError, match="out of range"):
        prune_model(toy_model, 1.0, _ctx(toy_family), PrunerOptions(), criterion="l1", name="l1")


def test_a_custom_criterion_function_plugs_into_channel_removal(toy_model, toy_family) -> None:
    from prunebench.pruning import CriterionPruner

    def max_abs(group, generator=None):  # type: ignore[no-untyped-def]
        return sum(c.weight.detach().flatten(1).abs().amax(1) for c in group.convs_out)

    class MaxAbs(CriterionPruner):
        name = "max-abs"
        criterion = staticmethod(max_abs)

    res = MaxAbs({"scope": "all", "global_pruning": True}).prune(toy_model, 0.5, _ctx(toy_family))
    assert res.record.extra["criterion"] == "max_abs"
    assert res.record.channel_reduction == pytest.approx(0.5, abs=0.05)

    class Broken(CriterionPruner):
        name = "broken"
        criterion = staticmethod(lambda group, generator=None: torch.ones(2))

    with pytest.raises(UsageError, match="one score per output channel"):
        Broken().prune(toy_model, 0.5, _ctx(toy_family))
