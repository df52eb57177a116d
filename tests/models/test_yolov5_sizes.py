"""Every number of the official YOLOv5 v7.0 size table: layers, parameters and GFLOPs, fused and unfused."""

from __future__ import annotations

import pytest

from prunebench.metrics.complexity import count_layers, count_params, gflops, model_summary
from prunebench.models.yolov5.yolo import build_yolov5, fuse_model

# model, nc, unfused layers, params, GFLOPs, fused layers, params, GFLOPs (yolov5-facts.md)
TABLE = [
    ("n", 80, 214, 1_872_157, 4.5640, 157, 1_867_405, 4.4694),
    ("n", 1, 214, 1_765_270, 4.2242, 157, 1_760_518, 4.1296),
    ("s", 80, 214, 7_235_389, 16.6253, 157, 7_225_885, 16.4360),
    ("s", 1, 214, 7_022_326, 15.9457, 157, 7_012_822, 15.7565),
    ("m", 80, 291, 21_190_557, 49.2386, 212, 21_172_173, 48.8761),
    ("m", 1, 291, 20_871_318, 48.2193, 212, 20_852_934, 47.8568),
]


@pytest.mark.parametrize(("size", "nc", "layers", "params", "gf", "f_layers", "f_params", "f_gf"), TABLE)
def test_official_sizes(size: str, nc: int, layers: int, params: int, gf: float, f_layers: int, f_params: int,
                        f_gf: float) -> None:
    model = build_yolov5(size, nc)
    assert count_layers(model) == layers
    assert count_params(model) == params
    assert gflops(model, 640) == pytest.approx(gf, abs=0.05)
    fused = fuse_model(model)
    assert count_layers(fused) == f_layers
    assert count_params(fused) == f_params
    assert gflops(fused, 640) == pytest.approx(f_gf, abs=0.05)
    assert count_params(model) == params  # fuse() worked on a copy


def test_gflops_scale_with_image_area() -> None:
    model = build_yolov5("n", 1, width_multiple=0.0625)
    assert gflops(model, 320) == pytest.approx(gflops(model, 640) / 4)
    assert gflops(model, (320, 640)) == pytest.approx(gflops(model, 640) / 2)


def test_model_summary_keys_and_values() -> None:
    model = build_yolov5("n", 80)
    s = model_summary(model, imgsz=320)
    assert s["unfused"]["layers"] == 214
    assert s["fused"]["layers"] == 157
    assert s["unfused"]["params"] == s["unfused"]["gradients"] == 1_872_157
    assert s["fused"]["params"] == 1_867_405
    assert s["unfused"]["gflops_640"] == pytest.approx(4.5640, abs=0.05)
    assert s["unfused"]["gflops"] == pytest.approx(4.5640 / 4, abs=0.02)


def test_one_silu_shared_by_every_conv() -> None:
    from torch import nn

    model = build_yolov5("n", 80)
    acts = {id(m) for m in model.modules() if isinstance(m, nn.SiLU)}
    assert len(acts) == 1
