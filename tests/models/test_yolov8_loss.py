"""YOLOv8 loss: the task-aligned assigner on hand-worked scenes (8.4's small-box widening included) and the
loss parts of a hand-built prediction against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from prunebench.models.yolov8.assigner import TaskAlignedAssigner
from prunebench.models.yolov8.loss import V8DetectionLoss
from prunebench.models.yolov8.model import build_yolov8

#: a 3 x 2 grid of stride-8 anchor centres in pixels: (4, 4) (12, 4) (20, 4) / (4, 12) (12, 12) (20, 12)
ANCHORS = torch.tensor([[4.0, 4.0], [12.0, 4.0], [20.0, 4.0], [4.0, 12.0], [12.0, 12.0], [20.0, 12.0]])


def test_small_boxes_are_widened_for_the_inside_test() -> None:
    tal = TaskAlignedAssigner(topk=2, num_classes=1)
    gt = torch.tensor([[[13.0, 9.0, 17.0, 13.0]]])  # 4 x 4 px, centre (15, 11): holds no anchor centre
    mask = torch.ones(1, 1, 1)
    widened = tal.candidates_in_gts(ANCHORS, gt.clone(), mask)
    # widened to (7..23, 3..19): it holds (12, 4), (20, 4), (12, 12), (20, 12)
    assert widened[0, 0].tolist() == [False, True, True, False, True, True]
    tal.stride_val = 0.0  # classic 8.0-8.3: no widening
    assert not tal.candidates_in_gts(ANCHORS, gt.clone(), mask).any()
    # a padded (invalid) box is not widened
    assert not TaskAlignedAssigner(num_classes=1).candidates_in_gts(ANCHORS, gt.clone(), torch.zeros(1, 1, 1)).any()


def test_assignment_of_a_hand_worked_scene() -> None:
    """gt0 (0, 0, 16, 16) class 0 holds anchors 0, 1, 3, 4; every prediction is gt0's box, so u = 1 there and
    t = s^0.5. topk 2 picks anchors 0 (s .9) and 4 (s .6); targets t / max t: 1 and sqrt(.6 / .9)."""
    tal = TaskAlignedAssigner(topk=2, num_classes=2)
    gt_box = torch.tensor([0.0, 0.0, 16.0, 16.0])
    pd_boxes = gt_box.expand(1, 6, 4).clone()
    scores = torch.zeros(1, 6, 2)
    scores[0, :, 0] = torch.tensor([0.9, 0.4, 0.99, 0.1, 0.6, 0.99])  # 2 and 5 lie outside gt0
    res = tal(scores, pd_boxes, ANCHORS, torch.tensor([[[0.0]]]), gt_box.view(1, 1, 4), torch.ones(1, 1, 1))
    assert res.fg_mask[0].tolist() == [True, False, False, False, True, False]
    assert res.scores[0, :, 0].tolist() == pytest.approx([1.0, 0, 0, 0, math.sqrt(0.6 / 0.9), 0], abs=1e-6)
    assert res.scores[0, :, 1].tolist() == [0.0] * 6
    assert res.bboxes[0, 0].tolist() == gt_box.tolist()


def test_an_anchor_claimed_twice_keeps_the_larger_iou() -> None:
    """gt0 (0, 0, 16, 16) holds anchors 0, 1, 3, 4; gt1, a 4 px box widened to (7..23, 3..19), holds 1, 2, 4, 5.
    Anchors 0 and 3 predict gt0, 1 predicts gt1, 4 predicts (10, 6, 18, 14) (CIoU about .10 with gt0, .23 with
    gt1), 2 predicts (14, 4, 22, 12) (about .02 with gt1) and 5 a far box. With topk 3 gt0 takes 0, 3, 4 and
    gt1 takes 1, 4, 2: anchor 4 is claimed twice and stays with gt1, its larger CIoU."""
    tal = TaskAlignedAssigner(topk=3, num_classes=2)
    gts = torch.tensor([[[0.0, 0.0, 16.0, 16.0], [13.0, 9.0, 17.0, 13.0]]])
    pd = torch.tensor([[[0.0, 0.0, 16.0, 16.0], [13.0, 9.0, 17.0, 13.0], [14.0, 4.0, 22.0, 12.0],
                        [0.0, 0.0, 16.0, 16.0], [10.0, 6.0, 18.0, 14.0], [100.0, 100.0, 110.0, 110.0]]])
    scores = torch.full((1, 6, 2), 0.5)
    res = tal(scores, pd, ANCHORS, torch.tensor([[[0.0], [1.0]]]), gts, torch.ones(1, 2, 1))
    assert res.fg_mask[0].tolist() == [True, True, True, True, True, False]
    assert res.gt_idx[0, :5].tolist() == [0, 1, 1, 0, 1]
    assert res.labels[0, :5].tolist() == [0, 1, 1, 0, 1]
    assert res.bboxes[0, 4].tolist() == gts[0, 1].tolist()


def _binary_entropy(v: float) -> float:
    return -((1 - v) * math.log(1 - v) + v * math.log(v))


def _bins(raw: torch.Tensor, y: int, x: int, sides: tuple[float, float, float, float]) -> None:
    """Set the 4 x 16 bin logits at cell (y, x) so that the expected distances are ``sides`` (each < 2)."""
    raw[0, :64, y, x] = -1e4
    for s, v in enumerate(sides):
        lo, frac = int(v), v - int(v)
        raw[0, s * 16 + lo, y, x] = math.log(1 - frac) if frac else 0.0
        if frac:
            raw[0, s * 16 + lo + 1, y, x] = math.log(frac)


def test_loss_parts_against_hand_computed_values() -> None:
    """A 32 x 32 input (anchors: P3 4 x 4, P4 2 x 2, P5 1 x 1), one gt (4, 4, 20, 20) of class 0.

    Candidates strictly inside: P3 (12, 12), P4 (8, 8), P5 (16, 16). Each predicts the gt box exactly
    (CIoU 1, box loss 0) with logit 1 (equal alignment, so every target is 1 and the score sum 3). Distances
    in stride units: P3 1, 1, 1, 1 (DFL 0); P4 .25, .25, .75, .75 (DFL H(.25)); P5 .375, .375, .125, .125
    (DFL (H(.375) + H(.125)) / 2), H the binary entropy. Every other logit is -2.
    """
    model = build_yolov8("n", 1, width_multiple=0.0625)
    raw = [torch.zeros(1, 65, 4, 4), torch.zeros(1, 65, 2, 2), torch.zeros(1, 65, 1, 1)]
    for r in raw:
        for yy in range(r.shape[2]):
            for xx in range(r.shape[3]):
                _bins(r, yy, xx, (1.0, 1.0, 1.0, 1.0))
        r[0, 64] = -2.0
    _bins(raw[1], 0, 0, (0.25, 0.25, 0.75, 0.75))
    _bins(raw[2], 0, 0, (0.375, 0.375, 0.125, 0.125))
    for r, (yy, xx) in zip(raw, ((1, 1), (0, 0), (0, 0)), strict=True):
        r[0, 64, yy, xx] = 1.0
    targets = torch.tensor([[0.0, 0.0, 12 / 32, 12 / 32, 16 / 32, 16 / 32]])
    total, items = V8DetectionLoss(model, {"box": 7.5, "cls": 0.5, "dfl": 1.5})(raw, targets)

    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    bce = (18 * softplus(-2.0) + 3 * (softplus(1.0) - 1.0)) / 3
    dfl = (0.0 + _binary_entropy(0.25) + (_binary_entropy(0.375) + _binary_entropy(0.125)) / 2) / 3
    assert items.tolist() == pytest.approx([0.0, 0.5 * bce, 1.5 * dfl], abs=1e-5)  # CIoU 1 in float32
    assert float(total) == pytest.approx(float(items.sum()), abs=1e-6)  # batch size 1


def test_no_objects_gives_only_the_class_loss() -> None:
    torch.manual_seed(0)
    model = build_yolov8("n", 2, width_multiple=0.0625).train()
    raw = model(torch.rand(2, 3, 32, 32))
    total, items = V8DetectionLoss(model, {})(raw, torch.zeros(0, 6))
    scores = torch.cat([r[:, 64:].detach().reshape(2, 2, -1) for r in raw], 2)
    expected_cls = 0.5 * float(torch.nn.functional.softplus(scores.double()).sum())  # score sum clamped to 1
    # the loss sums ~10^3 float32 terms in an order that depends on the thread count: 1e-4 relative
    assert items.tolist() == pytest.approx([0.0, expected_cls, 0.0], rel=1e-4)
    assert float(total.detach()) == pytest.approx(2 * expected_cls, rel=1e-4)
    total.backward()  # the graph reaches the box branch even without foreground
    assert model.model[-1].cv2[0][-1].weight.grad is not None


def test_family_loss_contract() -> None:
    import prunebench as pb

    fam = pb.get_model_family("yolov8n", width_multiple=0.0625)
    assert fam.loss_names == ("box", "cls", "dfl")
    model = fam.build(nc=1).train()
    out = model(torch.rand(1, 3, 64, 64))
    total, items = fam.loss(model, {**fam.default_hyp(), "imgsz": 64})(out, torch.tensor([[0, 0, .5, .5, .4, .3]]))
    assert total.ndim == 0
    assert items.shape == (3,)
    assert all(float(v) > 0 for v in items)
