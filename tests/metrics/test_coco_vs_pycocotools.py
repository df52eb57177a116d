"""The numpy COCO evaluator against pycocotools (the oracle) on randomised workloads, to 1e-9."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from prunebench.metrics.coco import STAT_NAMES, coco_evaluate, coco_evaluate_images, to_coco

from .coco_workloads import make_edge_workload, make_workload
from .coco_workloads import pycocotools_oracle as oracle

pycocotools = pytest.importorskip("pycocotools.cocoeval")


def check(gt: dict[str, Any], dets: list[dict[str, Any]]) -> None:
    ev = oracle(gt, dets)
    ours = coco_evaluate(gt, dets)
    np.testing.assert_allclose(ours.stats, ev.stats, rtol=0, atol=1e-9, err_msg=str(STAT_NAMES))
    np.testing.assert_allclose(ours.precision, ev.eval["precision"][..., 2], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.recall, ev.eval["recall"], rtol=0, atol=1e-9)


CASES = [
    # (seed, kwargs)
    *[(s, {}) for s in range(30)],
    *[(100 + s, {"n_cats": 1, "max_gts": 3, "dets_per_image": 40}) for s in range(5)],  # >maxDets rarely
    *[(200 + s, {"int_boxes": True, "tie_decimals": 0}) for s in range(5)],  # exact IoU ties, all scores tied
    *[(300 + s, {"crowd_frac": 0.5, "n_cats": 6}) for s in range(5)],  # many crowds
    *[(400 + s, {"n_images": 3, "dets_per_image": 150, "n_cats": 2}) for s in range(5)],  # > 100 per block
    *[(500 + s, {"tie_decimals": None, "n_images": 40, "n_cats": 10}) for s in range(5)],
]


@pytest.mark.parametrize(("seed", "kw"), CASES, ids=[f"w{c[0]}" for c in CASES])
def test_matches_pycocotools(seed: int, kw: dict[str, Any]) -> None:
    gt, dets = make_workload(seed, **kw)
    if not dets:
        pytest.skip("pycocotools cannot load an empty results list")
    check(gt, dets)


@pytest.mark.parametrize("seed", range(20))
def test_edge_workloads_match_pycocotools(seed: int) -> None:
    gt, dets = make_edge_workload(seed)
    if not dets:
        pytest.skip("pycocotools cannot load an empty results list")
    check(gt, dets)


def test_category_without_gt_and_unknown_category_dets() -> None:
    gt, dets = make_workload(7)
    gt["categories"].append({"id": 1000, "name": "nothing"})
    dets.append({"image_id": gt["images"][0]["id"], "category_id": 1000, "bbox": [1.0, 1.0, 5.0, 5.0], "score": 0.5})
    dets.append({"image_id": gt["images"][0]["id"], "category_id": 5000, "bbox": [1.0, 1.0, 5.0, 5.0], "score": 0.5})
    check(gt, dets)
    assert coco_evaluate(gt, dets).per_category[1000]["AP"] == -1.0


def test_gt_id_zero_quirk() -> None:
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}],
          "annotations": [{"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
                          {"id": 5, "image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "area": 100,
                           "iscrowd": 0}]}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "score": 0.8}]
    check(gt, dets)


def test_perfect_and_empty() -> None:
    gt, _dets = make_workload(3, crowd_frac=0.0)
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
               for a in gt["annotations"]]
    check(gt, perfect)
    res = coco_evaluate(gt, [])
    assert res.stats[0] == 0.0
    assert res.summary["AR100"] == 0.0


def test_unknown_image_is_refused() -> None:
    gt, dets = make_workload(1)
    dets.append({"image_id": 10**9, "category_id": gt["categories"][0]["id"], "bbox": [0, 0, 1, 1], "score": 0.1})
    with pytest.raises(ValueError, match="image_id"):
        coco_evaluate(gt, dets)


def test_to_coco_round_trip() -> None:
    rng = np.random.default_rng(0)
    images = []
    for _ in range(6):
        xy = rng.uniform(0, 100, (3, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (3, 2))], 1)
        cls = rng.integers(0, 2, (3, 1)).astype(float)
        dets = np.concatenate([boxes + rng.normal(0, 1, boxes.shape), rng.random((3, 1)), cls], 1)
        images.append((dets, np.concatenate([cls, boxes], 1)))
    images.append((np.zeros((0, 6)), np.zeros((0, 5))))
    gt, dets = to_coco(images, names=["a", "b"])
    assert [c["name"] for c in gt["categories"]] == ["a", "b"]
    assert len(gt["images"]) == 7
    check(gt, dets)
    direct = coco_evaluate_images(images)
    np.testing.assert_array_equal(direct.stats, coco_evaluate(gt, dets).stats)
