"""Every registered pruner x yolov5n/s/m x the study's levels: a smaller model that works and says so."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import prunebench as pb
from prunebench.contracts import PruneContext
from prunebench.metrics.complexity import count_params, gflops
from prunebench.pruning import PruningWarning
from prunebench.testing_tiny import as_if_trained

MODELS = ("yolov5n", "yolov5s", "yolov5m")
LEVELS = (0.3, 0.6, 0.9)
IMGSZ = 64
BUNDLED = ("l1", "l2", "random", "lamp", "fpgm", "taylor", "bn-scale")
# third-party pruners in the catalogue (e.g. prunebench-nni) run on yolov5n here; their own tests do the rest
OTHERS = [n for n in pb.list_pruners() if n not in BUNDLED]
CASES = [(m, p) for m in MODELS for p in BUNDLED] + [("yolov5n", p) for p in OTHERS]
TINY = 0.0625  # width multiple of the tiny variants (save/reload/ONNX; third-party pruners)


def _targets(batch: int) -> torch.Tensor:
    rows = [[i, 0, 0.5, 0.5, 0.3, 0.4] for i in range(batch)] + [[0, 0, 0.25, 0.3, 0.2, 0.2]]
    return torch.tensor(rows)


def context(name: str, model: nn.Module, **family_options: object) -> PruneContext:
    family = pb.get_model_family(name, **family_options)
    g = torch.Generator().manual_seed(0)
    calibration = [(torch.rand(2, 3, IMGSZ, IMGSZ, generator=g), _targets(2))]
    loss_fn = family.loss(model, {**family.default_hyp(), "imgsz": IMGSZ})
    return PruneContext(family=family, example_inputs=family.example_inputs(IMGSZ), calibration=calibration,
                        loss_fn=loss_fn, seed=1, imgsz=IMGSZ)


@pytest.fixture(scope="module")
def full() -> dict[str, tuple[nn.Module, int]]:
    """name -> (model as if trained, its fused parameter count)."""
    out = {}
    for name in MODELS:
        model = as_if_trained(pb.create_model(name, nc=1))
        out[name] = (model, count_params(pb.get_model_family(name).fuse(model)))
    return out


@pytest.fixture(scope="module")
def tiny() -> dict[str, nn.Module]:
    return {name: as_if_trained(pb.create_model(name, nc=1, width_multiple=TINY)) for name in MODELS}


@pytest.mark.parametrize(("name", "pruner"), CASES)
def test_pruner_contract(full: dict[str, tuple[nn.Module, int]], tiny: dict[str, nn.Module], name: str,
                         pruner: str) -> None:
    if pruner in BUNDLED:
        model, fused_params = full[name]
        ctx = context(name, model)
    else:  # third-party pruners: the tiny variant here, their own tests do the rest
        model = tiny[name]
        ctx = context(name, model, width_multiple=TINY)
        fused_params = count_params(ctx.family.fuse(model))
    x = torch.rand(1, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref_eval = model(x)
    first_conv = model.model[0].conv.out_channels
    sizes = []
    for level in LEVELS:
        result = pb.create_pruner(pruner).prune(model, level, ctx)
        pruned, rec = result.model.eval(), result.record
        with torch.no_grad():
            out = pruned(x)
        assert out[0].shape == ref_eval[0].shape  # [1, anchors x cells, 5 + nc]
        assert [o.shape for o in out[1]] == [o.shape for o in ref_eval[1]]
        assert torch.isfinite(out[0]).all()
        assert rec.params_before == fused_params
        if level == 0.6:  # the independent counter (fused model, thop convention) agrees with the record
            fused = ctx.family.fuse(pruned)
            assert rec.params_after == count_params(fused)
            assert rec.gflops_after == pytest.approx(gflops(fused), rel=1e-9)
        assert rec.level == level
        assert rec.pruner == pruner
        assert rec.scope == "backbone"
        assert level - 0.1 < rec.channel_reduction <= level + 1e-9  # ceil keeps; at most the level goes
        assert sum(rec.removed.values()) == rec.channels_before - rec.channels_after
        sizes.append((rec.params_after, rec.gflops_after))
    assert model.model[0].conv.out_channels == first_conv  # the input model is untouched
    params, flops = zip(*sizes, strict=True)
    assert list(params) == sorted(params, reverse=True)
    assert len(set(params)) == 3
    assert list(flops) == sorted(flops, reverse=True)
    assert len(set(flops)) == 3


@pytest.mark.parametrize(("name", "pruner"), CASES)
def test_pruned_model_saves_reloads_and_exports(tiny: dict[str, nn.Module], name: str, pruner: str,
                                               tmp_path: Path) -> None:
    model = tiny[name]
    ctx = context(name, model, width_multiple=TINY)
    x = torch.rand(1, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(3))
    for level in LEVELS:
        pruned = pb.create_pruner(pruner).prune(model, level, ctx).model.eval()
        path = ctx.family.save(pruned, tmp_path / f"{level}.pt", half=False)
        reloaded = ctx.family.load(path).eval()
        with torch.no_grad():
            assert torch.equal(pruned(x)[0], reloaded(x)[0])
    if name != "yolov5n" and pruner != "l1":
        return  # ONNX: every pruner on yolov5n, l1 on each model (export is the slow part)
    onnx = pytest.importorskip("onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(pruned, (x,), str(tmp_path / "m.onnx"), opset_version=17, dynamo=False)
    onnx.checker.check_model(str(tmp_path / "m.onnx"))


def test_fresh_bn_gammas_tie_and_are_reported() -> None:
    model = pb.create_model("yolov5n", nc=1)  # every gamma is 1 before training
    with pytest.warns(PruningWarning, match="sparsity-trained"):
        _, rec = pb.prune(model, "bn-scale", level=0.3, family="yolov5n", imgsz=IMGSZ, global_pruning=True)
    assert any("equal" in n for n in rec.notes)
