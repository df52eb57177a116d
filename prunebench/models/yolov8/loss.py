"""YOLOv8's detection loss (ultralytics 8.4 ``v8DetectionLoss``): BCE classes, CIoU boxes and DFL, TAL targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from prunebench.models.ops import xywh2xyxy
from prunebench.models.yolov8.assigner import TaskAlignedAssigner, ciou
from prunebench.models.yolov8.modules import Detect, dist2bbox, make_anchors

__all__ = ["V8DetectionLoss", "bbox2dist", "dfl_loss"]


def bbox2dist(anchor_points: torch.Tensor, bbox: torch.Tensor, reg_max: float | None = None) -> torch.Tensor:
    """xyxy boxes -> (left, top, right, bottom) distances from ``anchor_points``, clamped to ``[0, reg_max - 0.01]``."""
    x1y1, x2y2 = bbox.chunk(2, -1)
    dist = torch.cat((anchor_points - x1y1, x2y2 - anchor_points), -1)
    return dist if reg_max is None else dist.clamp(0, reg_max - 0.01)


def dfl_loss(pred_dist: torch.Tensor, target: torch.Tensor, reg_max: int = 16) -> torch.Tensor:
    """Distribution focal loss ``[n, 1]``: cross-entropy to the two bins around each side, linearly weighted,
    averaged over the 4 sides. ``pred_dist`` is ``[n * 4, reg_max]`` logits, ``target`` ``[n, 4]`` in bins."""
    target = target.clamp(0, reg_max - 1 - 0.01)
    tl = target.long()
    tr = tl + 1
    wl = tr - target
    wr = 1 - wl
    logp = F.log_softmax(pred_dist, dim=1)
    return -(logp.gather(1, tl.view(-1, 1)).view(tl.shape) * wl
             + logp.gather(1, tr.view(-1, 1)).view(tl.shape) * wr).mean(-1, keepdim=True)


class V8DetectionLoss:
    """``loss_fn(train_outputs, targets) -> (total, items)`` for a YOLOv8 model.

    ``train_outputs``: the training-mode list of ``[bs, 4 * reg_max + nc, h, w]`` tensors (or the eval
    ``(y, list)`` tuple); ``targets [n, 6]``: image index, class, cx, cy, w, h normalised. ``items`` is
    ``[box, cls, dfl]`` with the gains applied; ``total`` is their sum times the batch size (ultralytics
    back-propagates the sum of the same vector).
    """

    def __init__(self, model: nn.Module, hyp: Mapping[str, float], tal_topk: int = 10) -> None:
        m = getattr(model, "module", model)
        det = m.model[-1]
        if not isinstance(det, Detect):
            raise TypeError(f"Expected a YOLOv8 model whose last layer is Detect, got {type(det).__name__}")
        self.det = det
        self.box_gain = float(hyp.get("box", 7.5))
        self.cls_gain = float(hyp.get("cls", 0.5))
        self.dfl_gain = float(hyp.get("dfl", 1.5))
        self.nc = det.nc
        self.reg_max = det.reg_max
        self.no = det.no
        self.assigner = TaskAlignedAssigner(topk=tal_topk, num_classes=self.nc, alpha=0.5, beta=6.0,
                                            stride=[float(s) for s in det.stride])

    def _preprocess(self, targets: torch.Tensor, bs: int, scale: torch.Tensor) -> torch.Tensor:
        """``[n, 6]`` -> ``[bs, max_boxes, 5]`` (class, xyxy pixels), zero-padded."""
        device = targets.device
        if targets.shape[0] == 0:
            return torch.zeros(bs, 0, 5, device=device)
        i = targets[:, 0].long()
        counts = torch.bincount(i, minlength=bs)
        out = torch.zeros(bs, int(counts.max()), 5, device=device)
        for j in range(bs):
            rows = targets[i == j, 1:]
            if rows.shape[0]:
                out[j, :rows.shape[0]] = rows
        out[..., 1:5] = xywh2xyxy(out[..., 1:5].mul(scale))
        return out

    def __call__(self, outputs: Any, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats: Sequence[torch.Tensor] = outputs[1] if isinstance(outputs, tuple) else outputs
        device = feats[0].device
        stride = self.det.stride.to(device)
        bs = feats[0].shape[0]
        pred_distri, pred_scores = torch.cat([xi.view(bs, self.no, -1) for xi in feats], 2).split(
            (self.reg_max * 4, self.nc), 1)
        pred_scores = pred_scores.permute(0, 2, 1).contiguous()
        pred_distri = pred_distri.permute(0, 2, 1).contiguous()
        dtype = pred_scores.dtype
        imgsz = torch.tensor(feats[0].shape[2:], device=device, dtype=dtype) * stride[0]
        anchor_points, stride_tensor = make_anchors(feats, stride, 0.5)

        gt = self._preprocess(targets.to(device).float(), bs, imgsz[[1, 0, 1, 0]])
        gt_labels, gt_bboxes = gt.split((1, 4), 2)
        mask_gt = gt_bboxes.sum(2, keepdim=True).gt(0.0)

        proj = torch.arange(self.reg_max, dtype=dtype, device=device)
        b, a, c = pred_distri.shape
        pred_bboxes = dist2bbox(pred_distri.view(b, a, 4, c // 4).softmax(3).matmul(proj), anchor_points,
                                xywh=False)
        pd_pixels = (pred_bboxes.detach() * stride_tensor).type(gt_bboxes.dtype)
        res = self.assigner(pred_scores.detach().sigmoid(), pd_pixels, anchor_points * stride_tensor, gt_labels,
                            gt_bboxes, mask_gt)
        target_scores = res.scores
        tss = target_scores.sum().clamp(min=1)
        bce = F.binary_cross_entropy_with_logits(pred_scores, target_scores.to(dtype), reduction="none")
        loss_cls = bce.sum() / tss

        fg = res.fg_mask.nonzero(as_tuple=True)
        target_bboxes = res.bboxes / stride_tensor
        weight = target_scores[fg].sum(-1, keepdim=True)
        iou = ciou(pred_bboxes[fg], target_bboxes[fg])
        loss_box = ((1.0 - iou) * weight).sum() / tss
        target_ltrb = bbox2dist(anchor_points, target_bboxes, self.reg_max - 1)
        dfl = dfl_loss(pred_distri[fg].view(-1, self.reg_max), target_ltrb[fg], self.reg_max)
        loss_dfl = (dfl * weight).sum() / tss

        items = torch.stack((loss_box * self.box_gain, loss_cls * self.cls_gain, loss_dfl * self.dfl_gain))
        return items.sum() * bs, items.detach()
