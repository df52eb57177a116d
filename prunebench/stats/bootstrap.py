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
_CHUNK_ELEMENTS = 4_000_000  # resamples x detections per working array (the P and R curves: twice that)


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


def _walk(wc: np.ndarray, start: np.ndarray, step: int) -> np.ndarray:
    """Per row ``b`` of ``wc`` (``[B, n]`` draw counts) and start column ``start[k]``, the nearest column from
    ``start[k]`` (inclusive) going in direction ``step`` whose detection was drawn; ``-1`` or ``n`` where there
    is none (``[B, K]``).

    About a third of the images are missing from a resample, so a walk stops after a couple of steps:
    this touches ``O(B x K)`` entries instead of scanning the ``[B, n]`` array.
    """
    b, n = wc.shape
    inside = (start >= 0) & (start < n)
    out = np.empty((b, start.size), np.int64)
    out[:] = start[None, :]
    missing = (np.take(wc, np.clip(start, 0, n - 1), axis=1) == 0) & inside[None, :]
    idx = np.flatnonzero(missing)
    if idx.size == 0:
        return out
    flat_w = wc.reshape(-1)
    flat = out.reshape(-1)
    row_base = (idx // start.size) * n
    while idx.size:
        flat[idx] += step
        col = flat[idx]
        keep = (col >= 0) & (col < n)
        idx, row_base, col = idx[keep], row_base[keep], col[keep]
        still = flat_w[row_base + col] == 0
        idx, row_base = idx[still], row_base[still]
    return out


def _levels(den: np.ndarray) -> np.ndarray:
    """``[b, 101]``: the largest integer ``m`` with ``m / den <= x_k`` (float division, as recall is computed)."""
    x = _RX[None, :]
    d = den[:, None]
    m = np.floor(x * d)
    for _ in range(2):
        m = np.where((m + 1) / d <= x, m + 1, m)
        m = np.where(m / d > x, m - 1, m)
    return m.astype(np.int64)


def _ap(wc: np.ndarray, allc: np.ndarray, tp_col: np.ndarray, nl: np.ndarray, levels: np.ndarray,
        offs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP (101-point, YOLOv5) of one class at one IoU threshold for each resample (``wc``: ``[B, n]``).

    ``levels``: ``_levels(nl + eps)``. Also returns the true-positive rows and the cumulative weighted true
    positives at them (``[B, n_tp]``).
    ``offs[b]`` (``b x step``, ``step`` above any count of the class) makes the counts of all resamples one
    sorted array, so one ``searchsorted`` with sorted queries finds every recall level of every resample.
    """
    b = wc.shape[0]
    pos = np.flatnonzero(tp_col)
    if pos.size == 0:
        return np.zeros(b), pos, np.zeros((b, 0), np.int64)
    total = allc[:, -1].astype(np.float64)
    den = nl + _EPS
    g = wc[:, pos]  # [B, m] int64
    g[:, 0] += offs
    np.cumsum(g, axis=1, out=g)  # cumulative true positives + offs[b]: sorted over the flattened array
    tpc = g - offs[:, None]
    prec = tpc / np.maximum(allc[:, pos], 1)
    env = np.maximum.accumulate(prec[:, ::-1], axis=1)[:, ::-1]
    big_m = tpc[:, -1]
    lk = np.minimum(levels, big_m[:, None])
    m = pos.size
    q = (lk + 1 + offs[:, None]).ravel()
    first = np.searchsorted(g.ravel(), q, side="left").reshape(lk.shape) - np.arange(b)[:, None] * m
    inner = np.take_along_axis(env, np.minimum(first, m - 1), axis=1)
    r_m = big_m / den
    with np.errstate(invalid="ignore", divide="ignore"):
        p_last = np.where(total > 0, big_m / np.maximum(total, 1), 0.0)
        slope = np.where(r_m < 1.0, (0.0 - p_last) / (1.0 - r_m), 0.0)
    x = _RX[None, :]
    tail = np.where(x == r_m[:, None], p_last[:, None], slope[:, None] * (x - r_m[:, None]) + p_last[:, None])
    y = np.where(lk < big_m[:, None], inner, tail)
    y[:, -1] = 0.0
    ap = np.trapezoid(y, _RX, axis=1)
    return np.where(total > 0, ap, 0.0), pos, tpc


def _conf_curves(c: _Class, wc: np.ndarray, allc: np.ndarray, nl: np.ndarray, pos0: np.ndarray,
                 tpc0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recall and precision against confidence (``[B, 1000]``, IoU 0.5): the values np.interp gives.

    ``pos0``/``tpc0``: the true-positive rows at IoU 0.5 and the cumulative weighted true positives there.
    """
    n = wc.shape[1]
    tp0 = c.tp[:, 0]
    pq = c.pos_q
    has_l = (pq > 0)[None, :]
    lrow = np.maximum(pq - 1, 0)
    left = _walk(wc, np.where(pq > 0, lrow, -1), -1)  # [B, 1000]
    right = _walk(wc, np.minimum(pq, n), 1)
    a_l = np.where(has_l, allc[:, lrow], 0).astype(np.float64)
    n_tp = np.searchsorted(pos0, lrow, side="right")  # true-positive rows at or before lrow
    if tpc0.shape[1]:
        t_l = np.where(has_l & (n_tp > 0)[None, :], tpc0[:, np.maximum(n_tp - 1, 0)], 0).astype(np.float64)
    else:
        t_l = np.zeros_like(a_l)
    tp_r = np.where(right < n, tp0[np.minimum(right, n - 1)], False)
    den = (nl + _EPS)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        t_r = t_l + tp_r
        r_l, p_l = t_l / den, t_l / a_l
        r_r, p_r = t_r / den, t_r / (a_l + 1.0)
        xq = -_PX[None, :]
        xl = -c.conf[np.maximum(left, 0)]
        xr = -c.conf[np.minimum(right, n - 1)]
        at_left = (right >= n) | (xq == xl)
        r = np.where(left < 0, 0.0, np.where(at_left, r_l, (r_r - r_l) / (xr - xl) * (xq - xl) + r_l))
        p = np.where(left < 0, 1.0, np.where(at_left, p_l, (p_r - p_l) / (xr - xl) * (xq - xl) + p_l))
    empty = allc[:, -1] == 0
    r[empty], p[empty] = 0.0, 0.0
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
    chunk = max(1, min(n_b, _CHUNK_ELEMENTS // widest, 2 * _CHUNK_ELEMENTS // (classes.size * _PX.size)))
    for b0 in range(0, n_b, chunk):
        wb = np.ascontiguousarray(w[b0:b0 + chunk], dtype=np.int64)  # [B, n_images]
        nb = wb.shape[0]
        nl = nl_all[b0:b0 + chunk]
        mask = nl > 0
        counted = np.maximum(mask.sum(1), 1)
        ap = np.zeros((nb, classes.size, t))
        p = np.zeros((nb, classes.size, _PX.size))
        r = np.zeros_like(p)
        f1_sum = np.zeros((nb, _PX.size))  # summed over classes in class order, as f1.mean(0) does
        for ci, pc in enumerate(per_class):
            if pc.img.size == 0:
                continue
            wc = np.take(wb, pc.img, axis=1)  # [B, n]: one column per detection, in confidence order
            allc = np.cumsum(wc, axis=1)
            offs = np.arange(nb, dtype=np.int64) * (int(allc[:, -1].max()) + 2)
            pos0, tpc0 = np.zeros(0, np.int64), np.zeros((nb, 0), np.int64)
            levels = _levels(nl[:, ci] + _EPS)
            for ti in range(t):
                ap[:, ci, ti], pos, tpc = _ap(wc, allc, pc.tp[:, ti], nl[:, ci], levels, offs)
                if ti == 0:
                    pos0, tpc0 = pos, tpc
            rc, pcv = _conf_curves(pc, wc, allc, nl[:, ci], pos0, tpc0)
            r[:, ci], p[:, ci] = rc, pcv
            f1_sum += np.where(mask[:, ci, None], 2 * pcv * rc / (pcv + rc + _EPS), 0.0)
        mean_f1 = f1_sum / counted[:, None]
        best = np.array([int(smooth(row, 0.1).argmax()) for row in mean_f1])
        rows = np.arange(nb)
        p_b, r_b = p[rows, :, best], r[rows, :, best]  # [B, C] at each resample's best confidence
        for name, curve in (("precision", p_b), ("recall", r_b), ("f1", 2 * p_b * r_b / (p_b + r_b + _EPS))):
            out[name][b0:b0 + nb] = (curve * mask).sum(1) / counted
        out["map50"][b0:b0 + nb] = (ap[:, :, 0] * mask).sum(1) / counted
        out["map50_95"][b0:b0 + nb] = (ap.mean(2) * mask).sum(1) / counted
    for name in BOOTSTRAP_METRICS:
        out[name][~has_tp] = 0.0  # val.py reports zeros when nothing matched at all
    return out


def point_metrics(st: ImageStats) -> Mapping[str, float]:
    """The metrics of the validation set itself (every image once): DetectionStats' numbers."""
    draws = detection_draws(st, np.ones((1, st.n_images), np.int32))
    return {k: float(v[0]) for k, v in draws.items()}
