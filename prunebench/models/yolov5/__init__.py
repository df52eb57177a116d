"""A faithful pure-torch YOLOv5 (v6.0+/v7.0, anchor-based): modules, model, loss and checkpoints."""

from prunebench.models.yolov5.common import C3, SPPF, Bottleneck, Concat, Conv
from prunebench.models.yolov5.yolo import ANCHORS, SIZES, Detect, DetectionModel, build_yolov5

__all__ = ["ANCHORS", "C3", "SIZES", "SPPF", "Bottleneck", "Concat", "Conv", "Detect", "DetectionModel",
           "build_yolov5"]
