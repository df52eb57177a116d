"""A vectorised COCO bbox evaluator (pycocotools' COCOeval semantics) in numpy.

It reproduces ``COCOeval(gt, dt, "bbox")`` with the default parameters: IoU thresholds .50:.05:.95,
101 recall thresholds, maxDets 1/10/100 (per image and category), area ranges all/small/medium/large,
crowd regions (matched any number of times, IoU = intersection / detection area) and the 12 summary
statistics. As in pycocotools, a ground-truth annotation is ignored when it is a crowd (the ``ignore``
key of an annotation is overwritten by ``iscrowd`` there, so it has no effect of its own), the gt area is
the annotation's ``area`` field (``w·h`` when absent) and a detection's area is ``w·h``.

How it stays fast: detections are grouped by (category, image) with one sort; IoUs are computed only
for pairs inside a group and only pairs with IoU >= 0.5 can match; the greedy, score-ordered matching
runs in *rounds* (the k-th candidate detection of every group at once) over all 10 thresholds × 4 area
ranges together; precision at the 101 recall thresholds is read from the true positives alone (the
precision envelope is attained at a true positive), so no per-image Python loop is left.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

__all__ = [
    "AREA_RANGES",
    "IOU_THRESHOLDS",
    "MAX_DETS",
    "REC_THRESHOLDS",
    "STAT_NAMES",
    "CocoResult",
    "coco_evaluate",
    "coco_evaluate_arrays",
    "coco_evaluate_columns",
    "coco_evaluate_images",
    "to_coco",
]

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RANGES = ((0.0, 1e5**2), (0.0, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
AREA_LABELS = ("all", "small", "medium", "large")
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

_T, _R, _A = len(IOU_THRESHOLDS), len(REC_THRESHOLDS), len(AREA_RANGES)
_C = _A * _T  # matching columns: (area range, IoU threshold)
_PAIR_CHUNK = 4_000_000  # detection-gt pairs whose IoU is computed at once


@dataclass
class CocoResult:
    """The 12 COCO statistics, per-category statistics and the raw precision/recall arrays."""

    stats: np.ndarray  # [12] in STAT_NAMES order; -1 where undefined (no ground truth)
    per_category: dict[int, dict[str, float]]  # category id -> the 12 statistics for that category
    cat_ids: list[int]
    img_ids: list[Any]
    #: precision [T, R, K, A] at maxDets 100 (-1 where a category has no gt in that area range)
    precision: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    #: recall [T, K, A, M] (-1 where undefined)
    recall: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def summary(self) -> dict[str, float]:
        """``{"AP": ..., "AP50": ..., ..., "ARl": ...}``."""
        return {k: float(v) for k, v in zip(STAT_NAMES, self.stats, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        return {"stats": self.summary, "per_category": {str(k): v for k, v in self.per_category.items()}}


# --------------------------------------------------------------------------------------------------
# Input conversion
# --------------------------------------------------------------------------------------------------


def _index_of(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each of ``values`` in the sorted unique ``ids`` (-1 when absent)."""
    if len(ids) == 0 or len(values) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    pos = np.searchsorted(ids, values)
    pos = np.clip(pos, 0, len(ids) - 1)
    return np.where(ids[pos] == values, pos, -1).astype(np.int64)


def _ids(seq: list[Any]) -> np.ndarray:
    arr = np.asarray(seq)
    if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    return arr


def _boxes(items: Sequence[Mapping[str, Any]]) -> np.ndarray:
    n = len(items)
    flat = itertools.chain.from_iterable(map(itemgetter("bbox"), items))
    try:
        return np.fromiter(flat, dtype=np.float64, count=4 * n).reshape(n, 4)
    except ValueError:  # a bbox without 4 numbers: fall back for a clear error
        boxes = [list(b) for b in map(itemgetter("bbox"), items)]
        bad = next(i for i, b in enumerate(boxes) if len(b) != 4)
        raise ValueError(f"bbox [{bad}] has {len(boxes[bad])} values; a bbox is [x, y, width, height]") from None


def coco_evaluate(gt: Mapping[str, Any], dets: Sequence[Mapping[str, Any]]) -> CocoResult:
    """Evaluate COCO-format detections against a COCO-format ground-truth dict (bbox).

    :param gt: ``{"images": [{"id"}], "annotations": [{"id", "image_id", "category_id", "bbox",
        "area", "iscrowd"}], "categories": [{"id"}]}``
    :param dets: ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]`` (a results file)

    Detections of categories that the ground truth does not list are ignored (as pycocotools does);
    detections of images it does not list raise ``ValueError``. Use
    :func:`prunebench.metrics.cocofile.load_coco_inputs` to validate untrusted files first.
    """
    dets = list(dets)
    return coco_evaluate_columns(gt, _ids(list(map(itemgetter("image_id"), dets))),
                                 _ids(list(map(itemgetter("category_id"), dets))), _boxes(dets),
                                 np.fromiter(map(itemgetter("score"), dets), dtype=np.float64, count=len(dets)))


def coco_evaluate_columns(gt: Mapping[str, Any], image_id: np.ndarray, category_id: np.ndarray, boxes: np.ndarray,
                          scores: np.ndarray) -> CocoResult:
    """:func:`coco_evaluate` with the detections as columns (ids as written, boxes ``[n, 4]`` xywh, scores),
    e.g. :class:`prunebench.metrics.cocofile.CocoResults` (``prunebench evaluate`` reads files into them)."""
    img_ids = np.unique(_ids([im["id"] for im in gt.get("images", [])]))
    cat_ids = np.unique(_ids([c["id"] for c in gt.get("categories", [])]))
    anns = list(gt.get("annotations", []))
    g_box = _boxes(anns)
    g_area = np.array([a["area"] if "area" in a else a["bbox"][2] * a["bbox"][3] for a in anns], dtype=np.float64)
    g_crowd = np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool)
    g_id = np.array([a.get("id", i + 1) for i, a in enumerate(anns)], dtype=np.int64)
    g_img = _index_of(_ids(list(map(itemgetter("image_id"), anns))), img_ids)
    g_cat = _index_of(_ids(list(map(itemgetter("category_id"), anns))), cat_ids)
    keep = (g_img >= 0) & (g_cat >= 0)  # annotations of unlisted images/categories take no part
    d_box = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    d_score = np.asarray(scores, dtype=np.float64)
    d_img = _index_of(np.asarray(image_id), img_ids)
    d_cat = _index_of(np.asarray(category_id), cat_ids)
    if np.any(d_img < 0):
        bad = int(np.argmax(d_img < 0))
        raise ValueError(f"detection [{bad}] has image_id {image_id[bad]!r}, which the ground truth does "
                         "not list (results do not correspond to the ground truth)")
    dkeep = d_cat >= 0
    return coco_evaluate_arrays(
        gt_img=g_img[keep], gt_cat=g_cat[keep], gt_boxes=g_box[keep], gt_area=g_area[keep],
        gt_crowd=g_crowd[keep], gt_ids=g_id[keep],
        dt_img=d_img[dkeep], dt_cat=d_cat[dkeep], dt_boxes=d_box[dkeep], dt_scores=d_score[dkeep],
        n_images=len(img_ids), cat_ids=cat_ids.tolist(), img_ids=img_ids.tolist(),
    )


def to_coco(
    images: Sequence[tuple[Any, Any]],
    names: Mapping[int, str] | Sequence[str] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Convert per-image ``(detections [n, 6] xyxy+conf+cls, labels [m, 5] cls+xyxy)`` into COCO dicts.

    Image ids are ``0..len(images)-1``, category ids are the class indices, gt areas are ``w·h``.
    ``DetectionStats.images`` has exactly this shape, so the suite can score the same predictions the
    YOLOv5-convention metrics used.
    """
    gt_anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    classes: set[int] = set()
    for i, (det, lab) in enumerate(images):
        det = np.asarray(det, dtype=np.float64).reshape(-1, 6)
        lab = np.asarray(lab, dtype=np.float64).reshape(-1, 5)
        for c, x1, y1, x2, y2 in lab.tolist():
            w, h = x2 - x1, y2 - y1
            classes.add(int(c))
            gt_anns.append({"id": len(gt_anns) + 1, "image_id": i, "category_id": int(c),
                            "bbox": [x1, y1, w, h], "area": w * h, "iscrowd": 0})
        for x1, y1, x2, y2, conf, c in det.tolist():
            dets.append({"image_id": i, "category_id": int(c), "bbox": [x1, y1, x2 - x1, y2 - y1], "score": conf})
    if names is not None:
        classes |= set(names.keys() if isinstance(names, Mapping) else range(len(names)))
    else:
        classes |= {d["category_id"] for d in dets}

    def _name(c: int) -> str:
        if isinstance(names, Mapping):
            return str(names.get(c, c))
        return str(names[c]) if names is not None and 0 <= c < len(names) else str(c)

    gt = {"images": [{"id": i} for i in range(len(images))], "annotations": gt_anns,
          "categories": [{"id": c, "name": _name(c)} for c in sorted(classes)]}
    return gt, dets


def coco_evaluate_images(images: Sequence[tuple[Any, Any]]) -> CocoResult:
    """COCO evaluation of per-image ``(detections [n, 6] xyxy+conf+cls, labels [m, 5] cls+xyxy)`` pairs.

    The same result as ``coco_evaluate(*to_coco(images))`` without building dicts: image ids are the
    positions, categories the classes seen in labels or detections, gt areas ``w·h``, no crowds.
    """
    dets = [np.asarray(d, dtype=np.float64).reshape(-1, 6) for d, _ in images]
    labs = [np.asarray(lab, dtype=np.float64).reshape(-1, 5) for _, lab in images]
    det = np.concatenate(dets) if dets else np.zeros((0, 6))
    lab = np.concatenate(labs) if labs else np.zeros((0, 5))
    d_img = np.repeat(np.arange(len(dets)), [len(d) for d in dets])
    g_img = np.repeat(np.arange(len(labs)), [len(g) for g in labs])
    g_cls, d_cls = lab[:, 0].astype(np.int64), det[:, 5].astype(np.int64)
    cat_ids = np.unique(np.concatenate([g_cls, d_cls]))
    g_box = np.stack([lab[:, 1], lab[:, 2], lab[:, 3] - lab[:, 1], lab[:, 4] - lab[:, 2]], 1)
    d_box = np.stack([det[:, 0], det[:, 1], det[:, 2] - det[:, 0], det[:, 3] - det[:, 1]], 1)
    return coco_evaluate_arrays(
        gt_img=g_img, gt_cat=np.searchsorted(cat_ids, g_cls), gt_boxes=g_box, gt_area=g_box[:, 2] * g_box[:, 3],
        gt_crowd=np.zeros(len(lab), bool), gt_ids=np.arange(1, len(lab) + 1),
        dt_img=d_img, dt_cat=np.searchsorted(cat_ids, d_cls), dt_boxes=d_box, dt_scores=det[:, 4],
        n_images=len(images), cat_ids=cat_ids.tolist(),
    )


# --------------------------------------------------------------------------------------------------
# The evaluator
# --------------------------------------------------------------------------------------------------


def _segment_starts(keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in a sorted array."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def _rank_in_runs(keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of a sorted array."""
    n = len(keys)
    idx = np.arange(n)
    start = np.zeros(n, dtype=np.int64)
    if n:
        is_start = np.r_[True, keys[1:] != keys[:-1]]
        start = np.maximum.accumulate(np.where(is_start, idx, 0))
    return idx - start


def _row_cumsum(mask: np.ndarray) -> np.ndarray:
    """Per row, the count of True before each position: ``[rows, n + 1]``.

    Only differences within a row are meaningful (one flat cumsum is much faster than a 2-D one).
    """
    rows, n = mask.shape
    padded = np.zeros((rows, n + 1), dtype=np.uint8)
    padded[:, 1:] = mask
    dtype = np.int32 if padded.size < 2**31 - 1 else np.int64  # int32 cumsum is several times faster
    return np.cumsum(padded.ravel(), dtype=dtype).reshape(rows, n + 1)


def _candidate_pairs(
    d_blk: np.ndarray, d_box: np.ndarray, g_blk: np.ndarray, g_box: np.ndarray, g_crowd: np.ndarray,
    thr: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (detection, gt) pairs of the same block with IoU >= thr (gts sorted by block).

    IoU is maskApi's bbIou, operation for operation: ``w = fmin(dx+dw, gx+gw) - fmax(dx, gx)`` (likewise
    ``h``), zero when ``w <= 0`` or ``h <= 0``, ``inter / (da + ga - inter)`` or ``inter / da`` for crowds.
    Pairs whose boxes do not overlap horizontally are dropped before the rest is computed. With NaN or
    infinite values, C's fmin/fmax ignore a NaN argument and a NaN width passes ``w <= 0``, so pairs with a
    NaN IoU are kept (``not iou < thr``): pycocotools' matching treats a NaN IoU as a match.
    """
    dx, dy, dw, dh = (np.ascontiguousarray(c) for c in d_box.T)
    gx, gy, gw, gh = (np.ascontiguousarray(c) for c in g_box.T)
    with np.errstate(invalid="ignore", over="ignore"):
        dx2, dy2, da = dw + dx, dh + dy, dw * dh
        gx2, gy2, ga = gw + gx, gh + gy, gw * gh
    # np.minimum/np.maximum are C's fmin/fmax when no value is NaN (the hot path); fmin/fmax otherwise
    exotic = not all(np.isfinite(v).all() for v in (dx, dy, dx2, dy2, da, gx, gy, gx2, gy2, ga))
    vmin, vmax = (np.fmin, np.fmax) if exotic else (np.minimum, np.maximum)
    gs = np.searchsorted(g_blk, d_blk, "left")
    counts = np.searchsorted(g_blk, d_blk, "right") - gs
    ends = np.cumsum(counts)
    out_d, out_g, out_iou = [], [], []
    lo = 0
    while lo < len(d_blk):
        base = ends[lo - 1] if lo else 0
        hi = max(int(np.searchsorted(ends, base + _PAIR_CHUNK, "right")), lo + 1)
        c = counts[lo:hi]
        total = int(c.sum())
        if total:
            pd = np.repeat(np.arange(lo, hi), c)
            pg = np.arange(total) + np.repeat(gs[lo:hi] - (np.cumsum(c) - c), c)
            with np.errstate(invalid="ignore", over="ignore"):
                w = vmin(dx2[pd], gx2[pg]) - vmax(dx[pd], gx[pg])
            ok = ~(w <= 0) if exotic else w > 0  # a NaN width is not <= 0 in C either
            pd, pg, w = pd[ok], pg[ok], w[ok]
            with np.errstate(invalid="ignore", over="ignore"):
                h = vmin(dy2[pd], gy2[pg]) - vmax(dy[pd], gy[pg])
            ok = ~(h <= 0) if exotic else h > 0
            pd, pg, w, h = pd[ok], pg[ok], w[ok], h[ok]
            dap = da[pd]
            with np.errstate(invalid="ignore", over="ignore", divide="ignore", under="ignore"):
                inter = w * h
                iou = inter / np.where(g_crowd[pg], dap, dap + ga[pg] - inter)
            ok = ~(iou < thr)  # NaN IoUs are kept (see above)
            out_d.append(pd[ok])
            out_g.append(pg[ok])
            out_iou.append(iou[ok])
        lo = hi
    if not out_d:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(out_d), np.concatenate(out_g), np.concatenate(out_iou)


def _match(
    pd: np.ndarray, pg: np.ndarray, piou: np.ndarray, d_cand_rank: np.ndarray, g_local: np.ndarray,
    g_crowd: np.ndarray, g_ign: np.ndarray, n_dets: int, n_gts: int,
) -> np.ndarray:
    """Greedy matching of every (area range, threshold) column; returns the matched gt [C, D], -1 if none.

    Pairs are ``pd``/``pg`` (sorted by detection, then gt order). Round k processes the k-th candidate
    detection of every block at once. Per column a detection takes, among the gts still free (crowds are
    always free) with IoU >= threshold, the regular gt with the highest IoU (the last one on ties, as
    pycocotools' loop does), else the ignored gt with the highest IoU.
    """
    thr = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)
    matched = np.full((_C, n_dets), -1, dtype=np.int32)  # [C, D] rows: one column setting each
    if len(pd) == 0:
        return matched
    uniq, iou_rank = np.unique(piou, return_inverse=True)
    big_s = int(g_local.max()) + 2
    big_u = len(uniq) + 1
    taken = np.zeros((n_gts, _C), dtype=bool)
    # group priority per (pair, area): 2 = regular gt, 1 = ignored gt
    order = np.argsort(d_cand_rank[pd], kind="stable")
    pd, pg, iou_rank, piou = pd[order], pg[order], iou_rank[order], piou[order]
    round_of_pair = d_cand_rank[pd]
    round_bounds = np.searchsorted(round_of_pair, np.arange(int(round_of_pair.max()) + 2))
    for k in range(len(round_bounds) - 1):
        a, b = round_bounds[k], round_bounds[k + 1]
        if a == b:
            continue
        d, g = pd[a:b], pg[a:b]
        thr_ok = piou[a:b, None] >= thr[None, :]  # [P, T]
        free = ~taken[g] | g_crowd[g, None]  # [P, C]
        elig = free.reshape(-1, _A, _T) & thr_ok[:, None, :]
        prio = np.where(g_ign[g], 1, 2)  # [P, A]
        base = (prio * big_u + iou_rank[a:b, None]) * big_s + g_local[g, None]  # [P, A]
        key = np.where(elig, base[:, :, None], -1).reshape(-1, _C)
        starts = _segment_starts(d)
        best = np.maximum.reduceat(key, starts, axis=0)  # [n_d, C]
        dets = d[starts]
        ok = best >= 0
        gpos = best % big_s
        # gt index = first gt of the block + local position; recover it from the pairs of this det
        first_g = g[starts] - g_local[g[starts]]
        chosen = np.where(ok, first_g[:, None] + gpos, -1)
        matched[:, dets] = chosen.T
        rows, cols = np.nonzero(ok)
        taken[chosen[rows, cols], cols] = True
    return matched


def coco_evaluate_arrays(
    *,
    gt_img: np.ndarray,
    gt_cat: np.ndarray,
    gt_boxes: np.ndarray,
    gt_area: np.ndarray,
    gt_crowd: np.ndarray,
    gt_ids: np.ndarray,
    dt_img: np.ndarray,
    dt_cat: np.ndarray,
    dt_boxes: np.ndarray,
    dt_scores: np.ndarray,
    n_images: int,
    cat_ids: Sequence[int],
    img_ids: Sequence[Any] | None = None,
) -> CocoResult:
    """The evaluator on arrays: image/category *indices* (0..n_images-1, 0..len(cat_ids)-1), boxes xywh.

    Ground truths and detections keep their file order (it breaks ties like pycocotools' stable sorts).
    Four steps: sort the ground truths, sort and truncate the detections, match them greedily per IoU
    threshold, accumulate precision and recall.
    """
    n_cat = len(cat_ids)
    n_img = int(n_images)
    g = _sorted_gts(gt_img, gt_cat, gt_boxes, gt_area, gt_crowd, gt_ids, n_img, n_cat)
    d = _sorted_dets(dt_img, dt_cat, dt_boxes, dt_scores, n_img)
    cand, cand_pos, mc = _match_all(d, g)
    precision, recall = _accumulate(d, g, cand, cand_pos, mc, n_cat, n_img)
    stats, per_cat = _summaries(precision, recall, list(cat_ids))
    return CocoResult(stats=stats, per_category=per_cat, cat_ids=list(cat_ids),
                      img_ids=list(img_ids) if img_ids is not None else list(range(n_img)),
                      precision=precision, recall=recall)


_AREA_LO = np.array([r[0] for r in AREA_RANGES])
_AREA_HI = np.array([r[1] for r in AREA_RANGES])


@dataclass
class _Gts:
    """Ground truths sorted by block (category, image), file order within a block."""

    blk: np.ndarray  # block index: category * n_images + image
    box: np.ndarray
    crowd: np.ndarray
    ids: np.ndarray
    catk: np.ndarray  # category index
    local: np.ndarray  # rank within the block
    ign: np.ndarray  # [G, A] ignored per area range
    npig: np.ndarray  # [K, A] ground truths not ignored, per category and area range


def _sorted_gts(gt_img: np.ndarray, gt_cat: np.ndarray, gt_boxes: np.ndarray, gt_area: np.ndarray,
                gt_crowd: np.ndarray, gt_ids: np.ndarray, n_img: int, n_cat: int) -> _Gts:
    boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    area = np.asarray(gt_area, dtype=np.float64)
    crowd = np.asarray(gt_crowd, dtype=bool)
    ids = np.asarray(gt_ids, dtype=np.int64)
    blk_all = np.asarray(gt_cat, np.int64) * n_img + np.asarray(gt_img, np.int64)
    order = np.argsort(blk_all, kind="stable")
    blk = blk_all[order]
    crowd, area = crowd[order], area[order]
    catk = blk // n_img if n_img else blk
    ign = crowd[:, None] | (area[:, None] < _AREA_LO) | (area[:, None] > _AREA_HI)  # [G, A]
    npig = np.zeros((n_cat, _A), dtype=np.int64)
    for a in range(_A):
        npig[:, a] = np.bincount(catk[~ign[:, a]], minlength=n_cat)[:n_cat]
    return _Gts(blk=blk, box=boxes[order], crowd=crowd, ids=ids[order], catk=catk, local=_rank_in_runs(blk),
                ign=ign, npig=npig)


@dataclass
class _Dets:
    """Detections sorted by block, then score (descending, stable), truncated to maxDets[-1] per block."""

    blk: np.ndarray
    rank: np.ndarray  # rank within the block
    box: np.ndarray
    score: np.ndarray
    srank: np.ndarray  # dense rank of the score (descending), an integer sort key
    n_s: int  # number of distinct scores
    catk: np.ndarray
    imgk: np.ndarray
    out: np.ndarray  # [D, A] outside the area range


def _sorted_dets(dt_img: np.ndarray, dt_cat: np.ndarray, dt_boxes: np.ndarray, dt_scores: np.ndarray,
                 n_img: int) -> _Dets:
    boxes = np.asarray(dt_boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(dt_scores, dtype=np.float64)
    blk_all = np.asarray(dt_cat, np.int64) * n_img + np.asarray(dt_img, np.int64)
    # one dense rank of the scores (descending) serves both sorts (here and in _accumulate) as an integer key;
    # np.unique puts all NaNs in one last group: below every score, ties in file order, as numpy's mergesort
    _, s_rank = np.unique(-scores, return_inverse=True)
    n_s = int(s_rank.max()) + 1 if len(s_rank) else 1
    order = np.argsort(blk_all * n_s + s_rank, kind="stable")  # stable: file order breaks ties
    blk = blk_all[order]
    rank = _rank_in_runs(blk)
    keep = rank < MAX_DETS[-1]
    order, blk, rank = order[keep], blk[keep], rank[keep]
    box = boxes[order]
    catk = blk // n_img if n_img else blk
    with np.errstate(invalid="ignore", over="ignore"):
        area = box[:, 2] * box[:, 3]  # NaN (from NaN or inf·0) is in every area range, as in pycocotools
    return _Dets(blk=blk, rank=rank, box=box, score=scores[order], srank=s_rank[order], n_s=n_s, catk=catk,
                 imgk=blk - catk * n_img, out=(area[:, None] < _AREA_LO) | (area[:, None] > _AREA_HI))


def _match_all(d: _Dets, g: _Gts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs and greedy matching: (is a candidate [D], position among candidates [D], matched gt
    per column and candidate [C, n_candidates], -1 = unmatched)."""
    n_d = len(d.blk)
    pd, pg, piou = _candidate_pairs(d.blk, d.box, g.blk, g.box, g.crowd, float(min(IOU_THRESHOLDS[0], 1 - 1e-10)))
    nan_pair = np.isnan(piou)
    nan_blocks = np.unique(d.blk[pd[nan_pair]]) if nan_pair.any() else None
    in_nan = np.zeros(n_d, dtype=bool)
    if nan_blocks is not None:  # blocks with a NaN IoU are matched by the exact scan; every det takes part
        in_nan = np.isin(d.blk, nan_blocks)
        keep = ~in_nan[pd]
        pd, pg, piou = pd[keep], pg[keep], piou[keep]
    cand = in_nan.copy()
    cand[pd] = True
    cand_idx = np.flatnonzero(cand)
    d_cand_rank = np.zeros(n_d, dtype=np.int64)
    d_cand_rank[cand_idx] = _rank_in_runs(d.blk[cand_idx])
    # pairs refer to candidates by their index in cand_idx
    cand_pos = np.zeros(n_d, dtype=np.int64)
    cand_pos[cand_idx] = np.arange(len(cand_idx))
    mc = _match(cand_pos[pd], pg, piou, d_cand_rank[cand_idx], g.local, g.crowd, g.ign, len(cand_idx), len(g.blk))
    if nan_blocks is not None:
        _match_nan_blocks(mc, nan_blocks, d, g, cand_pos)
    return cand, cand_pos, mc


def _block_ious(d_box: np.ndarray, g_box: np.ndarray, g_crowd: np.ndarray) -> np.ndarray:
    """The full IoU matrix [D, G] of one block, as maskApi's bbIou computes it (NaN and inf included)."""
    dx, dy, dw, dh = (d_box[:, i, None] for i in range(4))
    gx, gy, gw, gh = (g_box[None, :, i] for i in range(4))
    with np.errstate(all="ignore"):
        w = np.fmin(dw + dx, gw + gx) - np.fmax(dx, gx)
        h = np.fmin(dh + dy, gh + gy) - np.fmax(dy, gy)
        inter = w * h
        da = dw * dh
        iou = inter / np.where(g_crowd[None, :], da, da + gw * gh - inter)
    return np.where((w <= 0) | (h <= 0), 0.0, iou)


def _match_nan_blocks(mc: np.ndarray, blocks: np.ndarray, d: _Dets, g: _Gts, cand_pos: np.ndarray) -> None:
    """Match the detections of blocks where some IoU is NaN with pycocotools' own loop (evaluateImg).

    A NaN IoU is never ``< iou``, so it wins, and after it the running best is NaN, so the next free gt
    wins whatever its IoU: no vectorised rule reproduces that, so these (rare) blocks are scanned one
    detection and gt at a time, with gts in pycocotools' order (regular first, file order) per area range.
    """
    d_lo, d_hi = np.searchsorted(d.blk, blocks, "left"), np.searchsorted(d.blk, blocks, "right")
    g_lo, g_hi = np.searchsorted(g.blk, blocks, "left"), np.searchsorted(g.blk, blocks, "right")
    thrs = np.minimum(IOU_THRESHOLDS, 1 - 1e-10).tolist()
    for dl, dh, gl, gh in zip(d_lo.tolist(), d_hi.tolist(), g_lo.tolist(), g_hi.tolist(), strict=True):
        ious = _block_ious(d.box[dl:dh], g.box[gl:gh], g.crowd[gl:gh])
        crowd = g.crowd[gl:gh].tolist()
        cpos = cand_pos[dl:dh]
        for a in range(_A):
            ign = g.ign[gl:gh, a]
            order = np.argsort(ign, kind="stable").tolist()  # regular gts first (pycocotools' mergesort)
            rows = ious[:, order].tolist()
            ig = ign[order].tolist()
            for t, thr in enumerate(thrs):
                taken = [False] * len(order)
                col = mc[a * _T + t]
                for di, row in enumerate(rows):
                    best, m = thr, -1
                    for j, v in enumerate(row):
                        if taken[j] and not crowd[order[j]]:
                            continue
                        if m > -1 and not ig[m] and ig[j]:
                            break
                        if v < best:
                            continue
                        best, m = v, j
                    if m > -1:
                        taken[m] = True
                        col[cpos[di]] = gl + order[m]


def _accumulate(d: _Dets, g: _Gts, cand: np.ndarray, cand_pos: np.ndarray, mc: np.ndarray, n_cat: int,
                n_img: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision [T, R, K, A] at the recall thresholds and recall [T, K, A, M] per maxDets (-1: no gt)."""
    n_d = len(d.blk)
    # order of accumulation: category, score descending, image, rank in image
    if (n_cat + 1) * d.n_s * (n_img + 1) * MAX_DETS[-1] < 2**62:
        acc = np.argsort(((d.catk * d.n_s + d.srank) * n_img + d.imgk) * MAX_DETS[-1] + d.rank)  # unique keys
    else:  # pragma: no cover - astronomically large inputs
        acc = np.lexsort((d.rank, d.imgk, -d.score, d.catk))
    pos = np.empty(n_d, dtype=np.int64)
    pos[acc] = np.arange(n_d)
    cat_start = np.searchsorted(d.catk[acc], np.arange(n_cat + 1))  # [K+1] into the sorted order
    # false positives among non-candidates (in area range), cumulated along the sorted order
    cum_nc = _row_cumsum(~cand[acc] & ~d.out[acc].T)  # [A, D+1]

    # candidates in accumulation order; matched gt per column as [C, M] rows
    c_sorted = acc[cand[acc]]
    mc_rows = mc[:, cand_pos[c_sorted]]  # [C, M], -1 = unmatched
    c_cat = d.catk[c_sorted]
    c_pos = pos[c_sorted]
    c_rank = d.rank[c_sorted]
    c_first = np.searchsorted(c_cat, np.arange(n_cat + 1))
    c_in = np.ascontiguousarray(~d.out[c_sorted].T)  # [A, M] detection inside the area range
    # per gt and area range: does a match make a true positive / an ignored detection? The extra last row
    # is "unmatched" (index -1). A gt with id 0 reads as unmatched in pycocotools (it tests dtm != 0).
    tp_tab = np.ascontiguousarray(np.vstack([~g.ign & (g.ids != 0)[:, None], np.zeros((1, _A), bool)]).T)
    ig_tab = np.ascontiguousarray(np.vstack([g.ign, np.zeros((1, _A), bool)]).T)  # [A, G+1]
    zero = np.zeros(1, dtype=np.int64)

    precision = np.full((_T, _R, n_cat, _A), -1.0)
    recall = np.full((_T, n_cat, _A, len(MAX_DETS)), -1.0)
    for col in range(_C):
        a, t = divmod(col, _T)
        m = mc_rows[col]
        tp = tp_tab[a][m]
        fp = ~tp & ~ig_tab[a][m] & c_in[a]  # unmatched (or id-0 gt) inside the area range
        ctp = np.concatenate([zero, np.cumsum(tp, dtype=np.int64)])
        cfp = np.concatenate([zero, np.cumsum(fp, dtype=np.int64)])
        rows = np.flatnonzero(tp)
        k = c_cat[rows]
        cnc = cum_nc[a]
        tpc = (ctp[rows + 1] - ctp[c_first[k]]).astype(np.float64)
        fpc = (cfp[rows + 1] - cfp[c_first[k]] + cnc[c_pos[rows]] - cnc[cat_start[k]]).astype(np.float64)
        pr = tpc / (fpc + tpc + np.spacing(1))
        for mi, max_det in enumerate(MAX_DETS):
            n_tp = np.bincount(k[c_rank[rows] < max_det], minlength=n_cat)[:n_cat]
            with np.errstate(divide="ignore", invalid="ignore"):
                recall[t, :, a, mi] = np.where(g.npig[:, a] > 0, n_tp / np.maximum(g.npig[:, a], 1), -1.0)
        precision[t, :, :, a] = _precision_at_recalls(k, pr, g.npig[:, a], n_cat)
    return precision, recall


def _precision_at_recalls(k: np.ndarray, pr: np.ndarray, npig: np.ndarray, n_cat: int) -> np.ndarray:
    """Interpolated precision [R, K] from the true positives of one column (sorted by category, order).

    pycocotools takes, for recall threshold r, the precision envelope at the first detection whose
    recall reaches r; the envelope there is the highest precision at or after that true positive.
    """
    out = np.zeros((_R, n_cat))
    out[:, npig == 0] = -1.0
    if len(k) == 0:
        return out
    starts = np.searchsorted(k, np.arange(n_cat + 1))
    n_tp = np.diff(starts)
    # suffix maximum of pr within each category (exact: via integer ranks and per-category offsets)
    uniq, rank = np.unique(pr, return_inverse=True)
    big = len(uniq)
    key = (n_cat - 1 - k).astype(np.int64) * big + rank
    env = uniq[np.maximum.accumulate(key[::-1])[::-1] % big]
    # the first true positive i (1-based) with fl(i / npig) >= r: it is floor(r * npig) or one of its
    # neighbours; test a few candidates exactly
    cats = np.flatnonzero((npig > 0) & (n_tp > 0))
    if len(cats) == 0:
        return out
    npg = npig[cats].astype(np.float64)[None, :]  # [1, k]
    r = REC_THRESHOLDS[:, None]  # [R, 1]
    f = np.floor(r * npg)
    i_min = np.full((_R, len(cats)), np.inf)
    for off in (2, 1, 0, -1):  # descending, so the smallest satisfying candidate wins
        c = np.maximum(f + off, 1.0)
        i_min = np.where(c / npg >= r, np.minimum(i_min, c), i_min)
    valid = i_min <= n_tp[cats][None, :]
    idx = starts[cats][None, :] + np.where(valid, i_min, 1).astype(np.int64) - 1
    out[:, cats] = np.where(valid, env[idx], 0.0)
    return out


def _masked_mean(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Mean over ``axes`` of the entries > -1; -1 where there are none."""
    valid = x > -1
    n = valid.sum(axis=axes)
    total = np.where(valid, x, 0.0).sum(axis=axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), -1.0)


def _stats(p: np.ndarray, r: np.ndarray, per_cat: bool) -> np.ndarray:
    """The 12 statistics from precision [T, R, K, A] and recall [T, K, A, M]; [12] or [12, K]."""
    t50 = np.where(IOU_THRESHOLDS == 0.5)[0]
    t75 = np.where(IOU_THRESHOLDS == 0.75)[0]
    m100 = MAX_DETS.index(100)
    pa = (0, 1) if per_cat else (0, 1, 2)
    ra = (0,) if per_cat else (0, 1)
    return np.array([
        _masked_mean(p[:, :, :, 0], pa), _masked_mean(p[t50][:, :, :, 0], pa),
        _masked_mean(p[t75][:, :, :, 0], pa), _masked_mean(p[:, :, :, 1], pa),
        _masked_mean(p[:, :, :, 2], pa), _masked_mean(p[:, :, :, 3], pa),
        _masked_mean(r[:, :, 0, 0], ra), _masked_mean(r[:, :, 0, 1], ra), _masked_mean(r[:, :, 0, m100], ra),
        _masked_mean(r[:, :, 1, m100], ra), _masked_mean(r[:, :, 2, m100], ra), _masked_mean(r[:, :, 3, m100], ra),
    ])


def _summaries(precision: np.ndarray, recall: np.ndarray, cat_ids: list[int]) -> tuple[np.ndarray, dict]:
    stats = _stats(precision, recall, per_cat=False)
    per = _stats(precision, recall, per_cat=True).reshape(len(STAT_NAMES), -1)  # [12, K]
    per_cat = {int(cid): {k: float(v) for k, v in zip(STAT_NAMES, per[:, ki], strict=True)}
               for ki, cid in enumerate(cat_ids)}
    return stats, per_cat
