"""The bundled metric plugins on a tiny YOLOv5 (nc=1, width 0.0625, imgsz 64)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import prunebench as pb
from prunebench.contracts import EvalContext, Metric
from prunebench.default_plugins.metrics import BUNDLED_METRICS
from prunebench.errors import UsageError
from prunebench.metrics.detection import DetectionStats
from prunebench.metrics.latency import measure_latency, measure_onnx_latency, onnx_available
from prunebench.metrics.memory import measure_peak_memory

FAST = {"warmup": 1, "repeats": 3}
NAMES = ["precision", "recall", "f1", "map50", "map50_95", "coco_map50_95", "params", "layers", "gflops",
         "size_mb", "latency_ms", "onnx_latency_ms", "peak_mem_mb"]


@pytest.fixture(scope="module")
def ctx() -> EvalContext:
    family = pb.get_model_family("yolov5n", width_multiple=0.0625)
    model = family.build(nc=1)
    stats = DetectionStats()
    stats.update(torch.tensor([[0.0, 0.0, 10.0, 10.0, 0.9, 0], [20.0, 20.0, 30.0, 30.0, 0.8, 0]]),
                 torch.tensor([[0, 0.0, 0.0, 10.0, 10.0], [0, 40.0, 40.0, 50.0, 50.0]]))
    return EvalContext(model=family.fuse(model).eval(), family=family, imgsz=64, detection=stats.compute())


def test_every_metric_is_registered_with_metadata() -> None:
    assert sorted(pb.list_metrics()) == sorted(NAMES)
    for cls in BUNDLED_METRICS:
        assert issubclass(cls, Metric)
        assert cls.name in NAMES
        assert cls.description
        assert cls.kind in ("accuracy", "complexity", "speed")
        format(1234.5, cls.fmt)  # the format spec works on floats
        for name, f in cls.Options.model_fields.items():
            assert f.description, f"{cls.name}.Options.{name} has no description"


def test_accuracy_metrics_read_detection(ctx: EvalContext) -> None:
    det = ctx.detection
    assert pb.create_metric("precision").compute(ctx) == pytest.approx(det.precision)
    assert pb.create_metric("recall").compute(ctx) == pytest.approx(0.5)
    assert pb.create_metric("map50").compute(ctx) == pytest.approx(det.map50)
    assert pb.create_metric("map50_95").compute(ctx) == pytest.approx(det.map50_95)
    assert pb.create_metric("f1").compute(ctx) == pytest.approx(det.f1)


def test_accuracy_metric_without_detection_is_a_clear_error(ctx: EvalContext) -> None:
    bare = EvalContext(model=ctx.model, family=ctx.family, imgsz=64)
    with pytest.raises(UsageError, match="'map50' needs detection results"):
        pb.create_metric("map50").compute(bare)


def test_coco_metric_from_kept_images_and_from_cache(ctx: EvalContext) -> None:
    out = pb.create_metric("coco_map50_95").compute(ctx)
    assert set(out) == {"coco_map50_95", "coco_map50"}
    assert 0 < out["coco_map50"] <= 1
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100,
                           "iscrowd": 0}]}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}]
    cached = EvalContext(model=ctx.model, family=ctx.family, imgsz=64, cache={"coco": (gt, dets)})
    assert pb.create_metric("coco_map50_95").compute(cached)["coco_map50_95"] == pytest.approx(1.0)


def test_complexity_metrics(ctx: EvalContext) -> None:
    from prunebench.metrics.complexity import count_layers, count_params, gflops

    assert pb.create_metric("params").compute(ctx) == count_params(ctx.model)
    assert pb.create_metric("layers").compute(ctx) == count_layers(ctx.model)
    g = pb.create_metric("gflops").compute(ctx)
    assert g["gflops"] == pytest.approx(gflops(ctx.model, 640))
    assert g["gflops_imgsz"] == pytest.approx(g["gflops"] * (64 / 640) ** 2)


def test_size_is_the_fp16_checkpoint(ctx: EvalContext, tmp_path: Path) -> None:
    size = pb.create_metric("size_mb").compute(ctx)
    fp32 = Path(ctx.family.save(ctx.model, tmp_path / "fp32.pt", half=False)).stat().st_size / 1e6
    assert 0 < size < fp32


def test_latency_metric_reports_conditions(ctx: EvalContext) -> None:
    before = torch.get_num_threads()
    out = pb.create_metric("latency_ms", **FAST, threads=1).compute(ctx)
    assert torch.get_num_threads() == before  # restored
    assert out["latency_threads"] == 1
    assert out["latency_imgsz"] == 64
    assert out["latency_ms"] > 0
    assert out["latency_p90_ms"] >= out["latency_ms"]
    assert out["throughput_ips"] == pytest.approx(1000 / out["latency_ms"])
    default = pb.create_metric("latency_ms", **FAST, batch=2, imgsz=96).compute(ctx)
    assert default["latency_threads"] == 2  # the study's CPU setting
    assert default["latency_batch"] == 2
    assert default["latency_imgsz"] == 96


def test_latency_options_are_validated() -> None:
    with pytest.raises(Exception, match="repeats"):
        pb.create_metric("latency_ms", repeats=0)
    with pytest.raises(Exception, match="extra|not permitted|Extra"):
        pb.create_metric("latency_ms", thread=2)


def test_measure_latency_fields_and_errors(ctx: EvalContext) -> None:
    r = measure_latency(ctx.model, 64, batch=2, threads=1, warmup=0, repeats=2)
    assert (r.batch, r.device, r.threads, r.dtype, r.imgsz, r.backend) == (2, "cpu", 1, "float32", 64, "torch")
    assert math.isfinite(r.median_ms)
    assert r.to_dict()["median_ms"] == r.median_ms
    with pytest.raises(UsageError, match="CUDA"):
        measure_latency(ctx.model, 64, half=True)


@pytest.mark.skipif(not onnx_available(), reason="onnx/onnxruntime not installed")
def test_onnx_latency(ctx: EvalContext) -> None:
    r = measure_onnx_latency(ctx.model, 64, threads=1, warmup=1, repeats=2)
    assert r.backend.startswith("onnxruntime")
    assert r.median_ms > 0
    out = pb.create_metric("onnx_latency_ms", **FAST).compute(ctx)
    assert out["onnx_latency_threads"] == 2


def test_peak_memory(ctx: EvalContext) -> None:
    r = measure_peak_memory(ctx.model, 128, threads=1)
    assert r.peak_mb >= 0
    assert r.weights_mb > 0
    assert r.method
    out = pb.create_metric("peak_mem_mb").compute(ctx)
    assert out["peak_mem_mb"] >= 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_latency_and_memory(ctx: EvalContext) -> None:
    r = measure_latency(ctx.model, 64, device="cuda:0", warmup=1, repeats=3, half=True)
    assert r.device == "cuda:0"
    assert r.dtype == "float16"
    assert r.median_ms > 0
    mem = measure_peak_memory(ctx.model, 128, device="cuda:0")
    assert mem.method.startswith("cuda")
    assert mem.peak_mb > 0
    cuda_ctx = EvalContext(model=ctx.model, family=ctx.family, imgsz=64, device="cuda:0")
    out = pb.create_metric("latency_ms", **FAST).compute(cuda_ctx)
    assert out["latency_ms"] > 0
