"""Vectorised greedy NMS in pure torch (torchvision-identical) and YOLOv5's ``non_max_suppression``."""

from __future__ import annotations

from typing import Any

import torch

from prunebench.models.ops import xywh2xyxy

__all__ = ["MAX_NMS", "MAX_WH", "nms", "non_max_suppression"]

MAX_WH = 7680  #: class offset (pixels) that makes NMS class-aware
MAX_NMS = 30000  #: at most this many top-scoring candidates enter NMS


def _pair_iou(a: torch.Tensor, b: torch.Tensor, area_a: torch.Tensor, area_b: torch.Tensor) -> torch.Tensor:
    """IoU ``[len(a), len(b)]`` with torchvision's arithmetic: inter / (area_a + area_b - inter)."""
    xx1 = torch.maximum(a[:, None, 0], b[None, :, 0])
    yy1 = torch.maximum(a[:, None, 1], b[None, :, 1])
    xx2 = torch.minimum(a[:, None, 2], b[None, :, 2])
    yy2 = torch.minimum(a[:, None, 3], b[None, :, 3])
    inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, *, max_keep: int | None = None,
        block: int = 1024) -> torch.Tensor:
    """Greedy NMS: indices of the kept ``boxes`` (xyxy) by decreasing score, as ``torchvision.ops.nms``.

    A box is dropped when its IoU with a higher-scoring kept box is ``> iou_threshold``; equal scores keep
    their input order (stable sort). Work is done in blocks of ``block`` sorted boxes: each block is first
    suppressed by the boxes already kept (one IoU matrix), then resolved inside by a fixed-point iteration on
    its IoU matrix (``keep_j = alive_j and no kept i < j overlaps j``), which reaches greedy NMS's unique
    answer in at most ``block`` vectorised rounds (usually a handful). ``max_keep`` stops once that many are
    kept (the first ``max_keep`` of the full answer, since greedy NMS is decided in score order).
    """
    n = boxes.shape[0]
    if n == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    b = boxes[order]
    areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    kept_pos: list[torch.Tensor] = []
    chunk = max(4 * block, 4096)
    kept_boxes = b[:0]
    kept_areas = areas[:0]
    total = 0
    for start in range(0, n, block):
        cb, ca = b[start:start + block], areas[start:start + block]
        alive = torch.ones(cb.shape[0], dtype=torch.bool, device=b.device)
        for k in range(0, kept_boxes.shape[0], chunk):  # bounded memory: kept boxes in chunks
            kb, ka = kept_boxes[k:k + chunk], kept_areas[k:k + chunk]
            alive &= ~(_pair_iou(kb, cb, ka, ca) > iou_threshold).any(0)
        sup = torch.triu(_pair_iou(cb, cb, ca, ca) > iou_threshold, diagonal=1)  # sup[i, j]: i above j
        sup &= alive[:, None]
        supf = sup.to(torch.float32)
        keep = alive.clone()
        for _ in range(cb.shape[0] + 1):
            new = alive & ~((keep.to(torch.float32) @ supf) > 0)
            if torch.equal(new, keep):
                break
            keep = new
        pos = keep.nonzero().view(-1)
        kept_pos.append(pos + start)
        kept_boxes = torch.cat((kept_boxes, cb[pos]))
        kept_areas = torch.cat((kept_areas, ca[pos]))
        total += pos.numel()
        if max_keep is not None and total >= max_keep:
            break
    keep_idx = order[torch.cat(kept_pos)]
    return keep_idx if max_keep is None else keep_idx[:max_keep]


def non_max_suppression(prediction: Any, conf_thres: float = 0.25, iou_thres: float = 0.45,
                        classes: list[int] | None = None, agnostic: bool = False, multi_label: bool = False,
                        max_det: int = 300) -> list[torch.Tensor]:
    """YOLOv5's NMS over decoded predictions ``[bs, n, 5+nc]`` (or the eval-mode ``(decoded, raw)`` tuple).

    Per image: keep rows with objectness > ``conf_thres``; score = obj * cls; one row per box (best class)
    or, with ``multi_label`` (only when nc > 1), one per class above ``conf_thres``; at most
    :data:`MAX_NMS` top scores; class-aware by offsetting boxes by class * :data:`MAX_WH`; greedy NMS at
    ``iou_thres``; at most ``max_det`` rows ``[x1, y1, x2, y2, conf, cls]`` by decreasing score. Unlike the
    official code there is no time limit: every image is always processed.
    """
    if isinstance(prediction, (list, tuple)):
        prediction = prediction[0]
    if not 0 <= conf_thres <= 1:
        raise ValueError(f"conf_thres must be in [0, 1], got {conf_thres}")
    if not 0 <= iou_thres <= 1:
        raise ValueError(f"iou_thres must be in [0, 1], got {iou_thres}")
    bs = prediction.shape[0]
    nc = prediction.shape[2] - 5
    xc = prediction[..., 4] > conf_thres
    multi_label &= nc > 1
    output = [torch.zeros((0, 6), device=prediction.device, dtype=prediction.dtype)] * bs
    for xi in range(bs):
        x = prediction[xi][xc[xi]].clone()
        if not x.shape[0]:
            continue
        x[:, 5:] *= x[:, 4:5]  # conf = obj_conf * cls_conf
        box = xywh2xyxy(x[:, :4])
        if multi_label:
            i, j = (x[:, 5:] > conf_thres).nonzero(as_tuple=False).T
            x = torch.cat((box[i], x[i, 5 + j, None], j[:, None].to(x.dtype)), 1)
        else:
            conf, j = x[:, 5:].max(1, keepdim=True)
            x = torch.cat((box, conf, j.to(x.dtype)), 1)[conf.view(-1) > conf_thres]
        if classes is not None:
            x = x[(x[:, 5:6] == torch.tensor(classes, device=x.device)).any(1)]
        if not x.shape[0]:
            continue
        x = x[torch.sort(x[:, 4], descending=True, stable=True).indices[:MAX_NMS]]
        c = x[:, 5:6] * (0 if agnostic else MAX_WH)
        i = nms(x[:, :4] + c, x[:, 4], iou_thres, max_keep=max_det)
        output[xi] = x[i[:max_det]]
    return output
