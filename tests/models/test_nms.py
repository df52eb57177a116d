"""NMS: hand-built YOLOv5 cases and agreement with a slow greedy reference on random boxes."""

from __future__ import annotations

import pytest
import torch

from prunebench.models.nms import MAX_WH, nms, non_max_suppression
from prunebench.models.yolov5.family import YOLOv5n


def _ref_nms(boxes: torch.Tensor, scores: torch.Tensor, thr: float) -> list[int]:
    """Slow greedy NMS, one box at a time (torchvision's CPU algorithm, stable order for ties)."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    b = boxes.tolist()
    area = [(x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in b]
    removed = [False] * len(b)
    keep = []
    for pos, i in enumerate(order):
        if removed[i]:
            continue
        keep.append(i)
        for j in order[pos + 1:]:
            if removed[j]:
                continue
            xx1, yy1 = max(b[i][0], b[j][0]), max(b[i][1], b[j][1])
            xx2, yy2 = min(b[i][2], b[j][2]), min(b[i][3], b[j][3])
            inter = max(0.0, xx2 - xx1) * max(0.0, yy2 - yy1)
            if inter / (area[i] + area[j] - inter) > thr:
                removed[j] = True
    return keep


def _random_boxes(n: int, seed: int, size: float = 100.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 4 + 1
    boxes = torch.cat((xy, xy + wh), 1).double()  # double: the reference computes in Python floats
    scores = (torch.rand(n, generator=g) * 10).round() / 10  # many exact ties
    return boxes, scores


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("block", [7, 64, 1024])
def test_nms_matches_greedy_reference(seed: int, block: int) -> None:
    boxes, scores = _random_boxes(300, seed)
    thr = [0.3, 0.45, 0.6, 0.7, 0.5, 0.1][seed]
    got = nms(boxes, scores, thr, block=block).tolist()
    assert got == _ref_nms(boxes, scores, thr)
    assert nms(boxes, scores, thr, max_keep=10, block=block).tolist() == got[:10]


def test_nms_chain_needs_several_rounds() -> None:
    # a chain where each box only overlaps its neighbour: A suppresses B, so C survives, D is suppressed...
    boxes = torch.tensor([[i * 6.0, 0.0, i * 6.0 + 10.0, 10.0] for i in range(9)])
    scores = torch.linspace(1.0, 0.1, 9)
    assert nms(boxes, scores, 0.2).tolist() == [0, 2, 4, 6, 8] == _ref_nms(boxes, scores, 0.2)


def test_nms_empty() -> None:
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0


def _pred(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)[None]


def test_two_classes_overlap_kept_same_class_suppressed() -> None:
    # x, y, w, h, obj, cls0, cls1
    pred = _pred([
        [50, 50, 20, 20, 0.9, 0.9, 0.1],   # class 0, score 0.81
        [51, 50, 20, 20, 0.9, 0.2, 0.8],   # class 1 overlapping: kept (class-aware)
        [52, 51, 20, 20, 0.8, 0.9, 0.1],   # class 0 overlapping the first: suppressed
        [150, 150, 10, 10, 0.5, 0.6, 0.4],  # far away: kept
        [10, 10, 5, 5, 0.0005, 1.0, 0.0],  # objectness below conf_thres: dropped before scoring
    ])
    out = YOLOv5n().postprocess((pred, []), conf_thres=0.001, iou_thres=0.6)
    assert len(out) == 1
    det = out[0]
    assert det.shape == (3, 6)
    assert det[:, 5].tolist() == [0.0, 1.0, 0.0]
    assert det[:, 4].tolist() == pytest.approx([0.81, 0.72, 0.30])
    assert det[0, :4].tolist() == pytest.approx([40, 40, 60, 60])
    assert det[2, :4].tolist() == pytest.approx([145, 145, 155, 155])


def test_conf_threshold_applies_to_obj_and_to_score() -> None:
    pred = _pred([[50, 50, 20, 20, 0.3, 0.5, 0.0], [150, 150, 20, 20, 0.2, 0.9, 0.0]])
    det = non_max_suppression(pred, conf_thres=0.16, iou_thres=0.5)[0]
    assert det[:, 4].tolist() == pytest.approx([0.18])  # 0.3 * 0.5 > 0.16; obj 0.2 passes but 0.18 ...
    det = non_max_suppression(pred, conf_thres=0.2, iou_thres=0.5)[0]
    assert det.shape[0] == 0  # 0.15 and obj 0.2 (not > 0.2)


def test_max_det_and_order() -> None:
    rows = [[20.0 * i + 10, 10, 8, 8, 0.9 - i * 0.01, 1.0] for i in range(40)]
    out = non_max_suppression(_pred(rows), conf_thres=0.001, iou_thres=0.5, max_det=7)[0]
    assert out.shape == (7, 6)
    assert out[:, 4].tolist() == pytest.approx([0.9 - i * 0.01 for i in range(7)])


def test_multi_label() -> None:
    pred = _pred([[50, 50, 20, 20, 0.9, 0.8, 0.6, 0.0005]])
    single = non_max_suppression(pred, conf_thres=0.001, iou_thres=0.5)[0]
    multi = non_max_suppression(pred, conf_thres=0.001, iou_thres=0.5, multi_label=True)[0]
    assert single[:, 5].tolist() == [0.0]
    assert multi[:, 5].tolist() == [0.0, 1.0]  # class 2 scores 0.00045 < conf
    assert multi[:, 4].tolist() == pytest.approx([0.72, 0.54])
    one_class = _pred([[50, 50, 20, 20, 0.9, 0.8]])
    assert non_max_suppression(one_class, 0.001, 0.5, multi_label=True)[0].shape == (1, 6)  # nc=1: ignored


def test_matches_reference_on_random_predictions_with_class_offset() -> None:
    g = torch.Generator().manual_seed(3)
    n, nc = 2000, 4
    xy = torch.rand(n, 2, generator=g) * 640
    wh = torch.rand(n, 2, generator=g) * 120 + 2
    obj = torch.rand(n, 1, generator=g)
    cls = torch.rand(n, nc, generator=g)
    pred = torch.cat((xy, wh, obj, cls), 1)[None]
    out = non_max_suppression(pred, conf_thres=0.01, iou_thres=0.6, max_det=300)[0]
    # reference: the same candidate list, a slow greedy NMS on class-offset boxes
    x = pred[0][pred[0, :, 4] > 0.01].clone()
    x[:, 5:] *= x[:, 4:5]
    conf, j = x[:, 5:].max(1)
    box = torch.cat((x[:, :2] - x[:, 2:4] / 2, x[:, :2] + x[:, 2:4] / 2), 1)
    keep = conf > 0.01
    box, conf, j = box[keep], conf[keep], j[keep]
    order = torch.sort(conf, descending=True, stable=True).indices
    box, conf, j = box[order], conf[order], j[order]
    ref = _ref_nms(box + j[:, None].float() * MAX_WH, conf, 0.6)[:300]
    assert out.shape[0] == len(ref)
    assert torch.equal(out[:, :4], box[ref])
    assert torch.equal(out[:, 4], conf[ref])


def test_batch_and_empty_images() -> None:
    pred = torch.zeros(3, 10, 7)
    pred[1, 0] = torch.tensor([50, 50, 10, 10, 0.9, 0.9, 0.1])
    out = non_max_suppression(pred, 0.001, 0.6)
    assert [o.shape[0] for o in out] == [0, 1, 0]
    assert pred[1, 0, 5].item() == pytest.approx(0.9)  # the input is not modified


def test_nms_many_kept_boxes_across_blocks() -> None:
    # 3,000 disjoint boxes: every one is kept, so later blocks compare against many kept boxes in chunks
    i = torch.arange(3000, dtype=torch.float32)
    boxes = torch.stack((i * 10, i * 0, i * 10 + 5, i * 0 + 5), 1)
    scores = torch.rand(3000, generator=torch.Generator().manual_seed(0))
    keep = nms(boxes, scores, 0.5, block=128)
    assert keep.tolist() == torch.sort(scores, descending=True, stable=True).indices.tolist()
