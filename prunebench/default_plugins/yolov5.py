"""Bundled plugin: the YOLOv5 model family (``yolov5n``, ``yolov5s``, ``yolov5m``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunebench.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import ModelFamily
    from prunebench.register import Register


@hookimpl
def register_models(register: Register[type[ModelFamily]]) -> None:
    from prunebench.models.yolov5.family import YOLOv5m, YOLOv5n, YOLOv5s

    for cls in (YOLOv5n, YOLOv5s, YOLOv5m):
        register(cls)
