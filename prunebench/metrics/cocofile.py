"""Loading and validating COCO ground-truth and results files: what pycocotools accepts, every problem at once.

A results file is accepted whenever pycocotools' ``COCO.loadRes`` + ``COCOeval`` would evaluate it: boxes
may start at negative x or y (detectors emit them), widths, heights and scores may be any numbers,
NaN and infinite ones included (JSON's ``NaN``/``Infinity`` tokens, which Python's json reads, or a number
too large for a double such as ``1e400``), and detections of categories the ground truth does not list
(or whose category id is no integer: NaN, 1.5, a string, null) are ignored. Values that are legal but
odd (negative widths or scores, NaN or infinite values, unknown categories, no detections) give warnings naming
the count and the first indices; the evaluator reproduces pycocotools' numbers for them
(:mod:`prunebench.metrics.coco`). Refused, with every problem listed: a file that is not a JSON list of
objects, a missing key, a value of the wrong type, a bbox without 4 numbers, an integer beyond a double's
range, and image ids the ground truth does not list or that are not integers (pycocotools refuses those
too). A ground truth with duplicate image, category or annotation ids is refused (pycocotools would
silently keep one).

Files are parsed with orjson and checked column by column with numpy, so a 5,000-image file with 250,000
detections is read, checked and turned into arrays in a fraction of a second. orjson refuses the NaN and
Infinity tokens; such a file is parsed again by the standard json module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from prunebench.errors import UsageError

__all__ = ["CocoResults", "load_coco_arrays", "load_coco_inputs", "load_json", "read_results",
           "validate_detections", "validate_ground_truth"]

_GT_HINT = ("A COCO ground-truth file is an object with 'images' [{'id'}], 'categories' [{'id'}] and "
            "'annotations' [{'id', 'image_id', 'category_id', 'bbox', 'area', 'iscrowd'}].")
_DT_HINT = ("A COCO results file is a list of {'image_id', 'category_id', 'bbox': [x, y, w, h], 'score'} "
            "objects, one per detection.")
_BOX_ALLOWED = "a list of 4 finite numbers [x, y, width, height]"
_DT_BOX_ALLOWED = "a list of 4 numbers [x, y, width, height]"
_FLOAT_MAX = float(np.finfo(np.float64).max)
#: problems listed per file (the rest are counted)
MAX_LISTED = 20
_EXACT_INT = 2**53  # ids above this do not survive a float64 round trip


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = json.dumps(value)  # NaN and Infinity print as JSON tools write them
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


class _Problems:
    """Problems of one file, collected and raised together (the first :data:`MAX_LISTED` listed)."""

    def __init__(self, name: str, hint: str) -> None:
        self.name, self.hint = name, hint
        self.items: list[str] = []
        self.count = 0

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.items) < MAX_LISTED:
            self.items.append(text)

    def raise_if_any(self) -> None:
        if not self.count:
            return
        more = f"\n  ... and {self.count - len(self.items)} more" if self.count > len(self.items) else ""
        head = f"{self.name}: {self.count} problem{'s' if self.count > 1 else ''}"
        raise UsageError(head + "\n" + "\n".join(f"  {self.name}: {t}" for t in self.items) + more, hint=self.hint)


# --------------------------------------------------------------------------------------------------
# Reading JSON
# --------------------------------------------------------------------------------------------------


def _read_bytes(path: str | Path, hint: str | None) -> bytes:
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{p}: is a folder, not a JSON file.", hint=hint)
    if not p.is_file():
        raise UsageError(f"{p}: file not found.", hint=hint)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise UsageError(f"{p}: cannot be read ({exc.strerror or exc}).", hint=hint) from None


def _parse(raw: bytes, name: str, hint: str | None) -> Any:
    """JSON text to Python objects: orjson, else the standard parser (which, like pycocotools' json.load,
    also reads NaN and Infinity)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency
        orjson = None  # type: ignore[assignment]
    if orjson is not None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError(f"{name}: not valid JSON (UTF-16 text; JSON files are UTF-8).", hint=hint)
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name}: not valid JSON (not UTF-8 text: {exc.reason}).", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
                         hint=hint) from None


def load_json(path: str | Path, hint: str | None = None) -> Any:
    """Read a JSON file; a missing file or invalid JSON is a :class:`UsageError` naming the file and line."""
    return _parse(_read_bytes(path, hint), str(path), hint)


# --------------------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: int | float) -> bool:
    """math.isfinite without its OverflowError: an integer beyond a double's range counts as infinite."""
    return abs(v) <= _FLOAT_MAX if isinstance(v, int) else math.isfinite(v)


def _objects(p: _Problems, items: Any, field_name: str) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        p.add(f"'{field_name}' must be a list, got {_type_name(items)}.")
        return []
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            out.append(item)
        else:
            p.add(f"{field_name}[{i}] must be an object, got {_type_name(item)} {_short(item)}.")
    return out


def _unique_ids(p: _Problems, items: list[dict[str, Any]], field_name: str) -> list[Any]:
    ids: list[Any] = []
    first: dict[Any, int] = {}
    for i, item in enumerate(items):
        if "id" not in item:
            p.add(f"{field_name}[{i}]: missing key 'id' (an integer id); the object has keys {sorted(item)}.")
            continue
        v = item["id"]
        if not _is_int(v):
            p.add(f"{field_name}[{i}].id: bad 'id': got {_short(v)}; expected an integer id.")
            continue
        if v in first:
            p.add(f"{field_name}[{i}].id: duplicate id {v} (also {field_name}[{first[v]}]); ids must be unique.")
            continue
        first[v] = i
        ids.append(v)
    return ids


def _box_problem(box: Any) -> str | None:
    if not isinstance(box, list) or len(box) != 4 or not all(_is_num(v) for v in box):
        return f"got {_short(box)}; expected {_BOX_ALLOWED}"
    if not all(_finite(v) for v in box):
        return f"NaN or infinite value: got {_short(box)}; expected {_BOX_ALLOWED}"
    return None


def _too_big(v: Any) -> bool:
    """An integer a double cannot hold (pycocotools' float conversion fails on it)."""
    return type(v) is int and abs(v) > _FLOAT_MAX


def _dt_box_problem(box: Any) -> str | None:
    """A results bbox: 4 numbers, NaN, infinities and booleans allowed (pycocotools evaluates them)."""
    if not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, (int, float)) for v in box):
        return f"got {_short(box)}; expected {_DT_BOX_ALLOWED}"
    if any(_too_big(v) for v in box):
        return f"an integer too large for a double: got {_short(box)}; expected {_DT_BOX_ALLOWED}"
    return None


def _gt_fast_ok(gt: dict[str, Any]) -> int | None:
    """The number of annotation boxes with a negative width or height when the ground truth is well formed
    (checked column by column), else None ('look record by record')."""
    images, cats, anns = gt["images"], gt["categories"], gt["annotations"]
    if not (type(images) is list and type(cats) is list and type(anns) is list and cats):
        return None
    if set(map(type, images)) - {dict} or set(map(type, cats)) - {dict} or set(map(type, anns)) - {dict}:
        return None
    try:
        img_ids = list(map(itemgetter("id"), images))
        cat_ids = list(map(itemgetter("id"), cats))
        cols = [list(map(itemgetter(k), anns)) for k in ("id", "image_id", "category_id", "bbox")]
    except KeyError:
        return None
    ids = [img_ids, cat_ids, *cols[:3]]
    if any(set(map(type, col)) - {int} for col in ids):
        return None
    boxes = cols[3]
    if anns and (set(map(type, boxes)) != {list} or set(map(len, boxes)) != {4}):
        return None
    if set(map(type, chain.from_iterable(boxes))) - {int, float}:
        return None
    areas = [a["area"] for a in anns if "area" in a]
    crowd = [a["iscrowd"] for a in anns if "iscrowd" in a]
    if set(map(type, areas)) - {int, float} or not set(crowd) <= {0, 1}:
        return None
    try:
        arrays = [np.fromiter(col, dtype=np.int64, count=len(col)) for col in ids]
    except OverflowError:
        return None
    img_a, cat_a, ann_a, ann_img, ann_cat = arrays
    for a in (img_a, cat_a, ann_a):
        if len(np.unique(a)) != len(a):
            return None
    if not (np.all(np.isin(ann_img, img_a)) and np.all(np.isin(ann_cat, cat_a))):
        return None
    try:
        box_a = np.fromiter(chain.from_iterable(boxes), dtype=np.float64, count=4 * len(boxes)).reshape(-1, 4)
        area_a = np.asarray(areas, dtype=np.float64)
    except OverflowError:
        return None
    if not (np.all(np.isfinite(box_a)) and np.all(np.isfinite(area_a)) and np.all(area_a >= 0)):
        return None
    return int(np.count_nonzero((box_a[:, 2] < 0) | (box_a[:, 3] < 0)))


def validate_ground_truth(gt: Any, name: str = "annotations.json",
                          warnings: list[str] | None = None) -> dict[str, Any]:
    """Check a COCO ground-truth dict; raise one :class:`UsageError` listing every problem found.

    Legal but odd values (a box with a negative width or height) are appended to ``warnings``. A well
    formed file is checked column by column; only a file with problems is read record by record.
    """
    p = _Problems(name, _GT_HINT)
    if isinstance(gt, dict) and all(k in gt for k in ("images", "annotations", "categories")):
        odd_fast = _gt_fast_ok(gt)
        if odd_fast is not None:
            if odd_fast and warnings is not None:
                warnings.append(f"{name}: {odd_fast} annotation box{'es have' if odd_fast > 1 else ' has'} a "
                                f"negative width or height; evaluated as written (as pycocotools does).")
            return gt
    if not isinstance(gt, dict):
        raise UsageError(f"{name}: the top level must be an object, got {_type_name(gt)}.", hint=_GT_HINT)
    missing = [k for k in ("images", "annotations", "categories") if k not in gt]
    if missing:
        raise UsageError(f"{name}: missing key{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(repr(k) for k in missing)} at the top level (found {sorted(gt)}).",
                         hint=_GT_HINT)
    images = _objects(p, gt["images"], "images")
    cats = _objects(p, gt["categories"], "categories")
    anns = _objects(p, gt["annotations"], "annotations")
    img_ids = set(_unique_ids(p, images, "images"))
    cat_ids = set(_unique_ids(p, cats, "categories"))
    if isinstance(gt["categories"], list) and not gt["categories"]:
        p.add("'categories' is empty; at least one category is needed.")
    _unique_ids(p, anns, "annotations")
    odd = 0
    for i, a in enumerate(anns):
        where = f"annotations[{i}]"
        for key, known, what in (("image_id", img_ids, "image"), ("category_id", cat_ids, "category")):
            if key not in a:
                p.add(f"{where}: missing key '{key}' (an integer {what} id).")
            elif not _is_int(a[key]):
                p.add(f"{where}.{key}: bad '{key}': got {_short(a[key])}; expected an integer {what} id.")
            elif a[key] not in known:
                listed = f" ({_short(sorted(known), 60)})" if what == "category" else ""
                p.add(f"{where}.{key}: unknown {what} id: got {a[key]}; expected an id listed in "
                      f"'{what if what == 'category' else 'image'}s'{listed}.")
        if "bbox" not in a:
            p.add(f"{where}: missing key 'bbox' ({_BOX_ALLOWED}).")
        else:
            why = _box_problem(a["bbox"])
            if why:
                p.add(f"{where}.bbox: {why}.")
            elif a["bbox"][2] < 0 or a["bbox"][3] < 0:
                odd += 1
        if "area" in a and not (_is_num(a["area"]) and _finite(a["area"]) and a["area"] >= 0):
            p.add(f"{where}.area: bad 'area': got {_short(a['area'])}; expected a finite, non-negative number.")
        if "iscrowd" in a and a["iscrowd"] not in (0, 1):
            p.add(f"{where}.iscrowd: bad 'iscrowd': got {_short(a['iscrowd'])}; expected 0 or 1.")
    p.raise_if_any()
    if odd and warnings is not None:
        warnings.append(f"{name}: {odd} annotation box{'es have' if odd > 1 else ' has'} a negative width or "
                        f"height; evaluated as written (as pycocotools does).")
    return gt


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass
class CocoResults:
    """A results file as columns: image and category ids as written, boxes ``[n, 4]`` xywh, scores."""

    image_id: np.ndarray
    category_id: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.scores)


def _int_column(values: list[Any]) -> np.ndarray | None:
    """Integer ids as int64 (integral floats allowed: pycocotools compares 1.0 == 1), else None."""
    kinds = set(map(type, values))
    if kinds <= {int}:
        try:
            return np.fromiter(values, dtype=np.int64, count=len(values))
        except OverflowError:
            return None
    if kinds <= {int, float}:
        try:
            col = np.fromiter(values, dtype=np.float64, count=len(values))
        except OverflowError:
            return None
        with np.errstate(invalid="ignore"):
            if np.all(np.isfinite(col)) and np.all(col == np.round(col)) and np.all(np.abs(col) < _EXACT_INT):
                return col.astype(np.int64)
    return None


def _category_column(values: list[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """Category ids as int64 and a mask of those that can match no category: numbers that are no integer
    (NaN, infinite, 1.5), strings and nulls. pycocotools looks them up in its category list (``in``), finds
    nothing and ignores the detection; ``true``/``false`` compare equal to 1/0 there and are read so. Lists
    and objects (pycocotools fails on them: unhashable) give None."""
    col = _int_column(values)
    if col is not None:
        return col, np.zeros(len(values), dtype=bool)
    if set(map(type, values)) - {int, float, bool, str, type(None)}:
        return None

    def as_float(v: Any) -> float:
        if isinstance(v, (str, type(None))):
            return math.nan
        return math.inf if _too_big(v) else float(v)

    col_f = np.array([as_float(v) for v in values], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(col_f) & (col_f == np.round(col_f)) & (np.abs(col_f) < _EXACT_INT)
    return np.where(ok, col_f, 0).astype(np.int64), ~ok


def _columns(dets: list[Any]) -> tuple[np.ndarray, ...] | None:
    """The four columns, the mask of category ids that are no integer and the mask of records with a boolean
    bbox value or score, when every record is well typed (checked type by type, not record by record)."""
    if set(map(type, dets)) - {dict}:
        return None
    try:
        img = list(map(itemgetter("image_id"), dets))
        cat = list(map(itemgetter("category_id"), dets))
        boxes = list(map(itemgetter("bbox"), dets))
        scores = list(map(itemgetter("score"), dets))
    except KeyError:
        return None
    n = len(dets)
    if n and (set(map(type, boxes)) != {list} or set(map(len, boxes)) != {4}):
        return None
    box_types, score_types = set(map(type, chain.from_iterable(boxes))), set(map(type, scores))
    if box_types - {int, float, bool} or score_types - {int, float, bool}:
        return None
    img_a, cat_m = _int_column(img), _category_column(cat)
    if img_a is None or cat_m is None:
        return None
    try:  # an integer beyond a double's range does not convert: the record pass names it
        box_a = np.fromiter(chain.from_iterable(boxes), dtype=np.float64, count=4 * n).reshape(n, 4)
        score_a = np.fromiter(scores, dtype=np.float64, count=n)
    except OverflowError:
        return None
    bools = np.zeros(n, dtype=bool)  # booleans in a bbox or score: numbers 1/0 to pycocotools (and here)
    if bool in box_types:
        bools |= np.array([bool in set(map(type, b)) for b in boxes], dtype=bool)
    if bool in score_types:
        bools |= np.array([type(v) is bool for v in scores], dtype=bool)
    return img_a, cat_m[0], box_a, score_a, cat_m[1], bools


def _record_problems(p: _Problems, dets: list[Any], img_ids: set[Any]) -> None:
    """The slow pass, only for a file that has problems: each record's, listed by index."""
    for i, d in enumerate(dets):
        if not isinstance(d, dict):
            p.add(f"[{i}] must be an object, got {_type_name(d)} {_short(d)}.")
            continue
        missing = [k for k in ("image_id", "category_id", "bbox", "score") if k not in d]
        for k in missing:
            p.add(f"[{i}]: missing key '{k}'; the object has keys {sorted(d)}.")
        v = d.get("image_id")
        if "image_id" in d and not (_is_num(v) and (isinstance(v, int) or math.isfinite(v)) and v == round(v)):
            p.add(f"[{i}].image_id: bad 'image_id': got {_short(v)}; expected an integer image id.")
        elif "image_id" in d and v not in img_ids:
            p.add(f"[{i}].image_id: unknown image id: got {_short(v)}; expected an id listed in the ground "
                  f"truth's 'images' (pycocotools refuses such results too).")
        v = d.get("category_id")
        if "category_id" in d and isinstance(v, (list, dict)):  # other values that are no id are ignored (warned)
            p.add(f"[{i}].category_id: bad 'category_id': got {_short(v)}; expected an integer category id.")
        if "bbox" in d:
            why = _dt_box_problem(d["bbox"])
            if why:
                p.add(f"[{i}].bbox: {why}.")
        v = d.get("score")
        if "score" in d and not isinstance(v, (int, float)):
            p.add(f"[{i}].score: got {_short(v)}; expected a number.")
        elif "score" in d and _too_big(v):
            p.add(f"[{i}].score: an integer too large for a double: got {_short(v)}; expected a number.")


def read_results(dets: Any, img_ids: np.ndarray, cat_ids: np.ndarray, name: str = "detections.json") -> CocoResults:
    """A parsed results file as :class:`CocoResults`, checked against the ground truth's (sorted) ids.

    Raises one :class:`UsageError` listing every problem; legal but odd values become warnings. A
    detection whose category id is no integer (NaN, 1.5, a string, null) gets an id absent from ``cat_ids``:
    it is ignored, as pycocotools ignores it.
    """
    if isinstance(dets, dict) and "annotations" in dets:
        raise UsageError(f"{name}: the top level is an object with 'annotations'; a results file is a plain "
                         "list of detections.", hint=_DT_HINT)
    if not isinstance(dets, list):
        raise UsageError(f"{name}: the top level must be a list of detections, got {_type_name(dets)}.",
                         hint=_DT_HINT)
    p = _Problems(name, _DT_HINT)
    cols = _columns(dets)
    if cols is None:
        _record_problems(p, dets, set(img_ids.tolist()))
        p.raise_if_any()
        cols = _columns(dets)  # pragma: no cover - the slow pass finds what the fast one refused
        if cols is None:
            raise UsageError(f"{name}: not a COCO results file.", hint=_DT_HINT)
    img, cat, boxes, scores, odd_cat, bools = cols
    unknown_img = np.flatnonzero(~np.isin(img, img_ids))
    for i in unknown_img[:MAX_LISTED].tolist():
        p.add(f"[{i}].image_id: unknown image id: got {_short(dets[i]['image_id'])}; expected an id listed in "
              f"the ground truth's 'images' (pycocotools refuses such results too).")
    p.count += max(0, len(unknown_img) - MAX_LISTED)
    p.raise_if_any()
    if odd_cat.any():
        cat = np.where(odd_cat, _absent_id(cat_ids), cat)
    res = CocoResults(img, cat, boxes, scores)
    _warn(res, name, cat_ids, odd_cat, bools, dets)
    return res


def _absent_id(ids: np.ndarray) -> int:
    """An int64 that is not in the sorted ``ids``."""
    info = np.iinfo(np.int64)
    if len(ids) == 0 or ids[0] > info.min:
        return int(info.min)
    if ids[-1] < info.max:
        return int(info.max)
    gap = int(np.flatnonzero(np.diff(ids) > 1)[0])  # a sorted, unique, full-range array has a gap
    return int(ids[gap]) + 1


def _examples(mask: np.ndarray, values: Callable[[int], Any] | None = None, limit: int = 3) -> str:
    where = np.flatnonzero(mask)[:limit].tolist()
    return ", ".join(f"[{i}]" + (f" {_short(values(i), 60)}" if values else "") for i in where)


def _warn(res: CocoResults, name: str, cat_ids: np.ndarray, odd_cat: np.ndarray, bools: np.ndarray,
          dets: list[Any]) -> None:
    n = len(res)
    if n == 0:
        res.warnings.append(f"{name}: no detections; every AP and AR is 0.")
        return
    finite_box = np.isfinite(res.boxes)
    finite_score = np.isfinite(res.scores)
    s = res.scores
    checks: list[tuple[np.ndarray, Callable[[int, str], str]]] = [
        (odd_cat, lambda k, ex: (
            f"{k} detection{'s have' if k > 1 else ' has'} a category_id that is no integer ({ex}); "
            f"{'they are' if k > 1 else 'it is'} ignored, as pycocotools does.")),
        (~odd_cat & ~np.isin(res.category_id, cat_ids), lambda k, ex: (
            f"{k} detection{'s' if k > 1 else ''} of categories the ground truth does not list ({ex}) "
            f"{'are' if k > 1 else 'is'} ignored, as pycocotools does.")),
        (~finite_box.all(axis=1), lambda k, ex: (
            f"{k} detection{'s have' if k > 1 else ' has'} a NaN or infinite bbox value ({ex}); evaluated as "
            f"pycocotools does (its IoU ignores a NaN x or y, a NaN width or height gives a NaN IoU, which "
            f"matches): check the detector's output.")),
        (np.isnan(s), lambda k, ex: (
            f"{k} NaN score{'s' if k > 1 else ''} ({ex}); ranked below every other score, in file order, as "
            f"pycocotools' sort does.")),
        (np.isinf(s), lambda k, ex: (
            f"{k} infinite score{'s' if k > 1 else ''} ({ex}); ranked first (+Infinity) or after every finite "
            f"score (-Infinity), as pycocotools does.")),
        (finite_box.all(axis=1) & ((res.boxes[:, 2] < 0) | (res.boxes[:, 3] < 0)), lambda k, ex: (
            f"{k} box{'es have' if k > 1 else ' has'} a negative width or height ({ex}); evaluated as "
            f"written, as pycocotools does: check that boxes are [x, y, width, height].")),
        (finite_score & (s < 0), lambda k, ex: f"{k} negative score{'s' if k > 1 else ''} ({ex}); ranked as written."),
        (bools, lambda k, ex: (
            f"{k} detection{'s have' if k > 1 else ' has'} true or false in its bbox or score ({ex}); read as 1 "
            f"and 0, as pycocotools' arithmetic does (pycocotools itself fails where every top-ranked score of "
            f"a category is a boolean).")),
    ]
    shown = {2: lambda i: dets[i]["bbox"], 3: lambda i: dets[i]["score"], 4: lambda i: dets[i]["score"],
             0: lambda i: dets[i]["category_id"]}
    for c, (mask, text) in enumerate(checks):
        k = int(mask.sum())
        if k:
            res.warnings.append(f"{name}: " + text(k, ("e.g. " if k > 3 else "") + _examples(mask, shown.get(c))))


def validate_detections(dets: Any, gt: dict[str, Any], name: str = "detections.json",
                        warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """Check a COCO results list against its (validated) ground truth; raise :class:`UsageError` listing
    every problem. Returns ``dets`` unchanged; warnings are appended to ``warnings``."""
    img_ids, cat_ids = _gt_ids(gt)
    res = read_results(dets, img_ids, cat_ids, name)
    if warnings is not None:
        warnings += res.warnings
    return dets


def _gt_ids(gt: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    img_ids = np.array(sorted({im["id"] for im in gt["images"]}), dtype=np.int64)
    cat_ids = np.array(sorted({c["id"] for c in gt["categories"]}), dtype=np.int64)
    return img_ids, cat_ids


def load_coco_inputs(gt_path: str | Path, pred_path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load and validate a ground-truth file and a results file (errors name the file and every index)."""
    gt = validate_ground_truth(load_json(gt_path, hint=_GT_HINT), name=str(gt_path))
    dets = validate_detections(load_json(pred_path, hint=_DT_HINT), gt, name=str(pred_path))
    return gt, dets


def load_coco_arrays(gt_path: str | Path, pred_path: str | Path) -> tuple[dict[str, Any], CocoResults]:
    """The validated ground truth (a dict) and the results as columns, with the warnings of both files."""
    warnings: list[str] = []
    gt = validate_ground_truth(load_json(gt_path, hint=_GT_HINT), name=str(gt_path), warnings=warnings)
    img_ids, cat_ids = _gt_ids(gt)
    res = read_results(load_json(pred_path, hint=_DT_HINT), img_ids, cat_ids, name=str(pred_path))
    res.warnings[:0] = warnings
    return gt, res
