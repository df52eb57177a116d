"""ComputeLoss on hand-built cases whose answers are worked out by hand (imgsz 640, grids 80/40/20)."""

from __future__ import annotations

import math

import pytest
import torch

from prunebench.models.yolov5.family import YOLOv5n
from prunebench.models.yolov5.loss import ComputeLoss, scale_hyp
from prunebench.models.yolov5.yolo import build_yolov5

IMGSZ = 640
NEG = -30.0  # objectness logit "certainly nothing here": BCE(-30, 0) ~ 1e-13


def _setup(nc: int = 1) -> tuple[torch.nn.Module, ComputeLoss]:
    model = build_yolov5("n", nc, width_multiple=0.0625)
    fam = YOLOv5n()
    return model, fam.loss(model, fam.default_hyp())


def _empty_outputs(nc: int, bs: int = 1) -> list[torch.Tensor]:
    out = [torch.zeros(bs, 3, IMGSZ // s, IMGSZ // s, 5 + nc) for s in (8, 16, 32)]
    for p in out:
        p[..., 4] = NEG
    return out


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _target(cx: float, cy: float, w: float, h: float, cls: int = 0) -> torch.Tensor:
    return torch.tensor([[0, cls, cx / IMGSZ, cy / IMGSZ, w / IMGSZ, h / IMGSZ]])


# An 8x8 px box matches only P3 anchors 0 (10x13) and 1 (16x30): ratios below 4; 33x23 gives 4.125.
P3_ANCHORS = [(10 / 8, 13 / 8), (16 / 8, 30 / 8)]


def _set_box(p: torch.Tensor, a: int, gj: int, gi: int, off: tuple[float, float], wh: tuple[float, float],
             anchor: tuple[float, float], obj: float) -> None:
    """Write logits so that xy = 2*sig - 0.5 equals ``off`` and wh = (2*sig)^2 * anchor equals ``wh``."""
    for k in range(2):
        p[0, a, gj, gi, k] = _logit((off[k] + 0.5) / 2)
        p[0, a, gj, gi, 2 + k] = _logit(math.sqrt(wh[k] / anchor[k]) / 2)
    p[0, a, gj, gi, 4] = obj


def test_perfect_prediction_has_zero_box_loss_and_objectness_target_one() -> None:
    _, loss = _setup(nc=1)
    p = _empty_outputs(1)
    for a, anchor in enumerate(P3_ANCHORS):  # centre of cell (40, 40) at P3: no neighbour cells
        _set_box(p[0], a, 40, 40, (0.5, 0.5), (1.0, 1.0), anchor, obj=0.0)
    total, items = loss(p, _target(324, 324, 8, 8))
    lbox, lobj, lcls = items.tolist()
    assert lbox == pytest.approx(0.0, abs=1e-6)
    # two positives with logit 0 and target 1 (IoU = 1): BCE = ln 2 each, mean over 3*80*80, balance 4.0
    assert lobj == pytest.approx(2 * math.log(2) / (3 * 80 * 80) * 4.0, rel=1e-4)
    assert lcls == 0.0  # nc == 1: no class loss
    assert total.item() == pytest.approx(lbox + lobj + lcls, rel=1e-6)


def test_confident_perfect_prediction_has_near_zero_loss() -> None:
    _, loss = _setup(nc=1)
    p = _empty_outputs(1)
    for a, anchor in enumerate(P3_ANCHORS):
        _set_box(p[0], a, 40, 40, (0.5, 0.5), (1.0, 1.0), anchor, obj=30.0)
    total, _ = loss(p, _target(324, 324, 8, 8))
    assert total.item() < 1e-6


def test_shifted_box_ciou_by_hand() -> None:
    _, loss = _setup(nc=1)
    p = _empty_outputs(1)
    # target centre x = 2 px -> gx = 0.25 (< 1: no left neighbour; gxi%1 = 0.75: no right); y at a cell centre
    for a, anchor in enumerate(P3_ANCHORS):
        _set_box(p[0], a, 40, 0, (0.5, 0.5), (1.0, 1.0), anchor, obj=0.0)  # predicts x centre 4 px
    _, items = loss(p, _target(2, 324, 8, 8))
    # unit squares shifted by 0.25: IoU = 0.75 / 1.25; enclosing 1.25 x 1 -> c2 = 2.5625; rho2 = 0.0625; v = 0
    ciou = 0.75 / 1.25 - 0.0625 / 2.5625
    assert items[0].item() == pytest.approx(0.05 * (1 - ciou), rel=1e-5)
    bce = -math.log(0.5)  # logit 0 against target ciou: BCE = -(t log .5 + (1-t) log .5) = ln 2
    assert items[1].item() == pytest.approx(2 * bce / (3 * 80 * 80) * 4.0, rel=1e-4)


def _assignments(loss: ComputeLoss, target: torch.Tensor) -> list[set[tuple[int, int, int]]]:
    _, _, indices, _ = loss.build_targets(_empty_outputs(loss.nc), target)
    return [{(int(a), int(gj), int(gi)) for _, a, gj, gi in zip(*ind)} for ind in indices]


def test_anchor_t_just_inside_and_outside() -> None:
    _, loss = _setup(nc=1)
    # P3 anchor 2 is 33x23 px: w ratio 131.9/33 = 3.997 < 4 matches; 132.1/33 = 4.003 does not
    inside = _assignments(loss, _target(324, 324, 131.9, 23))
    outside = _assignments(loss, _target(324, 324, 132.1, 23))
    assert {a for a, _, _ in inside[0]} == {2}
    assert outside[0] == set()
    # P4 anchor 1 (62x45) and P5 anchor 0 (116x90) match both sizes
    assert {a for a, _, _ in inside[1]} == {a for a, _, _ in outside[1]} == {1}
    assert {a for a, _, _ in inside[2]} == {a for a, _, _ in outside[2]} == {0}


def test_neighbour_cells() -> None:
    _, loss = _setup(nc=1)
    centre = _assignments(loss, _target(324, 324, 8, 8))  # gxy = (40.5, 40.5): own cell only
    assert centre[0] == {(0, 40, 40), (1, 40, 40)}
    # gx = 40.25 (frac < 0.5: left neighbour), gy = 40.75 (frac > 0.5: the cell below)
    shifted = _assignments(loss, _target(8 * 40.25, 8 * 40.75, 8, 8))
    cells = {(gj, gi) for _, gj, gi in shifted[0]}
    assert cells == {(40, 40), (40, 39), (41, 40)}
    assert len(shifted[0]) == 6  # 2 anchors x 3 cells
    assert shifted[1] == shifted[2] == set()
    # the raw index count, duplicates included, is what the loss averages over
    _, _, indices, _ = loss.build_targets(_empty_outputs(1), _target(8 * 40.25, 8 * 40.75, 8, 8))
    assert indices[0][0].numel() == 6


def test_class_loss_for_nc_above_one() -> None:
    _, loss = _setup(nc=3)
    p = _empty_outputs(3)
    for a, anchor in enumerate(P3_ANCHORS):
        _set_box(p[0], a, 40, 40, (0.5, 0.5), (1.0, 1.0), anchor, obj=30.0)  # class logits stay 0
    _, items = loss(p, _target(324, 324, 8, 8, cls=2))
    cls_gain = 0.5 * 3 / 80  # hyp cls * nc / 80 * 3 / nl
    assert items[2].item() == pytest.approx(math.log(2) * cls_gain, rel=1e-5)
    p[0][0, :, 40, 40, 5 + 2] = 30.0  # confident and right
    p[0][0, :, 40, 40, 5:7] = -30.0
    _, items = loss(p, _target(324, 324, 8, 8, cls=2))
    assert items[2].item() < 1e-8


def test_gain_scaling_and_batch_size() -> None:
    h = scale_hyp({"box": 0.05, "cls": 0.5, "obj": 1.0}, nl=3, nc=1, imgsz=320)
    assert h["box"] == pytest.approx(0.05)
    assert h["cls"] == pytest.approx(0.5 / 80)
    assert h["obj"] == pytest.approx(0.25)
    _model, loss = _setup(nc=1)
    p = [t.repeat(4, 1, 1, 1, 1) for t in _empty_outputs(1)]
    target = torch.tensor([[3, 0, 0.5, 0.5, 0.1, 0.1]])
    total, items = loss(p, target)
    assert total.item() == pytest.approx(items.sum().item() * 4, rel=1e-6)


def test_loss_backward_through_model() -> None:
    torch.manual_seed(0)
    model, loss = _setup(nc=2)
    model.train()
    x = torch.rand(2, 3, 64, 64)
    targets = torch.tensor([[0, 1, 0.5, 0.5, 0.3, 0.2], [1, 0, 0.25, 0.7, 0.1, 0.15]])
    total, items = loss(model(x), targets)
    total.backward()
    assert items.shape == (3,)
    assert all(v > 0 for v in items.tolist())
    assert model.model[0].conv.weight.grad is not None
    assert model.model[-1].m[0].weight.grad.abs().sum() > 0
    empty_total, empty_items = loss(model(x), torch.zeros(0, 6))
    assert empty_items[0].item() == 0.0
    assert empty_total.item() > 0  # objectness loss only


def test_unsupported_hyp_is_a_usage_error() -> None:
    from prunebench.errors import UsageError

    model = build_yolov5("n", 1, width_multiple=0.0625)
    with pytest.raises(UsageError, match="fl_gamma=1.5"):
        YOLOv5n().loss(model, {"fl_gamma": 1.5})
    with pytest.raises(UsageError, match="anchor_t"):
        ComputeLoss(model, {"box": 0.05, "obj": 1.0, "cls": 0.5})
