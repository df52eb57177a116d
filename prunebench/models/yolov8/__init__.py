"""A faithful pure-torch YOLOv8 (Ultralytics 8.4, anchor-free): modules, model, TAL loss and checkpoints."""

from prunebench.models.yolov8.model import SIZES, DetectionModel, build_yolov8
from prunebench.models.yolov8.modules import DFL, Bottleneck, C2f, Detect

__all__ = ["DFL", "SIZES", "Bottleneck", "C2f", "Detect", "DetectionModel", "build_yolov8"]
