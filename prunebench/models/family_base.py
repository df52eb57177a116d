"""What the YOLO model families share: building, input checks, fusing and (half) checkpoint files."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from prunebench.contracts import ModelFamily, PluginOptions, Scope
from prunebench.errors import UsageError
from prunebench.models.nms import non_max_suppression

__all__ = ["YoloFamilyBase", "YoloOptions", "detect_head"]


def detect_head(model: nn.Module, head: type[nn.Module], expected: str) -> Any:
    """``model.model[-1]`` (through a ``.module`` wrapper) if it is a ``head``; else a ``UsageError``."""
    m = getattr(model, "module", model)
    layers = getattr(m, "model", None)
    if not isinstance(layers, nn.Sequential) or not isinstance(layers[-1], head):
        raise UsageError(f"Expected a {expected}, got {type(model).__name__}.")
    return layers[-1]


class YoloOptions(PluginOptions):
    """The scale overrides every YOLO family takes (a family adds its own options after them)."""

    depth_multiple: float | None = Field(
        None, gt=0.0, le=2.0, description="override the depth multiple (repeats = max(round(n*d), 1))")
    width_multiple: float | None = Field(
        None, gt=0.0, le=2.0,
        description="override the width multiple (channels rounded up to multiples of 8); "
                    "e.g. 0.0625 builds a tiny model for tests")


class YoloFamilyBase(ModelFamily):
    """A ``ModelFamily`` over a layered YOLO ``DetectionModel``; subclasses give its parts as hooks.

    Their ``Options`` must hold ``half`` and ``transfer``; they give :meth:`_build_new` and the functions below.
    """

    size: ClassVar[str] = "n"

    #: the family's functions, set in a subclass with ``staticmethod(...)``: its Detect head (or a ``UsageError``
    #: for another model), ``prunable_convs``, ``fuse_model``, ``read_checkpoint``, ``save_checkpoint`` and
    #: ``state_dict_to_model``
    _head_of: ClassVar[Callable[[nn.Module], nn.Module]]
    _prunable_convs: ClassVar[Callable[[nn.Module, str], list[nn.Conv2d]]]
    _fuse_model: ClassVar[Callable[[nn.Module], nn.Module]]
    _read_checkpoint: ClassVar[Callable[[str | Path], dict[str, Any]]]
    _save_checkpoint: ClassVar[Callable[..., Path]]
    _state_dict_to_model: ClassVar[Callable[..., nn.Module]]

    @abstractmethod
    def _build_new(self, nc: int) -> nn.Module:
        """A freshly initialised model of this size for ``nc`` classes."""

    # ---------------------------------------------------------------------------------------------- build
    def build(self, nc: int, weights: str | Path | None = None) -> nn.Module:
        if not isinstance(nc, int) or nc < 1:
            raise UsageError(f"nc must be a positive number of classes, got {nc!r}.")
        if weights is not None:
            model = self._load(weights, nc=nc if self.options.transfer else None)
            self._check_scale(model, weights)
            return model
        return self._build_new(nc)

    def _check_scale(self, model: nn.Module, weights: str | Path) -> None:
        """Explicit ``depth_multiple``/``width_multiple`` beside ``weights`` must describe the checkpoint's own
        architecture: a checkpoint defines its layers, so options it contradicts would be ignored silently."""
        given = {k: getattr(self.options, k) for k in ("depth_multiple", "width_multiple")
                 if getattr(self.options, k, None) is not None}
        if not given:
            return
        head = self._head_of(model)
        reference = self._build_new(int(head.nc)).state_dict()
        loaded = model.state_dict()
        for key, tensor in reference.items():
            other = loaded.get(key)
            if other is None or tuple(other.shape) != tuple(tensor.shape):
                found = "missing" if other is None else "x".join(map(str, other.shape))
                shown = ", ".join(f"{k}: {v:g}" for k, v in given.items())
                raise UsageError(
                    f"weights {str(weights)!r} are not the architecture that {shown} builds: {key} is {found} "
                    f"in the checkpoint, {'x'.join(map(str, tensor.shape))} from the options.",
                    hint="A checkpoint defines its own layers: leave depth_multiple/width_multiple out when giving "
                         "weights, or give weights of that architecture.")

    def example_inputs(self, imgsz: int = 640, batch: int = 1) -> torch.Tensor:
        if imgsz < self.stride or imgsz % self.stride:
            raise UsageError(f"imgsz must be a positive multiple of {self.stride}, got {imgsz}.")
        return torch.zeros(batch, 3, imgsz, imgsz)

    def _nms_input(self, outputs: Any) -> Any:
        """What :func:`~prunebench.models.nms.non_max_suppression` takes: YOLOv5's ``[bs, A, 5 + nc]`` layout."""
        return outputs

    def postprocess(self, outputs: Any, *, conf_thres: float = 0.001, iou_thres: float = 0.6, max_det: int = 300,
                    multi_label: bool = False) -> list[torch.Tensor]:
        return non_max_suppression(self._nms_input(outputs), conf_thres=conf_thres, iou_thres=iou_thres,
                                   max_det=max_det, multi_label=multi_label)

    def prunable_layers(self, model: nn.Module, scope: Scope) -> list[nn.Module]:
        return list(self._prunable_convs(model, scope))

    def fuse(self, model: nn.Module) -> nn.Module:
        return self._fuse_model(model)

    # ---------------------------------------------------------------------------------------------- files
    def save(self, model: nn.Module, path: str | Path, **meta: Any) -> Path:
        half = bool(meta.pop("half", self.options.half))
        self._head_of(model)
        return self._save_checkpoint(getattr(model, "module", model), path, name=self.name, half=half, meta=meta)

    def load(self, path: str | Path) -> nn.Module:
        """Load a prunebench checkpoint, an official ``.pt`` of the family or a state_dict; never runs code."""
        return self._load(path)

    def _load(self, path: str | Path, nc: int | None = None) -> Any:
        try:
            info = self._read_checkpoint(path)
            model = self._state_dict_to_model(info["state_dict"], size=self.size, nc=nc, names=info["names"],
                                              source=str(path), transfer=nc is not None)
        except UsageError as exc:  # say which file does not fit (weights of another family, ...)
            if str(path) in exc.message:
                raise
            raise UsageError(f"Checkpoint {path}: {exc.message}", hint=exc.hint) from exc
        yaml = (info.get("meta") or {}).get("yaml") or {}
        for key in ("depth_multiple", "width_multiple"):
            if key in yaml:
                model.yaml[key] = float(yaml[key])
        model.checkpoint_meta = dict(info.get("meta") or {})  # type: ignore[assignment]
        model.checkpoint_format = info["format"]  # type: ignore[assignment]
        return model.float()
