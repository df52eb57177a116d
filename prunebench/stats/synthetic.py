"""Synthetic per-image detection statistics with realistic structure (for tests and benchmarks).

Each label gets at most one matched detection (a true positive up to a random IoU threshold), the other
detections are false positives; true positives tend to have higher confidence. So per image, class and
threshold there are never more true positives than labels, as with real matching.
"""

from __future__ import annotations

import numpy as np

from prunebench.stats.images import ImageStats

__all__ = ["synthetic_image_stats"]


def synthetic_image_stats(n_images: int, nc: int = 1, labels_per_image: float = 2.5, dets_per_image: float = 20.0,
                          recall: float = 0.7, seed: int = 0, n_thresholds: int = 10) -> ImageStats:
    """``n_images`` images with Poisson numbers of labels and detections, ``nc`` classes."""
    rng = np.random.default_rng(seed)
    n_lab = rng.poisson(labels_per_image, n_images)
    gt_image = np.repeat(np.arange(n_images, dtype=np.int32), n_lab)
    gt_cls = rng.integers(0, nc, gt_image.size).astype(np.int32)
    hit = rng.random(gt_image.size) < recall  # labels that get a matched detection
    tp_image, tp_cls = gt_image[hit], gt_cls[hit]
    depth = rng.integers(1, n_thresholds + 1, tp_image.size)  # TP at the first `depth` IoU thresholds
    tp = np.arange(n_thresholds)[None, :] < depth[:, None]
    n_fp = np.maximum(rng.poisson(dets_per_image, n_images) - np.bincount(tp_image, minlength=n_images), 0)
    fp_image = np.repeat(np.arange(n_images, dtype=np.int32), n_fp)
    fp_cls = rng.integers(0, nc, fp_image.size).astype(np.int32)
    conf_tp = rng.beta(4.0, 1.5, tp_image.size)
    conf_fp = rng.beta(1.0, 4.0, fp_image.size)
    det_image = np.concatenate([tp_image, fp_image])
    order = np.argsort(det_image, kind="stable")
    return ImageStats(
        n_images=n_images, det_image=det_image[order],
        det_conf=np.concatenate([conf_tp, conf_fp]).astype(np.float32)[order],
        det_cls=np.concatenate([tp_cls, fp_cls])[order],
        det_tp=np.concatenate([tp, np.zeros((fp_image.size, n_thresholds), bool)])[order],
        gt_image=gt_image, gt_cls=gt_cls, names=[f"class{i}" for i in range(nc)])
