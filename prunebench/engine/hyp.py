"""The training hyper-parameters a spec may override (``train.hyp``), each with the range where it makes sense.

The names are YOLOv5's and YOLOv8's (``data/hyps/hyp.scratch-low.yaml`` and ``default.yaml``); a model family
uses the subset its :meth:`default_hyp` lists. The bounds are the values the trainer and the augmentations can
use at all (a probability in [0, 1], a scale gain below 1), not tuning advice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from prunebench.errors import did_you_mean

__all__ = ["Hyp", "validate_hyp"]


def _f(lo: float | None = None, hi: float | None = None, *, gt: float | None = None, lt: float | None = None,
       what: str) -> Any:
    return Field(None, ge=lo, le=hi, gt=gt, lt=lt, allow_inf_nan=False, description=what)


class Hyp(BaseModel):
    """Overrides of a model family's default hyper-parameters; every key optional, unknown keys refused."""

    model_config = ConfigDict(extra="forbid")

    lr0: float | None = _f(hi=10.0, gt=0.0, what="initial learning rate")
    lrf: float | None = _f(hi=1.0, gt=0.0, what="final learning rate, as a fraction of lr0")
    momentum: float | None = _f(0.0, lt=1.0, what="SGD momentum / Adam beta1")
    weight_decay: float | None = _f(0.0, 1.0, what="optimizer weight decay")
    warmup_epochs: float | None = _f(0.0, 1000.0, what="warm-up epochs")
    warmup_momentum: float | None = _f(0.0, lt=1.0, what="warm-up initial momentum")
    warmup_bias_lr: float | None = _f(0.0, 10.0, what="warm-up initial bias learning rate")
    box: float | None = _f(0.0, 100.0, what="box loss gain")
    cls: float | None = _f(0.0, 100.0, what="class loss gain")
    cls_pw: float | None = _f(hi=100.0, gt=0.0, what="class BCE positive weight (YOLOv5)")
    obj: float | None = _f(0.0, 100.0, what="objectness loss gain (YOLOv5)")
    obj_pw: float | None = _f(hi=100.0, gt=0.0, what="objectness BCE positive weight (YOLOv5)")
    dfl: float | None = _f(0.0, 100.0, what="distribution focal loss gain (YOLOv8)")
    iou_t: float | None = _f(gt=0.0, lt=1.0, what="IoU training threshold (YOLOv5)")
    anchor_t: float | None = _f(1.0, 100.0, what="anchor-multiple threshold (YOLOv5)")
    fl_gamma: float | None = _f(0.0, 10.0, what="focal loss gamma, 0 for none (YOLOv5)")
    hsv_h: float | None = _f(0.0, 1.0, what="HSV hue augmentation (fraction)")
    hsv_s: float | None = _f(0.0, 1.0, what="HSV saturation augmentation (fraction)")
    hsv_v: float | None = _f(0.0, 1.0, what="HSV value augmentation (fraction)")
    degrees: float | None = _f(0.0, 180.0, what="rotation (+/- degrees)")
    translate: float | None = _f(0.0, 1.0, what="translation (+/- fraction)")
    scale: float | None = _f(0.0, lt=1.0, what="scale gain (+/-), below 1")
    shear: float | None = _f(0.0, lt=90.0, what="shear (+/- degrees)")
    perspective: float | None = _f(0.0, 0.1, what="perspective (+/- fraction)")
    flipud: float | None = _f(0.0, 1.0, what="vertical flip probability")
    fliplr: float | None = _f(0.0, 1.0, what="horizontal flip probability")
    mosaic: float | None = _f(0.0, 1.0, what="mosaic probability")
    mixup: float | None = _f(0.0, 1.0, what="mixup probability")
    copy_paste: float | None = _f(0.0, 1.0, what="copy-paste probability")
    label_smoothing: float | None = _f(0.0, lt=1.0, what="label smoothing epsilon")


def validate_hyp(values: dict[str, float]) -> dict[str, float]:
    """``values`` checked against :class:`Hyp` (unknown keys with the closest name, values out of range),
    raising one :class:`~pydantic.ValidationError` that lists every problem; returned unchanged."""
    try:
        Hyp.model_validate(values)
    except ValidationError as exc:
        known = list(Hyp.model_fields)
        details: list[InitErrorDetails] = []
        for err in exc.errors():
            if err["type"] == "extra_forbidden":
                key = str(err["loc"][-1])
                kind = PydanticCustomError("unknown_hyp", "unknown hyper-parameter {key}.{close} Known: {known}.",
                                           {"key": repr(key), "close": did_you_mean(key, known),
                                            "known": ", ".join(known)})
            else:
                kind = PydanticCustomError(err["type"], err["msg"], err.get("ctx") or {})
            details.append(InitErrorDetails(type=kind, loc=err["loc"], input=err["input"]))
        raise ValidationError.from_exception_data("Hyp", details) from None
    return values
