"""``prunebench evaluate`` accepts every results file pycocotools accepts, with its numbers (1e-9), warns where
a value is legal but odd, and lists every problem of a bad file at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from prunebench.cli import main

from .coco_workloads import make_workload, pycocotools_oracle

pytest.importorskip("pycocotools.cocoeval")

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def _pycocotools(gt: dict[str, Any], dets: list[dict[str, Any]]) -> np.ndarray:
    return np.asarray(pycocotools_oracle(gt, dets).stats)


def _evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str], gt: Any, dets: Any) -> tuple[int, str, str]:
    g, d = tmp_path / "annotations.json", tmp_path / "detections.json"
    g.write_text(json.dumps(gt))
    d.write_text(json.dumps(dets))
    code = main(["evaluate", "--gt", str(g), "--pred", str(d), "--json"])
    out = capsys.readouterr()
    return code, out.out, " ".join(out.err.split())


def _odd(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A workload as real detectors write it: boxes that start left of or above the image (negative x, y),
    some negative widths/heights and scores, integral float ids, unknown categories."""
    gt, dets = make_workload(seed, n_images=15, dets_per_image=15)
    rng = np.random.default_rng(seed)
    for d in dets:
        r = rng.random()
        x, y, w, h = d["bbox"]
        if r < 0.4:
            d["bbox"] = [x - float(rng.uniform(0, 30)), y - float(rng.uniform(0, 30)), w, h]
        elif r < 0.45:
            d["bbox"] = [x, y, -w, h]
        elif r < 0.5:
            d["score"] = -d["score"]
        elif r < 0.55:
            d["image_id"] = float(d["image_id"])
        elif r < 0.58:
            d["category_id"] = 100_000  # not in the ground truth: ignored
    x, y, w, h = dets[0]["bbox"]
    dets[0]["bbox"] = [x, y, w, -h]  # at least one of each kind
    dets[1]["score"] = -0.25
    dets[2]["category_id"] = 100_000
    dets[3]["image_id"] = float(dets[3]["image_id"])
    for a in gt["annotations"][:3]:
        a["bbox"] = [a["bbox"][0] - 5.0, a["bbox"][1] - 5.0, a["bbox"][2], a["bbox"][3]]
    return gt, dets


@pytest.mark.parametrize("seed", range(6))
def test_files_pycocotools_accepts_give_its_numbers(seed: int, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = _odd(seed)
    code, out, err = _evaluate(tmp_path, capsys, gt, dets)
    assert code == 0, err
    ours = json.loads(out)
    np.testing.assert_allclose([ours[k] for k in KEYS], _pycocotools(gt, dets), rtol=0, atol=1e-9)
    assert "negative width or height" in err
    assert "negative score" in err
    assert "ignored, as pycocotools does" in err


def test_negative_x_and_y_alone_give_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(7)
    for d in dets[::2]:
        d["bbox"] = [-3.5, -1.0, d["bbox"][2], d["bbox"][3]]
    code, out, err = _evaluate(tmp_path, capsys, gt, dets)
    assert code == 0
    np.testing.assert_allclose([json.loads(out)[k] for k in KEYS], _pycocotools(gt, dets), rtol=0, atol=1e-9)
    assert "warning" not in err


def test_every_problem_of_a_bad_results_file_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(3)
    dets[2] = {**dets[2], "bbox": [1.0, 2.0, 3.0]}
    dets[5] = {k: v for k, v in dets[5].items() if k != "score"}
    dets[9] = {**dets[9], "image_id": 987_654}
    dets[11] = {**dets[11], "score": "high"}
    dets[13] = {**dets[13], "image_id": float("nan")}  # pycocotools refuses it too (no such image)
    dets[14] = {**dets[14], "bbox": [float("nan"), 1.0, 2.0, 3.0]}  # legal: not a problem
    code, _, err = _evaluate(tmp_path, capsys, gt, dets)
    assert code == 2
    assert "detections.json: 5 problems" in err
    for needle in ("[2].bbox", "[1.0, 2.0, 3.0]", "[5]: missing key 'score'", "[11].score", '"high"',
                   "[13].image_id: bad 'image_id': got NaN"):
        assert needle in err, needle
    assert "Traceback" not in err


def test_unknown_image_ids_are_all_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(4)
    for i in (1, 4, 6):
        dets[i] = {**dets[i], "image_id": 10_000 + i}
    code, _, err = _evaluate(tmp_path, capsys, gt, dets)
    assert code == 2
    assert "3 problems" in err
    for i in (1, 4, 6):
        assert f"[{i}].image_id: unknown image id: got {10_000 + i}" in err


@pytest.mark.parametrize(("where", "needle"), [("images", "images[2].id: duplicate id"),
                                               ("categories", "categories[1].id: duplicate id"),
                                               ("annotations", "annotations[1].id: duplicate id")])
def test_duplicate_ids_in_the_ground_truth_are_refused(where: str, needle: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(5, n_cats=3)
    items = gt[where]
    items[2 if where == "images" else 1]["id"] = items[0]["id"]
    code, _, err = _evaluate(tmp_path, capsys, gt, dets)
    assert code == 2
    assert needle in err
    assert "ids must be unique" in err


def test_an_empty_results_file_scores_zero_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, _ = make_workload(6)
    code, out, err = _evaluate(tmp_path, capsys, gt, [])
    assert code == 0
    assert json.loads(out)["AP"] in (0.0, -1.0)
    assert "no detections" in err
