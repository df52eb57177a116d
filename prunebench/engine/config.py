"""Validated training and evaluation budgets (used by the trainer and by the spec's train/finetune/evaluate)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["BootstrapConfig", "EvalConfig", "TrainConfig"]


def _multiple_of_32(v: int) -> int:
    if v % 32:
        raise ValueError(f"must be a multiple of 32 (the model's largest stride), got {v}; "
                         f"try {max(32, round(v / 32) * 32)}")
    return v


class TrainConfig(BaseModel):
    """A training budget: baseline training, sparsity training and fine-tuning all use this shape."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(10, ge=0, le=10_000, description="training epochs (0 skips the stage)")
    batch_size: int = Field(16, ge=1, le=1024, description="images per batch")
    imgsz: int = Field(640, ge=32, le=4096, description="training image size in pixels (multiple of 32)")
    nbs: int = Field(64, ge=1, description="nominal batch size: gradients are accumulated up to it")
    workers: Annotated[int, Field(ge=0, le=64, strict=True)] | Literal["auto"] = Field(
        "auto", description="data-loader worker processes (0: load in the main process; auto: one per CPU but one, "
                            "at most 8, never more than the batches of an epoch)")
    cache: Literal["ram", "off"] | bool = Field(
        "ram", description="ram: decode every image once into memory, after checking that it fits (reported); "
                           "off: decode at every use (true/false mean ram/off)")
    prefetch: int = Field(2, ge=1, le=16, description="batches each worker process prepares ahead")
    persistent_workers: bool = Field(True, description="keep the worker processes alive across epochs")
    pin_memory: bool = Field(True, description="page-locked batches and asynchronous copies to CUDA "
                                               "(ignored on CPU)")
    channels_last: bool = Field(False, description="train in channels-last memory format (NHWC); see "
                                                   "docs/training.md for when it is faster")
    cos_lr: bool = Field(False, description="cosine learning-rate schedule instead of linear")
    close_mosaic: int | None = Field(None, ge=0, description="turn mosaic off for the last N epochs (default: the "
                                                           "model family's recipe: YOLOv5 0, YOLOv8 10)")
    val_every: int = Field(1, ge=1, description="validate every N epochs (and always after the last)")
    patience: int = Field(0, ge=0, description="stop after N epochs without fitness improvement (0: never)")
    warmup_epochs: float = Field(3.0, ge=0, description="warm-up epochs (at least warmup_min_iters iterations)")
    warmup_min_iters: int | None = Field(
        None, ge=0, description="floor of the warm-up in iterations (default: the family's recipe: YOLOv5 100, "
                                "YOLOv8 none)")
    amp: bool = Field(True, description="mixed precision on CUDA (ignored on CPU)")
    optimizer: Literal["SGD", "Adam", "AdamW", "auto", "family"] = Field(
        "family", description="optimizer; auto: Ultralytics' rule (AdamW at lr0 = 0.01 / (4 + nc), momentum 0.9, "
                              "for up to 10000 iterations, else SGD at 0.01); family: the model family's recipe "
                              "(YOLOv5 SGD, YOLOv8 auto)")
    fitness: Literal["map50-weighted", "map50-95", "family"] = Field(
        "family", description="what picks best.pt: map50-weighted = 0.1 mAP50 + 0.9 mAP50-95, "
                              "map50-95 = mAP50-95 alone; family: the model family's recipe "
                              "(YOLOv5 map50-weighted, YOLOv8 map50-95)")
    hyp: dict[str, float] = Field(default_factory=dict,
                                  description="overrides of the model family's default hyper-parameters "
                                              "(e.g. lr0, lrf, mosaic, fliplr; names and ranges: "
                                              "prunebench.engine.hyp.Hyp)")
    max_batches: int | None = Field(None, ge=1, description="cap on batches per epoch (smoke tests)")

    #: fields that change how fast batches arrive, never what is in them: every image's augmentation is
    #: seeded by (seed, epoch, index) and the RAM cache holds the very pixels a decode gives, so a stage
    #: trained with any of these values has the same numbers (tests/engine/test_config_keys.py). They are
    #: left out of the cache keys (:meth:`result_dump`) and travel beside them (:meth:`throughput_dump`).
    THROUGHPUT_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"workers", "prefetch", "persistent_workers", "pin_memory", "cache"})

    _check_imgsz = field_validator("imgsz")(_multiple_of_32)

    def result_dump(self) -> dict[str, object]:
        """The fields that decide a training's numbers (what stage keys and resume checks hash)."""
        return self.model_dump(mode="json", exclude=set(self.THROUGHPUT_FIELDS))

    def throughput_dump(self) -> dict[str, object]:
        """The loader settings that only decide its speed (:data:`THROUGHPUT_FIELDS`)."""
        return self.model_dump(mode="json", include=set(self.THROUGHPUT_FIELDS))

    @field_validator("hyp")
    @classmethod
    def _check_hyp(cls, v: dict[str, float]) -> dict[str, float]:
        from prunebench.engine.hyp import validate_hyp  # names and ranges: prunebench.engine.hyp.Hyp

        return validate_hyp(v)


class BootstrapConfig(BaseModel):
    """The image bootstrap of an evaluated cell (docs/statistics.md)."""

    model_config = ConfigDict(extra="forbid")

    resamples: int = Field(1000, ge=0, le=100_000,
                           description="bootstrap resamples of the validation images (0: no bootstrap, else 100 "
                                       "to 100,000)")
    seed: int = Field(0, ge=0, le=2**31 - 1,
                      description="resampling seed; the same for every cell, so cells on the same images are paired")

    @field_validator("resamples")
    @classmethod
    def _enough(cls, v: int) -> int:
        if 0 < v < 100:
            raise ValueError(f"must be 0 (no bootstrap) or at least 100 (a 95 % percentile interval needs the "
                             f"tails), got {v}")
        return v


class EvalConfig(BaseModel):
    """How accuracy is evaluated (YOLOv5 val.py defaults)."""

    model_config = ConfigDict(extra="forbid")

    imgsz: int | None = Field(None, ge=32, le=4096, description="image size (default: the training imgsz)")
    batch_size: int = Field(16, ge=1, le=1024, description="images per batch")
    conf_thres: float = Field(0.001, ge=0.0, le=1.0, description="confidence threshold before NMS")
    iou_thres: float = Field(0.6, gt=0.0, le=1.0, description="NMS IoU threshold")
    max_det: int = Field(300, ge=1, le=30_000, description="detections kept per image")
    half: bool = Field(False, description="fp16 inference (CUDA only)")
    split: Literal["val", "test"] = Field("val", description="which split of the dataset to evaluate")
    bootstrap: BootstrapConfig = Field(default_factory=BootstrapConfig,
                                       description="image bootstrap of P, R, F1, mAP50 and mAP50-95")

    @field_validator("imgsz")
    @classmethod
    def _imgsz(cls, v: int | None) -> int | None:
        return None if v is None else _multiple_of_32(v)
