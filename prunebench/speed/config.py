"""The spec's ``speed:`` section: which runtimes time the models, at which size, threads and precision."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DEFAULT_RUNTIMES", "SpeedConfig"]

#: Runtimes timed when ``speed.runtimes`` is not given (each must be installed; onnxruntime is a default
#: dependency of prunebench).
DEFAULT_RUNTIMES: tuple[str, ...] = ("torch", "onnxruntime")


class SpeedConfig(BaseModel):
    """How the speed stage times a model's baseline and pruned variants (interleaved, in one process)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runtimes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RUNTIMES), min_length=1,
        description="runtimes to time, each optional and detected at run time: torch (eager, fused, "
        "inference mode, channels_last where measured faster), torch-fp16 (CUDA), onnxruntime (CPU "
        "provider; CUDA provider on a GPU), onnxruntime-tensorrt (GPU), openvino (CPU)",
    )
    threads: int | None = Field(
        2, ge=1, le=256, description="intra-op threads of every runtime (null: the run's torch thread count)")
    imgsz: int = Field(640, ge=32, le=4096, description="square input size (the deployment size)")
    batch: int = Field(1, ge=1, le=256, description="images per forward pass; throughput is stated at it")
    time_cap_s: float = Field(
        60.0, gt=0.0, le=3600.0,
        description="most seconds of timing rounds per model and runtime (after warm-up and checks)")
    precision: float = Field(
        0.03, gt=0.0, le=0.5,
        description="stop once every speed-up ratio's 95% interval lies within this relative distance "
        "of its estimate (0.03 = ±3%), or at time_cap_s")
    min_rounds: int = Field(8, ge=3, le=10_000, description="timing rounds before the precision test applies")
    max_rounds: int = Field(400, ge=3, le=100_000, description="most timing rounds per model and runtime")
    warmup: int = Field(3, ge=0, le=1000, description="untimed passes of each variant before the rounds")
    memory_format: str = Field(
        "auto", description="torch runtimes: 'auto' (measure contiguous and channels_last per model, keep "
        "the faster; the choice is recorded), 'contiguous' or 'channels_last'")
    tolerance: float = Field(
        1e-3, gt=0.0, le=10.0,
        description="fp32 check against eager PyTorch before timing: largest allowed |difference| of the "
        "outputs, plus 1e-5 of the output's magnitude (2e-3 for fp32 on a GPU, where convolutions run as "
        "TF32; fp16 runtimes allow 1% of the magnitude)")

    @field_validator("runtimes")
    @classmethod
    def _runtimes(cls, v: list[str]) -> list[str]:
        from prunebench.errors import did_you_mean
        from prunebench.speed.runtimes import RUNTIME_NAMES

        for name in v:
            if name not in RUNTIME_NAMES:
                raise ValueError(f"unknown runtime {name!r}.{did_you_mean(name, RUNTIME_NAMES)} "
                                 f"Allowed: {', '.join(RUNTIME_NAMES)}")
        dup = sorted({n for n in v if v.count(n) > 1})
        if dup:
            raise ValueError(f"runtime {dup[0]!r} is listed more than once")
        return v

    @field_validator("memory_format")
    @classmethod
    def _memory_format(cls, v: str) -> str:
        if v not in {"auto", "contiguous", "channels_last"}:
            raise ValueError(f"memory_format must be 'auto', 'contiguous' or 'channels_last', got {v!r}")
        return v

    @model_validator(mode="after")
    def _rounds(self) -> SpeedConfig:
        if self.min_rounds > self.max_rounds:
            raise ValueError(f"min_rounds ({self.min_rounds}) is more than max_rounds ({self.max_rounds}): the "
                             f"precision test would never apply; give min_rounds <= max_rounds")
        return self
