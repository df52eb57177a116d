"""YOLOv5-convention detection metrics: hand-worked cases for matching, AP, P/R at max F1."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from prunebench.metrics.detection import (
    IOU_THRESHOLDS,
    DetectionStats,
    ap_per_class,
    box_iou,
    compute_ap,
    match_predictions,
    smooth,
)


def _ap_by_hand(recall: list[float], precision: list[float]) -> float:
    """101-point interpolation + trapezoid, written independently in plain Python."""
    mrec = [0.0, *recall, 1.0]
    mpre = [1.0, *precision, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    ys = []
    for k in range(101):
        x = k / 100
        # np.interp semantics: rightmost segment containing x; at duplicates the last value wins
        j = max(i for i in range(len(mrec)) if mrec[i] <= x)
        if j == len(mrec) - 1:
            ys.append(mpre[j])
        else:
            x0, x1 = mrec[j], mrec[j + 1]
            ys.append(mpre[j] if x1 == x0 else mpre[j] + (mpre[j + 1] - mpre[j]) * (x - x0) / (x1 - x0))
    return sum((ys[k] + ys[k + 1]) / 2 * 0.01 for k in range(100))


def test_box_iou_values() -> None:
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    b = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    iou = box_iou(a, b)
    assert iou.shape == (1, 3)
    assert iou[0, 0].item() == pytest.approx(1.0, abs=1e-6)
    assert iou[0, 1].item() == pytest.approx(50 / 150, abs=1e-6)
    assert iou[0, 2].item() == 0.0


def test_perfect_detector_scores_0995() -> None:
    s = DetectionStats()
    rng = np.random.default_rng(0)
    for _ in range(5):
        xy = rng.uniform(0, 200, (4, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(10, 50, (4, 2))], 1)
        cls = rng.integers(0, 3, (4, 1)).astype(np.float32)
        labels = np.concatenate([cls, boxes], 1)
        dets = np.concatenate([boxes, rng.uniform(0.5, 1, (4, 1)), cls], 1)
        s.update(torch.tensor(dets, dtype=torch.float32), torch.tensor(labels, dtype=torch.float32))
    m = s.compute()
    assert m.map50 == pytest.approx(0.995, abs=1e-12)
    assert m.map50_95 == pytest.approx(0.995, abs=1e-12)
    assert m.precision == pytest.approx(1.0)
    assert m.recall == pytest.approx(1.0)
    assert m.fitness == pytest.approx(0.995)
    json.dumps(m.to_dict())  # serialisable


def test_recall_09_at_precision_1_gives_095() -> None:
    tp = np.ones((9, 1), bool)
    conf = np.linspace(0.9, 0.5, 9)
    res = ap_per_class(tp, conf, np.zeros(9), np.zeros(10))
    # exact: 0.9 (flat part) + 0.05 (linear drop from recall 0.9 to 1.0 on the 0.01 grid)
    assert res.ap[0, 0] == pytest.approx(0.95, abs=1e-12)
    assert res.ap[0, 0] == pytest.approx(_ap_by_hand([i / 10 for i in range(1, 10)], [1.0] * 9), abs=1e-12)


def test_zigzag_pr_curve() -> None:
    pattern = [1, 0, 1, 0, 0, 1, 1, 0, 1, 0]  # TP/FP in confidence order; 6 labels
    tp = np.array(pattern, bool)[:, None]
    conf = np.linspace(0.95, 0.05, len(pattern))
    res = ap_per_class(tp, conf, np.zeros(len(pattern)), np.zeros(6))
    tpc = np.cumsum(pattern)
    fpc = np.cumsum([1 - x for x in pattern])
    recall = [t / 6 for t in tpc]
    precision = [t / (t + f) for t, f in zip(tpc, fpc, strict=True)]
    assert res.ap[0, 0] == pytest.approx(_ap_by_hand(recall, precision), abs=1e-9)
    ap, mpre, _ = compute_ap(np.array(recall), np.array(precision))
    assert np.all(np.diff(mpre) <= 0)  # the envelope is monotone
    assert 0.4 < ap < 0.8


def test_p_r_at_max_f1_single_class() -> None:
    # 4 labels; detections TP, TP, TP, FP, FP (conf descending): best F1 at 3 TPs: P=1, R=0.75
    tp = np.array([1, 1, 1, 0, 0], bool)[:, None]
    conf = np.array([0.9, 0.8, 0.7, 0.3, 0.2])
    res = ap_per_class(tp, conf, np.zeros(5), np.zeros(4))
    i = res.conf_index
    # the smoothed peak sits just below conf 0.7, where P is interpolated between 1 (at 0.7) and 0.75 (at 0.3)
    assert 0.6 < res.px[i] <= 0.7
    assert res.r[0] == pytest.approx(0.75, abs=1e-9)
    assert res.p[0] == pytest.approx(1 - 0.25 * (0.7 - res.px[i]) / 0.4, abs=1e-9)
    assert res.f1[0] == pytest.approx(2 * res.p[0] * 0.75 / (res.p[0] + 0.75), abs=1e-9)
    assert res.tp[0] == 3
    assert res.fp[0] == 0


def test_p_r_one_confidence_for_all_classes() -> None:
    # class 0 perfect at high conf; class 1 has only low-confidence TPs, so its R at the chosen conf is 0
    tp = np.array([1, 1, 1, 1], bool)[:, None]
    conf = np.array([0.95, 0.9, 0.05, 0.04])
    pred_cls = np.array([0, 0, 1, 1])
    res = ap_per_class(tp, conf, pred_cls, np.array([0, 0, 1, 1]))
    i = res.conf_index
    assert res.p.shape == (2,)
    assert res.r[0] == pytest.approx(res.r_curve[0, i])
    assert res.r[1] == pytest.approx(res.r_curve[1, i])
    assert res.f1_curve.shape == (2, 1000)
    assert np.argmax(smooth(res.f1_curve.mean(0), 0.1)) == i


def test_matching_lowest_detection_index_wins() -> None:
    labels = torch.tensor([[0, 0.0, 0.0, 10.0, 10.0]])
    dets = torch.tensor([[0.0, 0.0, 9.0, 10.0, 0.9, 0], [0.0, 0.0, 10.0, 10.0, 0.8, 0]])
    correct = match_predictions(dets, labels, IOU_THRESHOLDS)
    # detection 0 (IoU 0.9) keeps the label at thresholds <= 0.9 even though detection 1 has IoU 1.0
    assert correct[0].tolist() == [True] * 9 + [False]
    assert correct[1].tolist() == [False] * 9 + [True]


def test_matching_class_and_no_reassignment() -> None:
    labels = torch.tensor([[0, 0.0, 0.0, 10.0, 10.0], [1, 0.0, 0.0, 10.0, 10.0], [0, 0.0, 1.0, 10.0, 10.0]])
    dets = torch.tensor([[0.0, 0.0, 10.0, 10.0, 0.9, 0], [0.0, 0.0, 10.0, 10.0, 0.8, 0]])
    correct = match_predictions(dets, labels, IOU_THRESHOLDS)
    # both detections prefer label 0 (IoU 1.0); label 0 keeps detection 0; detection 1 is not re-assigned
    # to label 2 (IoU 0.9) even though it is free
    assert correct[0].all()
    assert not correct[1].any()


def test_images_without_labels_or_predictions() -> None:
    s = DetectionStats()
    s.update(torch.zeros((0, 6)), torch.tensor([[0, 0.0, 0.0, 10.0, 10.0]]))  # missed label
    s.update(torch.tensor([[0.0, 0.0, 10.0, 10.0, 0.9, 0]]), torch.zeros((0, 5)))  # false positive
    s.update(torch.tensor([[0.0, 0.0, 10.0, 10.0, 0.5, 0]]), torch.tensor([[0, 0.0, 0.0, 10.0, 10.0]]))
    m = s.compute(names=["bud"])
    assert m.n_images == 3
    assert m.n_labels == 2
    assert list(m.per_class) == ["bud"]
    # TP at conf 0.5, FP at 0.9: recall 0.5; AP = envelope 0.5 up to recall 0.5
    assert m.map50 == pytest.approx(_ap_by_hand([0.0, 0.5], [0.0, 0.5]), abs=1e-9)


def test_nothing_matched_reports_zero() -> None:
    s = DetectionStats()
    s.update(torch.tensor([[50.0, 50.0, 60.0, 60.0, 0.9, 0]]), torch.tensor([[0, 0.0, 0.0, 10.0, 10.0]]))
    m = s.compute()
    assert (m.precision, m.recall, m.map50, m.map50_95) == (0.0, 0.0, 0.0, 0.0)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\[n, 6\]"):
        DetectionStats().update(torch.zeros((2, 5)), torch.zeros((0, 5)))
