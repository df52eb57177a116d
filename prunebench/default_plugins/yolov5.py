"""Bundled plugin: the YOLOv5 model family (``yolov5n``, ``yolov5s``, ``yolov5m``)."""

from __future__ import annotations

from typing import Any

from prunebench.hookspecs import hookimpl


@hookimpl
def register_models(register: Any) -> None:
    from prunebench.models.yolov5.family import YOLOv5m, YOLOv5n, YOLOv5s

    for cls in (YOLOv5n, YOLOv5s, YOLOv5m):
        register(cls)
