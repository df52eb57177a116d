"""Inference latency and throughput: fused model, inference mode, warm-up, fixed threads, median and p90.

On CPU every forward pass is timed with ``time.perf_counter`` under a fixed ``torch.set_num_threads``
(restored afterwards); on CUDA with CUDA events after a ``synchronize``. ONNX Runtime latency is
available when ``onnxruntime`` (and ``onnx``) are installed.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from prunebench.errors import UsageError

__all__ = ["LatencyResult", "fused_for_inference", "measure_latency", "measure_onnx_latency", "onnx_available"]


@dataclass
class LatencyResult:
    """Latency figures with the conditions they were measured under."""

    median_ms: float
    p90_ms: float
    mean_ms: float
    throughput_ips: float  # images per second at the median: batch * 1000 / median_ms
    batch: int
    device: str
    threads: int | None
    dtype: str
    imgsz: int
    warmup: int = 0
    repeats: int = 0
    backend: str = "torch"
    min_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fused_for_inference(model: nn.Module) -> nn.Module:
    """An eval-mode copy with Conv+BN folded when the model knows how (``model.fuse()``), else a plain copy."""
    m = copy.deepcopy(getattr(model, "module", model))
    fuse = getattr(m, "fuse", None)
    if callable(fuse):
        out = fuse()
        m = out if isinstance(out, nn.Module) else m
    return m.eval()


@contextmanager
def fixed_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(threads)`` (when given) and restore the previous value."""
    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise UsageError(f"threads must be >= 1, got {threads}.")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _check(imgsz: int, batch: int, warmup: int, repeats: int) -> None:
    if imgsz < 1 or batch < 1 or warmup < 0 or repeats < 1:
        raise UsageError(f"latency needs imgsz >= 1, batch >= 1, warmup >= 0 and repeats >= 1; got imgsz={imgsz}, "
                         f"batch={batch}, warmup={warmup}, repeats={repeats}.")


def _summarise(times_ms: list[float], **kw: Any) -> LatencyResult:
    arr = np.asarray(times_ms, dtype=np.float64)
    median = float(np.median(arr))
    return LatencyResult(
        median_ms=median, p90_ms=float(np.percentile(arr, 90)), mean_ms=float(statistics.fmean(times_ms)),
        throughput_ips=kw["batch"] * 1000.0 / median if median > 0 else float("inf"), min_ms=float(arr.min()), **kw,
    )


def measure_latency(
    model: nn.Module,
    imgsz: int,
    *,
    batch: int = 1,
    device: str = "cpu",
    threads: int | None = None,
    warmup: int = 5,
    repeats: int = 20,
    half: bool = False,
    fuse: bool = True,
    in_channels: int = 3,
) -> LatencyResult:
    """Median/p90/mean latency (ms per batch) and throughput of ``model`` on a ``[batch, 3, imgsz, imgsz]`` input.

    The model is copied, fused (``fuse=True``), put in eval mode on ``device`` and run under
    ``torch.inference_mode()``. ``threads`` fixes ``torch.set_num_threads`` for the measurement (default:
    the current setting, which is reported); ``half`` runs in fp16 and needs a CUDA device.
    """
    _check(imgsz, batch, warmup, repeats)
    dev = torch.device(device)
    if half and dev.type != "cuda":
        raise UsageError(f"half-precision latency needs a CUDA device, got device={device!r}.",
                         hint="Use half=False on CPU, or device='cuda:0'.")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device={device!r} was asked for but CUDA is not available here.")
    m = (fused_for_inference(model) if fuse else copy.deepcopy(model).eval()).to(dev)
    dtype = torch.float16 if half else torch.float32
    m = m.to(dtype)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, in_channels, imgsz, imgsz, generator=gen).to(dev, dtype)
    times: list[float] = []
    with fixed_threads(threads) as n_threads, torch.inference_mode():
        if dev.type == "cuda":
            for _ in range(warmup):
                m(x)
            torch.cuda.synchronize(dev)
            for _ in range(repeats):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                m(x)
                end.record()
                torch.cuda.synchronize(dev)
                times.append(float(start.elapsed_time(end)))
        else:
            for _ in range(warmup):
                m(x)
            for _ in range(repeats):
                t0 = time.perf_counter()
                m(x)
                times.append((time.perf_counter() - t0) * 1000.0)
    return _summarise(times, batch=batch, device=str(dev), threads=n_threads, dtype=str(dtype).replace("torch.", ""),
                      imgsz=imgsz, warmup=warmup, repeats=repeats, backend="torch")


def onnx_available() -> bool:
    """True when ONNX export and ONNX Runtime can both be used."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _export_onnx(model: nn.Module, x: torch.Tensor, path: Path) -> None:
    export: Callable[..., Any] = torch.onnx.export
    kwargs: dict[str, Any] = {"input_names": ["images"], "opset_version": 17}
    with warnings.catch_warnings():  # the TorchScript exporter needs no onnxscript; silence its deprecation note
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            export(model, (x,), str(path), dynamo=False, **kwargs)
        except TypeError:  # older torch without the dynamo argument
            export(model, (x,), str(path), **kwargs)


def measure_onnx_latency(
    model: nn.Module,
    imgsz: int,
    *,
    batch: int = 1,
    threads: int | None = None,
    warmup: int = 5,
    repeats: int = 20,
    providers: list[str] | None = None,
    in_channels: int = 3,
) -> LatencyResult:
    """Latency of the fused model exported to ONNX and run by ONNX Runtime (CPU provider by default).

    ``threads`` sets ONNX Runtime's intra-op threads (default: torch's current thread count, reported).
    Raises :class:`UsageError` when onnx/onnxruntime are not installed.
    """
    _check(imgsz, batch, warmup, repeats)
    if not onnx_available():
        raise UsageError("ONNX Runtime latency needs the onnx and onnxruntime packages.",
                         hint="pip install 'prunebench[onnx]' (or: pip install onnx onnxruntime)")
    import onnxruntime as ort

    m = fused_for_inference(model).float().cpu()
    x = torch.rand(batch, in_channels, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    n_threads = threads if threads is not None else torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="prunebench-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        with torch.inference_mode():
            _export_onnx(m, x, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = n_threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=providers or ["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    feed = {name: x.numpy()}
    for _ in range(warmup):
        sess.run(None, feed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1000.0)
    provider = sess.get_providers()[0]
    return _summarise(times, batch=batch, device="cuda" if provider.startswith("CUDA") else "cpu", threads=n_threads,
                      dtype="float32", imgsz=imgsz, warmup=warmup, repeats=repeats, backend=f"onnxruntime:{provider}")
