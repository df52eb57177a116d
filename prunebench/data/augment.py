"""YOLOv5's image transforms with OpenCV: decode, resize, letterbox, HSV gains, random perspective, mosaic, mixup.

Images are ``HxWx3`` uint8 in OpenCV's **BGR** order throughout (as decoded); the loader turns them into
RGB ``CHW`` tensors in its final copy. The semantics are those of YOLOv5 v7.0's ``utils/dataloaders.py``
and ``utils/augmentations.py``: sizes floor-rounded, LINEAR for training resizes and AREA when shrinking
without augmentation, grey 114 borders, hue on OpenCV's 0-179 scale. Randomness comes from the numpy
``Generator`` passed in, never from global state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "PAD_VALUE",
    "augment_hsv",
    "box_candidates",
    "imread",
    "letterbox",
    "load_resized",
    "mixup",
    "mosaic4",
    "random_affine",
    "random_perspective",
    "resize_long_side",
    "resized_shape",
    "xywhn2xyxy",
    "xyxy2xywhn",
]

PAD_VALUE = 114  #: grey used for letterbox, mosaic and warp borders (YOLOv5)
_BORDER = (PAD_VALUE, PAD_VALUE, PAD_VALUE)

# OpenCV's own thread pool fights the data-loader workers and torch for the same cores (YOLOv5 does the same).
cv2.setNumThreads(0)


def imread(path: str | Path) -> np.ndarray:
    """Decode ``path`` as a BGR uint8 image (EXIF orientation applied, as ``cv2.imread`` does)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f"{path}: OpenCV could not decode the image (it passed the dataset check; was it changed "
                      "since? run `prunebench data check` again)")
    return img


def resized_shape(h0: int, w0: int, imgsz: int) -> tuple[int, int]:
    """The (h, w) an ``h0 x w0`` image gets when its long side is scaled to ``imgsz`` (floor-rounded, as YOLOv5)."""
    r = imgsz / max(h0, w0)
    if r == 1:
        return h0, w0
    return max(1, int(h0 * r)), max(1, int(w0 * r))


def resize_long_side(img: np.ndarray, imgsz: int, *, augment: bool) -> np.ndarray:
    """Scale so that the long side is ``imgsz``: INTER_LINEAR when augmenting or enlarging, else INTER_AREA."""
    h0, w0 = img.shape[:2]
    r = imgsz / max(h0, w0)
    if r == 1:
        return img
    h, w = resized_shape(h0, w0, imgsz)
    interp = cv2.INTER_LINEAR if (augment or r > 1) else cv2.INTER_AREA
    return cv2.resize(img, (w, h), interpolation=interp)


def load_resized(path: str | Path, imgsz: int, augment: bool = True,
                 ) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """Decode ``path`` (BGR) and resize its long side to ``imgsz``; return img, (h0, w0), (h, w)."""
    img = imread(path)
    h0, w0 = img.shape[:2]
    img = resize_long_side(img, imgsz, augment=augment)
    return img, (h0, w0), img.shape[:2]


def letterbox(img: np.ndarray, new_shape: int | tuple[int, int] = 640, *, scaleup: bool = True,
              color: int = PAD_VALUE) -> tuple[np.ndarray, tuple[float, float], tuple[float, float]]:
    """Resize keeping the aspect ratio (INTER_LINEAR) and pad to ``new_shape`` (h, w); return img, (rw, rh), (dw, dh).

    The unpadded size is ``round(side * r)``; the padding is split in two, the odd pixel going to the
    bottom / right (YOLOv5's ``round(d -/+ 0.1)``).
    """
    shape = img.shape[:2]
    if isinstance(new_shape, int):
        new_shape = (new_shape, new_shape)
    r = min(new_shape[0] / shape[0], new_shape[1] / shape[1])
    if not scaleup:
        r = min(r, 1.0)
    new_unpad = (round(shape[1] * r), round(shape[0] * r))  # w, h
    dw, dh = (new_shape[1] - new_unpad[0]) / 2, (new_shape[0] - new_unpad[1]) / 2
    if (shape[1], shape[0]) != new_unpad:
        img = cv2.resize(img, new_unpad, interpolation=cv2.INTER_LINEAR)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    if top or bottom or left or right:
        img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(color, color, color))
    return img, (r, r), (dw, dh)


def augment_hsv(img: np.ndarray, rng: np.random.Generator, hgain: float = 0.5, sgain: float = 0.5,
                vgain: float = 0.5) -> np.ndarray:
    """Random hue, saturation and value gains through look-up tables in OpenCV's HSV (hue 0-179), in place.

    ``img`` is BGR; the gains are ``1 + uniform(-1, 1) * gain`` per channel, hue wrapping modulo 180.
    Returns ``img`` (changed in place).
    """
    if not (hgain or sgain or vgain):
        return img
    r = rng.uniform(-1, 1, 3) * np.array([hgain, sgain, vgain]) + 1
    x = np.arange(256, dtype=r.dtype)
    lut = np.empty((1, 256, 3), np.uint8)  # one 3-channel table: one cv2.LUT call instead of split/merge
    lut[0, :, 0] = (x * r[0]) % 180
    lut[0, :, 1] = np.clip(x * r[1], 0, 255)
    lut[0, :, 2] = np.clip(x * r[2], 0, 255)
    hsv = cv2.LUT(cv2.cvtColor(img, cv2.COLOR_BGR2HSV), lut)
    cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR, dst=img)
    return img


def xywhn2xyxy(x: np.ndarray, w: float, h: float, padw: float = 0.0, padh: float = 0.0) -> np.ndarray:
    """Normalised cx cy w h -> pixel x1 y1 x2 y2 (with an offset)."""
    y = np.empty_like(x)
    y[:, 0] = w * (x[:, 0] - x[:, 2] / 2) + padw
    y[:, 1] = h * (x[:, 1] - x[:, 3] / 2) + padh
    y[:, 2] = w * (x[:, 0] + x[:, 2] / 2) + padw
    y[:, 3] = h * (x[:, 1] + x[:, 3] / 2) + padh
    return y


def xyxy2xywhn(x: np.ndarray, w: float, h: float, clip: bool = True) -> np.ndarray:
    """Pixel x1 y1 x2 y2 -> normalised cx cy w h (clipped to the image first)."""
    x = x.copy()
    if clip:
        x[:, [0, 2]] = x[:, [0, 2]].clip(0, w - 1e-3)
        x[:, [1, 3]] = x[:, [1, 3]].clip(0, h - 1e-3)
    y = np.empty_like(x)
    y[:, 0] = (x[:, 0] + x[:, 2]) / 2 / w
    y[:, 1] = (x[:, 1] + x[:, 3]) / 2 / h
    y[:, 2] = (x[:, 2] - x[:, 0]) / w
    y[:, 3] = (x[:, 3] - x[:, 1]) / h
    return y


def box_candidates(box1: np.ndarray, box2: np.ndarray, wh_thr: float = 2, ar_thr: float = 100,
                   area_thr: float = 0.1, eps: float = 1e-16) -> np.ndarray:
    """Keep boxes (``[4, n]`` before/after) still wider than ``wh_thr`` px, not too thin, with area kept."""
    w1, h1 = box1[2] - box1[0], box1[3] - box1[1]
    w2, h2 = box2[2] - box2[0], box2[3] - box2[1]
    ar = np.maximum(w2 / (h2 + eps), h2 / (w2 + eps))
    return (w2 > wh_thr) & (h2 > wh_thr) & (w2 * h2 / (w1 * h1 + eps) > area_thr) & (ar < ar_thr)


def random_perspective(img: np.ndarray, targets: np.ndarray, rng: np.random.Generator, *, degrees: float = 0.0,
                       translate: float = 0.1, scale: float = 0.5, shear: float = 0.0, perspective: float = 0.0,
                       border: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """YOLOv5's random_perspective: perspective, rotate + scale, shear, translate, then crop to the output.

    ``M = T @ S @ R @ P @ C`` (C centres the image); ``cv2.warpAffine`` (``cv2.warpPerspective`` when
    ``perspective``) with bilinear sampling and a grey 114 border. ``targets`` is ``[n, 5]`` (class, x1,
    y1, x2, y2 in pixels): each box's four corners are transformed, the enclosing box clipped to the
    output, and boxes kept only if wider and taller than 2 px, with more than 10% of their (scaled)
    area and an aspect ratio under 100. ``border`` (negative for mosaic) shrinks the output to
    ``img - 2*border``.
    """
    height = img.shape[0] + border[0] * 2
    width = img.shape[1] + border[1] * 2
    c = np.eye(3)
    c[0, 2] = -img.shape[1] / 2
    c[1, 2] = -img.shape[0] / 2
    p = np.eye(3)
    p[2, 0] = rng.uniform(-perspective, perspective)
    p[2, 1] = rng.uniform(-perspective, perspective)
    a = rng.uniform(-degrees, degrees)
    s = rng.uniform(1 - scale, 1 + scale)
    r = np.eye(3)
    cos, sin = math.cos(math.radians(a)) * s, math.sin(math.radians(a)) * s
    r[:2, :2] = [[cos, sin], [-sin, cos]]  # cv2.getRotationMatrix2D(center=(0, 0), angle=a, scale=s)
    sh = np.eye(3)
    sh[0, 1] = math.tan(rng.uniform(-shear, shear) * math.pi / 180)
    sh[1, 0] = math.tan(rng.uniform(-shear, shear) * math.pi / 180)
    t = np.eye(3)
    t[0, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * width
    t[1, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * height
    m = t @ sh @ r @ p @ c
    if border[0] or border[1] or (m != np.eye(3)).any():
        if perspective:
            img = cv2.warpPerspective(img, m, dsize=(width, height), borderValue=_BORDER)
        else:
            img = cv2.warpAffine(img, m[:2], dsize=(width, height), borderValue=_BORDER)
    n = len(targets)
    if n:
        xy = np.ones((n * 4, 3))
        xy[:, :2] = targets[:, [1, 2, 3, 4, 1, 4, 3, 2]].reshape(n * 4, 2)  # x1y1, x2y2, x1y2, x2y1
        xy = xy @ m.T
        xy = (xy[:, :2] / xy[:, 2:3] if perspective else xy[:, :2]).reshape(n, 8)
        x, y = xy[:, [0, 2, 4, 6]], xy[:, [1, 3, 5, 7]]
        new = np.stack([x.min(1), y.min(1), x.max(1), y.max(1)], 1)
        new[:, [0, 2]] = new[:, [0, 2]].clip(0, width)
        new[:, [1, 3]] = new[:, [1, 3]].clip(0, height)
        keep = box_candidates(targets[:, 1:5].T * s, new.T, area_thr=0.10)
        targets = targets[keep].copy()
        targets[:, 1:5] = new[keep]
    return img, targets


def random_affine(img: np.ndarray, targets: np.ndarray, rng: np.random.Generator, *, degrees: float = 0.0,
                  translate: float = 0.1, scale: float = 0.5, shear: float = 0.0,
                  border: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """:func:`random_perspective` without perspective (every official hyp file has ``perspective: 0``)."""
    return random_perspective(img, targets, rng, degrees=degrees, translate=translate, scale=scale, shear=shear,
                              perspective=0.0, border=border)


def mixup(img: np.ndarray, labels: np.ndarray, img2: np.ndarray, labels2: np.ndarray,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Blend two images with a Beta(32, 32) ratio and keep both label sets (YOLOv5's mixup)."""
    r = rng.beta(32.0, 32.0)
    out = (img * r + img2 * (1 - r)).astype(np.uint8)
    return out, np.concatenate([labels, labels2], 0)


def mosaic4(index: int, n: int, imgsz: int, load: Callable[[int], tuple[np.ndarray, np.ndarray]],
            rng: np.random.Generator, hyp: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """A 2x2 mosaic of image ``index`` and three random others in shuffled order, then a random perspective.

    The centre is drawn in ``[s/2, 3s/2)`` of a ``2s x 2s`` grey canvas; the four images (``index`` plus
    three drawn with replacement, the order shuffled) fill the top-left, top-right, bottom-left and
    bottom-right quadrants around it. ``load(i)`` returns the resized image and its labels ``[k, 5]``
    (class, normalised cx cy w h). Returns the ``imgsz x imgsz`` image and labels ``[k, 5]`` (class,
    x1 y1 x2 y2 in pixels).
    """
    s = imgsz
    border = -s // 2
    yc, xc = (int(rng.uniform(-border, 2 * s + border)) for _ in range(2))
    indices = [index, *(int(i) for i in rng.integers(0, n, 3))]
    rng.shuffle(indices)
    canvas: np.ndarray | None = None
    all_labels = []
    for k, i in enumerate(indices):
        img, labels = load(i)
        h, w = img.shape[:2]
        if canvas is None:
            canvas = np.full((s * 2, s * 2, img.shape[2]), PAD_VALUE, np.uint8)
        if k == 0:  # top left
            x1a, y1a, x2a, y2a = max(xc - w, 0), max(yc - h, 0), xc, yc
            x1b, y1b, x2b, y2b = w - (x2a - x1a), h - (y2a - y1a), w, h
        elif k == 1:  # top right
            x1a, y1a, x2a, y2a = xc, max(yc - h, 0), min(xc + w, s * 2), yc
            x1b, y1b, x2b, y2b = 0, h - (y2a - y1a), min(w, x2a - x1a), h
        elif k == 2:  # bottom left
            x1a, y1a, x2a, y2a = max(xc - w, 0), yc, xc, min(s * 2, yc + h)
            x1b, y1b, x2b, y2b = w - (x2a - x1a), 0, w, min(y2a - y1a, h)
        else:  # bottom right
            x1a, y1a, x2a, y2a = xc, yc, min(xc + w, s * 2), min(s * 2, yc + h)
            x1b, y1b, x2b, y2b = 0, 0, min(w, x2a - x1a), min(y2a - y1a, h)
        canvas[y1a:y2a, x1a:x2a] = img[y1b:y2b, x1b:x2b]
        padw, padh = x1a - x1b, y1a - y1b
        if len(labels):
            lb = labels.copy()
            lb[:, 1:] = xywhn2xyxy(labels[:, 1:], w, h, padw, padh)
            all_labels.append(lb)
    assert canvas is not None
    labels4 = np.concatenate(all_labels, 0) if all_labels else np.zeros((0, 5), np.float32)
    np.clip(labels4[:, 1:], 0, 2 * s, out=labels4[:, 1:])
    return random_perspective(canvas, labels4, rng, degrees=hyp.get("degrees", 0.0),
                              translate=hyp.get("translate", 0.1), scale=hyp.get("scale", 0.5),
                              shear=hyp.get("shear", 0.0), perspective=hyp.get("perspective", 0.0),
                              border=(border, border))
