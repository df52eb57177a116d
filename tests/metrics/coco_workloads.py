"""Random COCO workloads for the evaluator tests and benchmarks (crowds, ties, empty images, ...)."""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np


def pycocotools_oracle(gt: dict[str, Any], dets: list[dict[str, Any]]) -> Any:
    """pycocotools' ``COCOeval`` (bbox) of ``dets`` against ``gt``, evaluated, accumulated and summarised
    (its printout swallowed); the inputs are copied, since pycocotools edits them."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dets)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


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


def make_edge_workload(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Small workloads full of edge cases: integer-grid boxes (exact IoU ties, zero areas), gt ids from 0,
    boolean iscrowd, ``ignore`` keys, gt areas unlike w·h, >100 detections per image, unknown categories."""
    rng = np.random.default_rng(10_000 + seed)
    cats = sorted(rng.choice(200, int(rng.integers(1, 6)), replace=False).tolist())
    imgs = sorted(rng.choice(1000, int(rng.integers(1, 15)), replace=False).tolist())
    grid = rng.random() < 0.4
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    aid = int(rng.integers(0, 2))
    for im in imgs:
        gts = []
        for _ in range(int(rng.integers(0, 10))):
            if grid:
                x, y = rng.integers(0, 20, 2).astype(float)
                w, h = rng.integers(0, 12, 2).astype(float) * rng.choice([1, 4, 10])
            else:
                s = rng.choice([5, 20, 40, 100, 200])
                x, y = rng.uniform(0, 300, 2)
                w, h = rng.uniform(0.3, 1.7, 2) * s
            crowd = bool(rng.random() < 0.15)
            a: dict[str, Any] = {"id": aid, "image_id": im, "category_id": int(rng.choice(cats)),
                                 "bbox": [float(x), float(y), float(w), float(h)],
                                 "iscrowd": int(crowd) if rng.random() < 0.8 else crowd,
                                 "area": float(w * h * rng.choice([1.0, 1.0, 0.6, 1.3]))}
            if rng.random() < 0.1:
                a["ignore"] = 1
            anns.append(a)
            gts.append(a)
            aid += 1
        for _ in range(int(rng.integers(0, 130 if rng.random() < 0.15 else 25))):
            if gts and rng.random() < 0.7:
                g = gts[int(rng.integers(len(gts)))]
                x, y, w, h = g["bbox"]
                c = g["category_id"] if rng.random() < 0.85 else int(rng.choice(cats))
                if grid:
                    x, y = x + rng.integers(-2, 3), y + rng.integers(-2, 3)
                    w, h = max(w + rng.integers(-2, 3), 0), max(h + rng.integers(-2, 3), 0)
                else:
                    j = rng.normal(0, rng.choice([0.02, 0.1, 0.3]), 4) * np.array([w, h, w, h])
                    x, y, w, h = x + j[0], y + j[1], abs(w + j[2]), abs(h + j[3])
            else:
                s = rng.choice([5, 20, 40, 100, 200])
                x, y = rng.uniform(0, 300, 2)
                w, h = rng.uniform(0.3, 1.7, 2) * s
                c = int(rng.choice(cats))
            score = float(rng.choice([round(float(rng.random()), 1), float(rng.random()), 0.5]))
            dets.append({"image_id": im, "category_id": c, "bbox": [float(x), float(y), float(w), float(h)],
                         "score": score})
    if rng.random() < 0.2 and dets:
        dets.append({"image_id": imgs[0], "category_id": 999, "bbox": [1.0, 1.0, 3.0, 3.0], "score": 0.3})
    order = rng.permutation(len(dets))
    gt = {"images": [{"id": i} for i in imgs], "annotations": anns, "categories": [{"id": c} for c in cats]}
    return gt, [dets[i] for i in order]
