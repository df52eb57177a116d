"""Results files with NaN and infinite values: pycocotools evaluates them, so ``prunebench evaluate`` does, with
pycocotools' numbers (to 1e-9) and a warning that names the count and the first indices.

What pycocotools does with them (read from its source, checked here): ``-score`` sorts NaN last (numpy's
mergesort), so NaN scores rank below -Infinity, in file order; maskApi's bbIou uses C's fmin/fmax, which
ignore a NaN argument (a NaN x or y takes the gt's extent), and a NaN width passes its ``w <= 0`` test,
so a NaN width or height gives a NaN IoU; ``ious < iou`` is False for NaN, so a NaN IoU matches at every
threshold and makes the next free gt match whatever its IoU; a NaN area is in every area range.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from prunebench.cli import main
from prunebench.metrics.coco import coco_evaluate
from prunebench.metrics.cocofile import load_json

from .coco_workloads import make_edge_workload, make_workload
from .coco_workloads import pycocotools_oracle as _oracle

pytest.importorskip("pycocotools.cocoeval")
from pycocotools.cocoeval import COCOeval

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
SPECIAL = (math.nan, math.inf, -math.inf)
FIELDS = ("x", "y", "w", "h", "score")


def _sprinkle(dets: list[dict[str, Any]], seed: int, fields: tuple[str, ...], frac: float) -> list[int]:
    """Put NaN, +inf or -inf into ``frac`` of the detections, in one of ``fields``; the changed indices."""
    rng = np.random.default_rng(seed)
    changed = []
    for i, d in enumerate(dets):
        if rng.random() >= frac:
            continue
        f = fields[int(rng.integers(len(fields)))]
        v = SPECIAL[int(rng.integers(len(SPECIAL)))]
        if f == "score":
            d["score"] = v
        else:
            box = list(d["bbox"])
            box["xywh".index(f)] = v
            d["bbox"] = box
        changed.append(i)
    return changed


def _workload(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if seed % 2:
        return make_edge_workload(seed)  # crowds, ignore flags, >100 detections per image, exact ties
    return make_workload(seed, n_images=8, dets_per_image=14, n_cats=3)


def _check_arrays(gt: dict[str, Any], dets: list[dict[str, Any]]) -> COCOeval:
    ev = _oracle(gt, dets)
    ours = coco_evaluate(gt, dets)
    np.testing.assert_allclose(ours.stats, ev.stats, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.precision, ev.eval["precision"][..., 2], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.recall, ev.eval["recall"], rtol=0, atol=1e-9)
    return ev


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], gt: Any, dets: Any) -> tuple[int, str, str]:
    g, d = tmp_path / "annotations.json", tmp_path / "detections.json"
    g.write_text(json.dumps(gt))
    d.write_text(json.dumps(dets))  # writes NaN / Infinity / -Infinity tokens, as Python tools do
    code = main(["evaluate", "--gt", str(g), "--pred", str(d), "--json"])
    out = capsys.readouterr()
    return code, out.out, " ".join(out.err.split())


@pytest.mark.parametrize("field", [*FIELDS, "all"])
@pytest.mark.parametrize("seed", range(4))
def test_nan_and_inf_in_each_field_give_pycocotools_numbers(field: str, seed: int) -> None:
    gt, dets = _workload(seed * 7 + FIELDS.index(field) if field in FIELDS else seed)
    if not dets:
        pytest.skip("pycocotools cannot load an empty results list")
    fields = FIELDS if field == "all" else (field,)
    assert _sprinkle(dets, seed, fields, frac=(0.05, 0.2, 0.5, 0.9)[seed])
    _check_arrays(gt, dets)


@pytest.mark.parametrize("seed", range(3))
def test_nan_width_in_most_detections(seed: int) -> None:
    """Many NaN IoUs: the blocks that hold one are matched by pycocotools' own scan, the rest vectorised."""
    gt, dets = make_workload(40 + seed, n_images=6, dets_per_image=30, n_cats=2, crowd_frac=0.3)
    rng = np.random.default_rng(seed)
    for d in dets:
        if rng.random() < 0.6:
            d["bbox"] = [d["bbox"][0], d["bbox"][1], math.nan, d["bbox"][3]]
    _check_arrays(gt, dets)


def test_huge_finite_boxes_with_overflowing_areas_like_pycocotools() -> None:
    gt, dets = make_workload(50, n_images=6, dets_per_image=20)
    rng = np.random.default_rng(0)
    for d in dets:
        if rng.random() < 0.3:
            d["bbox"] = [v * 1e300 if rng.random() < 0.5 else v for v in d["bbox"]]
    _check_arrays(gt, dets)


def test_nan_scores_rank_below_minus_infinity_in_file_order() -> None:
    # one gt, three detections of the same box: the first in rank order is the true positive
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10.0, 10.0, 50.0, 50.0],
                           "area": 2500.0, "iscrowd": 0},
                          {"id": 2, "image_id": 1, "category_id": 1, "bbox": [200.0, 10.0, 50.0, 50.0],
                           "area": 2500.0, "iscrowd": 0}]}
    hit, miss = [10.0, 10.0, 50.0, 50.0], [400.0, 400.0, 5.0, 5.0]
    dets = [{"image_id": 1, "category_id": 1, "bbox": miss, "score": -math.inf},
            {"image_id": 1, "category_id": 1, "bbox": hit, "score": math.nan}]
    ev = _check_arrays(gt, dets)
    # the miss (-inf) ranks before the hit (NaN): precision at recall 0.5 is 1/2
    assert ev.eval["precision"][0, 50, 0, 0, 2] == pytest.approx(0.5)
    assert coco_evaluate(gt, dets).stats[1] == pytest.approx(ev.stats[1], abs=1e-12)


def test_category_ids_that_are_no_integer_are_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(60, n_images=6)
    for d in dets[::4]:
        d["category_id"] = math.nan
    dets[1]["category_id"] = 2.5
    dets[2]["category_id"] = -math.inf
    code, out, err = _cli(tmp_path, capsys, gt, dets)
    assert code == 0, err
    n = len(dets[::4]) + 2
    assert f"{n} detections have a category_id that is no integer (e.g. [0] NaN, [1] 2.5, [2] -Infinity)" in err
    expected = _oracle(gt, dets).stats
    np.testing.assert_allclose([json.loads(out)[k] for k in KEYS], expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("value", "needle"), [(None, "[4] null"), ("3", '[4] "3"'), (True, None), (False, None)])
def test_category_ids_pycocotools_looks_up_like_python(value: Any, needle: str | None, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A string or null matches no category (ignored); true and false compare equal to 1 and 0."""
    gt, dets = make_workload(61, n_images=6)
    gt["categories"] = [*gt["categories"], {"id": 1}, {"id": 0}]
    for i in (4, 9):
        dets[i]["category_id"] = value
    code, out, err = _cli(tmp_path, capsys, gt, dets)
    assert code == 0, err
    np.testing.assert_allclose([json.loads(out)[k] for k in KEYS], _oracle(gt, dets).stats, rtol=0, atol=1e-9)
    if needle:
        assert "2 detections have a category_id that is no integer" in err
        assert needle in err
    else:
        assert "category_id" not in err


def test_a_list_or_object_category_id_is_refused_as_pycocotools_fails_on_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(62, n_images=5)
    dets[3]["category_id"] = [1]
    code, _, err = _cli(tmp_path, capsys, gt, dets)
    assert code == 2
    assert "[3].category_id: bad 'category_id': got [1]" in err
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(TypeError):
        _oracle(gt, dets)


@pytest.mark.parametrize("seed", range(3))
def test_cli_evaluates_nan_files_with_pycocotools_numbers_and_names_them(
        seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(70 + seed, n_images=10, dets_per_image=12)
    rng = np.random.default_rng(seed)
    nan_box, inf_box, nan_score, inf_score = [], [], [], []
    for i, d in enumerate(dets):
        r = rng.random()
        if r < 0.08:
            d["bbox"] = [*d["bbox"][:2], math.nan, d["bbox"][3]]
            nan_box.append(i)
        elif r < 0.14:
            d["bbox"] = [-math.inf, *d["bbox"][1:]]
            inf_box.append(i)
        elif r < 0.22:
            d["score"] = math.nan
            nan_score.append(i)
        elif r < 0.28:
            d["score"] = math.inf
            inf_score.append(i)
    dets[0]["category_id"] = math.nan
    code, out, err = _cli(tmp_path, capsys, gt, dets)
    assert code == 0, err
    ours = json.loads(out)
    expected = _oracle(gt, dets).stats
    np.testing.assert_allclose([ours[k] for k in KEYS], expected, rtol=0, atol=1e-9)
    boxes = sorted(nan_box + inf_box)
    n_box = len(boxes)
    assert f"{n_box} detection{'s have' if n_box > 1 else ' has'} a NaN or infinite bbox value" in err
    assert f"[{boxes[0]}] " in err
    assert "check the detector's output" in err
    assert f"{len(nan_score)} NaN score" in err
    assert f"[{nan_score[0]}] NaN" in err
    assert "ranked below every other score" in err
    assert f"{len(inf_score)} infinite score" in err
    assert f"[{inf_score[0]}] Infinity" in err
    assert "1 detection has a category_id that is no integer ([0] NaN)" in err
    assert "Traceback" not in err


def test_the_warning_lists_the_first_three_indices_and_the_count(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(80, n_images=6)
    for i in (3, 5, 8, 13, 21):
        dets[i]["score"] = math.nan
    code, _, err = _cli(tmp_path, capsys, gt, dets)
    assert code == 0
    assert "5 NaN scores (e.g. [3] NaN, [5] NaN, [8] NaN)" in err
    assert "[13]" not in err


def test_json_reads_nan_tokens_and_overflowing_numbers_as_pythons_json_does(tmp_path: Path) -> None:
    p = tmp_path / "d.json"
    p.write_text('[{"bbox": [NaN, Infinity, -Infinity, 1e400], "score": -1e400}]')
    (d,) = load_json(p)
    assert math.isnan(d["bbox"][0])
    assert d["bbox"][1:] == [math.inf, -math.inf, math.inf]
    assert d["score"] == -math.inf
    p.write_text('[{"bbox": [1, 2.5, 3, 4], "score": 0.5}]')  # the fast path: the same objects
    assert load_json(p) == json.loads(p.read_text())


def test_what_pycocotools_refuses_is_still_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, dets = make_workload(90, n_images=5)
    dets[2]["image_id"] = math.nan  # not an image of the ground truth: pycocotools' loadRes asserts
    dets[4]["image_id"] = math.inf
    code, _, err = _cli(tmp_path, capsys, gt, dets)
    assert code == 2
    assert "2 problems" in err
    assert "[2].image_id: bad 'image_id': got NaN" in err
    assert "[4].image_id: bad 'image_id': got Infinity" in err
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(AssertionError):
        _oracle(gt, dets)
