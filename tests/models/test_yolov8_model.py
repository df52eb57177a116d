"""YOLOv8 model: output shapes, bias init, strides, DFL and anchor-free decode on hand-worked cases, fuse, NMS."""

from __future__ import annotations

import math

import pytest
import torch

from prunebench.models.yolov8.model import build_yolov8, fuse_model
from prunebench.models.yolov8.modules import DFL, C2f, dist2bbox, make_anchors


def _tiny(nc: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_yolov8("n", nc, width_multiple=0.0625)


def test_train_and_eval_outputs() -> None:
    model = _tiny(3)
    x = torch.rand(2, 3, 64, 96)
    model.train()
    raw = model(x)
    assert [tuple(t.shape) for t in raw] == [(2, 67, 8, 12), (2, 67, 4, 6), (2, 67, 2, 3)]
    model.eval()
    y, raw_eval = model(x)
    assert tuple(y.shape) == (2, 7, 8 * 12 + 4 * 6 + 2 * 3)
    assert len(raw_eval) == 3
    assert float(y[:, 4:].min()) >= 0.0  # probabilities, no objectness
    assert float(y[:, 4:].max()) <= 1.0
    assert model.stride.tolist() == [8.0, 16.0, 32.0]


@pytest.mark.parametrize(("nc", "biases"), [(80, (-11.5366, -10.1503, -8.7641)), (1, (-7.1546, -5.7683, -4.3820))])
def test_bias_init(nc: int, biases: tuple[float, float, float]) -> None:
    det = build_yolov8("n", nc, width_multiple=0.0625).model[-1]
    for i, b in enumerate(biases):
        assert det.cv3[i][-1].bias.tolist() == pytest.approx([b] * nc, abs=1e-4)
        assert det.cv2[i][-1].bias.tolist() == [2.0] * 64
        assert b == pytest.approx(math.log(5 / nc / (640 / (8 * 2 ** i)) ** 2), abs=1e-4)


def test_dfl_expectation_by_hand() -> None:
    dfl = DFL(16)
    logits = torch.full((1, 64, 1), -1e4)
    logits[0, 0 * 16 + 2] = logits[0, 0 * 16 + 3] = 0.0  # side 0: half at bin 2, half at bin 3 -> 2.5
    logits[0, 1 * 16 + 7] = 0.0  # side 1: all at bin 7 -> 7
    logits[0, 2 * 16:3 * 16] = 0.0  # side 2: uniform over 0..15 -> 7.5
    logits[0, 3 * 16 + 0] = math.log(0.75)  # side 3: 0.75 at bin 0, 0.25 at bin 1 -> 0.25
    logits[0, 3 * 16 + 1] = math.log(0.25)
    assert dfl(logits).view(-1).tolist() == pytest.approx([2.5, 7.0, 7.5, 0.25], abs=1e-5)
    assert not dfl.conv.weight.requires_grad


def test_anchors_and_dist2bbox_by_hand() -> None:
    feats = [torch.zeros(1, 1, 2, 3), torch.zeros(1, 1, 1, 2)]
    points, strides = make_anchors(feats, [8, 16])
    assert points.tolist() == [[0.5, 0.5], [1.5, 0.5], [2.5, 0.5], [0.5, 1.5], [1.5, 1.5], [2.5, 1.5],
                               [0.5, 0.5], [1.5, 0.5]]
    assert strides.view(-1).tolist() == [8.0] * 6 + [16.0] * 2
    # anchor (1.5, 0.5), distances l, t, r, b = 2.5, 1, 3, 0.5 -> x1 y1 x2 y2 = -1, -0.5, 4.5, 1
    d = torch.tensor([[2.5, 1.0, 3.0, 0.5]])
    a = torch.tensor([[1.5, 0.5]])
    assert dist2bbox(d, a, xywh=False).tolist() == [[-1.0, -0.5, 4.5, 1.0]]
    assert dist2bbox(d, a, xywh=True).tolist() == [[1.75, 0.25, 5.5, 1.5]]


def test_detect_decode_by_hand() -> None:
    """One anchor of P3 decoded end to end: bins -> distances -> xywh in pixels, logit 0 -> probability 0.5."""
    model = _tiny(1).eval()
    det = model.model[-1]
    raw = [torch.full((1, 65, 4, 4), -1e4), torch.full((1, 65, 2, 2), -1e4), torch.full((1, 65, 1, 1), -1e4)]
    for r in raw:
        r[:, 0:64:16] = 0.0  # every side: all mass at bin 0 (distance 0)
    cell = raw[0][0, :, 0, 1]  # P3 row 0, column 1: anchor (1.5, 0.5) in grid units
    cell[:64] = -1e4
    for side, (lo, w_lo) in enumerate(((2, 0.5), (1, 1.0), (3, 1.0), (0, 0.5))):  # 2.5, 1, 3, 0.5
        cell[side * 16 + lo] = math.log(w_lo)
        if w_lo < 1:
            cell[side * 16 + lo + 1] = math.log(1 - w_lo)
    cell[64] = 0.0
    y = det.decode(raw)
    assert y.shape == (1, 5, 21)
    assert y[0, :, 1].tolist() == pytest.approx([14.0, 2.0, 44.0, 12.0, 0.5], abs=1e-4)
    assert y[0, :4, 0].tolist() == pytest.approx([4.0, 4.0, 0.0, 0.0], abs=1e-4)  # zero-size box at (4, 4)


def test_c2f_halves_follow_the_layers() -> None:
    c2f = C2f(8, 8, n=1, shortcut=True)
    assert c2f.split_sizes() == (4, 4)
    x = torch.rand(1, 8, 4, 4)
    t = c2f.cv1(x)
    a, b = t.chunk(2, 1)  # the official split
    ref = c2f.cv2(torch.cat((a, b, c2f.m[0](b)), 1))
    assert torch.allclose(c2f(x), ref)


def test_fuse_keeps_outputs() -> None:
    model = _tiny(2)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y, fy = model(x)[0], fuse_model(model)(x)[0]
    assert torch.allclose(y, fy, rtol=1e-4, atol=1e-3)


def test_postprocess_gives_the_suite_detection_format() -> None:
    import prunebench as pb

    fam = pb.get_model_family("yolov8n", width_multiple=0.0625)
    y = torch.zeros(1, 6, 3)  # 2 classes, 3 anchors: xywh + probabilities
    y[0, :, 0] = torch.tensor([50, 50, 20, 20, 0.9, 0.1])
    y[0, :, 1] = torch.tensor([51, 50, 20, 20, 0.8, 0.7])  # overlaps box 0 (class 0) but its best class is 1
    y[0, :, 2] = torch.tensor([10, 10, 4, 4, 0.0005, 0.0002])  # below conf_thres
    det = fam.postprocess((y, []), conf_thres=0.001, iou_thres=0.7, multi_label=True)[0]
    rows = sorted(det.tolist(), key=lambda r: -r[4])
    # class-aware NMS per class: class 0 keeps box 0 (0.9) over box 1 (0.8); class 1 keeps box 1 (0.7) over box 0
    assert len(rows) == 2
    assert rows[0] == pytest.approx([40, 40, 60, 60, 0.9, 0.0])
    assert rows[1] == pytest.approx([41, 40, 61, 60, 0.7, 1.0])
