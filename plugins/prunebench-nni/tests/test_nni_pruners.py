"""Each NNI pruner on a tiny YOLOv5n: physically smaller, runs, params fall with level, honest records."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from pydantic import ValidationError

import prunebench as pb
from prunebench.contracts import PruneContext, PruneResult
from prunebench.errors import UsageError
from prunebench.pruning.costs import fused_params

pytest.importorskip("prunebench_nni", reason="the prunebench-nni plugin is not installed")
from prunebench_nni import PRUNER_NAMES
from prunebench_nni._nni import nni_status

pytestmark = [pytest.mark.nni, pytest.mark.skipif(nni_status() is not None, reason=str(nni_status()))]

IMGSZ = 64
LEVELS = (0.3, 0.6, 0.9)
DATA_DRIVEN = {"nni-slim", "nni-taylor"}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors on a shared 2-core machine: one intra-op thread is several times faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def family() -> Any:
    return pb.get_model_family("yolov5n", width_multiple=0.0625)


@pytest.fixture(scope="module")
def model(family: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    m = family.build(nc=1)
    with torch.no_grad():  # distinct BatchNorm gammas make kept channels identifiable
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.copy_(torch.rand(mod.num_features) + 0.5)
    return m.eval()


@pytest.fixture(scope="module")
def context(model: torch.nn.Module, family: Any) -> PruneContext:
    images = torch.rand(2, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([[0, 0, 0.5, 0.5, 0.3, 0.4], [1, 0, 0.4, 0.6, 0.2, 0.2]])
    return PruneContext(family=family, example_inputs=family.example_inputs(IMGSZ), calibration=[(images, targets)],
                        loss_fn=family.loss(model, family.default_hyp()), imgsz=IMGSZ)


def _options(name: str, **extra: Any) -> dict[str, Any]:
    return {**({"training_steps": 1} if name in DATA_DRIVEN else {}), **extra}


@pytest.fixture(scope="module")
def results(model: torch.nn.Module, context: PruneContext) -> dict[tuple[str, float], PruneResult]:
    out = {}
    for name in PRUNER_NAMES:
        pruner = pb.create_pruner(name, **_options(name))
        for level in LEVELS:
            out[name, level] = pruner.prune(model, level, context)
    return out


@pytest.mark.parametrize("name", PRUNER_NAMES)
def test_pruned_models_are_smaller_run_and_shrink_with_level(
        name: str, model: torch.nn.Module, results: dict[tuple[str, float], PruneResult]) -> None:
    x = torch.rand(1, 3, IMGSZ, IMGSZ)
    with torch.no_grad():
        reference = model(x)[0]
    params = [fused_params(model)]
    for level in LEVELS:
        res = results[name, level]
        pruned = res.model.eval()
        with torch.no_grad():
            out = pruned(x)[0]
        assert out.shape == reference.shape
        assert torch.isfinite(out).all()
        rec = res.record
        assert rec.pruner == name
        assert rec.level == level
        assert rec.params_after == fused_params(pruned)  # the record states what the model really is
        assert rec.params_before == params[0]
        assert rec.gflops_after < rec.gflops_before
        params.append(rec.params_after)
    assert params == sorted(params, reverse=True)
    assert len(set(params)) == len(params), f"params did not fall strictly with level: {params}"
    assert fused_params(model) == params[0]  # the caller's model is untouched


@pytest.mark.parametrize("name", PRUNER_NAMES)
def test_record_counts_removed_channels_and_the_group_rule(
        name: str, results: dict[tuple[str, float], PruneResult]) -> None:
    for level in LEVELS:
        rec = results[name, level].record
        assert rec.removed, "no channel removed"
        assert sum(rec.removed.values()) == rec.channels_before - rec.channels_after
        info = rec.extra["nni"]
        assert info["rule"].startswith("votes-then-importance")
        assert info["class"].lower().startswith(name.removeprefix("nni-").replace("-", ""))
        for key in ("channels_disagreed", "votes_overridden", "coupled_groups", "groups"):
            assert isinstance(info[key], int)
            assert info[key] >= 0
        assert info["coupled_groups"] > 0  # yolov5's backbone has C3 shortcut groups
        assert any("disagreed" in note and "votes-then-importance" in note for note in rec.notes)
        assert all(n > 0 for n in rec.removed.values())
        if name in DATA_DRIVEN:
            assert info["training_steps_run"] == 1


def test_kept_counts_follow_ceil_rule(results: dict[tuple[str, float], PruneResult],
                                      model: torch.nn.Module) -> None:
    convs = dict(model.named_modules())
    for level in LEVELS:
        rec = results["nni-l1", level].record
        for key, kept in rec.extra["group_keep"].items():
            c = convs[key].out_channels
            assert kept == math.ceil(round(c * (1 - level), 9))


def test_single_conv_groups_keep_exactly_nni_l1_choice(model: torch.nn.Module, family: Any,
                                                       results: dict[tuple[str, float], PruneResult]) -> None:
    from prunebench.pruning.removal import coupled_groups

    groups = coupled_groups(model, family, "backbone", family.example_inputs(IMGSZ))
    singles = [g[0] for g in groups if len(g) == 1]
    assert singles
    level = 0.6
    pruned = dict(results["nni-l1", level].model.named_modules())
    original = dict(model.named_modules())
    checked = 0
    for conv in singles:
        bn = conv.rsplit(".", 1)[0] + ".bn"
        if bn not in original:
            continue
        w = original[conv].weight.detach()
        c = w.shape[0]
        k = math.ceil(round(c * (1 - level), 9))
        top = sorted(torch.argsort(w.abs().flatten(1).sum(1), descending=True, stable=True)[:k].tolist())
        expected = original[bn].weight.detach()[top]
        assert torch.equal(pruned[bn].weight.detach(), expected), conv
        checked += 1
    assert checked


def test_matched_params_target(model: torch.nn.Module, context: PruneContext) -> None:
    res = pb.create_pruner("nni-fpgm", target="params", tolerance=0.05).prune(model, 0.5, context)
    assert res.record.target == "params"
    assert abs(res.record.params_reduction - 0.5) <= 0.05
    assert res.record.extra["achieved_target"] == pytest.approx(res.record.params_reduction)


def test_iterative_steps_reach_the_same_counts(model: torch.nn.Module, context: PruneContext,
                                               results: dict[tuple[str, float], PruneResult]) -> None:
    res = pb.create_pruner("nni-l2", iterative_steps=2).prune(model, 0.6, context)
    one_shot = results["nni-l2", 0.6].record
    assert res.record.channels_after == one_shot.channels_after
    assert res.record.params_after == one_shot.params_after
    assert res.record.params_after == fused_params(res.model)
    assert "2 iterative steps" in res.record.notes[-1]
    assert res.record.extra["nni"]["step_sparse_ratios"][0] == 0.6
    assert 0 < res.record.extra["nni"]["step_sparse_ratios"][1] < 0.6


def test_data_driven_pruners_need_calibration(model: torch.nn.Module, context: PruneContext) -> None:
    bare = copy.copy(context)
    bare.calibration = None
    with pytest.raises(UsageError, match="calibration"):
        pb.create_pruner("nni-taylor", training_steps=1).prune(model, 0.3, bare)
    no_loss = copy.copy(context)
    no_loss.loss_fn = None
    with pytest.raises(UsageError, match="loss"):
        pb.create_pruner("nni-slim", training_steps=1).prune(model, 0.3, no_loss)


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError):
        pb.create_pruner("nni-l1", training_steps=3)  # only the data-driven pruners train
    with pytest.raises(ValidationError):
        pb.create_pruner("nni-slim", training_steps=0)
    slim = pb.create_pruner("nni-slim", regular_scale=0.5, scope="all")
    assert slim.options.regular_scale == 0.5
    with pytest.raises(UsageError, match="out of range"):
        pb.create_pruner("nni-l1").prune(torch.nn.Conv2d(1, 1, 1), 1.0, None)  # type: ignore[arg-type]


def test_pruned_model_saves_and_reloads_identically(results: dict[tuple[str, float], PruneResult], family: Any,
                                                    tmp_path: Any) -> None:
    pruned = results["nni-taylor", 0.6].model.eval()
    path = family.save(pruned, tmp_path / "pruned.pt", pruner="nni-taylor", level=0.6)
    again = family.load(path).eval()
    x = torch.rand(1, 3, IMGSZ, IMGSZ)
    with torch.no_grad():
        assert torch.allclose(pruned(x)[0], again(x)[0], atol=1e-5)
    assert fused_params(again) == fused_params(pruned)


def test_backbone_scope_reproduces_the_seed_sizes_of_yolov5n() -> None:
    """The seed study's yolov5n at 0.6 has 932,592 fused parameters (docs: yolov5-facts.md)."""
    fam = pb.get_model_family("yolov5n")
    full = fam.build(nc=1).eval()
    ctx = PruneContext(family=fam, example_inputs=fam.example_inputs(IMGSZ), imgsz=IMGSZ)
    rec = pb.create_pruner("nni-l1", scope="backbone").prune(full, 0.6, ctx).record
    assert rec.params_before == 1_760_518
    assert rec.params_after == 932_592
    assert round(rec.gflops_after, 2) == 2.07


def test_pruned_model_exports_to_onnx(results: dict[tuple[str, float], PruneResult], family: Any,
                                      tmp_path: Any) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    fused = family.fuse(results["nni-fpgm", 0.3].model).eval()
    x = torch.rand(1, 3, IMGSZ, IMGSZ)
    path = tmp_path / "pruned.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(fused, (x,), str(path), opset_version=17, input_names=["images"], dynamo=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": x.numpy()})[0]
    with torch.no_grad():
        ref = fused(x)[0].numpy()
    assert got.shape == ref.shape
    assert abs(got - ref).max() <= 1e-3 * max(1.0, abs(ref).max())


def test_round_to_and_global_ranking_use_the_shared_level_semantics(model: torch.nn.Module,
                                                                    context: PruneContext) -> None:
    convs = dict(model.named_modules())
    from prunebench.pruning.removal import PruningWarning

    # on this 1/16-width model most groups have 4-16 channels: rounding to 8 raises GFLOPs, and says so
    with pytest.warns(PruningWarning, match="round_to=8 raised GFLOPs"):
        rec = pb.create_pruner("nni-l1", round_to=8).prune(model, 0.6, context).record
    assert any("raised GFLOPs" in note for note in rec.notes)
    for key, kept in rec.extra["group_keep"].items():
        assert kept % 8 == 0 or kept == convs[key].out_channels
    assert rec.extra["round_to"] == 8
    glob = pb.create_pruner("nni-l1", global_pruning=True).prune(model, 0.5, context).record
    assert glob.extra["global_pruning"] is True
    assert glob.channels_after < glob.channels_before
