"""A per-layer latency table: predicted latency of a pruning plan on a named runtime, threads and image size.

Built once per model x runtime x threads x image size (and cached as JSON): the whole fused model is
timed, and every convolution of it alone (as Conv2d + SiLU at its output size, stride 1) at its full
width and at two narrower widths (input and output channels scaled together), interleaved. Each
convolution's time is fitted as ``a + b * MACs`` through its three points, where the MACs count channels
*padded up to the runtime's channel block* (oneDNN lays channels out in blocks of 8 or 16: 12 channels cost
what 16 do); the block is chosen from the measurements (the candidate of :data:`BLOCKS` whose fit leaves
the smallest residual, recorded in ``info["block_fit"]``). What the convolutions do not
explain (concatenations, upsampling, the detection head's decoding, the framework's per-op overhead) is
the model's *rest*, which pruning does not shrink. A plan's latency is the rest plus every convolution's
fitted time at its pruned width: what ``target: latency`` searches with, before the achieved reduction is
measured on the pruned model itself.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.files import write_text_atomic

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.pruning.costs import CostModel

__all__ = ["SCALES", "ConvTiming", "LatencyTable", "build_latency_table", "measure_latency_reduction"]

#: widths (fractions of a convolution's channels) each convolution is timed at
SCALES = (1.0, 0.6, 0.3)
#: candidate channel blocks (channel counts are padded up to a multiple of the block in the fit)
BLOCKS = (1, 4, 8, 16)


def padded(channels: float, block: int) -> float:
    """``channels`` rounded up to a multiple of ``block`` (what a blocked memory layout computes on)."""
    return float(math.ceil(channels / block - 1e-9) * block) if block > 1 else float(channels)


@dataclass
class ConvTiming:
    cin: int
    cout: int
    kernel: int  # kh * kw
    groups: int
    pixels: int  # output pixels at the table's image size
    a_ms: float  # fitted fixed part
    b_ms: float  # fitted ms per million multiply-accumulates
    points: list[list[float]] = field(default_factory=list)  # [cin, cout, ms] as measured
    block: int = 1  # channels are padded up to a multiple of this (see :func:`padded`)

    def macs(self, cin: float, cout: float) -> float:
        cin_p = cin if self.cin <= 4 else padded(cin, self.block)  # the image's few channels are not blocked
        return (cin_p / self.groups) * padded(cout, self.block) * self.kernel * self.pixels

    def predict(self, cin: float, cout: float) -> float:
        return self.a_ms + self.b_ms * self.macs(cin, cout) / 1e6


@dataclass
class LatencyTable:
    runtime: str
    threads: int
    imgsz: int
    model_ms: float  # the whole fused model, measured
    rest_ms: float  # model_ms minus the convolutions' measured times at full width
    convs: dict[str, ConvTiming]
    key: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    #: in-model convolution time per unit of the isolated blocks' time (see :meth:`calibrate`)
    scale: float = 1.0

    def conv_ms(self, removed_out: Mapping[str, int] | None = None,
                removed_in: Mapping[str, float] | None = None) -> float:
        """The isolated convolution blocks' fitted times summed, at the pruned widths."""
        removed_out, removed_in = removed_out or {}, removed_in or {}
        total = 0.0
        for name, c in self.convs.items():
            cout = max(1.0, c.cout - removed_out.get(name, 0))
            cin = max(1.0, c.cin - removed_in.get(name, 0.0))
            total += c.predict(cin, cout)
        return total

    def calibrate(self, full_ms: float, pruned_ms: float, removed_out: Mapping[str, int],
                  removed_in: Mapping[str, float]) -> None:
        """Fit ``rest`` and ``scale`` to two whole-model measurements (unpruned and one pruned plan).

        Isolated blocks run faster than the same convolutions inside the model (other kernels, layouts
        and caches around them), so the blocks give the *shape* (which layers cost what, how each scales
        with its channels) and the two measurements the level: latency = rest + scale * blocks.
        """
        full, pruned = self.conv_ms(), self.conv_ms(removed_out, removed_in)
        k = (full_ms - pruned_ms) / (full - pruned) if full > pruned else 0.0
        if k <= 0:  # the pruned model was not measurably faster: the rest is everything
            k = 0.0
        self.scale = k
        self.model_ms = full_ms
        self.rest_ms = full_ms - k * full
        self.info["calibration"] = {"full_ms": full_ms, "pruned_ms": pruned_ms, "blocks_full_ms": full,
                                    "blocks_pruned_ms": pruned}

    def predict(self, removed_out: Mapping[str, int] | None = None,
                removed_in: Mapping[str, float] | None = None) -> float:
        """Predicted latency (ms) when the named convolutions lose these output / input channels."""
        return self.rest_ms + self.scale * self.conv_ms(removed_out, removed_in)

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON, atomically (the run folder's cache never holds half a table)."""
        return write_text_atomic(Path(path), json.dumps(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyTable:
        convs = {k: ConvTiming(**v) for k, v in data["convs"].items()}
        return cls(**{**data, "convs": convs})


def _fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares ``ms = a + b * mmacs`` with a, b >= 0 (a single point: all of it is b)."""
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx <= 0:
        return 0.0, my / mx if mx > 0 else 0.0
    b = sum((p[0] - mx) * (p[1] - my) for p in points) / sxx
    a = my - b * mx
    if b < 0:
        return my, 0.0
    if a < 0:
        b = sum(p[0] * p[1] for p in points) / sum(p[0] ** 2 for p in points)
        return 0.0, b
    return a, b


def _choose_block(convs: Mapping[str, ConvTiming]) -> dict[int, float]:
    """Per candidate block: the fit's root-mean-square relative residual over every measured point.

    The block whose padded-MACs fit explains the measured widths best is the runtime's channel block on
    this machine (a measurement, not a rule); ties go to the smaller block.
    """
    out: dict[int, float] = {}
    for block in BLOCKS:
        sq, n = 0.0, 0
        for c in convs.values():
            probe = ConvTiming(c.cin, c.cout, c.kernel, c.groups, c.pixels, 0.0, 0.0, block=block)
            pts = [(probe.macs(ci, co) / 1e6, ms) for ci, co, ms in c.points]
            a, b = _fit(pts)
            for x, ms in pts:
                if ms > 0:
                    sq += ((a + b * x) / ms - 1.0) ** 2
                    n += 1
        out[block] = math.sqrt(sq / n) if n else 0.0
    return out


def _table_key(cost: CostModel, runtime: str, threads: int, imgsz: int, side: int) -> str:
    from prunebench.speed.runtimes import cpu_name, get_runtime

    shapes = sorted((n, s.cin, s.cout, s.kernel, s.groups, s.pixels) for n, s in cost.convs.items())
    payload = json.dumps({"shapes": shapes, "runtime": runtime, "version": get_runtime(runtime).version(),
                          "threads": threads, "imgsz": imgsz, "side": side, "cpu": cpu_name(), "format": 2})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class _ConvBlock:
    """Conv2d + SiLU of a given shape, stride 1, 'same' padding (the shape a YOLO conv block has)."""

    @staticmethod
    def make(cin: int, cout: int, kernel: int, groups: int) -> nn.Module:
        from torch import nn

        k = max(1, round(math.sqrt(kernel)))
        g = groups if cin % groups == 0 and cout % groups == 0 else 1
        return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, groups=g, bias=True), nn.SiLU()).eval()


def build_latency_table(model: nn.Module, cost: CostModel, *, runtime: str = "torch", threads: int = 2,
                        imgsz: int = 640, probe_side: int, cache_dir: Path | None = None, in_channels: int = 3,
                        rounds: int = 7) -> LatencyTable:
    """Time ``model`` and each of its convolutions on ``runtime`` (see the module docstring); cached by shape.

    ``cost`` is :func:`prunebench.pruning.costs.measure_costs` of the model at a ``probe_side`` input; its
    convolutions' output pixels are scaled to ``imgsz``. With ``cache_dir`` the table is read from (or
    written to) ``cache_dir/latency-<runtime>-t<threads>-<imgsz>-<hash>.json``.
    """
    import torch

    from prunebench.metrics.latency import fixed_threads
    from prunebench.speed.runtimes import ExportCache, cpu_name, get_runtime
    from prunebench.speed.timer import time_interleaved

    key = _table_key(cost, runtime, threads, imgsz, probe_side)
    path = Path(cache_dir) / f"latency-{runtime}-t{threads}-{imgsz}-{key}.json" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            return LatencyTable.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            pass  # unreadable: build it again
    rt = get_runtime(runtime)
    scale = (imgsz / probe_side) ** 2
    gen = torch.Generator().manual_seed(0)
    with fixed_threads(threads), tempfile.TemporaryDirectory(prefix="prunebench-latency-") as tmp:
        exports = ExportCache(Path(tmp))
        x = torch.rand(1, in_channels, imgsz, imgsz, generator=gen)
        whole = rt.prepare("model", model, x, device="cpu", threads=threads, exports=exports)
        fmt = whole.info.get("memory_format", "contiguous")
        fmt = fmt if fmt in {"contiguous", "channels_last"} else "contiguous"
        timers: dict[str, Any] = {"model": whole.time_once}
        shapes: dict[str, tuple[str, int, int]] = {}
        for name, s in cost.convs.items():
            side = max(1, round(math.sqrt(s.pixels * scale)))
            for f in SCALES:
                cin = s.cin if s.cin <= 4 else max(1, round(s.cin * f))  # the image's channels stay
                cout = max(1, round(s.cout * f))
                if s.groups > 1:
                    cin = cout = max(s.groups, round(s.cout * f) // s.groups * s.groups)
                tag = f"{name}@{f:g}"
                block = _ConvBlock.make(cin, cout, s.kernel, s.groups if s.groups > 1 else 1)
                xi = torch.rand(1, cin, side, side, generator=gen)
                timers[tag] = rt.prepare(tag, block, xi, device="cpu", threads=threads, exports=exports,
                                         memory_format=fmt).time_once
                shapes[tag] = (name, cin, cout)
        # every convolution timed in the same rounds as the whole model: its time as a fraction of the
        # model's in each round (a ratio, robust to the load of a shared machine), median over rounds
        timing = time_interleaved(timers, "model", warmup=1, min_rounds=rounds, max_rounds=rounds)
        model_ms = timing.latency["model"].estimate
        convs: dict[str, ConvTiming] = {}
        for tag, (name, cin, cout) in shapes.items():
            s = cost.convs[name]
            side = max(1, round(math.sqrt(s.pixels * scale)))
            stat = convs.setdefault(name, ConvTiming(s.cin, s.cout, s.kernel, s.groups, side * side, 0.0, 0.0))
            ms = model_ms / timing.speedup[tag].estimate  # speedup = model / conv per round
            stat.points.append([cin, cout, ms])
        block_fit = _choose_block(convs)
        block = min(block_fit, key=lambda b: (block_fit[b], b))
        for stat in convs.values():
            stat.block = block
            stat.a_ms, stat.b_ms = _fit([(stat.macs(c, o) / 1e6, ms) for c, o, ms in stat.points])
    full = sum(c.predict(c.cin, c.cout) for c in convs.values())
    table = LatencyTable(runtime=runtime, threads=threads, imgsz=imgsz, model_ms=model_ms,
                         rest_ms=model_ms - full, convs=convs, key=key,
                         info={"cpu": cpu_name(), "runtime_version": rt.version(), "memory_format": fmt,
                               "rounds": rounds, "scales": list(SCALES), "block": block,
                               "block_fit": {str(b): r for b, r in block_fit.items()}})
    if path is not None:
        table.save(path)
    return table


def measure_latency_reduction(before: nn.Module, after: nn.Module, *, runtime: str = "torch", threads: int = 2,
                              imgsz: int = 640, time_cap_s: float = 20.0, in_channels: int = 3) -> dict[str, Any]:
    """The measured latency reduction ``1 - after/before`` (interleaved, with its 95 % interval)."""
    from prunebench.speed.config import SpeedConfig
    from prunebench.speed.measure import measure_speed

    cfg = SpeedConfig(runtimes=[runtime], threads=threads, imgsz=imgsz, time_cap_s=time_cap_s, warmup=2,
                      min_rounds=6)
    with tempfile.TemporaryDirectory(prefix="prunebench-latency-") as tmp:
        res = measure_speed({"before": before, "after": after}, "before", cfg, workdir=Path(tmp),
                            in_channels=in_channels)
    row = res.row(runtime, "after")
    if row["status"] != "ok":
        raise RuntimeError(f"measuring the latency reduction failed: {row['error']}")
    return {"reduction": 1.0 - 1.0 / row["speedup"], "reduction_lo": 1.0 - 1.0 / row["speedup_lo"],
            "reduction_hi": 1.0 - 1.0 / row["speedup_hi"], "speedup": row["speedup"],
            "before_ms": res.row(runtime, "before")["median_ms"], "after_ms": row["median_ms"],
            "rounds": row["rounds"], "runtime": runtime, "threads": threads, "imgsz": imgsz}
