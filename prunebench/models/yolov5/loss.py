"""YOLOv5's ComputeLoss: anchor_t matching with neighbour cells, CIoU box loss, IoU objectness, class BCE."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from prunebench.errors import UsageError
from prunebench.models.ops import bbox_iou

__all__ = ["ComputeLoss", "scale_hyp"]


def scale_hyp(hyp: Mapping[str, float], *, nl: int = 3, nc: int = 80, imgsz: int = 640) -> dict[str, float]:
    """The gains as YOLOv5's train.py scales them: box*3/nl, cls*nc/80*3/nl, obj*(imgsz/640)^2*3/nl."""
    h = dict(hyp)
    h["box"] = h["box"] * 3 / nl
    h["cls"] = h["cls"] * nc / 80 * 3 / nl
    h["obj"] = h["obj"] * (imgsz / 640) ** 2 * 3 / nl
    return h


def _detect(model: nn.Module) -> Any:
    m = getattr(model, "module", model)  # DataParallel / DDP
    return m.model[-1]


class ComputeLoss:
    """``loss(train_outputs, targets[n, 6]) -> (loss * bs, [box, obj, cls] detached)``.

    ``hyp`` must hold the *already scaled* gains (see :func:`scale_hyp`) plus ``cls_pw``, ``obj_pw``,
    ``anchor_t``, ``fl_gamma`` (only 0 is supported: anything else is a UsageError) and optionally
    ``label_smoothing``. Anchors, strides and ``nc`` are read from the model's Detect layer, so a pruned
    model works unchanged.
    """

    sort_obj_iou = False

    def __init__(self, model: nn.Module, hyp: Mapping[str, float]) -> None:
        p = next(model.parameters())
        device = p.device
        h = dict(hyp)
        if float(h.get("fl_gamma", 0.0)) > 0:
            raise UsageError(f"hyp fl_gamma={h['fl_gamma']}: focal loss is not supported by prunebench's YOLOv5 "
                             "loss (allowed: 0.0, as in hyp.scratch-low).", hint="Remove fl_gamma from the hyp "
                             "overrides.")
        missing = [k for k in ("box", "obj", "cls", "anchor_t") if k not in h]
        if missing:
            raise UsageError(f"The loss hyper-parameters lack {missing}; got keys {sorted(h)}.",
                             hint="Start from family.default_hyp() and override what you need.")
        self.BCEcls = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([h.get("cls_pw", 1.0)], device=device))
        self.BCEobj = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([h.get("obj_pw", 1.0)], device=device))
        eps = float(h.get("label_smoothing", 0.0))
        self.cp, self.cn = 1.0 - 0.5 * eps, 0.5 * eps
        m = _detect(model)
        self.balance = {3: [4.0, 1.0, 0.4]}.get(m.nl, [4.0, 1.0, 0.25, 0.06, 0.02])
        self.gr = 1.0
        self.hyp = h
        self.na, self.nc, self.nl = m.na, m.nc, m.nl
        self.anchors = m.anchors
        self.device = device

    def __call__(self, p: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], list):  # eval-mode output
            p = p[1]
        targets = targets.to(self.device)
        lcls = torch.zeros(1, device=self.device)
        lbox = torch.zeros(1, device=self.device)
        lobj = torch.zeros(1, device=self.device)
        tcls, tbox, indices, anchors = self.build_targets(p, targets)
        for i, pi in enumerate(p):
            b, a, gj, gi = indices[i]
            tobj = torch.zeros(pi.shape[:4], dtype=pi.dtype, device=self.device)
            n = b.shape[0]
            if n:
                pxy, pwh, _, pcls = pi[b, a, gj, gi].split((2, 2, 1, self.nc), 1)
                pxy = pxy.sigmoid() * 2 - 0.5
                pwh = (pwh.sigmoid() * 2) ** 2 * anchors[i]
                pbox = torch.cat((pxy, pwh), 1)
                iou = bbox_iou(pbox, tbox[i], CIoU=True).squeeze(-1)
                lbox += (1.0 - iou).mean()
                iou = iou.detach().clamp(0).type(tobj.dtype)
                if self.sort_obj_iou:
                    j = iou.argsort()
                    b, a, gj, gi, iou = b[j], a[j], gj[j], gi[j], iou[j]
                if self.gr < 1:
                    iou = (1.0 - self.gr) + self.gr * iou
                tobj[b, a, gj, gi] = iou
                if self.nc > 1:
                    t = torch.full_like(pcls, self.cn, device=self.device)
                    t[range(n), tcls[i]] = self.cp
                    lcls += self.BCEcls(pcls, t)
            obji = self.BCEobj(pi[..., 4], tobj)
            lobj += obji * self.balance[i]
        lbox *= self.hyp["box"]
        lobj *= self.hyp["obj"]
        lcls *= self.hyp["cls"]
        bs = p[0].shape[0]
        return (lbox + lobj + lcls) * bs, torch.cat((lbox, lobj, lcls)).detach()

    def build_targets(self, p: list[torch.Tensor], targets: torch.Tensor) -> tuple[list, list, list, list]:
        """Assign targets ``[image, class, x, y, w, h]`` (normalised) to anchors and cells of every level."""
        na, nt = self.na, targets.shape[0]
        tcls, tbox, indices, anch = [], [], [], []
        gain = torch.ones(7, device=self.device)
        ai = torch.arange(na, device=self.device).float().view(na, 1).repeat(1, nt)
        targets = torch.cat((targets.repeat(na, 1, 1), ai[..., None]), 2)  # [na, nt, 7]
        g = 0.5
        off = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], device=self.device).float() * g
        for i in range(self.nl):
            anchors, shape = self.anchors[i], p[i].shape
            gain[2:6] = torch.tensor(shape, device=self.device)[[3, 2, 3, 2]].float()
            t = targets * gain
            if nt:
                r = t[..., 4:6] / anchors[:, None]
                j = torch.max(r, 1 / r).max(2)[0] < self.hyp["anchor_t"]
                t = t[j]
                gxy = t[:, 2:4]
                gxi = gain[[2, 3]] - gxy
                j, k = ((gxy % 1 < g) & (gxy > 1)).T
                left, m = ((gxi % 1 < g) & (gxi > 1)).T
                j = torch.stack((torch.ones_like(j), j, k, left, m))
                t = t.repeat((5, 1, 1))[j]
                offsets = (torch.zeros_like(gxy)[None] + off[:, None])[j]
            else:
                t = targets[0]
                offsets = 0
            bc, gxy, gwh, a = t.chunk(4, 1)
            a, (b, c) = a.long().view(-1), bc.long().T
            gij = (gxy - offsets).long()
            gi, gj = gij.T
            indices.append((b, a, gj.clamp_(0, shape[2] - 1), gi.clamp_(0, shape[3] - 1)))
            tbox.append(torch.cat((gxy - gij, gwh), 1))
            anch.append(anchors[a])
            tcls.append(c)
        return tcls, tbox, indices, anch
