"""Random COCO workloads for the evaluator tests and benchmarks (crowds, ties, empty images, ...)."""

from __future__ import annotations

from typing import Any

import numpy as np


def make_workload(
    seed: int,
    n_images: int = 20,
    n_cats: int = 4,
    max_gts: int = 8,
    dets_per_image: int = 12,
    crowd_frac: float = 0.1,
    tie_decimals: int | None = 1,
    int_boxes: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A ground-truth dict and a results list; detections cluster around gts like a real detector's."""
    rng = np.random.default_rng(seed)
    jitter = float(rng.uniform(0.02, 0.15))
    cat_ids = sorted(rng.choice(np.arange(1, 100), n_cats, replace=False).tolist())
    img_ids = sorted(rng.choice(np.arange(0, 10 * n_images + 10), n_images, replace=False).tolist())
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    ann_id = 1
    for img in img_ids:
        kind = rng.random()
        n_g = 0 if kind < 0.1 else int(rng.integers(1, max_gts + 1))
        gts = []
        for _ in range(n_g):
            scale = rng.choice([8.0, 24.0, 60.0, 150.0])  # small, medium and large objects
            w, h = rng.uniform(0.5, 1.5, 2) * scale
            x, y = rng.uniform(0, 400, 2)
            if int_boxes:
                x, y, w, h = (float(round(v)) + 1.0 for v in (x, y, w, h))
            cat = int(rng.choice(cat_ids))
            crowd = int(rng.random() < crowd_frac)
            area = w * h * (rng.uniform(0.5, 1.0) if rng.random() < 0.5 else 1.0)
            anns.append({"id": ann_id, "image_id": int(img), "category_id": cat, "bbox": [x, y, w, h],
                         "area": float(area), "iscrowd": crowd})
            ann_id += 1
            gts.append((x, y, w, h, cat))
        if 0.1 <= kind < 0.2:
            continue  # an image without detections
        n_d = int(rng.integers(0, dets_per_image + 1))
        for _ in range(n_d):
            if gts and rng.random() < 0.7:
                x, y, w, h, cat = gts[int(rng.integers(len(gts)))]
                j = rng.normal(0, jitter, 4) * np.array([w, h, w, h])
                x, y, w, h = x + j[0], y + j[1], max(w + j[2], 0.5), max(h + j[3], 0.5)
                if rng.random() < 0.15:
                    cat = int(rng.choice(cat_ids))
                if rng.random() < 0.1:  # an exact duplicate of the gt box
                    x, y, w, h, _ = gts[int(rng.integers(len(gts)))]
            else:
                scale = rng.choice([8.0, 24.0, 60.0, 150.0])
                w, h = rng.uniform(0.5, 1.5, 2) * scale
                x, y = rng.uniform(0, 400, 2)
                cat = int(rng.choice(cat_ids))
            if int_boxes:
                x, y, w, h = (float(round(v)) + 1.0 for v in (x, y, w, h))
            score = float(rng.random())
            if tie_decimals is not None:
                score = round(score, tie_decimals)
            dets.append({"image_id": int(img), "category_id": cat, "bbox": [float(x), float(y), float(w), float(h)],
                         "score": score})
    order = rng.permutation(len(dets))
    dets = [dets[i] for i in order]
    gt = {"images": [{"id": int(i)} for i in img_ids], "annotations": anns,
          "categories": [{"id": c, "name": f"c{c}"} for c in cat_ids]}
    return gt, dets
