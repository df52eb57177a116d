"""Box helpers: conversions, IoU variants, letterbox undo and clipping (answers worked out by hand)."""

from __future__ import annotations

import math

import pytest
import torch

from prunebench.models.ops import bbox_iou, box_iou, clip_boxes, scale_boxes, xywh2xyxy, xyxy2xywh


def test_conversions_round_trip() -> None:
    xywh = torch.tensor([[50.0, 40.0, 20.0, 10.0]])
    xyxy = xywh2xyxy(xywh)
    assert xyxy.tolist() == [[40.0, 35.0, 60.0, 45.0]]
    assert torch.equal(xyxy2xywh(xyxy), xywh)
    assert xywh.tolist() == [[50.0, 40.0, 20.0, 10.0]]  # inputs untouched


def test_box_iou_matrix() -> None:
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    b = torch.tensor([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0]])
    iou = box_iou(a, b)
    assert iou.shape == (1, 3)
    assert iou[0].tolist() == pytest.approx([50 / 150, 0.0, 1.0], abs=1e-6)


def test_bbox_iou_variants() -> None:
    b1 = torch.tensor([[0.0, 0.0, 2.0, 2.0]])  # xyxy
    b2 = torch.tensor([[1.0, 0.0, 3.0, 1.0]])
    iou = 1 / (4 + 2 - 1)
    assert bbox_iou(b1, b2, xywh=False).item() == pytest.approx(iou, abs=1e-6)
    # GIoU: enclosing box 3 x 2 = 6, union 5
    assert bbox_iou(b1, b2, xywh=False, GIoU=True).item() == pytest.approx(iou - (6 - 5) / 6, abs=1e-6)
    # DIoU: centres (1, 1) and (2, 0.5): rho2 = 1.25; diagonal^2 = 9 + 4
    diou = iou - 1.25 / 13
    assert bbox_iou(b1, b2, xywh=False, DIoU=True).item() == pytest.approx(diou, abs=1e-6)
    v = 4 / math.pi ** 2 * (math.atan(2 / 1) - math.atan(2 / 2)) ** 2
    alpha = v / (v - iou + 1)
    assert bbox_iou(b1, b2, xywh=False, CIoU=True).item() == pytest.approx(diou - v * alpha, abs=1e-6)


def test_scale_boxes_undoes_the_letterbox() -> None:
    # a 200 x 100 (w x h) image letterboxed into 64 x 64: gain 0.32, vertical padding (64 - 32) / 2 = 16
    boxes = torch.tensor([[0.0, 16.0, 64.0, 48.0], [-5.0, 10.0, 32.0, 60.0]])
    out = scale_boxes((64, 64), boxes.clone(), (100, 200))
    assert out[0].tolist() == pytest.approx([0.0, 0.0, 200.0, 100.0])
    assert out[1].tolist() == pytest.approx([0.0, 0.0, 100.0, 100.0])  # clipped to the image
    same = scale_boxes((64, 64), boxes.clone(), (100, 200), ratio_pad=((0.32, 0.32), (0.0, 16.0)))
    assert torch.allclose(same, out)


def test_clip_boxes_in_place() -> None:
    b = torch.tensor([[-1.0, -2.0, 700.0, 300.0]])
    assert clip_boxes(b, (200, 640)) is b
    assert b.tolist() == [[0.0, 0.0, 640.0, 200.0]]
