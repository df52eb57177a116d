"""Image bootstrap of YOLOv5's P, R, F1, mAP50 and mAP50-95, vectorised over resamples.

A resample draws the validation images with replacement; it is stored as the number of times each image
was drawn (``weights[b, i]``). The metrics of a resample are those that ``ap_per_class`` (YOLOv5's
convention) computes on the resampled set, where an image drawn ``k`` times contributes ``k`` copies of
its detections and labels. Because every point of a run of ``k`` equal copies is determined by its
first and last copy, the curves need only cumulative weighted counts:

- on the recall axis the precision envelope is flat between two true-positive levels, so AP follows
  from the precision at each true positive (a suffix maximum) and the 101 recall queries;
- on the confidence axis ``np.interp`` uses the last point at or above the query confidence and the
  first point below it, found among the detections of images drawn at least once.

The results equal ``ap_per_class`` on the expanded set (see tests/stats), up to the order of detections
of one image that share a confidence exactly. Resamples depend only on the seed and the number of images,
so two models evaluated on the same images get the same resamples: differences are paired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from prunebench.metrics.detection import smooth
from prunebench.stats.images import ImageStats

__all__ = ["BOOTSTRAP_METRICS", "DEFAULT_RESAMPLES", "bootstrap_weights", "detection_draws", "point_metrics"]

#: the metrics the bootstrap recomputes (DetectionMetrics' field names)
BOOTSTRAP_METRICS: tuple[str, ...] = ("precision", "recall", "f1", "map50", "map50_95")
DEFAULT_RESAMPLES = 1000

_EPS = 1e-16
_PX = np.linspace(0, 1, 1000)
_RX = np.linspace(0, 1, 101)
_CHUNK_ELEMENTS = 4_000_000  # rows x detections per working array


def bootstrap_weights(n_images: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """``[n_resamples, n_images]`` int32: how often each image is drawn in each resample (row sums = n_images).

    Depends only on ``(n_images, n_resamples, seed)``: the same images get the same resamples in every cell.
    """
    if n_images < 1 or n_resamples < 1:
        raise ValueError(f"Expected at least one image and one resample but got {n_images} and {n_resamples}.")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(n_images)]))
    draws = rng.integers(0, n_images, size=(n_resamples, n_images))
    flat = (draws + np.arange(n_resamples)[:, None] * n_images).ravel()
    return np.bincount(flat, minlength=n_resamples * n_images).reshape(n_resamples, n_images).astype(np.int32)


@dataclass
class _Class:
    """The detections of one class, in the global confidence order."""

    img: np.ndarray  # [n] image of each detection
    conf: np.ndarray  # [n] float64 (of the float32 values)
    tp: np.ndarray  # [n, T] bool
    pos_q: np.ndarray  # [1000] detections with conf >= px[k]


def _classes(st: ImageStats, classes: np.ndarray) -> list[_Class]:
    order = np.argsort(-st.det_conf, kind="stable")
    out = []
    for c in classes:
        sel = order[st.det_cls[order] == c]
        conf = st.det_conf[sel].astype(np.float64)
        out.append(_Class(img=st.det_image[sel], conf=conf, tp=st.det_tp[sel],
                          pos_q=np.searchsorted(-conf, -_PX, side="right")))
    return out


def _first_at_least(cum: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per column ``b``, the first row where the non-decreasing column ``cum[:, b]`` reaches ``level[k, b]``."""
    m, b = cum.shape
    step = int(cum[-1].max()) + int(level.max()) + 2
    offs = np.arange(b, dtype=np.int64) * step
    flat = (cum.T.astype(np.int64) + offs[:, None]).ravel()
    pos = np.searchsorted(flat, (level.astype(np.int64) + offs[None, :]).ravel(), side="left").reshape(level.shape)
    return np.minimum(pos - np.arange(b)[None, :] * m, m - 1)


def _levels(den: np.ndarray) -> np.ndarray:
    """``[101, b]``: the largest integer ``m`` with ``m / den <= x_k`` (float division, as recall is computed)."""
    x = _RX[:, None]
    d = den[None, :]
    m = np.floor(x * d)
    for _ in range(2):
        m = np.where((m + 1) / d <= x, m + 1, m)
        m = np.where(m / d > x, m - 1, m)
    return m.astype(np.int64)


def _ap(wc: np.ndarray, allc: np.ndarray, tp_col: np.ndarray, nl: np.ndarray) -> np.ndarray:
    """AP (101-point, YOLOv5) of one class at one IoU threshold for each resample (``wc``: ``[n, B]``)."""
    b = wc.shape[1]
    total = allc[-1].astype(np.float64)
    pos = np.flatnonzero(tp_col)
    den = nl + _EPS
    if pos.size:
        tpc = np.cumsum(wc[pos], axis=0, dtype=np.int32)
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(tpc > 0, tpc / np.maximum(allc[pos], 1), 0.0)
        env = np.flip(np.maximum.accumulate(np.flip(prec, 0), axis=0), 0)
        big_m = tpc[-1].astype(np.int64)
    else:
        tpc = np.zeros((1, b), np.int64)
        env = np.zeros((1, b))
        big_m = np.zeros(b, np.int64)
    lk = np.minimum(_levels(den), big_m[None, :])
    inner = np.take_along_axis(env, _first_at_least(tpc, lk + 1), axis=0)
    r_m = big_m / den
    with np.errstate(invalid="ignore", divide="ignore"):
        p_last = np.where(total > 0, big_m / np.maximum(total, 1), 0.0)
        slope = np.where(r_m < 1.0, (0.0 - p_last) / (1.0 - r_m), 0.0)
    x = _RX[:, None]
    tail = np.where(x == r_m[None, :], p_last[None, :], slope[None, :] * (x - r_m[None, :]) + p_last[None, :])
    y = np.where(lk < big_m[None, :], inner, tail)
    y[-1] = 0.0
    ap = np.trapezoid(y.T, _RX, axis=1)
    return np.where(total > 0, ap, 0.0)


def _conf_curves(c: _Class, wc: np.ndarray, allc: np.ndarray, nl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recall and precision against confidence (``[1000, B]``, IoU 0.5): the values np.interp gives."""
    n = wc.shape[0]
    tp0 = c.tp[:, 0]
    tpc = np.cumsum(wc * tp0[:, None], axis=0, dtype=np.int32)
    valid = wc > 0
    idx = np.arange(n, dtype=np.int32)[:, None]
    prev = np.maximum.accumulate(np.where(valid, idx, np.int32(-1)), axis=0)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(valid, idx, np.int32(n)), 0), axis=0), 0)
    pq = c.pos_q
    has_l = (pq > 0)[:, None]
    lrow = np.maximum(pq - 1, 0)
    left = np.where(has_l, prev[lrow], -1)  # [1000, B]
    right = np.where((pq < n)[:, None], nxt[np.minimum(pq, n - 1)], n)
    t_l = np.where(has_l, tpc[lrow], 0).astype(np.float64)
    a_l = np.where(has_l, allc[lrow], 0).astype(np.float64)
    tp_r = np.where(right < n, tp0[np.minimum(right, n - 1)], False)
    den = (nl + _EPS)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        t_r = t_l + tp_r
        r_l, p_l = t_l / den, t_l / a_l
        r_r, p_r = t_r / den, t_r / (a_l + 1.0)
        xq = -_PX[:, None]
        xl = -c.conf[np.maximum(left, 0)]
        xr = -c.conf[np.minimum(right, n - 1)]
        at_left = (right >= n) | (xq == xl)
        r = np.where(left < 0, 0.0, np.where(at_left, r_l, (r_r - r_l) / (xr - xl) * (xq - xl) + r_l))
        p = np.where(left < 0, 1.0, np.where(at_left, p_l, (p_r - p_l) / (xr - xl) * (xq - xl) + p_l))
    empty = allc[-1] == 0
    r[:, empty], p[:, empty] = 0.0, 0.0
    return r, p


def detection_draws(st: ImageStats, weights: np.ndarray) -> dict[str, np.ndarray]:
    """P, R, F1, mAP50 and mAP50-95 of every resample (``weights``: ``[B, n_images]`` draw counts)."""
    w = np.asarray(weights)
    if w.ndim != 2 or w.shape[1] != st.n_images:
        raise ValueError(f"Expected `weights` of shape [B, {st.n_images}] but got {w.shape}.")
    n_b, t = w.shape[0], st.n_thresholds
    classes = np.unique(st.gt_cls)
    out = {m: np.zeros(n_b) for m in BOOTSTRAP_METRICS}
    if classes.size == 0:
        return out
    gt = np.zeros((st.n_images, classes.size))
    np.add.at(gt, (st.gt_image, np.searchsorted(classes, st.gt_cls)), 1.0)
    nl_all = np.rint(w.astype(np.float64) @ gt)  # [B, C]
    any_img = np.zeros(st.n_images)
    np.add.at(any_img, st.det_image, st.det_tp.any(1).astype(np.float64))
    has_tp = (w.astype(np.float64) @ (any_img > 0)) > 0
    per_class = _classes(st, classes)
    widest = max([1, *(pc.img.size for pc in per_class)])
    chunk = max(1, min(n_b, _CHUNK_ELEMENTS // widest))
    for b0 in range(0, n_b, chunk):
        wb = w[b0:b0 + chunk]
        nb = wb.shape[0]
        wbt = np.ascontiguousarray(wb.T.astype(np.int32))  # [n_images, B]
        nl = nl_all[b0:b0 + chunk]
        ap = np.zeros((nb, classes.size, t))
        p = np.zeros((nb, classes.size, _PX.size))
        r = np.zeros_like(p)
        for ci, pc in enumerate(per_class):
            if pc.img.size == 0:
                continue
            wc = np.ascontiguousarray(wbt[pc.img])  # [n, B]: one row per detection
            allc = np.cumsum(wc, axis=0, dtype=np.int32)
            for ti in range(t):
                ap[:, ci, ti] = _ap(wc, allc, pc.tp[:, ti], nl[:, ci])
            rc, pcv = _conf_curves(pc, wc, allc, nl[:, ci])
            r[:, ci], p[:, ci] = rc.T, pcv.T
        mask = nl > 0
        counted = np.maximum(mask.sum(1), 1)
        f1 = 2 * p * r / (p + r + _EPS)
        mean_f1 = (f1 * mask[:, :, None]).sum(1) / counted[:, None]
        best = np.array([int(smooth(row, 0.1).argmax()) for row in mean_f1])
        rows = np.arange(nb)
        for name, curve in (("precision", p), ("recall", r), ("f1", f1)):
            out[name][b0:b0 + nb] = (curve[rows, :, best] * mask).sum(1) / counted
        out["map50"][b0:b0 + nb] = (ap[:, :, 0] * mask).sum(1) / counted
        out["map50_95"][b0:b0 + nb] = (ap.mean(2) * mask).sum(1) / counted
    for name in BOOTSTRAP_METRICS:
        out[name][~has_tp] = 0.0  # val.py reports zeros when nothing matched at all
    return out


def point_metrics(st: ImageStats) -> Mapping[str, float]:
    """The metrics of the validation set itself (every image once): DetectionStats' numbers."""
    draws = detection_draws(st, np.ones((1, st.n_images), np.int32))
    return {k: float(v[0]) for k, v in draws.items()}
