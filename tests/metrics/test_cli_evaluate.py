"""``prunebench evaluate``: the 12 statistics, and bad input refused with file, index and value (exit 2)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from prunebench.cli import main

from .coco_workloads import make_workload

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def _write(tmp_path: Path, gt: Any, dets: Any) -> tuple[str, str]:
    g, d = tmp_path / "annotations.json", tmp_path / "detections.json"
    g.write_text(gt if isinstance(gt, str) else json.dumps(gt))
    d.write_text(dets if isinstance(dets, str) else json.dumps(dets))
    return str(g), str(d)


def test_json_output_matches_evaluator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from prunebench.metrics.coco import coco_evaluate

    gt, dets = make_workload(11)
    g, d = _write(tmp_path, gt, dets)
    assert main(["evaluate", "--gt", g, "--pred", d, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == KEYS
    expected = coco_evaluate(gt, dets).summary
    assert out == pytest.approx(expected, abs=1e-12)


def test_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(12)
    g, d = _write(tmp_path, gt, dets)
    assert main(["evaluate", "--gt", g, "--pred", d, "--per-category"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for key in KEYS:
        assert key in out
    assert "Per category" in out


def _base() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    gt = {"images": [{"id": 1}, {"id": 2}], "categories": [{"id": 3, "name": "bud"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 2, 10, 10], "area": 100,
                           "iscrowd": 0}]}
    dets = [{"image_id": 1, "category_id": 3, "bbox": [1.0, 2.0, 10.0, 10.0], "score": 0.9} for _ in range(20)]
    return gt, dets


def _bad_det(i: int, **change: Any) -> list[dict[str, Any]]:
    _, dets = _base()
    dets[i] = {**dets[i], **change}
    for k, v in change.items():
        if v is KeyError:
            del dets[i][k]
    return dets


NAN = float("nan")


@pytest.mark.parametrize(
    ("dets", "needles"),
    [
        (_bad_det(4, bbox=[1.0, 2.0, 10**400, 4.0]), ["detections.json: [4].bbox", "too large for a double"]),
        (_bad_det(5, bbox=[1.0, 2.0, 3.0]), ["detections.json: [5].bbox", "[1.0, 2.0, 3.0]", "4"]),
        (_bad_det(6, score=[0.5]), ["detections.json: [6].score", "[0.5]", "expected a number"]),
        (_bad_det(8, score="high"), ["detections.json: [8].score", '"high"', "number"]),
        (_bad_det(9, image_id=99), ["detections.json: [9].image_id", "unknown image id", "99"]),
        (_bad_det(11, score=KeyError), ["detections.json: [11]", "missing key 'score'"]),
        (_bad_det(12, image_id="1"), ["detections.json: [12].image_id", '"1"', "integer"]),
        ({"annotations": []}, ["detections.json", "plain list"]),
        ([1, 2], ["detections.json: [0] must be an object", "an integer"]),
    ],
    ids=["huge-int-box", "short-box", "list-score", "str-score", "unknown-image", "missing-score", "str-image",
         "object", "not-objects"],
)
def test_bad_detections(tmp_path: Path, capsys: pytest.CaptureFixture[str], dets: Any, needles: list[str]) -> None:
    gt, _ = _base()
    g, d = _write(tmp_path, gt, json.dumps(dets))  # json.dumps writes NaN, as some tools do
    assert main(["evaluate", "--gt", g, "--pred", d]) == 2
    err = " ".join(capsys.readouterr().err.split())
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("dets", "needles"),
    [
        (_bad_det(17, bbox=[1.0, 2.0, -3.0, 4.0]), ["negative width or height", "[17]"]),
        (_bad_det(7, score=-0.5), ["1 negative score", "[7]"]),
        (_bad_det(10, category_id=4), ["1 detection of categories the ground truth does not list", "[10]",
                                       "ignored, as pycocotools does"]),
        (_bad_det(4, bbox=[NAN, 2.0, 3.0, 4.0]), ["1 detection has a NaN or infinite bbox value", "[4]", "NaN"]),
        (_bad_det(6, score=NAN), ["1 NaN score", "[6]", "ranked below every other score"]),
        (_bad_det(6, score=-math.inf), ["1 infinite score", "[6] -Infinity"]),
        (_bad_det(3, category_id=NAN), ["1 detection has a category_id that is no integer", "[3] NaN",
                                        "ignored, as pycocotools does"]),
    ],
    ids=["negative-width", "negative-score", "unknown-category", "nan-box", "nan-score", "inf-score",
         "nan-category"],
)
def test_odd_but_legal_detections_are_evaluated_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               dets: Any, needles: list[str]) -> None:
    gt, _ = _base()  # pycocotools evaluates these files; so does prunebench, saying what is odd
    g, d = _write(tmp_path, gt, json.dumps(dets))
    assert main(["evaluate", "--gt", g, "--pred", d, "--json"]) == 0
    out = capsys.readouterr()
    assert list(json.loads(out.out)) == KEYS
    err = " ".join(out.err.split())
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


@pytest.mark.parametrize(
    ("gt_text", "needles"),
    [
        ("{not json", ["annotations.json", "not valid JSON", "line 1"]),
        (json.dumps({"images": [], "categories": [{"id": 1}]}), ["annotations.json", "missing key 'annotations'"]),
        (json.dumps({"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1]}]}),
         ["annotations.json: annotations[1].bbox", "[0, 0, 1]"]),
        (json.dumps({"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [
            {"id": 1, "image_id": 5, "category_id": 1, "bbox": [0, 0, 1, 1]}]}),
         ["annotations.json: annotations[0].image_id", "unknown image id", "5"]),
        (json.dumps({"images": [{"id": "a"}], "categories": [{"id": 1}], "annotations": []}),
         ["annotations.json: images[0].id", '"a"']),
        (json.dumps([1, 2]), ["annotations.json", "must be an object", "a list"]),
    ],
    ids=["not-json", "missing-key", "short-box", "unknown-image", "str-id", "list"],
)
def test_bad_ground_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str], gt_text: str,
                          needles: list[str]) -> None:
    _, dets = _base()
    g, d = _write(tmp_path, gt_text, dets)
    assert main(["evaluate", "--gt", g, "--pred", d]) == 2
    err = " ".join(capsys.readouterr().err.split())
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


def test_missing_file_and_bad_json_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, _ = _base()
    g, _d = _write(tmp_path, gt, "[")
    assert main(["evaluate", "--gt", g, "--pred", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: file not found" in " ".join(capsys.readouterr().err.split())
    assert main(["evaluate", "--gt", g, "--pred", str(tmp_path / "detections.json")]) == 2
    assert "detections.json: not valid JSON" in " ".join(capsys.readouterr().err.split())
