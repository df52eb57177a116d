"""YOLOv5's image transforms in numpy and Pillow: letterbox, HSV jitter, flips, random affine and mosaic."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "PAD_VALUE",
    "augment_hsv",
    "box_candidates",
    "letterbox",
    "load_resized",
    "mosaic4",
    "random_affine",
    "resize",
    "xywhn2xyxy",
    "xyxy2xywhn",
]

PAD_VALUE = 114  #: grey used for letterbox and mosaic borders (YOLOv5)


def resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an ``HxWx3`` uint8 image with Pillow (bilinear; Pillow antialiases when shrinking)."""
    from PIL import Image

    if img.shape[1] == width and img.shape[0] == height:
        return img
    return np.asarray(Image.fromarray(img).resize((int(width), int(height)), Image.Resampling.BILINEAR))


def load_resized(path: str, imgsz: int) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """Decode ``path`` as RGB and resize so that its long side is ``imgsz``; return img, (h0, w0), (h, w)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im) if im.format == "JPEG" else im
        img = np.asarray(im.convert("RGB"))
    h0, w0 = img.shape[:2]
    r = imgsz / max(h0, w0)
    if r != 1:
        img = resize(img, max(1, round(w0 * r)), max(1, round(h0 * r)))
    return img, (h0, w0), img.shape[:2]


def letterbox(img: np.ndarray, new_shape: int | tuple[int, int] = 640, *, scaleup: bool = True,
              color: int = PAD_VALUE) -> tuple[np.ndarray, tuple[float, float], tuple[float, float]]:
    """Resize keeping the aspect ratio and pad to ``new_shape`` (h, w); return img, (rw, rh), (dw, dh)."""
    shape = img.shape[:2]
    if isinstance(new_shape, int):
        new_shape = (new_shape, new_shape)
    r = min(new_shape[0] / shape[0], new_shape[1] / shape[1])
    if not scaleup:
        r = min(r, 1.0)
    new_unpad = (round(shape[1] * r), round(shape[0] * r))  # w, h
    dw, dh = (new_shape[1] - new_unpad[0]) / 2, (new_shape[0] - new_unpad[1]) / 2
    if (shape[1], shape[0]) != new_unpad:
        img = resize(img, *new_unpad)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    if top or bottom or left or right:
        out = np.full((new_unpad[1] + top + bottom, new_unpad[0] + left + right, 3), color, np.uint8)
        out[top:top + new_unpad[1], left:left + new_unpad[0]] = img
        img = out
    return img, (r, r), (dw, dh)


def augment_hsv(img: np.ndarray, rng: np.random.Generator, hgain: float = 0.5, sgain: float = 0.5,
                vgain: float = 0.5) -> np.ndarray:
    """Random hue, saturation and value gains (YOLOv5's look-up tables, Pillow's 0-255 hue scale)."""
    if not (hgain or sgain or vgain):
        return img
    from PIL import Image

    r = rng.uniform(-1, 1, 3) * np.array([hgain, sgain, vgain]) + 1
    x = np.arange(256, dtype=np.float32)
    lut_h = ((x * r[0]) % 256).astype(np.uint8)
    lut_s = np.clip(x * r[1], 0, 255).astype(np.uint8)
    lut_v = np.clip(x * r[2], 0, 255).astype(np.uint8)
    hsv = np.asarray(Image.fromarray(img).convert("HSV")).copy()
    hsv[..., 0] = lut_h[hsv[..., 0]]
    hsv[..., 1] = lut_s[hsv[..., 1]]
    hsv[..., 2] = lut_v[hsv[..., 2]]
    return np.asarray(Image.fromarray(hsv, "HSV").convert("RGB"))


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


def random_affine(img: np.ndarray, targets: np.ndarray, rng: np.random.Generator, *, degrees: float = 0.0,
                  translate: float = 0.1, scale: float = 0.5, shear: float = 0.0,
                  border: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """YOLOv5's random_perspective without perspective: rotate, scale, shear, translate and crop.

    ``targets`` is ``[n, 5]`` (class, x1, y1, x2, y2 in pixels). ``border`` (negative for mosaic) shrinks
    the output to ``img - 2*border``.
    """
    from PIL import Image

    height = img.shape[0] + border[0] * 2
    width = img.shape[1] + border[1] * 2
    c = np.eye(3)
    c[0, 2] = -img.shape[1] / 2
    c[1, 2] = -img.shape[0] / 2
    a = rng.uniform(-degrees, degrees)
    s = rng.uniform(1 - scale, 1 + scale)
    cos, sin = math.cos(math.radians(a)) * s, math.sin(math.radians(a)) * s
    r = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
    sh = np.eye(3)
    sh[0, 1] = math.tan(math.radians(rng.uniform(-shear, shear)))
    sh[1, 0] = math.tan(math.radians(rng.uniform(-shear, shear)))
    t = np.eye(3)
    t[0, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * width
    t[1, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * height
    m = t @ sh @ r @ c
    if border[0] or border[1] or (m != np.eye(3)).any():
        inv = np.linalg.inv(m)
        coeffs = tuple(float(v) for v in inv[:2].reshape(-1))
        out = Image.fromarray(img).transform((width, height), Image.Transform.AFFINE, coeffs,
                                             resample=Image.Resampling.BILINEAR,
                                             fillcolor=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
        img = np.asarray(out)
    n = len(targets)
    if n:
        xy = np.ones((n * 4, 3))
        xy[:, :2] = targets[:, [1, 2, 3, 4, 1, 4, 3, 2]].reshape(n * 4, 2)
        xy = (xy @ m.T)[:, :2].reshape(n, 8)
        x, y = xy[:, [0, 2, 4, 6]], xy[:, [1, 3, 5, 7]]
        new = np.stack([x.min(1), y.min(1), x.max(1), y.max(1)], 1)
        new[:, [0, 2]] = new[:, [0, 2]].clip(0, width)
        new[:, [1, 3]] = new[:, [1, 3]].clip(0, height)
        keep = box_candidates(targets[:, 1:5].T * s, new.T, area_thr=0.10)
        targets = targets[keep].copy()
        targets[:, 1:5] = new[keep]
    return img, targets


def mosaic4(index: int, n: int, imgsz: int, load: Callable[[int], tuple[np.ndarray, np.ndarray]],
            rng: np.random.Generator, hyp: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """A 2x2 mosaic of image ``index`` and three random others, then a random affine back to ``imgsz``.

    ``load(i)`` returns the resized image and its labels ``[k, 5]`` (class, normalised cx cy w h).
    Returns the image and labels ``[k, 5]`` (class, x1 y1 x2 y2 in pixels).
    """
    s = imgsz
    yc, xc = (int(rng.uniform(s // 2, 1.5 * s)) for _ in range(2))
    indices = [index, *(int(i) for i in rng.integers(0, n, 3))]
    canvas = np.full((s * 2, s * 2, 3), PAD_VALUE, np.uint8)
    all_labels = []
    for k, i in enumerate(indices):
        img, labels = load(i)
        h, w = img.shape[:2]
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
    labels4 = np.concatenate(all_labels, 0) if all_labels else np.zeros((0, 5), np.float32)
    labels4[:, 1:] = labels4[:, 1:].clip(0, 2 * s)
    return random_affine(canvas, labels4, rng, degrees=hyp.get("degrees", 0.0),
                         translate=hyp.get("translate", 0.1), scale=hyp.get("scale", 0.5),
                         shear=hyp.get("shear", 0.0), border=(-s // 2, -s // 2))
