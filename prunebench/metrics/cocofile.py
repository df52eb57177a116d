"""Loading and validating COCO ground-truth and results files, with errors that name file, index and field."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from prunebench.errors import UsageError

__all__ = ["load_coco_inputs", "load_json", "validate_detections", "validate_ground_truth"]

_BOX_ALLOWED = "a list of 4 finite, non-negative numbers [x, y, width, height]"
_GT_HINT = ("A COCO ground-truth file is an object with 'images' [{'id'}], 'categories' [{'id'}] and "
            "'annotations' [{'id', 'image_id', 'category_id', 'bbox', 'area', 'iscrowd'}].")
_DT_HINT = ("A COCO results file is a list of {'image_id', 'category_id', 'bbox': [x, y, w, h], 'score'} "
            "objects, one per detection.")


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = json.dumps(value)  # NaN and Infinity print as JSON tools write them
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def load_json(path: str | Path, hint: str | None = None) -> Any:
    """Read a JSON file; a missing file or invalid JSON is a :class:`UsageError` naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: file not found.", hint=hint)
    try:
        with p.open("rb") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
                         hint=hint) from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{p}: not valid JSON (not UTF-8 text: {exc.reason}).", hint=hint) from None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fail(where: str, what: str, value: Any, allowed: str, hint: str) -> UsageError:
    return UsageError(f"{where}: {what}: got {_short(value)}; expected {allowed}.", hint=hint)


def _check_box(where: str, box: Any, hint: str) -> None:
    if not isinstance(box, list) or len(box) != 4 or not all(_is_num(v) for v in box):
        raise _fail(where, "bad bbox", box, _BOX_ALLOWED, hint)
    if not all(math.isfinite(v) for v in box):
        raise _fail(where, "bbox has a NaN or infinite value", box, _BOX_ALLOWED, hint)
    if any(v < 0 for v in box):
        raise _fail(where, "bbox has a negative value", box, _BOX_ALLOWED,
                    hint + " Boxes must lie in the image: clip x and y to >= 0 (and width, height are sizes).")


def _check_list_of_objects(name: str, items: Any, field: str, hint: str) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise UsageError(f"{name}: '{field}' must be a list, got {_type_name(items)}.", hint=hint)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise UsageError(f"{name}: {field}[{i}] must be an object, got {_type_name(item)} "
                             f"{_short(item)}.", hint=hint)
    return items


def _require(name: str, where: str, item: dict[str, Any], key: str, check: Callable[[Any], bool], allowed: str,
             hint: str) -> Any:
    if key not in item:
        raise UsageError(f"{name}: {where}: missing key '{key}' ({allowed}); the object has keys "
                         f"{sorted(item)}.", hint=hint)
    value = item[key]
    if not check(value):
        raise _fail(f"{name}: {where}.{key}", f"bad '{key}'", value, allowed, hint)
    return value


def validate_ground_truth(gt: Any, name: str = "annotations.json") -> dict[str, Any]:
    """Check a COCO ground-truth dict; raise :class:`UsageError` at the first problem."""
    if not isinstance(gt, dict):
        raise UsageError(f"{name}: the top level must be an object, got {_type_name(gt)}.", hint=_GT_HINT)
    for key in ("images", "annotations", "categories"):
        if key not in gt:
            raise UsageError(f"{name}: missing key '{key}' at the top level (found {sorted(gt)}).", hint=_GT_HINT)
    images = _check_list_of_objects(name, gt["images"], "images", _GT_HINT)
    cats = _check_list_of_objects(name, gt["categories"], "categories", _GT_HINT)
    anns = _check_list_of_objects(name, gt["annotations"], "annotations", _GT_HINT)
    img_ids: set[int] = set()
    for i, im in enumerate(images):
        img_ids.add(_require(name, f"images[{i}]", im, "id", _is_int, "an integer id", _GT_HINT))
    cat_ids: set[int] = set()
    for i, c in enumerate(cats):
        cat_ids.add(_require(name, f"categories[{i}]", c, "id", _is_int, "an integer id", _GT_HINT))
    if not cats:
        raise UsageError(f"{name}: 'categories' is empty; at least one category is needed.", hint=_GT_HINT)
    for i, a in enumerate(anns):
        where = f"annotations[{i}]"
        _require(name, where, a, "id", _is_int, "an integer id", _GT_HINT)
        img = _require(name, where, a, "image_id", _is_int, "an integer image id", _GT_HINT)
        if img not in img_ids:
            raise _fail(f"{name}: {where}.image_id", "unknown image id", img, "an id listed in 'images'", _GT_HINT)
        cat = _require(name, where, a, "category_id", _is_int, "an integer category id", _GT_HINT)
        if cat not in cat_ids:
            raise _fail(f"{name}: {where}.category_id", "unknown category id", cat,
                        f"one of the ids listed in 'categories' ({_short(sorted(cat_ids), 60)})", _GT_HINT)
        if "bbox" not in a:
            raise UsageError(f"{name}: {where}: missing key 'bbox' ({_BOX_ALLOWED}).", hint=_GT_HINT)
        _check_box(f"{name}: {where}.bbox", a["bbox"], _GT_HINT)
        if "area" in a and not (_is_num(a["area"]) and math.isfinite(a["area"]) and a["area"] >= 0):
            raise _fail(f"{name}: {where}.area", "bad 'area'", a["area"], "a finite, non-negative number", _GT_HINT)
        if "iscrowd" in a and a["iscrowd"] not in (0, 1):
            raise _fail(f"{name}: {where}.iscrowd", "bad 'iscrowd'", a["iscrowd"], "0 or 1", _GT_HINT)
    return gt


def validate_detections(dets: Any, gt: dict[str, Any], name: str = "detections.json") -> list[dict[str, Any]]:
    """Check a COCO results list against its (validated) ground truth; raise :class:`UsageError` if bad.

    The common case (every record well formed) is checked with numpy; only when something is wrong does
    a record-by-record pass find the first bad index to report.
    """
    if isinstance(dets, dict) and "annotations" in dets:
        raise UsageError(f"{name}: the top level is an object with 'annotations'; a results file is a plain "
                         "list of detections.", hint=_DT_HINT)
    if not isinstance(dets, list):
        raise UsageError(f"{name}: the top level must be a list of detections, got {_type_name(dets)}.",
                         hint=_DT_HINT)
    img_ids = np.array(sorted({im["id"] for im in gt["images"]}), dtype=np.int64)
    cat_ids = np.array(sorted({c["id"] for c in gt["categories"]}), dtype=np.int64)
    if _fast_ok(dets, img_ids, cat_ids):
        return dets
    known_img, known_cat = set(img_ids.tolist()), set(cat_ids.tolist())
    for i, d in enumerate(dets):
        where = f"[{i}]"
        if not isinstance(d, dict):
            raise UsageError(f"{name}: {where} must be an object, got {_type_name(d)} {_short(d)}.", hint=_DT_HINT)
        img = _require(name, where, d, "image_id", _is_int, "an integer image id", _DT_HINT)
        if img not in known_img:
            raise _fail(f"{name}: {where}.image_id", "unknown image id", img,
                        "an id listed in the ground truth's 'images'", _DT_HINT)
        cat = _require(name, where, d, "category_id", _is_int, "an integer category id", _DT_HINT)
        if cat not in known_cat:
            raise _fail(f"{name}: {where}.category_id", "unknown category id", cat,
                        f"one of the ground truth's category ids ({_short(sorted(known_cat), 60)})", _DT_HINT)
        if "bbox" not in d:
            raise UsageError(f"{name}: {where}: missing key 'bbox' ({_BOX_ALLOWED}).", hint=_DT_HINT)
        _check_box(f"{name}: {where}.bbox", d["bbox"], _DT_HINT)
        score = _require(name, where, d, "score", _is_num, "a finite number >= 0", _DT_HINT)
        if not math.isfinite(score):
            raise _fail(f"{name}: {where}.score", "score is NaN or infinite", score, "a finite number >= 0",
                        _DT_HINT)
        if score < 0:
            raise _fail(f"{name}: {where}.score", "score is negative", score, "a finite number >= 0", _DT_HINT)
    return dets


def _fast_ok(dets: list[Any], img_ids: np.ndarray, cat_ids: np.ndarray) -> bool:
    """True when every record is well formed (vectorised); False means 'look record by record'."""
    keys = {"image_id", "category_id", "bbox", "score"}
    try:
        if not all(type(d) is dict and keys <= d.keys() for d in dets):
            return False
        n = len(dets)
        img = [d["image_id"] for d in dets]
        cat = [d["category_id"] for d in dets]
        if not all(type(v) is int for v in img) or not all(type(v) is int for v in cat):
            return False
        boxes = [d["bbox"] for d in dets]
        if not all(type(b) is list and len(b) == 4 for b in boxes):
            return False
        if not all(type(v) in (int, float) for b in boxes for v in b):
            return False
        scores = [d["score"] for d in dets]
        if not all(type(v) in (int, float) for v in scores):
            return False
        b = np.array(boxes, dtype=np.float64).reshape(n, 4)
        s = np.array(scores, dtype=np.float64)
        if not (np.all(np.isfinite(b)) and np.all(b >= 0) and np.all(np.isfinite(s)) and np.all(s >= 0)):
            return False
        ia, ca = np.array(img, dtype=np.int64), np.array(cat, dtype=np.int64)
        return bool(np.all(np.isin(ia, img_ids)) and np.all(np.isin(ca, cat_ids)))
    except (OverflowError, ValueError, TypeError):
        return False


def load_coco_inputs(gt_path: str | Path, pred_path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load and validate a ground-truth file and a results file (errors name the file and the index)."""
    gt = validate_ground_truth(load_json(gt_path, hint=_GT_HINT), name=str(gt_path))
    dets = validate_detections(load_json(pred_path, hint=_DT_HINT), gt, name=str(pred_path))
    return gt, dets
