"""Random damage to results files: ``prunebench evaluate`` accepts exactly what pycocotools accepts, with its numbers
(1e-9), and refuses the rest with a :class:`UsageError`, never a traceback.

One exception, by design: an integer score beyond a double's range (``1e400`` written as digits) is refused.
pycocotools "accepts" it, but only because a bare ``except`` in its accumulate() swallows the OverflowError of
storing that score, which silently zeroes the precision at every later recall threshold.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import numpy as np
import pytest

from prunebench.errors import UsageError
from prunebench.metrics.coco import coco_evaluate_columns
from prunebench.metrics.cocofile import _gt_ids, _parse, read_results

from .coco_workloads import make_workload, pycocotools_oracle

pytest.importorskip("pycocotools.cocoeval")

VALUES: list[Any] = [math.nan, math.inf, -math.inf, 0, -1, 1.5, 10**30, 10**400, True, False, None, "1", "x", [1],
                     {}, [], 1e308, -0.0, 2**63]
HUGE = 10**400


def _pycocotools(gt: dict[str, Any], dets: list[dict[str, Any]]) -> np.ndarray | None:
    """The 12 statistics, or None where pycocotools fails on the file."""
    try:
        with np.errstate(all="ignore"):
            return np.asarray(pycocotools_oracle(gt, dets).stats)
    except Exception:  # any failure of pycocotools is a refusal
        return None


def _ours(gt: dict[str, Any], text: str) -> np.ndarray | None:
    try:
        res = read_results(_parse(text.encode(), "detections.json", None), *_gt_ids(gt))
    except UsageError:
        return None
    return coco_evaluate_columns(gt, res.image_id, res.category_id, res.boxes, res.scores).stats


def _damage(dets: list[dict[str, Any]], rng: random.Random) -> None:
    for _ in range(rng.randint(1, 3)):
        d = dets[rng.randrange(len(dets))]
        where = rng.choice(["image_id", "category_id", "score", "bbox0", "bbox1", "bbox2", "bbox3", "short", "drop"])
        value = rng.choice(VALUES)
        if where.startswith("bbox"):
            box = list(d["bbox"])
            box[int(where[4])] = value
            d["bbox"] = box
        elif where == "short":
            d["bbox"] = d["bbox"][:3]
        elif where == "drop":
            d.pop(rng.choice(["score", "bbox", "category_id", "image_id"]), None)
        else:
            d[where] = value


@pytest.mark.parametrize("seed", range(8))
def test_damaged_results_files_are_accepted_and_refused_as_pycocotools_does(seed: int) -> None:
    rng = random.Random(seed)
    checked = accepted = 0
    for case in range(12):
        gt, dets = make_workload(100 * seed + case, n_images=5, dets_per_image=6, n_cats=2)
        if not dets:
            continue
        _damage(dets, rng)
        text = json.dumps(dets)  # NaN / Infinity tokens, big integers as digits
        expected = _pycocotools(gt, json.loads(text))
        ours = _ours(gt, text)
        huge_score = any(d.get("score") == HUGE or d.get("score") == -HUGE for d in dets if isinstance(d, dict))
        if huge_score:
            assert ours is None, "an integer score beyond a double's range is refused"
            continue
        checked += 1
        assert (ours is None) == (expected is None), (text[:2000], expected, ours)
        if expected is not None:
            accepted += 1
            np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9, err_msg=text[:2000])
    assert checked >= 8
    assert accepted >= 1


def test_booleans_in_boxes_and_scores_are_ones_and_zeros_with_a_warning() -> None:
    gt, dets = make_workload(5, n_images=5)
    dets[1]["bbox"] = [True, *dets[1]["bbox"][1:]]
    dets[2]["score"] = False
    text = json.dumps(dets)
    res = read_results(_parse(text.encode(), "detections.json", None), *_gt_ids(gt))
    needle = "2 detections have true or false in its bbox or score ([1], [2])"
    assert any(needle in w for w in res.warnings), res.warnings
    ours = coco_evaluate_columns(gt, res.image_id, res.category_id, res.boxes, res.scores).stats
    np.testing.assert_allclose(ours, _pycocotools(gt, json.loads(text)), rtol=0, atol=1e-9)


def test_integers_beyond_a_double_are_named_not_a_traceback() -> None:
    gt, dets = make_workload(6, n_images=5)
    dets[0]["image_id"] = HUGE
    dets[1]["score"] = HUGE
    dets[2]["bbox"] = [1.0, 2.0, HUGE, 3.0]
    with pytest.raises(UsageError) as err:
        read_results(_parse(json.dumps(dets).encode(), "detections.json", None), *_gt_ids(gt))
    text = str(err.value)
    assert "3 problems" in text
    assert "[0].image_id: unknown image id" in text
    assert "[1].score: an integer too large for a double" in text
    assert "[2].bbox: an integer too large for a double" in text


def test_a_ground_truth_integer_beyond_a_double_is_named_not_a_traceback() -> None:
    from prunebench.metrics.cocofile import validate_ground_truth

    gt, _ = make_workload(7, n_images=3)
    gt["annotations"][0]["bbox"] = [0, 0, HUGE, 1]
    gt["annotations"][1]["area"] = HUGE
    with pytest.raises(UsageError) as err:
        validate_ground_truth(gt)
    text = str(err.value)
    assert "annotations[0].bbox: NaN or infinite value" in text
    assert "annotations[1].area: bad 'area'" in text
