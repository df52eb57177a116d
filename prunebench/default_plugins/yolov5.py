"""Bundled plugin: yolov5 (being built)."""
