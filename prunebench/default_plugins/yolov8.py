"""Bundled plugin: the YOLOv8 model family (``yolov8n``, ``yolov8s``, ``yolov8m``)."""

from __future__ import annotations

from typing import Any

from prunebench.hookspecs import hookimpl


@hookimpl
def register_models(register: Any) -> None:
    from prunebench.models.yolov8.family import YOLOv8m, YOLOv8n, YOLOv8s

    for cls in (YOLOv8n, YOLOv8s, YOLOv8m):
        register(cls)
