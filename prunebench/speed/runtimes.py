"""Runtime adapters: run a fused model on torch, ONNX Runtime or OpenVINO, and time one pass of it.

Each adapter is detected at run time (:func:`check_runtimes` raises a :class:`UsageError` with the pip
command when one is missing) and turns an ``nn.Module`` plus a fixed input into a :class:`Prepared`
model: ``time_once()`` returns the milliseconds of one forward pass (CUDA events after a synchronize on
a GPU, ``perf_counter`` on a CPU), ``output()`` the first output as float32 numpy for the check against
eager PyTorch. Torch is imported only when a model is prepared, so the spec can validate names cheaply.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from prunebench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from torch import nn

__all__ = ["RUNTIMES", "RUNTIME_NAMES", "ExportCache", "Prepared", "Runtime", "check_runtimes", "cpu_name",
           "eager_reference", "get_runtime"]


@dataclass
class Prepared:
    """A model ready to run on one runtime with its fixed input."""

    runtime: str
    time_once: Callable[[], float]  # milliseconds of one forward pass
    output: Callable[[], np.ndarray]  # the first output, float32, for the parity check
    info: dict[str, Any] = field(default_factory=dict)  # version, device, dtype, memory format, provider


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it (else the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _first_output(out: Any) -> Any:
    while isinstance(out, list | tuple):
        out = out[0]
    return out


def _first_output_module(model: nn.Module) -> nn.Module:
    """``model`` wrapped so that it returns only its first output (a detector's decoded predictions)."""
    from torch import nn

    class FirstOutput(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return _first_output(self.inner(x))

    return FirstOutput(model).eval()


def fused_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy with Conv+BN folded (``model.fuse()`` when the model has it)."""
    from torch import nn

    m = copy.deepcopy(getattr(model, "module", model)).float().cpu()
    fuse = getattr(m, "fuse", None)
    if callable(fuse):
        out = fuse()
        m = out if isinstance(out, nn.Module) else m
    return m.eval()


def eager_reference(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """The first output of unfused eager PyTorch in fp32 on the CPU: what every runtime is checked against."""
    import torch

    m = copy.deepcopy(getattr(model, "module", model)).float().cpu().eval()
    with torch.inference_mode():
        return _first_output(m(x.float().cpu())).float().numpy()


class ExportCache:
    """ONNX files of the variants, exported once per stage and shared by ONNX Runtime and OpenVINO."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._paths: dict[str, Path] = {}

    def onnx(self, name: str, model: nn.Module, x: torch.Tensor) -> Path:
        if name not in self._paths:
            import torch

            self.folder.mkdir(parents=True, exist_ok=True)
            safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name)
            path = self.folder / f"{safe}.onnx"
            m = _first_output_module(fused_copy(model))
            with warnings.catch_warnings(), torch.inference_mode():  # the TorchScript exporter needs no onnxscript
                warnings.simplefilter("ignore")
                try:
                    torch.onnx.export(m, (x.float().cpu(),), str(path), input_names=["images"],
                                      output_names=["output"], opset_version=17, dynamo=False)
                except TypeError:  # torch without the dynamo argument
                    torch.onnx.export(m, (x.float().cpu(),), str(path), input_names=["images"],
                                      output_names=["output"], opset_version=17)
            self._paths[name] = path
        return self._paths[name]


def _importable(module: str) -> bool:
    """True when ``module`` can be imported (without importing it; a ``None`` in sys.modules blocks it)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _is_cuda(device: str) -> bool:
    return str(device).startswith("cuda")


class Runtime:
    """One way to run a model. Subclasses set the class attributes and implement :meth:`prepare`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    modules: ClassVar[tuple[str, ...]] = ()  # import names that must be present
    distribution: ClassVar[str] = ""  # the package whose version is reported
    install: ClassVar[str] = ""  # the pip command that installs it
    needs_cuda: ClassVar[bool] = False
    dtype: ClassVar[str] = "float32"

    @classmethod
    def unavailable(cls, device: str) -> str | None:
        """Why this runtime cannot run on ``device`` here (None when it can)."""
        missing = [m for m in cls.modules if not _importable(m)]
        if missing:
            return f"needs the {', '.join(missing)} package{'s' if len(missing) > 1 else ''}"
        if cls.needs_cuda and not _is_cuda(device):
            return f"runs only on a CUDA device (the spec's device is {device!r})"
        if cls.needs_cuda:
            import torch

            if not torch.cuda.is_available():
                return "needs a CUDA GPU, and torch sees none here"
        return None

    @classmethod
    def version(cls) -> str:
        from importlib import metadata

        try:
            return metadata.version(cls.distribution)
        except metadata.PackageNotFoundError:
            mod = importlib.import_module(cls.modules[0]) if cls.modules else None
            return str(getattr(mod, "__version__", "unknown"))

    def prepare(self, name: str, model: nn.Module, x: torch.Tensor, *, device: str, threads: int,
                exports: ExportCache, memory_format: str = "auto") -> Prepared:
        raise NotImplementedError

    def tolerance(self, atol: float, device: str = "cpu") -> tuple[float, float]:
        """(absolute, relative-to-magnitude) tolerance of the check against eager fp32 on the CPU.

        fp32 on a GPU allows 2e-3 of the magnitude: cuDNN, ONNX Runtime's CUDA provider and TensorRT run
        fp32 convolutions as TF32 (10-bit mantissa) by default on Ampere and later.
        """
        if self.dtype != "float32":
            return max(atol, 1e-2), 1e-2
        return (atol, 2e-3) if _is_cuda(device) else (atol, 1e-5)


# ------------------------------------------------------------------------------------------------------
# torch
# ------------------------------------------------------------------------------------------------------


def _torch_timer(m: nn.Module, x: torch.Tensor, device: str) -> Callable[[], float]:
    import torch

    if _is_cuda(device):
        dev = torch.device(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def once_cuda() -> float:
            with torch.inference_mode():
                torch.cuda.synchronize(dev)  # nothing of an earlier pass runs into this one
                start.record()
                m(x)
                end.record()
                end.synchronize()
            return float(start.elapsed_time(end))

        return once_cuda

    def once_cpu() -> float:
        with torch.inference_mode():
            t0 = time.perf_counter()
            m(x)
            return (time.perf_counter() - t0) * 1000.0

    return once_cpu


class TorchRuntime(Runtime):
    name = "torch"
    description = "eager PyTorch: fused Conv+BN, inference mode, contiguous or channels_last (measured)"
    modules = ("torch",)
    distribution = "torch"
    install = "pip install torch"
    half: ClassVar[bool] = False
    #: rounds of the quick contiguous-vs-channels_last comparison under memory_format: auto
    probe_rounds: ClassVar[int] = 4

    def prepare(self, name: str, model: nn.Module, x: torch.Tensor, *, device: str, threads: int,
                exports: ExportCache, memory_format: str = "auto") -> Prepared:
        import torch

        dtype = torch.float16 if self.half else torch.float32
        base = _first_output_module(fused_copy(model)).to(device=device, dtype=dtype)
        xin = x.to(device=device, dtype=dtype)
        formats = ("contiguous", "channels_last") if memory_format == "auto" else (memory_format,)
        candidates: dict[str, tuple[nn.Module, torch.Tensor]] = {}
        for fmt in formats:
            if fmt == "channels_last":
                candidates[fmt] = (copy.deepcopy(base).to(memory_format=torch.channels_last),
                                   xin.contiguous(memory_format=torch.channels_last))
            else:
                candidates[fmt] = (base, xin.contiguous())
        timers = {fmt: _torch_timer(m, xi, device) for fmt, (m, xi) in candidates.items()}
        info: dict[str, Any] = {"runtime_device": device, "dtype": str(dtype).replace("torch.", "")}
        if len(timers) > 1:
            for t in timers.values():  # warm-up: first passes allocate and pick kernels
                t()
                t()
            samples: dict[str, list[float]] = {fmt: [] for fmt in timers}
            for r in range(self.probe_rounds):
                order = list(timers) if r % 2 == 0 else list(reversed(timers))
                for fmt in order:
                    samples[fmt].append(timers[fmt]())
            medians = {fmt: sorted(v)[len(v) // 2] for fmt, v in samples.items()}
            chosen = min(medians, key=lambda f: medians[f])
            info["memory_format_choice"] = {f"{fmt}_ms": round(ms, 4) for fmt, ms in medians.items()}
            info["memory_format_reason"] = (f"auto: {chosen} was faster in {self.probe_rounds} interleaved probe "
                                            "rounds")
        else:
            chosen = formats[0]
            info["memory_format_reason"] = "set in the spec"
        info["memory_format"] = chosen
        m, xi = candidates[chosen]

        def output() -> np.ndarray:
            with torch.inference_mode():
                return m(xi).float().cpu().numpy()

        return Prepared(self.name, timers[chosen], output, info)


class TorchHalfRuntime(TorchRuntime):
    name = "torch-fp16"
    description = "eager PyTorch in fp16 on a CUDA GPU (fused, inference mode, memory format measured)"
    needs_cuda = True
    half = True
    dtype = "float16"


# ------------------------------------------------------------------------------------------------------
# ONNX Runtime
# ------------------------------------------------------------------------------------------------------


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    description = "ONNX Runtime (opset 17 export of the fused model): CPU provider, CUDA provider on a GPU"
    modules = ("onnx", "onnxruntime")
    distribution = "onnxruntime"
    install = "pip install onnx onnxruntime   (GPU: pip install onnx onnxruntime-gpu)"
    gpu_providers: ClassVar[tuple[str, ...]] = ("CUDAExecutionProvider",)

    def providers(self, device: str) -> list[str]:
        return list(self.gpu_providers) if _is_cuda(device) else ["CPUExecutionProvider"]

    @classmethod
    def unavailable(cls, device: str) -> str | None:
        why = super().unavailable(device)
        if why is None and _is_cuda(device):
            import onnxruntime as ort

            have = set(ort.get_available_providers())
            need = cls.gpu_providers[0]
            if need not in have:
                return (f"needs ONNX Runtime's {need} on a GPU; this onnxruntime has only "
                        f"{', '.join(sorted(have))}")
        return why

    def prepare(self, name: str, model: nn.Module, x: torch.Tensor, *, device: str, threads: int,
                exports: ExportCache, memory_format: str = "auto") -> Prepared:
        import numpy as np
        import onnxruntime as ort

        path = exports.onnx(name, model, x)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # interleaved timing: an idle session's threads must not spin on the cores the next model uses
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        wanted = self.providers(device)
        provider_options = None
        if _is_cuda(device):
            index = int(device.split(":", 1)[1]) if ":" in device else 0
            provider_options = [{"device_id": index} for _ in wanted]
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=wanted,
                                    provider_options=provider_options)
        used = sess.get_providers()[0]
        if used != wanted[0]:
            raise RuntimeError(f"{self.name}: asked for {wanted[0]} but ONNX Runtime runs on {used}")
        feed_name = sess.get_inputs()[0].name
        x_np = np.ascontiguousarray(x.float().cpu().numpy())
        info: dict[str, Any] = {"runtime_device": device if _is_cuda(device) else "cpu", "dtype": "float32",
                                "provider": used, "memory_format": "onnx (NCHW)", "spinning": False}
        if _is_cuda(device):
            import torch

            x_dev = x.float().to(device).contiguous()
            binding = sess.io_binding()
            index = x_dev.device.index or 0
            binding.bind_input(feed_name, "cuda", index, np.float32, tuple(x_dev.shape), x_dev.data_ptr())
            binding.bind_output("output", "cuda", index)
            info["io"] = "device-resident input and output (io binding)"

            def once_gpu() -> float:
                torch.cuda.synchronize(x_dev.device)
                t0 = time.perf_counter()
                sess.run_with_iobinding(binding)  # returns when the provider's stream is done
                return (time.perf_counter() - t0) * 1000.0

            def output_gpu() -> np.ndarray:
                sess.run_with_iobinding(binding)
                return np.asarray(binding.copy_outputs_to_cpu()[0], dtype=np.float32)

            return Prepared(self.name, once_gpu, output_gpu, info)
        feed = {feed_name: x_np}

        def once() -> float:
            t0 = time.perf_counter()
            sess.run(None, feed)
            return (time.perf_counter() - t0) * 1000.0

        def output() -> np.ndarray:
            return np.asarray(sess.run(None, feed)[0], dtype=np.float32)

        return Prepared(self.name, once, output, info)


class OnnxTensorRTRuntime(OnnxRuntime):
    name = "onnxruntime-tensorrt"
    description = "ONNX Runtime's TensorRT provider (fp32) on a CUDA GPU, CUDA provider for what it cannot take"
    install = "pip install onnx onnxruntime-gpu tensorrt"
    needs_cuda = True
    gpu_providers = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


# ------------------------------------------------------------------------------------------------------
# OpenVINO
# ------------------------------------------------------------------------------------------------------


class OpenVINORuntime(Runtime):
    name = "openvino"
    description = "OpenVINO on the CPU (the ONNX export, latency hint, one stream, f32 inference precision)"
    modules = ("openvino", "onnx")
    distribution = "openvino"
    install = "pip install openvino onnx   (or: pip install 'prunebench[runtimes]')"

    def prepare(self, name: str, model: nn.Module, x: torch.Tensor, *, device: str, threads: int,
                exports: ExportCache, memory_format: str = "auto") -> Prepared:
        import numpy as np
        import openvino as ov

        path = exports.onnx(name, model, x)
        core = ov.Core()
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": int(threads), "NUM_STREAMS": 1,
                  "INFERENCE_PRECISION_HINT": "f32"}  # never silently bf16 on CPUs that have it
        compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        request = compiled.create_infer_request()
        x_np = np.ascontiguousarray(x.float().cpu().numpy())
        tensor = ov.Tensor(x_np)
        info = {"runtime_device": "cpu", "dtype": "float32", "memory_format": "openvino (plugin's layout)",
                "ov_precision": str(compiled.get_property("INFERENCE_PRECISION_HINT")),
                "ov_threads": int(compiled.get_property("INFERENCE_NUM_THREADS"))}

        def once() -> float:
            t0 = time.perf_counter()
            request.infer({0: tensor})
            return (time.perf_counter() - t0) * 1000.0

        def output() -> np.ndarray:
            request.infer({0: tensor})
            return np.array(request.get_output_tensor(0).data, dtype=np.float32)

        return Prepared(self.name, once, output, info)


RUNTIMES: dict[str, type[Runtime]] = {
    r.name: r for r in (TorchRuntime, TorchHalfRuntime, OnnxRuntime, OnnxTensorRTRuntime, OpenVINORuntime)
}
RUNTIME_NAMES: tuple[str, ...] = tuple(RUNTIMES)


def get_runtime(name: str) -> Runtime:
    from prunebench.errors import did_you_mean

    if name not in RUNTIMES:
        raise UsageError(f"Unknown runtime {name!r}.{did_you_mean(name, RUNTIMES)}",
                         hint=f"Allowed: {', '.join(RUNTIMES)}.")
    return RUNTIMES[name]()


def check_runtimes(names: list[str] | tuple[str, ...], device: str, where: str = "speed.runtimes") -> None:
    """Raise a :class:`UsageError` (exit 2) naming every runtime that cannot run here, with its install command."""
    problems: list[str] = []
    hints: list[str] = []
    for i, name in enumerate(names):
        rt = RUNTIMES.get(name)
        if rt is None:
            get_runtime(name)
            continue
        why = rt.unavailable(device)
        if why:
            problems.append(f"{where}.{i}: runtime {name!r} {why}")
            hints.append(f"{name}: {rt.install}")
    if problems:
        raise UsageError("; ".join(problems) + ".",
                         hint="Install it (" + "; ".join(hints) + ") or remove it from the spec's "
                              f"{where}.")
