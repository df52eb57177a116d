"""YOLOv8 checkpoints: prunebench files, official Ultralytics ``.pt`` files and state_dicts, never running code.

An Ultralytics ``.pt`` pickles the whole ``ultralytics.nn.tasks.DetectionModel`` (fp16). It is read by the
same restricted unpickler as YOLOv5's: every ``ultralytics.nn.*`` and ``torch.nn.modules.*`` class becomes an
inert stand-in that only collects its state; any other global is refused; ultralytics is never imported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunebench.errors import UsageError
from prunebench.models.yolov5.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointInfo,
    _Inert,
    _plain,
    _repeats,
    complete_info,
    pop_names,
    read_state_dict,
    resize_to_state_dict,
    stored_state_dict,
    write_atomically,
)
from prunebench.models.yolov8.model import DetectionModel, build_yolov8
from prunebench.models.yolov8.modules import Detect

__all__ = ["read_checkpoint", "save_checkpoint", "state_dict_to_model"]

_CLS_OUT = re.compile(r"^model\.(\d+)\.cv3\.(\d+)\.2\.weight$")


def _detect_prefix(sd: Mapping[str, Any]) -> str:
    for k in sd:
        m = _CLS_OUT.match(k)
        if m:
            return f"model.{m.group(1)}"
    raise UsageError("The weights have no 'model.<i>.cv3.0.2.weight' entry: they are not a YOLOv8 detection model.",
                     hint=f"First keys found: {list(sd)[:5]}")


def _nc(sd: Mapping[str, torch.Tensor]) -> int:
    return int(sd[_detect_prefix(sd) + ".cv3.0.2.weight"].shape[0])


def read_checkpoint(path: str | Path) -> CheckpointInfo:
    """Read a prunebench YOLOv8 file, an Ultralytics ``.pt`` or a state_dict into fp32 tensors plus metadata."""
    info, sd = read_state_dict(path, what="YOLOv8", file_keys=("model", "names"), inert_info=_inert_info,
                               hint="Expected a prunebench checkpoint, an Ultralytics YOLOv8 .pt or a state_dict.")
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items() if isinstance(v, torch.Tensor)}
    return complete_info(info, sd, _nc(sd))


def _inert_info(obj: Mapping[str, Any], mdl: _Inert) -> dict[str, Any]:
    yaml = dict(getattr(mdl, "yaml", None) or {})
    return {"names": getattr(mdl, "names", None), "format": "ultralytics",
            "meta": {"epoch": obj.get("epoch"), "version": obj.get("version"),
                     "yaml": {k: v for k, v in yaml.items() if k in ("nc", "scale", "yaml_file")}}}


def state_dict_to_model(sd: Mapping[str, torch.Tensor], *, size: str = "n", nc: int | None = None,
                        names: list[str] | None = None, source: str = "<state_dict>",
                        transfer: bool = False) -> DetectionModel:
    """Build a YOLOv8 whose structure and channel counts match ``sd`` (pruned or not) and load it.

    With ``transfer`` and an ``nc`` other than the file's, every weight of the file is loaded and only the
    final class convs are created anew for ``nc`` (official bias init). Ultralytics instead rebuilds the model
    for ``nc`` and loads what fits, which also re-initialises the class branch where its width depends on nc.
    """
    file_nc = _nc(sd)
    det = _detect_prefix(sd)
    model = build_yolov8(size, file_nc, repeats=_repeats(sd))
    resize_to_state_dict(model, sd)
    for layer in model.model:
        layer.np = sum(p.numel() for p in layer.parameters())
    own = set(model.state_dict())
    missing, unexpected = sorted(own - set(sd)), sorted(set(sd) - own)
    if missing or unexpected:
        raise UsageError(f"{source}: the weights do not fit a YOLOv8 model: missing keys {missing[:5]}, "
                         f"unexpected keys {unexpected[:5]}.")
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise UsageError(f"{source}: the weights do not fit a YOLOv8 model: {exc}") from exc
    if not isinstance(model.model[-1], Detect) or f"model.{len(model.model) - 1}" != det:
        raise UsageError(f"{source}: the Detect head is at {det}, expected model.{len(model.model) - 1}.")
    model.names = list(names) if names and len(names) == file_nc else [str(i) for i in range(file_nc)]
    if transfer and nc is not None and nc != file_nc:
        _rehead(model, nc)
    return model


def _rehead(model: DetectionModel, nc: int) -> None:
    """Replace Detect's final class convs by fresh ones for ``nc`` classes (official init)."""
    head = model.model[-1]
    for i, branch in enumerate(head.cv3):
        old = branch[-1]
        new = nn.Conv2d(old.in_channels, nc, 1).to(old.weight.device)
        new.bias.data[:] = math.log(5 / nc / (640 / float(head.stride[i])) ** 2)
        branch[-1] = new
    head.nc, head.no = nc, nc + 4 * head.reg_max
    head._anchor_key = None
    model.yaml["nc"] = nc
    model.names = [str(i) for i in range(nc)]
    head.np = sum(p.numel() for p in head.parameters())


def save_checkpoint(model: nn.Module, path: str | Path, *, name: str, half: bool = False,
                    meta: Mapping[str, Any] | None = None) -> Path:
    """Save ``model`` as a prunebench checkpoint (loadable with ``torch.load(weights_only=True)``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = stored_state_dict(model, half)
    meta = dict(meta or {})
    names = pop_names(meta, model)
    yaml = dict(getattr(model, "yaml", {}) or {})
    meta.setdefault("yaml", {k: yaml[k] for k in ("depth_multiple", "width_multiple", "max_channels") if k in yaml})
    ckpt = {"format": FORMAT, "version": VERSION, "model": name, "nc": int(model.model[-1].nc), "names": names,
            "anchors": None, "state_dict": sd, "meta": _plain(meta)}
    return write_atomically(ckpt, path)
