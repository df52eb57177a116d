"""A procedural tea-bud dataset: light-green buds with young leaves on a cluttered canopy, in YOLO format."""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prunebench.errors import UsageError

__all__ = ["GENERATOR_VERSION", "SynthOptions", "generate_tea_bud", "render_image"]

#: bump whenever the drawing changes: it is part of the dataset fingerprint and of the manifest
GENERATOR_VERSION = "2"

_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SynthOptions:
    """What to generate: image counts per split, the image width (height is 3/4 of it) and the seed."""

    train: int = 400
    val: int = 40
    test: int = 0
    imgsz: int = 320
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"train": self.train, "val": self.val, "test": self.test, "imgsz": self.imgsz, "seed": self.seed}


def _leaf_polygon(cx: float, cy: float, length: float, width: float, angle: float, *, tip: float = 1.0,
                  n: int = 12) -> np.ndarray:
    """A pointed leaf outline (``[2n, 2]``) centred at (cx, cy), long axis at ``angle`` radians.

    ``tip`` > 1 makes the tip end slimmer than the base (a bud), < 1 the other way round.
    """
    t = np.linspace(0.0, 1.0, n)
    half = 0.5 * width * np.sin(np.pi * t) ** 0.9 * (1.0 - t) ** (tip - 1.0 if tip > 1 else 0.0)
    if tip > 1:
        half = half / max(half.max(), 1e-6) * 0.5 * width
    x = (t - 0.5) * length
    pts = np.concatenate([np.stack([x, half], 1), np.stack([x[::-1], -half[::-1]], 1)])
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return pts @ rot.T + np.array([cx, cy])


def _shade(rng: np.random.Generator, base: tuple[int, int, int], jitter: int) -> tuple[int, int, int]:
    f = 1.0 + rng.uniform(-jitter, jitter) / 100.0  # mostly brightness, a little hue
    r, g, b = (int(np.clip(v * f + rng.integers(-6, 7), 0, 255)) for v in base)
    return r, g, b


def _background(rng: np.random.Generator, w: int, h: int) -> Any:
    from PIL import Image, ImageDraw

    low = rng.uniform(0.6, 1.0, (4, 5, 1)) * np.array([38, 68, 30])
    low_img = Image.fromarray(low.clip(0, 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    base = np.asarray(low_img).astype(np.int16) + rng.integers(-12, 13, (h, w, 1))
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(35, 60))):  # mature leaves of the canopy: darker, bigger, wider
        length = rng.uniform(0.12, 0.35) * w
        poly = _leaf_polygon(rng.uniform(-0.05, 1.05) * w, rng.uniform(-0.05, 1.05) * h, length,
                             length * rng.uniform(0.35, 0.55), rng.uniform(0, math.pi))
        fill = _shade(rng, (42, 80, 32), 35)
        draw.polygon([tuple(p) for p in poly], fill=fill)
        mid = poly[[0, len(poly) // 2 - 1]]
        vein = tuple(min(255, v + 18) for v in fill)
        draw.line([tuple(mid[0]), tuple(mid[1])], fill=vein, width=1)
    for _ in range(int(rng.integers(2, 6))):  # twigs
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        a = rng.uniform(0, 2 * math.pi)
        ln = rng.uniform(0.15, 0.4) * w
        draw.line([(x0, y0), (x0 + ln * math.cos(a), y0 + ln * math.sin(a))],
                  fill=_shade(rng, (70, 60, 40), 15), width=int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(0, 3))):  # distractors: a light, large, round old leaf
        length = rng.uniform(0.15, 0.25) * w
        poly = _leaf_polygon(rng.uniform(0, w), rng.uniform(0, h), length, length * 0.6, rng.uniform(0, math.pi))
        draw.polygon([tuple(p) for p in poly], fill=_shade(rng, (95, 140, 55), 20))
    return img


def _draw_bud(draw: Any, rng: np.random.Generator, x: float, y: float, size: float, angle: float) -> np.ndarray:
    """One bud plus one or two young leaves and a stem; return the outline points of the labelled part."""
    bud_len = size
    bud_w = size * rng.uniform(0.2, 0.28)
    ca, sa = math.cos(angle), math.sin(angle)
    base = np.array([x - 0.5 * bud_len * ca, y - 0.5 * bud_len * sa])
    stem_end = base - np.array([ca, sa]) * size * rng.uniform(0.3, 0.6)
    draw.line([tuple(base), tuple(stem_end)], fill=_shade(rng, (120, 150, 70), 15), width=max(1, round(size / 14)))
    points = []
    leaf_fill = _shade(rng, (125, 180, 75), 15)
    for k in range(int(rng.integers(1, 3))):
        side = 1 if (k == 0) == (rng.random() < 0.5) else -1
        la = angle + side * rng.uniform(0.6, 1.2)
        ll = size * rng.uniform(0.55, 0.85)
        lc = base + np.array([math.cos(la), math.sin(la)]) * ll * 0.5
        poly = _leaf_polygon(lc[0], lc[1], ll, ll * rng.uniform(0.38, 0.5), la, tip=1.0)
        draw.polygon([tuple(p) for p in poly], fill=leaf_fill)
        points.append(poly)
    bud_fill = _shade(rng, (160, 210, 105), 15)
    poly = _leaf_polygon(x, y, bud_len, bud_w, angle, tip=1.6)
    draw.polygon([tuple(p) for p in poly], fill=bud_fill)
    hl = _leaf_polygon(x + 0.05 * bud_len * ca, y + 0.05 * bud_len * sa, bud_len * 0.7, bud_w * 0.35, angle, tip=1.6)
    draw.polygon([tuple(p) for p in hl], fill=tuple(min(255, v + 12) for v in bud_fill))  # silvery down
    points.append(poly)
    return np.concatenate(points, 0)


def _draw_open_leaves(draw: Any, rng: np.random.Generator, x: float, y: float, size: float, angle: float) -> None:
    """A hard negative: one or two young leaves on a stem, opened, without a bud between them."""
    base = np.array([x, y])
    tip = base - np.array([math.cos(angle), math.sin(angle)]) * size * 0.5
    draw.line([tuple(base), tuple(tip)], fill=_shade(rng, (110, 140, 65), 15), width=max(1, round(size / 14)))
    fill = _shade(rng, (115, 170, 70), 15)
    for k in range(int(rng.integers(1, 3))):
        side = 1 if k == 0 else -1
        la = angle + side * rng.uniform(0.5, 1.3)
        ll = size * rng.uniform(0.6, 0.9)
        lc = base + np.array([math.cos(la), math.sin(la)]) * ll * 0.5
        poly = _leaf_polygon(lc[0], lc[1], ll, ll * rng.uniform(0.4, 0.55), la)
        draw.polygon([tuple(p) for p in poly], fill=fill)


def render_image(rng: np.random.Generator, width: int, height: int) -> tuple[Any, np.ndarray]:
    """Draw one image; return it (a Pillow RGB image) and its labels ``[n, 5]`` (0, cx, cy, w, h normalised)."""
    from PIL import Image, ImageDraw, ImageFilter

    img = _background(rng, width, height)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(0, 3))):  # young leaves without a bud: look alike, must not be detected
        _draw_open_leaves(draw, rng, rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.95) * height,
                          rng.uniform(0.06, 0.15) * width, -math.pi / 2 + rng.uniform(-1.0, 1.0))
    n = 0 if rng.random() < 0.05 else int(rng.integers(1, 5))
    boxes: list[np.ndarray] = []
    for _ in range(n):
        for _attempt in range(10):
            size = rng.uniform(0.06, 0.15) * width
            x, y = rng.uniform(0.08, 0.92) * width, rng.uniform(0.08, 0.92) * height
            angle = -math.pi / 2 + rng.uniform(-0.9, 0.9)  # buds point mostly upwards
            box = np.array([x - size, y - size, x + size, y + size])
            if all(_iou(box, b) < 0.05 for b in boxes):
                break
        pts = _draw_bud(draw, rng, x, y, size, angle)
        x1, y1 = pts.min(0)
        x2, y2 = pts.max(0)
        boxes.append(np.array([max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)]))
    for b in boxes:  # partial occlusion by a mature leaf crossing one edge of the box
        if rng.random() < 0.35:
            bw, bh = b[2] - b[0], b[3] - b[1]
            edge = rng.integers(0, 4)
            cx = [b[0], b[2], b[0] + bw / 2, b[0] + bw / 2][edge]
            cy = [b[1] + bh / 2, b[1] + bh / 2, b[1], b[3]][edge]
            length = max(bw, bh) * rng.uniform(0.8, 1.3)
            ang = math.pi / 2 if edge < 2 else 0.0
            poly = _leaf_polygon(cx, cy, length, length * 0.45, ang + rng.uniform(-0.3, 0.3))
            draw.polygon([tuple(p) for p in poly], fill=_shade(rng, (42, 80, 32), 30))
    arr = np.asarray(img).astype(np.float32)
    gx = np.linspace(-1, 1, width)[None, :, None]
    gy = np.linspace(-1, 1, height)[:, None, None]
    light = 1.0 + rng.uniform(-0.25, 0.25) * gx + rng.uniform(-0.25, 0.25) * gy
    gain = rng.uniform(0.7, 1.3) * np.array([rng.uniform(0.92, 1.08), 1.0, rng.uniform(0.9, 1.1)])
    arr = arr * light * gain + rng.normal(0, 4, arr.shape)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    blur = rng.choice([0.0, 0.0, 0.6, 1.0, 1.6])
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(float(blur)))
    labels = np.zeros((len(boxes), 5), np.float32)
    for k, b in enumerate(boxes):
        labels[k] = [0, (b[0] + b[2]) / 2 / width, (b[1] + b[3]) / 2 / height, (b[2] - b[0]) / width,
                     (b[3] - b[1]) / height]
    labels[:, 1:] = labels[:, 1:].clip(0, 1)
    return img, labels


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _manifest(opts: SynthOptions) -> dict[str, Any]:
    return {"generator": "tea-bud-synth", "version": GENERATOR_VERSION, "options": opts.as_dict()}


def generate_tea_bud(out: str | Path, options: SynthOptions | None = None, *, force: bool = False) -> Path:
    """Generate the synthetic tea-bud set under ``out`` (once) and return its ``data.yaml``.

    A ``manifest.json`` records the options and the generator version; when it matches, nothing is
    redrawn. A folder with other content and no manifest is refused rather than overwritten.
    """
    opts = options or SynthOptions()
    if opts.imgsz < 64 or opts.train < 1 or opts.val < 1 or opts.test < 0:
        raise UsageError(f"tea-bud synth: need imgsz >= 64, train >= 1, val >= 1, test >= 0; got {opts.as_dict()}.")
    out = Path(out).expanduser().resolve()
    manifest_path = out / _MANIFEST
    data_yaml = out / "data.yaml"
    want = _manifest(opts)
    if manifest_path.is_file() and data_yaml.is_file() and not force:
        try:
            have = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError:
            have = None
        if isinstance(have, dict) and {k: have.get(k) for k in want} == want:
            return data_yaml
    if out.exists() and any(out.iterdir()) and not manifest_path.is_file():
        raise UsageError(f"{out} exists and is not a generated tea-bud folder (no {_MANIFEST}); refusing to "
                         "overwrite it.", hint="Choose an empty or new folder with --out.")
    for sub in ("images", "labels"):
        shutil.rmtree(out / sub, ignore_errors=True)
    manifest_path.unlink(missing_ok=True)
    width, height = opts.imgsz, round(opts.imgsz * 0.75)
    counts: dict[str, dict[str, int]] = {}
    for split_id, (split, n) in enumerate((("train", opts.train), ("val", opts.val), ("test", opts.test))):
        if n == 0:
            continue
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        instances = 0
        for i in range(n):
            rng = np.random.default_rng([opts.seed, split_id, i])
            img, labels = render_image(rng, width, height)
            stem = f"{split}_{i:05d}"
            img.save(out / "images" / split / f"{stem}.jpg", quality=int(rng.integers(85, 96)))
            lines = "".join(f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for _, cx, cy, w, h in labels)
            (out / "labels" / split / f"{stem}.txt").write_text(lines, encoding="utf-8")
            instances += len(labels)
        counts[split] = {"images": n, "instances": instances}
    yaml_lines = [
        "# Synthetic tea-bud set generated by prunebench (tea-bud-synth); regenerate with",
        f"# prunebench data synth tea-bud --out {out} --train {opts.train} --val {opts.val} "
        f"--imgsz {opts.imgsz} --seed {opts.seed}",
        "path: .",
        "train: images/train",
        "val: images/val",
    ]
    if opts.test:
        yaml_lines.append("test: images/test")
    yaml_lines += ["nc: 1", "names: [tea-bud]", ""]
    tmp = data_yaml.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text("\n".join(yaml_lines), encoding="utf-8")
    os.replace(tmp, data_yaml)
    tmp = manifest_path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**want, "counts": counts}, indent=2), encoding="utf-8")
    os.replace(tmp, manifest_path)
    return data_yaml
