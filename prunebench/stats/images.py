"""Per-image detection statistics: what an image bootstrap needs to recompute P, R, F1 and mAP exactly.

For each detection: its image, confidence, class and whether it is a true positive at each IoU
threshold (YOLOv5's matching); for each label: its image and class. Saved as a compressed ``.npz``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ImageStats"]


@dataclass
class ImageStats:
    """Detections and labels of one evaluated cell, image by image (images in evaluation order)."""

    n_images: int
    det_image: np.ndarray  # [n] int32 image index of each detection
    det_conf: np.ndarray  # [n] float32
    det_cls: np.ndarray  # [n] int32
    det_tp: np.ndarray  # [n, T] bool: true positive at each IoU threshold
    gt_image: np.ndarray  # [m] int32 image index of each label
    gt_cls: np.ndarray  # [m] int32
    names: list[str] = field(default_factory=list)

    @classmethod
    def from_images(cls, images: Sequence[tuple[np.ndarray, np.ndarray]], names: Sequence[str] | None = None,
                    iouv: object = None) -> ImageStats:
        """Match each image's ``(detections [n, 6], labels [m, 5])`` as val.py does (``match_predictions``)."""
        import torch

        from prunebench.metrics.detection import IOU_THRESHOLDS, match_predictions

        thresholds = IOU_THRESHOLDS if iouv is None else torch.as_tensor(iouv, dtype=torch.float32)
        t = int(thresholds.shape[0])
        di, dc, dk, dt, gi, gc = [], [], [], [], [], []
        for i, (det, lab) in enumerate(images):
            det = np.asarray(det, dtype=np.float32).reshape(-1, 6)
            lab = np.asarray(lab, dtype=np.float32).reshape(-1, 5)
            if det.shape[0] and lab.shape[0]:
                tp = match_predictions(torch.from_numpy(det), torch.from_numpy(lab), thresholds).numpy()
            else:
                tp = np.zeros((det.shape[0], t), dtype=bool)
            di.append(np.full(det.shape[0], i, np.int32))
            dc.append(det[:, 4])
            dk.append(det[:, 5].astype(np.int32))
            dt.append(tp)
            gi.append(np.full(lab.shape[0], i, np.int32))
            gc.append(lab[:, 0].astype(np.int32))

        def cat(parts: list[np.ndarray], dtype: type, shape: tuple[int, ...] = (0,)) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype)

        return cls(n_images=len(images), det_image=cat(di, np.int32), det_conf=cat(dc, np.float32),
                   det_cls=cat(dk, np.int32), det_tp=cat(dt, bool, (0, t)), gt_image=cat(gi, np.int32),
                   gt_cls=cat(gc, np.int32), names=list(names or []))

    @property
    def n_thresholds(self) -> int:
        return int(self.det_tp.shape[1])

    def repeat(self, k: int) -> ImageStats:
        """The same images ``k`` times over (a validation set ``k`` times larger with the same content)."""
        n = self.n_images
        offs = np.repeat(np.arange(k, dtype=np.int32) * n, 1)
        return ImageStats(
            n_images=n * k,
            det_image=np.concatenate([self.det_image + o for o in offs]),
            det_conf=np.tile(self.det_conf, k), det_cls=np.tile(self.det_cls, k),
            det_tp=np.tile(self.det_tp, (k, 1)),
            gt_image=np.concatenate([self.gt_image + o for o in offs]), gt_cls=np.tile(self.gt_cls, k),
            names=list(self.names))

    def select(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(tp, conf, pred_cls, target_cls)`` of the resampled set: image ``i`` taken ``counts[i]`` times.

        The resampled set lists the images in their original order, each repeated as often as it was
        drawn: the arrays :func:`prunebench.metrics.detection.ap_per_class` would see for that set.
        """
        counts = np.asarray(counts, dtype=np.int64)
        det_order = np.argsort(self.det_image, kind="stable")
        gt_order = np.argsort(self.gt_image, kind="stable")
        di, gi = self.det_image[det_order], self.gt_image[gt_order]
        d_start = np.searchsorted(di, np.arange(self.n_images), "left")
        d_end = np.searchsorted(di, np.arange(self.n_images), "right")
        g_start = np.searchsorted(gi, np.arange(self.n_images), "left")
        g_end = np.searchsorted(gi, np.arange(self.n_images), "right")
        d_idx = [det_order[d_start[i]:d_end[i]] for i in range(self.n_images) for _ in range(counts[i])]
        g_idx = [gt_order[g_start[i]:g_end[i]] for i in range(self.n_images) for _ in range(counts[i])]
        d = np.concatenate(d_idx) if d_idx else np.zeros(0, np.int64)
        g = np.concatenate(g_idx) if g_idx else np.zeros(0, np.int64)
        return self.det_tp[d], self.det_conf[d], self.det_cls[d].astype(np.float32), self.gt_cls[g].astype(np.float32)

    # -- files -------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write a compressed ``.npz`` (the true-positive matrix bit-packed); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, n_images=np.int64(self.n_images), det_image=self.det_image,
                            det_conf=self.det_conf, det_cls=self.det_cls,
                            det_tp=np.packbits(self.det_tp, axis=1), n_thresholds=np.int64(self.n_thresholds),
                            gt_image=self.gt_image, gt_cls=self.gt_cls, names=np.array(self.names, dtype=str))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ImageStats:
        with np.load(Path(path), allow_pickle=False) as z:
            t = int(z["n_thresholds"])
            tp = np.unpackbits(z["det_tp"], axis=1, count=t).astype(bool) if z["det_tp"].size else \
                np.zeros((0, t), bool)
            return cls(n_images=int(z["n_images"]), det_image=z["det_image"], det_conf=z["det_conf"],
                       det_cls=z["det_cls"], det_tp=tp, gt_image=z["gt_image"], gt_cls=z["gt_cls"],
                       names=[str(s) for s in z["names"]])
