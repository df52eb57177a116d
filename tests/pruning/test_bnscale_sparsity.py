"""bn-scale: the L1 sparsity regulariser on BN gammas, gamma read-outs, and pruning by |gamma|."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

import prunebench as pb
from prunebench.contracts import PruneContext
from prunebench.errors import UsageError
from prunebench.pruning import bn_gammas


def test_options_accept_lambda_and_bounds() -> None:
    p = pb.create_pruner("bn-scale", **{"lambda": 1e-3, "sparsity_epochs": 5})
    assert p.options.strength == 1e-3
    assert p.sparsity_epochs() == 5
    assert p.needs_sparsity_training
    with pytest.raises(Exception, match="lambda"):
        pb.create_pruner("bn-scale", **{"lambda": -1.0})
    assert pb.create_pruner("l1").sparsity_epochs() == 0
    assert not pb.create_pruner("l1").needs_sparsity_training


def test_regulariser_adds_lambda_sign_gamma(toy_model, toy_family) -> None:
    for m in toy_model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data[0] = -0.5
    reg = pb.create_pruner("bn-scale", **{"lambda": 0.01}).regularizer(toy_model, toy_family)
    toy_model.zero_grad()
    sum(o.sum() for o in toy_model(torch.rand(1, 3, 64, 64))).backward()
    before = {n: m.weight.grad.clone() for n, m in toy_model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    reg(toy_model)
    touched = set()
    for n, m in toy_model.named_modules():
        if not isinstance(m, nn.BatchNorm2d):
            continue
        delta = m.weight.grad - before[n]
        backbone = n.startswith(tuple(f"model.{i}." for i in range(5))) and not (".m." in n and "cv1" in n)
        if backbone:
            assert torch.allclose(delta, 0.01 * torch.sign(m.weight.detach())), n
            touched.add(n)
        else:  # the neck and the bottleneck hidden convs are outside scope 'backbone'
            assert torch.equal(delta, torch.zeros_like(delta)), n
    assert "model.0.bn" in touched
    assert "model.1.m.0.cv2.bn" in touched
    assert toy_model.model[0].bn.weight.grad is not None
    assert pickle.loads(pickle.dumps(reg)).strength == 0.01  # travels to Ray workers


def test_regulariser_without_family_covers_every_bn(toy_model) -> None:
    reg = pb.create_pruner("bn-scale").regularizer(toy_model)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in toy_model.modules())
    assert reg.n_layers == n_bn
    assert pb.create_pruner("bn-scale", **{"lambda": 0.0}).regularizer(toy_model) is None


def test_bn_gammas_shapes(toy_model, toy_family) -> None:
    every = bn_gammas(toy_model)
    assert every.dtype == np.float64
    assert every.size == sum(m.num_features for m in toy_model.modules() if isinstance(m, nn.BatchNorm2d))
    backbone = bn_gammas(toy_model, "backbone", toy_family)
    assert 0 < backbone.size < every.size
    with pytest.raises(UsageError, match="needs the model family"):
        bn_gammas(toy_model, "backbone")


def test_sparsity_training_drives_gammas_down_and_bn_scale_prunes_them(toy_model, toy_family) -> None:
    pruner = pb.create_pruner("bn-scale", **{"lambda": 0.05}, scope="all")
    reg = pruner.regularizer(toy_model, toy_family)
    opt = torch.optim.SGD(toy_model.parameters(), lr=0.05)
    before = np.abs(bn_gammas(toy_model, "all", toy_family)).mean()
    toy_model.train()
    x = torch.rand(2, 3, 64, 64)
    for _ in range(20):
        opt.zero_grad()
        sum((o ** 2).mean() for o in toy_model(x)).backward()
        reg(toy_model)
        opt.step()
    after = np.abs(bn_gammas(toy_model, "all", toy_family)).mean()
    assert after < before
    toy_model.eval()
    toy_model.model[2].bn.weight.data[:3] = 0.0  # clearly unimportant channels
    ctx = PruneContext(family=toy_family, example_inputs=toy_family.example_inputs(64))
    res = pruner.prune(toy_model, 0.25, ctx)
    kept = res.model.model[2].conv.weight
    full = toy_model.model[2].conv.weight
    assert kept.shape[0] == 24
    removed = [i for i in range(32) if not any(torch.equal(full[i][: kept.shape[1]], k) for k in kept)]
    assert {0, 1, 2} <= set(removed) or kept.shape[1] != full.shape[1]
