"""Bundled plugin: the metrics of a result row (accuracy, complexity, speed), one class per figure.

Accuracy metrics read the detection results the runner computed once per cell (``ctx.detection``, a
:class:`prunebench.metrics.detection.DetectionMetrics`); complexity and speed metrics measure
``ctx.model`` (the fused model in eval mode). Heavy imports (torch) happen inside ``compute``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from prunebench.contracts import EvalContext, Metric, PluginOptions
from prunebench.errors import UsageError
from prunebench.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.register import Register

__all__ = [
    "BUNDLED_METRICS",
    "F1",
    "MAP50",
    "MAP50_95",
    "CocoMAP",
    "GFLOPs",
    "Latency",
    "Layers",
    "OnnxLatency",
    "Params",
    "PeakMemory",
    "Precision",
    "Recall",
    "SizeMB",
]


# --------------------------------------------------------------------------------------------------
# Accuracy (YOLOv5 convention)
# --------------------------------------------------------------------------------------------------


class _DetectionMetric(Metric):
    """Reads one field of ``ctx.detection`` (computed once per cell by the runner)."""

    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "accuracy"
    unit: ClassVar[str] = ""
    fmt: ClassVar[str] = ".3f"
    field: ClassVar[str] = ""

    def compute(self, ctx: EvalContext) -> float:
        det = ctx.detection
        if det is None:
            raise UsageError(
                f"The metric {self.name!r} needs detection results (EvalContext.detection), but none were given.",
                hint="Run the evaluate stage with a validation dataset, or compute "
                     "prunebench.metrics.detection.DetectionStats(...).compute() and pass it as detection=.")
        value = getattr(det, self.field, None)
        if value is None and isinstance(det, dict):
            value = det.get(self.field)
        if value is None:
            raise UsageError(f"The metric {self.name!r} expected `detection.{self.field}` to be a number, but "
                             f"{type(det).__name__} has none.")
        return float(value)


class Precision(_DetectionMetric):
    name: ClassVar[str] = "precision"
    label: ClassVar[str] = "P"
    description: ClassVar[str] = "precision at the confidence of the smoothed maximum mean F1 (YOLOv5 val.py)"
    field: ClassVar[str] = "precision"


class Recall(_DetectionMetric):
    name: ClassVar[str] = "recall"
    label: ClassVar[str] = "R"
    description: ClassVar[str] = "recall at the confidence of the smoothed maximum mean F1 (YOLOv5 val.py)"
    field: ClassVar[str] = "recall"


class F1(_DetectionMetric):
    name: ClassVar[str] = "f1"
    label: ClassVar[str] = "F1"
    description: ClassVar[str] = "F1 (class mean) at the confidence where P and R are reported"
    field: ClassVar[str] = "f1"


class MAP50(_DetectionMetric):
    name: ClassVar[str] = "map50"
    label: ClassVar[str] = "mAP50"
    description: ClassVar[str] = "mAP at IoU 0.5 (YOLOv5: 101-point interpolation, trapezoid rule, class mean)"
    field: ClassVar[str] = "map50"


class MAP50_95(_DetectionMetric):
    name: ClassVar[str] = "map50_95"
    label: ClassVar[str] = "mAP50-95"
    description: ClassVar[str] = "mAP averaged over IoU 0.50:0.05:0.95 (YOLOv5 convention)"
    field: ClassVar[str] = "map50_95"


class CocoMAP(Metric):
    """COCO-convention mAP of the same predictions (pycocotools' numbers, computed in numpy).

    Reads ``ctx.cache["coco"]`` when the suite stored COCO-format data there (a ``(gt, dets)`` pair or a
    ``{"gt": ..., "dets": ...}`` mapping); otherwise converts the per-image detections and labels that
    ``DetectionStats`` kept (``ctx.detection.images``), as :func:`prunebench.metrics.coco.to_coco` would.
    """

    name: ClassVar[str] = "coco_map50_95"
    label: ClassVar[str] = "COCO mAP50-95"
    description: ClassVar[str] = "COCO mAP@[.5:.95] (maxDets 100, area all) of the same predictions; also coco_map50"
    unit: ClassVar[str] = ""
    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "accuracy"
    fmt: ClassVar[str] = ".3f"

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from prunebench.metrics.coco import coco_evaluate, coco_evaluate_images

        data = ctx.cache.get("coco")
        if isinstance(data, dict):
            res = coco_evaluate(data["gt"], data["dets"])
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            res = coco_evaluate(*data)
        else:
            images = getattr(ctx.detection, "images", None)
            if images is None:
                raise UsageError(
                    "The metric 'coco_map50_95' needs COCO-format data (ctx.cache['coco']) or per-image detections "
                    "(ctx.detection.images from DetectionStats(keep_images=True)); neither is present.")
            res = coco_evaluate_images(images)
        return {"coco_map50_95": float(res.stats[0]), "coco_map50": float(res.stats[1])}


# --------------------------------------------------------------------------------------------------
# Complexity
# --------------------------------------------------------------------------------------------------


class Params(Metric):
    name: ClassVar[str] = "params"
    label: ClassVar[str] = "Params"
    axis: ClassVar[str] = "Parameters (fused model)"
    description: ClassVar[str] = "parameters of the fused model (Conv+BN folded, as YOLOv5's fused summary)"
    unit: ClassVar[str] = "params"
    higher_is_better: ClassVar[bool] = False
    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "complexity"
    fmt: ClassVar[str] = ",.0f"

    def compute(self, ctx: EvalContext) -> float:
        from prunebench.metrics.complexity import count_params

        return float(count_params(ctx.model))


class Layers(Metric):
    name: ClassVar[str] = "layers"
    label: ClassVar[str] = "Layers"
    description: ClassVar[str] = "modules of the fused model, counted as YOLOv5's summary does"
    unit: ClassVar[str] = "layers"
    higher_is_better: ClassVar[bool] = False
    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "complexity"
    fmt: ClassVar[str] = ".0f"

    def compute(self, ctx: EvalContext) -> float:
        from prunebench.metrics.complexity import count_layers

        return float(count_layers(ctx.model))


class GFLOPs(Metric):
    name: ClassVar[str] = "gflops"
    label: ClassVar[str] = "GFLOPs"
    axis: ClassVar[str] = "GFLOPs (2 x MACs)"
    description: ClassVar[str] = ("GFLOPs at 640x640 as YOLOv5 prints them (2 x MACs, thop counting); "
                                  "gflops_imgsz gives them at the run's image size")
    unit: ClassVar[str] = "GFLOPs"
    higher_is_better: ClassVar[bool] = False
    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "complexity"
    fmt: ClassVar[str] = ".2f"

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from prunebench.metrics.complexity import gflops

        return {"gflops": float(gflops(ctx.model, 640)), "gflops_imgsz": float(gflops(ctx.model, ctx.imgsz))}


class SizeMB(Metric):
    name: ClassVar[str] = "size_mb"
    label: ClassVar[str] = "Size MB"
    axis: ClassVar[str] = "Model file size (MB, fp16)"
    description: ClassVar[str] = ("size of the saved fp16 prunebench checkpoint (family.save(..., half=True)) in MB "
                                  "(10^6 bytes); the unfused checkpoint when the cell has one, else the fused model")
    unit: ClassVar[str] = "MB (fp16)"
    higher_is_better: ClassVar[bool] = False
    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "complexity"
    fmt: ClassVar[str] = ".2f"

    def compute(self, ctx: EvalContext) -> float:
        model = ctx.model
        if ctx.checkpoint is not None and Path(ctx.checkpoint).is_file():
            try:
                model = ctx.family.load(ctx.checkpoint)
            except Exception:  # any unreadable checkpoint: measure the fused model instead
                model = ctx.model
        with tempfile.TemporaryDirectory(prefix="prunebench-size-") as tmp:
            path = Path(ctx.family.save(model, Path(tmp) / "model.pt", half=True))
            return path.stat().st_size / 1e6


# --------------------------------------------------------------------------------------------------
# Speed and memory
# --------------------------------------------------------------------------------------------------


class _SpeedOptions(PluginOptions):
    threads: int | None = Field(None, ge=1, le=256,
                                description="CPU threads (torch.set_num_threads) for the measurement; "
                                            "default 2 on CPU (the study's setting), ignored on CUDA")
    warmup: int = Field(5, ge=0, le=1000, description="untimed forward passes before measuring")
    repeats: int = Field(20, ge=1, le=10_000, description="timed forward passes (median and p90 over these)")
    batch: int = Field(1, ge=1, le=1024, description="images per forward pass")
    imgsz: int | None = Field(None, ge=32, le=4096, description="square input size; default the run's imgsz")
    half: bool = Field(False, description="fp16 (CUDA only)")


def _threads(opts: _SpeedOptions, ctx: EvalContext) -> int | None:
    if str(ctx.device).startswith("cuda"):
        return opts.threads
    return opts.threads if opts.threads is not None else 2


class Latency(Metric):
    name: ClassVar[str] = "latency_ms"
    label: ClassVar[str] = "Latency ms"
    axis: ClassVar[str] = "Latency (ms, batch 1)"
    description: ClassVar[str] = ("median latency of one forward pass of the fused model (inference mode, warm-up, "
                                  "fixed threads; CUDA events on GPU); also latency_p90_ms, throughput_ips")
    unit: ClassVar[str] = "ms"
    higher_is_better: ClassVar[bool] = False
    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "speed"
    fmt: ClassVar[str] = ".1f"

    class Options(_SpeedOptions):
        pass

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from prunebench.metrics.latency import measure_latency

        o = self.options
        assert isinstance(o, _SpeedOptions)
        r = measure_latency(ctx.model, o.imgsz or ctx.imgsz, batch=o.batch, device=ctx.device,
                            threads=_threads(o, ctx), warmup=o.warmup, repeats=o.repeats, half=o.half)
        return {"latency_ms": r.median_ms, "latency_p90_ms": r.p90_ms, "throughput_ips": r.throughput_ips,
                "latency_threads": float(r.threads or 0), "latency_batch": float(r.batch),
                "latency_imgsz": float(r.imgsz)}


class OnnxLatency(Metric):
    name: ClassVar[str] = "onnx_latency_ms"
    label: ClassVar[str] = "ONNX latency ms"
    axis: ClassVar[str] = "ONNX Runtime latency (ms, batch 1)"
    description: ClassVar[str] = ("median latency of the fused model exported to ONNX and run by ONNX Runtime "
                                  "(CPU provider); needs onnx and onnxruntime")
    unit: ClassVar[str] = "ms"
    higher_is_better: ClassVar[bool] = False
    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "speed"
    fmt: ClassVar[str] = ".1f"

    class Options(_SpeedOptions):
        pass

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from prunebench.metrics.latency import measure_onnx_latency

        o = self.options
        assert isinstance(o, _SpeedOptions)
        threads = o.threads if o.threads is not None else 2
        r = measure_onnx_latency(ctx.model, o.imgsz or ctx.imgsz, batch=o.batch, threads=threads,
                                 warmup=o.warmup, repeats=o.repeats)
        return {"onnx_latency_ms": r.median_ms, "onnx_latency_p90_ms": r.p90_ms,
                "onnx_throughput_ips": r.throughput_ips, "onnx_latency_threads": float(threads)}


class PeakMemory(Metric):
    name: ClassVar[str] = "peak_mem_mb"
    label: ClassVar[str] = "Peak memory MiB"
    description: ClassVar[str] = ("peak inference memory of one forward pass above the loaded model, MiB "
                                  "(CUDA: max_memory_allocated; CPU: peak-RSS rise, a lower bound)")
    unit: ClassVar[str] = "MiB"
    higher_is_better: ClassVar[bool] = False
    kind: ClassVar[Literal["accuracy", "complexity", "speed"]] = "speed"
    fmt: ClassVar[str] = ".1f"

    class Options(PluginOptions):
        batch: int = Field(1, ge=1, le=1024, description="images per forward pass")
        imgsz: int | None = Field(None, ge=32, le=4096, description="square input size; default the run's imgsz")
        threads: int | None = Field(None, ge=1, le=256, description="CPU threads; default 2 on CPU")

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from prunebench.metrics.memory import measure_peak_memory

        o = self.options
        on_cuda = str(ctx.device).startswith("cuda")
        threads = o.threads if (o.threads is not None or on_cuda) else 2  # type: ignore[attr-defined]
        r = measure_peak_memory(ctx.model, o.imgsz or ctx.imgsz, batch=o.batch,  # type: ignore[attr-defined]
                                device=ctx.device, threads=threads)
        return {"peak_mem_mb": r.peak_mb, "weights_mb": r.weights_mb}


BUNDLED_METRICS: tuple[type[Metric], ...] = (
    Precision, Recall, F1, MAP50, MAP50_95, CocoMAP, Params, Layers, GFLOPs, SizeMB, Latency, OnnxLatency,
    PeakMemory,
)


@hookimpl
def register_metrics(register: Register[type[Metric]]) -> None:
    for cls in BUNDLED_METRICS:
        register(cls)
