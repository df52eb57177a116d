"""Peak inference memory of one forward pass, above the memory the loaded model already holds.

Methods (recorded beside every figure, because they measure different things):

- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` minus the memory allocated
  before the forward pass: the activations and workspaces the caching allocator handed out.
- CPU on Linux: the rise of the process's peak resident set size (``VmHWM``, reset by writing ``5`` to
  ``/proc/self/clear_refs``) over the resident size before the pass. The allocator may reuse memory that
  is already resident, so this is a lower bound of the activation memory; it is close for large inputs
  because big tensors are mapped fresh.
- CPU elsewhere: the rise of ``ru_maxrss`` (only counts a new process-wide peak, so it can read 0).
"""

from __future__ import annotations

import copy
import re
import resource
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunebench.errors import UsageError
from prunebench.metrics.latency import fixed_threads, fused_for_inference

__all__ = ["MemoryResult", "measure_peak_memory", "model_bytes"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class MemoryResult:
    peak_mb: float  # inference memory above the loaded model (MiB = 2**20 bytes)
    weights_mb: float  # parameters and buffers of the (fused) model
    method: str
    device: str
    batch: int
    imgsz: int
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_bytes(model: nn.Module) -> int:
    """Bytes held by the parameters and buffers (each counted once)."""
    seen: set[int] = set()
    total = 0
    for t in [*model.parameters(), *model.buffers()]:
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def _status_kb(field: str) -> int:
    m = re.search(rf"^{field}:\s+(\d+)\s+kB", _STATUS.read_text(), re.MULTILINE)
    return int(m.group(1)) if m else 0


def _can_reset_hwm() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        _CLEAR_REFS.write_text("5")
        return _status_kb("VmHWM") > 0
    except OSError:
        return False


def measure_peak_memory(
    model: nn.Module,
    imgsz: int,
    *,
    batch: int = 1,
    device: str = "cpu",
    threads: int | None = None,
    half: bool = False,
    fuse: bool = True,
    repeats: int = 3,
    in_channels: int = 3,
) -> MemoryResult:
    """Peak memory of a forward pass on ``[batch, 3, imgsz, imgsz]`` (the highest of ``repeats`` passes after
    one warm-up pass), above the loaded model; see the module docstring for the method per device."""
    if imgsz < 1 or batch < 1 or repeats < 1:
        raise UsageError(f"memory measurement needs imgsz, batch and repeats >= 1; got {imgsz}, {batch}, {repeats}.")
    dev = torch.device(device)
    if half and dev.type != "cuda":
        raise UsageError(f"half precision needs a CUDA device, got device={device!r}.")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device={device!r} was asked for but CUDA is not available here.")
    dtype = torch.float16 if half else torch.float32
    m = (fused_for_inference(model) if fuse else copy.deepcopy(model).eval()).to(dev, dtype)
    x = torch.rand(batch, in_channels, imgsz, imgsz, generator=torch.Generator().manual_seed(0)).to(dev, dtype)
    weights = model_bytes(m) / 2**20
    peak = 0.0
    with fixed_threads(threads), torch.inference_mode():
        m(x)  # warm-up: one-off allocations (kernels, workspaces) are not inference memory
        if dev.type == "cuda":
            method = "cuda max_memory_allocated above the loaded model"
            for _ in range(repeats):
                torch.cuda.synchronize(dev)
                torch.cuda.reset_peak_memory_stats(dev)
                before = torch.cuda.memory_allocated(dev)
                m(x)
                torch.cuda.synchronize(dev)
                peak = max(peak, (torch.cuda.max_memory_allocated(dev) - before) / 2**20)
        elif _can_reset_hwm():
            method = "cpu peak RSS rise (VmHWM via /proc/self/clear_refs; lower bound)"
            for _ in range(repeats):
                _CLEAR_REFS.write_text("5")
                before = _status_kb("VmRSS")
                m(x)
                peak = max(peak, (_status_kb("VmHWM") - before) / 1024)
        else:
            method = "cpu ru_maxrss rise (process-wide peak; lower bound, may read 0)"
            scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
            for _ in range(repeats):
                before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                m(x)
                after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                peak = max(peak, (after - before) * scale / 2**20)
    return MemoryResult(peak_mb=peak, weights_mb=weights, method=method, device=str(dev), batch=batch, imgsz=imgsz,
                        dtype=str(dtype).replace("torch.", ""))
