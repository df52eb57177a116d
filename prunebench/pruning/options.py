"""The options every bundled pruner shares: scope, target, ranking, rounding, steps and guards."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from prunebench.contracts import PluginOptions
from prunebench.defaults import Scope

__all__ = [
    "AUTO",
    "PrunerOptions",
    "RoundTo",
    "Rounding",
    "Target",
    "cpu_block",
    "resolve_round_to",
    "round_min_channels",
]

Target = Literal["channels", "params", "flops", "latency"]
Rounding = Literal["ceil", "floor", "round"]
RoundTo = int | Literal["auto"] | None
AUTO = "auto"


class PrunerOptions(PluginOptions):
    """Shared options of the bundled pruners (Torch-Pruning vocabulary where it has a word)."""

    scope: Scope = Field(
        "backbone",
        description="Which convolutions may lose output channels: 'backbone' (the tea-bud study's rule: layers 0-9 "
        "without the bottleneck hidden convs), 'backbone+neck' (layers 0-23, same rule) or 'all' (every "
        "convolution except the Detect outputs, bottleneck hidden convs included).",
    )
    target: Literal["channels", "params", "flops", "latency"] = Field(
        "channels",
        description="What 'level' is a fraction of: 'channels' removes that fraction of output channels in "
        "every prunable group; 'params'/'flops' search the channel ratio until the fused parameter count / "
        "GFLOPs fall by 'level' (matched cost, within 'tolerance'); 'latency' does the same with the latency "
        "predicted by a per-layer latency table of latency_runtime, then measures the achieved reduction.",
    )
    latency_runtime: str = Field(
        "torch", description="target: latency: the runtime whose latency is reduced (torch, onnxruntime, openvino)")
    latency_threads: int = Field(2, ge=1, le=256, description="target: latency: threads of that runtime")
    latency_imgsz: int = Field(640, ge=32, le=4096, description="target: latency: square input size")
    global_pruning: bool = Field(
        False,
        description="Rank channels across all groups of the scope (True) instead of removing the same "
        "fraction from each group (False).",
    )
    round_to: int | Literal["auto"] | None = Field(
        None,
        description="Round the kept channels of each group to a multiple of this number (never to 0); "
        "'auto' on CPU starts from the CPU's fp32 SIMD width (16 with AVX-512, else 8) and moves to 1, 4, 8 or "
        "16 only when the per-layer latency table of latency_runtime/latency_threads/latency_imgsz (measured, "
        "cached in the run folder) predicts a clearly better latency reduction per GFLOPs reduction (by more "
        "than 0.05; the record says why), on CUDA 8; groups smaller than one multiple keep exact counts; null "
        "keeps exact counts everywhere (the tea-bud study's sizes).",
    )
    rounding: Literal["ceil", "floor", "round"] = Field(
        "ceil",
        description="How kept channels are rounded: 'ceil' keeps ceil(c*(1-level)) (removes at most the "
        "level), 'floor' keeps floor(c*(1-level)), 'round' keeps the nearest integer.",
    )
    iterative_steps: int = Field(
        1, ge=1, le=100,
        description="Prune in this many equal steps, re-scoring the channels after each step.",
    )
    max_level_per_layer: float | None = Field(
        None, gt=0.0, lt=1.0,
        description="Never remove more than this fraction of a group's channels; null means 1 - 1/c "
        "(at least one channel always stays).",
    )
    tolerance: float = Field(
        0.01, gt=0.0, le=0.2,
        description="Matched-cost mode: accepted absolute difference between the achieved reduction and "
        "the level (0.01 = one percentage point).",
    )

    @field_validator("latency_runtime")
    @classmethod
    def _check_latency_runtime(cls, value: str) -> str:
        from prunebench.errors import did_you_mean
        from prunebench.speed.runtimes import RUNTIME_NAMES

        cpu = [n for n in RUNTIME_NAMES if n not in {"torch-fp16", "onnxruntime-tensorrt"}]
        if value not in cpu:
            raise ValueError(f"latency_runtime must be one of {', '.join(cpu)}; got {value!r}."
                             f"{did_you_mean(value, cpu)}")
        return value

    @field_validator("round_to")
    @classmethod
    def _check_round_to(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and not 1 <= value <= 256:
            raise ValueError(f"round_to must be between 1 and 256, 'auto' or null; got {value}")
        return value


def cpu_block() -> int:
    """Channels per SIMD register of fp32 on this CPU: 16 with AVX-512, else 8 (AVX2, NEON, unknown)."""
    try:
        import torch

        capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    except Exception:  # pragma: no cover - very old torch
        return 8
    return 16 if "AVX512" in capability else 8


#: ``auto`` rounds only groups with at least this many blocks of channels (smaller ones stay exact). One
#: block: a group of 23 channels on a 16-wide runtime is computed as 32 anyway, and its odd count makes
#: ONNX Runtime reorder between layouts (yolov5n at 0.3, 640 px, 2 threads: x0.98 [0.95, 1.01] with groups
#: under 4 blocks exact, x1.18 [1.15, 1.21] with every group rounded; docs/pruning.md).
AUTO_MIN_BLOCKS = 1


def resolve_round_to(round_to: int | str | None, device: str) -> int | None:
    """The multiple kept channels are rounded to on ``device`` (None means no rounding).

    ``auto``: on CPU the fp32 SIMD width in channels (16 with AVX-512, 8 with AVX2), which is the block
    oneDNN lays channels out in (nChw16c / nChw8c); on CUDA 8 (tensor-core friendly for fp16/TF32).
    """
    if round_to is None:
        return None
    if round_to == AUTO:
        return 8 if str(device).startswith("cuda") else cpu_block()
    value = int(round_to)
    return None if value <= 1 else value


def round_min_channels(round_to: int | str | None, device: str) -> int:
    """Groups smaller than this keep exact counts: ``auto`` spares groups of fewer than 4 blocks."""
    block = resolve_round_to(round_to, device)
    return AUTO_MIN_BLOCKS * block if round_to == AUTO and block else 0
