"""The task-aligned assigner of YOLOv8 (TOOD), as ultralytics 8.4 runs it: topk 10, alpha 0.5, beta 6.

For every ground-truth box: the candidate anchors are those whose centre lies strictly inside the box
(8.4: box sides under ``stride_val`` pixels are widened to it about the centre for this test only); the
alignment ``t = s^alpha * u^beta`` (s: predicted probability of the box's class, u: CIoU with the
prediction, clamped at 0); the ``topk`` anchors by t, kept when they are candidates; an anchor claimed by
several boxes keeps the one of largest u; the target score of a positive anchor is
``t * max_u(gt) / (max_t(gt) + eps)`` on the box's class.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from prunebench.models.ops import xywh2xyxy, xyxy2xywh

__all__ = ["Assignment", "TaskAlignedAssigner", "ciou"]


def ciou(box1: torch.Tensor, box2: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Element-wise Complete IoU of xyxy boxes ``[..., 4]`` -> ``[..., 1]`` (ultralytics 8.x arithmetic).

    Heights get ``+ eps``; the aspect term's weight ``alpha = v / (1 - iou + v + eps)`` carries no gradient.
    """
    b1_x1, b1_y1, b1_x2, b1_y2 = box1.chunk(4, -1)
    b2_x1, b2_y1, b2_x2, b2_y2 = box2.chunk(4, -1)
    w1, h1 = b1_x2 - b1_x1, b1_y2 - b1_y1 + eps
    w2, h2 = b2_x2 - b2_x1, b2_y2 - b2_y1 + eps
    inter = (b1_x2.minimum(b2_x2) - b1_x1.maximum(b2_x1)).clamp(0) * \
            (b1_y2.minimum(b2_y2) - b1_y1.maximum(b2_y1)).clamp(0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = b1_x2.maximum(b2_x2) - b1_x1.minimum(b2_x1)
    ch = b1_y2.maximum(b2_y2) - b1_y1.minimum(b2_y1)
    c2 = cw.pow(2) + ch.pow(2) + eps
    rho2 = ((b2_x1 + b2_x2 - b1_x1 - b1_x2).pow(2) + (b2_y1 + b2_y2 - b1_y1 - b1_y2).pow(2)) / 4
    v = (4 / math.pi ** 2) * ((w2 / h2).atan() - (w1 / h1).atan()).pow(2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return iou - (rho2 / c2 + v * alpha)


class Assignment(NamedTuple):
    """Per anchor: assigned class, box (xyxy pixels), soft class scores, foreground flag and gt index."""

    labels: torch.Tensor  #: [bs, A] long
    bboxes: torch.Tensor  #: [bs, A, 4]
    scores: torch.Tensor  #: [bs, A, nc]
    fg_mask: torch.Tensor  #: [bs, A] bool
    gt_idx: torch.Tensor  #: [bs, A] long


class TaskAlignedAssigner:
    """Assign ground truths to anchors by the task-aligned metric (see the module docstring)."""

    def __init__(self, topk: int = 10, num_classes: int = 80, alpha: float = 0.5, beta: float = 6.0,
                 stride: list[float] | None = None, eps: float = 1e-9) -> None:
        self.topk = topk
        self.num_classes = num_classes
        self.alpha = alpha
        self.beta = beta
        self.stride = list(stride) if stride is not None else [8.0, 16.0, 32.0]
        #: sides under this many pixels are widened to it for the inside-box test (8.4: the second stride)
        self.stride_val = self.stride[1] if len(self.stride) > 1 else self.stride[0]
        self.eps = eps

    @torch.no_grad()
    def __call__(self, pd_scores: torch.Tensor, pd_bboxes: torch.Tensor, anc_points: torch.Tensor,
                 gt_labels: torch.Tensor, gt_bboxes: torch.Tensor, mask_gt: torch.Tensor) -> Assignment:
        """``pd_scores [bs, A, nc]`` probabilities, ``pd_bboxes [bs, A, 4]`` and ``anc_points [A, 2]`` in pixels,
        ``gt_labels [bs, n, 1]``, ``gt_bboxes [bs, n, 4]`` xyxy pixels, ``mask_gt [bs, n, 1]`` (1 = real box)."""
        bs, n = pd_scores.shape[0], gt_bboxes.shape[1]
        if n == 0:
            return Assignment(torch.full_like(pd_scores[..., 0], self.num_classes).long(), torch.zeros_like(pd_bboxes),
                              torch.zeros_like(pd_scores), torch.zeros_like(pd_scores[..., 0], dtype=torch.bool),
                              torch.zeros_like(pd_scores[..., 0]).long())
        mask_in_gts = self.candidates_in_gts(anc_points, gt_bboxes, mask_gt)
        align_metric, overlaps = self._box_metrics(pd_scores, pd_bboxes, gt_labels, gt_bboxes, mask_in_gts * mask_gt)
        mask_topk = self._topk(align_metric, mask_gt.expand(-1, -1, self.topk).bool())
        mask_pos = mask_topk * mask_in_gts * mask_gt.bool()
        gt_idx, fg_mask, mask_pos = self._highest_overlaps(mask_pos, overlaps, n)
        labels, bboxes, scores = self._targets(gt_labels, gt_bboxes, gt_idx, fg_mask, bs, n)
        align_metric = align_metric * mask_pos
        pos_align = align_metric.amax(dim=-1, keepdim=True)
        pos_overlaps = (overlaps * mask_pos).amax(dim=-1, keepdim=True)
        norm = (align_metric * pos_overlaps / (pos_align + self.eps)).amax(-2).unsqueeze(-1)
        return Assignment(labels, bboxes, scores * norm, fg_mask.bool(), gt_idx)

    def candidates_in_gts(self, xy_centers: torch.Tensor, gt_bboxes: torch.Tensor,
                          mask_gt: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
        """``[bs, n, A]``: anchor centre strictly inside the box, sides under ``stride_val`` widened to it."""
        xywh = xyxy2xywh(gt_bboxes)
        small = (xywh[..., 2:] < self.stride_val) & mask_gt.bool()
        xywh[..., 2:] = torch.where(small, torch.tensor(self.stride_val, dtype=xywh.dtype, device=xywh.device),
                                    xywh[..., 2:])
        lt, rb = xywh2xyxy(xywh).unsqueeze(2).chunk(2, 3)  # [bs, n, 1, 2]
        mask = xy_centers[:, 0] - lt[..., 0] > eps
        mask &= xy_centers[:, 1] - lt[..., 1] > eps
        mask &= rb[..., 0] - xy_centers[:, 0] > eps
        mask &= rb[..., 1] - xy_centers[:, 1] > eps
        return mask

    def _box_metrics(self, pd_scores: torch.Tensor, pd_bboxes: torch.Tensor, gt_labels: torch.Tensor,
                     gt_bboxes: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bs, n, na = mask.shape
        idx = mask.bool().nonzero(as_tuple=True)
        scores = pd_scores[idx[0], idx[2], gt_labels[idx[0], idx[1], 0].long()]
        ious = ciou(gt_bboxes[idx[:2]], pd_bboxes[idx[0], idx[2]]).squeeze(-1).clamp(0)
        overlaps = torch.zeros((bs, n, na), dtype=pd_bboxes.dtype, device=pd_bboxes.device)
        align = torch.zeros((bs, n, na), dtype=pd_scores.dtype, device=pd_scores.device)
        overlaps[idx] = ious
        align[idx] = scores.pow(self.alpha) * ious.pow(self.beta)
        return align, overlaps

    def _topk(self, metrics: torch.Tensor, topk_mask: torch.Tensor) -> torch.Tensor:
        _, topk_idxs = torch.topk(metrics, self.topk, dim=-1, largest=True)
        topk_idxs = topk_idxs.masked_fill(~topk_mask, 0)
        count = torch.zeros(metrics.shape, dtype=torch.int8, device=metrics.device)
        count.scatter_add_(-1, topk_idxs, torch.ones_like(topk_idxs, dtype=torch.int8))
        return count.masked_fill(count > 1, 0)

    @staticmethod
    def _highest_overlaps(mask_pos: torch.Tensor, overlaps: torch.Tensor,
                          n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fg = mask_pos.sum(-2)
        multi = (fg.unsqueeze(1) > 1).expand(-1, n, -1)
        best = overlaps.max(1).indices
        is_best = torch.zeros(mask_pos.shape, dtype=mask_pos.dtype, device=mask_pos.device)
        is_best.scatter_(1, best.unsqueeze(1), 1)
        mask_pos = torch.where(multi, is_best, mask_pos)
        fg_mask, gt_idx = mask_pos.max(-2)
        return gt_idx, fg_mask, mask_pos

    def _targets(self, gt_labels: torch.Tensor, gt_bboxes: torch.Tensor, gt_idx: torch.Tensor, fg_mask: torch.Tensor,
                 bs: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = torch.arange(bs, dtype=torch.int64, device=gt_labels.device)[..., None]
        flat = gt_idx + batch * n
        labels = gt_labels.long().flatten()[flat].clamp(0)
        bboxes = gt_bboxes.view(-1, gt_bboxes.shape[-1])[flat]
        scores = torch.zeros((*labels.shape, self.num_classes), dtype=torch.int8, device=labels.device)
        scores.scatter_(2, labels.unsqueeze(-1), 1)
        return labels, bboxes, scores * (fg_mask[:, :, None] > 0)
