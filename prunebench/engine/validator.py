"""Validation as YOLOv5's val.py does it: letterboxed batches, NMS, boxes back in native pixels, metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from prunebench.engine.config import EvalConfig
from prunebench.models.ops import scale_boxes, xywh2xyxy

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import ModelFamily
    from prunebench.metrics.detection import DetectionMetrics

__all__ = ["ValResult", "resolve_device", "validate"]


@dataclass
class ValResult:
    """Metrics of one validation pass, its mean loss components and the per-image predictions/labels."""

    metrics: DetectionMetrics
    loss: torch.Tensor | None  #: mean over batches of the parts named by ``family.loss_names``, or None
    seconds: float
    n_images: int
    #: per image ``(detections [n, 6] x1 y1 x2 y2 conf cls, labels [m, 5] cls x1 y1 x2 y2)`` in native pixels
    images: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    shapes: list[tuple[int, int]] = field(default_factory=list)  #: native (height, width) per image


def resolve_device(device: str | torch.device) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N`` -> a torch device; a clear error when CUDA is not there."""
    from prunebench.errors import UsageError

    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise UsageError(f"device {str(device)!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'.") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {str(device)!r} requested but CUDA is not available here.",
                             hint="Use device 'cpu', or install a CUDA build of torch.")
        index = dev.index or 0
        if index >= torch.cuda.device_count():
            raise UsageError(f"device {str(device)!r}: only {torch.cuda.device_count()} CUDA device(s) here "
                             f"(cuda:0..cuda:{torch.cuda.device_count() - 1}).")
        dev = torch.device("cuda", index)
    elif dev.type != "cpu":
        raise UsageError(f"device {str(device)!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'.")
    return dev


@torch.no_grad()
def validate(model: nn.Module, family: ModelFamily, data_yaml: Path | str | None, cfg: EvalConfig | None = None, *,
             device: str = "cpu", names: Sequence[str] | None = None,
             loss_fn: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None,
             dataloader: Any = None, imgsz: int | None = None, rect: bool = True) -> ValResult:
    """Run ``model`` over the ``cfg.split`` of ``data_yaml`` and compute YOLOv5's metrics.

    Images are letterboxed to ``cfg.imgsz`` (else ``imgsz``, else 640) in rectangular batches (``rect``,
    pad 0.5 as val.py) without augmentation; detections from ``family.postprocess`` and labels are scaled
    back to native pixels before matching. ``dataloader`` (from :func:`create_dataloader`) is reused
    when given. ``loss_fn`` adds the mean validation loss components.
    """
    from prunebench.data.loader import create_dataloader
    from prunebench.data.yolo import load_data_yaml
    from prunebench.metrics.detection import DetectionStats

    cfg = cfg or EvalConfig()
    size = cfg.imgsz or imgsz or 640
    dev = resolve_device(device)
    if dataloader is None:
        if data_yaml is None:
            raise ValueError("Expected `data_yaml` or `dataloader` but got neither.")
        info = load_data_yaml(data_yaml)
        names = names or info.names
        stride = int(getattr(family, "stride", 32))
        dataloader = create_dataloader(info, cfg.split, size, cfg.batch_size, augment=False, rect=rect,
                                          pad=0.5 if rect else 0.0, stride=stride, cache=False)
    was_training = model.training
    model.to(dev).eval()  # the caller's model moves to ``device`` (as YOLOv5's val.run does)
    half = bool(cfg.half and dev.type == "cuda")
    model_dtype = torch.float16 if half else torch.float32
    if half:
        model.half()
    nc = len(names) if names else int(getattr(model, "nc", 1) or 1)
    stats = DetectionStats()
    loss_sum = torch.zeros(len(family.loss_names), device=dev)
    n_batches = 0
    paths: list[str] = []
    shapes0: list[tuple[int, int]] = []
    t0 = time.perf_counter()
    try:
        for imgs, targets, batch_paths, batch_shapes in dataloader:
            imgs = imgs.to(dev, non_blocking=True).to(model_dtype) / 255
            targets = targets.to(dev)
            out = model(imgs)
            preds, train_out = (out[0], out[1]) if isinstance(out, (tuple, list)) and len(out) == 2 else (out, None)
            if loss_fn is not None and train_out is not None:
                loss_sum += loss_fn([x.float() for x in train_out], targets)[1].to(dev)
            n_batches += 1
            dets = family.postprocess(preds.float(), conf_thres=cfg.conf_thres, iou_thres=cfg.iou_thres,
                                      max_det=cfg.max_det, multi_label=nc > 1)
            h, w = imgs.shape[2:]
            targets[:, 2:] *= torch.tensor((w, h, w, h), device=dev, dtype=targets.dtype)
            for si, det in enumerate(dets):
                shape0, ratio_pad = batch_shapes[si]
                lab = targets[targets[:, 0] == si, 1:].float()
                lab_native = torch.zeros((lab.shape[0], 5))
                if lab.shape[0]:
                    lab_native[:, 0] = lab[:, 0].cpu()
                    lab_native[:, 1:] = scale_boxes((h, w), xywh2xyxy(lab[:, 1:5]), shape0, ratio_pad).cpu()
                predn = det.detach().float().clone().cpu()
                if predn.shape[0]:
                    scale_boxes((h, w), predn, shape0, ratio_pad)
                stats.update(predn, lab_native)
                paths.append(str(batch_paths[si]))
                shapes0.append((int(shape0[0]), int(shape0[1])))
    finally:
        if half:
            model.float()
        model.train(was_training)
    metrics = stats.compute(list(names) if names else [str(i) for i in range(nc)])
    return ValResult(metrics=metrics, loss=(loss_sum / max(n_batches, 1)).cpu() if loss_fn is not None else None,
                     seconds=time.perf_counter() - t0, n_images=stats.n_images, images=stats.images,
                     paths=paths, shapes=shapes0)
