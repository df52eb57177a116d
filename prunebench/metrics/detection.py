"""Detection metrics in YOLOv5's val.py convention: IoU matching, AP per class, P/R/F1 curves, mAP.

The arithmetic mirrors YOLOv5 v7.0 (``utils/metrics.py`` and ``val.py``) so that the numbers agree with
the official functions on the same inputs, with one deliberate difference: detections are sorted by
confidence with a **stable** sort (the official ``np.argsort(-conf)`` is not stable, so tied confidences,
common under fp16, may be ordered differently from run to run there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = [
    "IOU_THRESHOLDS",
    "APResult",
    "DetectionMetrics",
    "DetectionStats",
    "ap_per_class",
    "box_iou",
    "compute_ap",
    "match_predictions",
    "smooth",
]

#: the ten IoU thresholds 0.50:0.05:0.95 (float32 as in val.py)
IOU_THRESHOLDS = torch.linspace(0.5, 0.95, 10)

_N_POINTS = 1000  # points of the confidence axis of the P/R/F1 curves


def box_iou(box1: torch.Tensor, box2: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """IoU of every box in ``box1`` ``[N, 4]`` with every box in ``box2`` ``[M, 4]`` (x1, y1, x2, y2) -> ``[N, M]``.

    ``inter / (area1 + area2 - inter + eps)``, evaluated in that order as YOLOv5 does.
    """
    lo1, hi1 = box1[:, None, :2], box1[:, None, 2:]
    lo2, hi2 = box2[None, :, :2], box2[None, :, 2:]
    inter = (torch.min(hi1, hi2) - torch.max(lo1, lo2)).clamp(0).prod(2)
    area1 = (hi1 - lo1).prod(2)
    area2 = (hi2 - lo2).prod(2)
    return inter / (area1 + area2 - inter + eps)


def match_predictions(detections: torch.Tensor, labels: torch.Tensor, iouv: torch.Tensor) -> torch.Tensor:
    """Which detections are true positives at each IoU threshold (val.py ``process_batch``).

    :param detections: ``[N, 6]`` x1, y1, x2, y2, conf, cls (in NMS order: highest confidence first)
    :param labels: ``[M, 5]`` cls, x1, y1, x2, y2 in the same pixel space
    :param iouv: ``[T]`` IoU thresholds
    :returns: ``[N, T]`` bool

    Per threshold: candidate pairs have IoU >= threshold and the same class; sorted by IoU descending,
    each detection keeps its highest-IoU label, then each label keeps the pair with the lowest detection
    index. A detection whose best label went to another detection is not re-assigned.
    """
    n, t = detections.shape[0], iouv.shape[0]
    correct = np.zeros((n, t), dtype=bool)
    if n and labels.shape[0]:
        iou = box_iou(labels[:, 1:], detections[:, :4])  # [M, N]
        same_class = labels[:, 0:1] == detections[:, 5]
        for ti in range(t):
            li, di = torch.where((iou >= iouv[ti]) & same_class)
            if not li.shape[0]:
                continue
            # [label, detection, iou] as float32, like the official torch.cat of indices and IoUs
            m = torch.stack((li.to(iou.dtype), di.to(iou.dtype), iou[li, di]), 1).cpu().numpy()
            if m.shape[0] > 1:
                m = m[m[:, 2].argsort()[::-1]]  # IoU descending (numpy's default sort, as upstream)
                m = m[np.unique(m[:, 1], return_index=True)[1]]  # one label per detection: best IoU
                m = m[np.unique(m[:, 0], return_index=True)[1]]  # one detection per label: lowest index
            correct[m[:, 1].astype(int), ti] = True
    return torch.tensor(correct, dtype=torch.bool, device=iouv.device)


def smooth(y: np.ndarray, f: float = 0.05) -> np.ndarray:
    """Box filter of fraction ``f`` (odd number of taps ``round(len(y)·f·2)//2 + 1``), edge-padded."""
    nf = round(len(y) * f * 2) // 2 + 1
    pad = np.ones(nf // 2)
    yp = np.concatenate((pad * y[0], y, pad * y[-1]), 0)
    return np.convolve(yp, np.ones(nf) / nf, mode="valid")


def compute_ap(recall: np.ndarray, precision: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AP of one PR curve: precision envelope, 101-point interpolation, trapezoid rule.

    Returns ``(ap, mpre, mrec)`` where ``mrec``/``mpre`` are the sentinel-padded recall and envelope.
    """
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    ap = float(np.trapezoid(np.interp(x, mrec, mpre), x))
    return ap, mpre, mrec


@dataclass
class APResult:
    """What :func:`ap_per_class` returns; rows follow ``classes`` (the classes that have labels)."""

    tp: np.ndarray  # [nc] true positives at the chosen confidence (r·n_labels, rounded)
    fp: np.ndarray  # [nc] false positives at the chosen confidence
    p: np.ndarray  # [nc] precision at the max-F1 confidence
    r: np.ndarray  # [nc] recall at the max-F1 confidence
    f1: np.ndarray  # [nc]
    ap: np.ndarray  # [nc, T] AP at each IoU threshold
    classes: np.ndarray  # [nc] int class ids
    n_labels: np.ndarray  # [nc] labels per class
    px: np.ndarray  # [1000] confidence axis (also the recall axis of pr_precision)
    p_curve: np.ndarray  # [nc, 1000] precision against confidence
    r_curve: np.ndarray  # [nc, 1000] recall against confidence
    f1_curve: np.ndarray  # [nc, 1000] F1 against confidence
    pr_precision: np.ndarray  # [nc, 1000] precision envelope against recall px, at the first IoU threshold
    conf_index: int  # index into px of the confidence where the smoothed mean F1 peaks
    names: list[str] = field(default_factory=list)


def ap_per_class(
    tp: np.ndarray,
    conf: np.ndarray,
    pred_cls: np.ndarray,
    target_cls: np.ndarray,
    names: Mapping[int, str] | Sequence[str] | None = None,
    eps: float = 1e-16,
) -> APResult:
    """Average precision per class and the P/R/F1 curves, YOLOv5 convention.

    :param tp: ``[n, T]`` bool: detection is a true positive at each IoU threshold
    :param conf: ``[n]`` confidences; :param pred_cls: ``[n]`` predicted classes
    :param target_cls: ``[m]`` class of every label
    :param names: class names (by class id); default ``str(class id)``

    Detections are sorted by confidence with a stable sort. Only classes with labels get a row.
    """
    tp = np.asarray(tp)
    conf = np.asarray(conf)
    pred_cls = np.asarray(pred_cls)
    target_cls = np.asarray(target_cls)
    if tp.ndim == 1:
        tp = tp[:, None]
    order = np.argsort(-conf, kind="stable")
    tp, conf, pred_cls = tp[order], conf[order], pred_cls[order]

    classes, nt = np.unique(target_cls, return_counts=True)
    nc = classes.shape[0]
    px = np.linspace(0, 1, _N_POINTS)
    ap = np.zeros((nc, tp.shape[1]))
    p = np.zeros((nc, _N_POINTS))
    r = np.zeros((nc, _N_POINTS))
    pr_precision = np.zeros((nc, _N_POINTS))
    for ci, c in enumerate(classes):
        sel = pred_cls == c
        n_l = nt[ci]
        n_p = sel.sum()
        if n_p == 0 or n_l == 0:
            continue
        fpc = (1 - tp[sel]).cumsum(0)
        tpc = tp[sel].cumsum(0)
        recall = tpc / (n_l + eps)
        r[ci] = np.interp(-px, -conf[sel], recall[:, 0], left=0)
        precision = tpc / (tpc + fpc)
        p[ci] = np.interp(-px, -conf[sel], precision[:, 0], left=1)
        for j in range(tp.shape[1]):
            ap[ci, j], mpre, mrec = compute_ap(recall[:, j], precision[:, j])
            if j == 0:
                pr_precision[ci] = np.interp(px, mrec, mpre)

    f1 = 2 * p * r / (p + r + eps)
    i = int(smooth(f1.mean(0), 0.1).argmax()) if nc else 0
    pi, ri, f1i = p[:, i], r[:, i], f1[:, i]
    tpi = (ri * nt).round()
    fpi = (tpi / (pi + eps) - tpi).round()
    return APResult(
        tp=tpi, fp=fpi, p=pi, r=ri, f1=f1i, ap=ap, classes=classes.astype(int), n_labels=nt, px=px,
        p_curve=p, r_curve=r, f1_curve=f1, pr_precision=pr_precision, conf_index=i,
        names=[_class_name(names, int(c)) for c in classes],
    )


def _class_name(names: Mapping[int, str] | Sequence[str] | None, c: int) -> str:
    if names is None:
        return str(c)
    if isinstance(names, Mapping):
        return str(names.get(c, c))
    return str(names[c]) if 0 <= c < len(names) else str(c)


@dataclass
class DetectionMetrics:
    """P, R, F1, mAP50 and mAP50-95 (class means) with per-class figures and curves for plots."""

    precision: float
    recall: float
    f1: float
    map50: float
    map50_95: float
    per_class: dict[str, dict[str, float]]
    nc: int
    n_images: int
    n_labels: int
    #: px (1000), p_curve / r_curve / f1_curve ([nc][1000] against confidence), pr_recall (= px),
    #: pr_precision ([nc][1000] at IoU 0.5), names (row labels), conf (confidence of the reported P/R)
    curves: dict[str, Any] = field(default_factory=dict)
    #: per image ``(detections [n, 6], labels [m, 5])`` when DetectionStats kept them (for COCO scoring);
    #: not part of :meth:`to_dict`
    images: list[tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False, compare=False)

    @property
    def fitness(self) -> float:
        """YOLOv5's checkpoint-selection score: 0.1·mAP50 + 0.9·mAP50-95."""
        return 0.1 * self.map50 + 0.9 * self.map50_95

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (plain floats, ints, lists and dicts)."""
        return {
            "precision": float(self.precision),
            "recall": float(self.recall),
            "f1": float(self.f1),
            "map50": float(self.map50),
            "map50_95": float(self.map50_95),
            "fitness": float(self.fitness),
            "per_class": {k: {kk: float(vv) for kk, vv in v.items()} for k, v in self.per_class.items()},
            "nc": int(self.nc),
            "n_images": int(self.n_images),
            "n_labels": int(self.n_labels),
            "curves": _jsonable(self.curves),
        }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _as_tensor(x: Any, width: int, what: str) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.ndim == 1 and t.numel() == 0:
        t = t.reshape(0, width)
    if t.ndim != 2 or t.shape[1] != width:
        raise ValueError(f"Expected `{what}` to be a [n, {width}] tensor but got shape {tuple(t.shape)}.")
    return t.detach().float().cpu()


class DetectionStats:
    """Accumulates per-image matches and computes :class:`DetectionMetrics` (val.py's loop).

    Call :meth:`update` once per image with its detections ``[n, 6]`` (x1, y1, x2, y2, conf, cls, in NMS
    order) and labels ``[m, 5]`` (cls, x1, y1, x2, y2) in the same pixel space. The raw per-image arrays are
    kept (``images``) so that the same predictions can also be scored with the COCO evaluator.
    """

    def __init__(self, iouv: torch.Tensor | None = None, keep_images: bool = True) -> None:
        self.iouv = IOU_THRESHOLDS.clone() if iouv is None else iouv.detach().float().cpu()
        self.keep_images = keep_images
        self._correct: list[np.ndarray] = []
        self._conf: list[np.ndarray] = []
        self._pred_cls: list[np.ndarray] = []
        self._target_cls: list[np.ndarray] = []
        #: per image ``(detections [n, 6], labels [m, 5])`` as float32 numpy arrays
        self.images: list[tuple[np.ndarray, np.ndarray]] = []
        self.n_images = 0

    def update(self, detections: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> None:
        """Add one image."""
        det = _as_tensor(detections, 6, "detections")
        lab = _as_tensor(labels, 5, "labels")
        self.n_images += 1
        if self.keep_images:
            self.images.append((det.numpy().copy(), lab.numpy().copy()))
        if det.shape[0] == 0:
            if lab.shape[0]:  # labels without predictions: counted as missed
                self._correct.append(np.zeros((0, self.iouv.shape[0]), dtype=bool))
                self._conf.append(np.zeros(0, dtype=np.float32))
                self._pred_cls.append(np.zeros(0, dtype=np.float32))
                self._target_cls.append(lab[:, 0].numpy())
            return
        if lab.shape[0]:
            correct = match_predictions(det, lab, self.iouv).numpy()
        else:  # predictions on an image without labels: all false positives
            correct = np.zeros((det.shape[0], self.iouv.shape[0]), dtype=bool)
        self._correct.append(correct)
        self._conf.append(det[:, 4].numpy())
        self._pred_cls.append(det[:, 5].numpy())
        self._target_cls.append(lab[:, 0].numpy())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The concatenated ``(tp [n, T], conf [n], pred_cls [n], target_cls [m])``."""
        t = self.iouv.shape[0]
        if not self._correct:
            return np.zeros((0, t), bool), np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32)
        return (np.concatenate(self._correct, 0), np.concatenate(self._conf), np.concatenate(self._pred_cls),
                np.concatenate(self._target_cls))

    def compute(self, names: Mapping[int, str] | Sequence[str] | None = None) -> DetectionMetrics:
        """P and R at the smoothed max-F1 confidence, F1, mAP50, mAP50-95, per class and the curves."""
        tp, conf, pred_cls, target_cls = self.arrays()
        res = ap_per_class(tp, conf, pred_cls, target_cls, names=names)
        nc = len(names) if names is not None else int(res.classes.shape[0])
        any_tp = bool(tp.any())
        ap50 = res.ap[:, 0] if res.ap.size else np.zeros(0)
        ap = res.ap.mean(1) if res.ap.size else np.zeros(0)
        if any_tp:  # val.py reports zeros when nothing matched at all
            mp, mr, mf1 = float(res.p.mean()), float(res.r.mean()), float(res.f1.mean())
            map50, map50_95 = float(ap50.mean()), float(ap.mean())
        else:
            mp = mr = mf1 = map50 = map50_95 = 0.0
        per_class = {
            name: {
                "class": float(c), "n_labels": float(n), "p": float(p), "r": float(r), "f1": float(f),
                "ap50": float(a50), "ap50_95": float(a), "tp": float(t), "fp": float(fp),
            }
            for name, c, n, p, r, f, a50, a, t, fp in zip(
                res.names, res.classes, res.n_labels, res.p, res.r, res.f1, ap50, ap, res.tp, res.fp, strict=True)
        }
        curves = {
            "px": res.px.tolist(),
            "p_curve": res.p_curve.tolist(),
            "r_curve": res.r_curve.tolist(),
            "f1_curve": res.f1_curve.tolist(),
            "pr_recall": res.px.tolist(),
            "pr_precision": res.pr_precision.tolist(),
            "names": list(res.names),
            "conf": float(res.px[res.conf_index]) if nc else 0.0,
        }
        return DetectionMetrics(
            precision=mp, recall=mr, f1=mf1, map50=map50, map50_95=map50_95, per_class=per_class, nc=nc,
            n_images=self.n_images, n_labels=int(target_cls.shape[0]), curves=curves,
            images=self.images if self.keep_images else None,
        )
