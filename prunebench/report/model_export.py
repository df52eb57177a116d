"""Export a cell's evaluated (pruned and fine-tuned) model as a prunebench checkpoint or as ONNX."""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prunebench.errors import UsageError
from prunebench.report.run_folder import cell_weights, find_cell, model_family
from prunebench.suite.results import Results

__all__ = ["ONNX_OPSET", "ExportResult", "default_export_path", "export_cell", "export_imgsz"]

ONNX_OPSET = 17


@dataclass(frozen=True)
class ExportResult:
    """The file written and how it was checked (``verified`` says what was compared, or why not)."""

    path: Path
    format: str
    imgsz: int
    params: int
    verified: str


def export_imgsz(results: Results) -> int:
    """The image size the run evaluated at (evaluate.imgsz, else train.imgsz, else 640)."""
    spec = results.spec or {}
    for section in ("evaluate", "finetune", "train"):
        sec = spec.get(section)
        if isinstance(sec, dict) and sec.get("imgsz"):
            return int(sec["imgsz"])
    return 640


def default_export_path(results: Results, cell_key: str, fmt: str) -> Path:
    """``<run>/exports/<cell key with / as _>.<onnx|pt>``."""
    return Path(results.run_dir) / "exports" / (cell_key.replace("/", "_") + (".onnx" if fmt == "onnx" else ".pt"))


def _first_tensor(out: Any) -> Any:
    while isinstance(out, list | tuple):
        out = out[0]
    return out


def _verify_onnx(path: Path, model: Any, example: Any) -> str:
    import numpy as np
    import torch

    if importlib.util.find_spec("onnxruntime") is None:
        return "not verified (onnxruntime is not installed: pip install 'prunebench[onnx]')"
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    batch = torch.cat([example, torch.rand_like(example)], 0)  # batch 2 checks the dynamic batch axis
    with torch.inference_mode():
        ref = _first_tensor(model(batch)).float().cpu().numpy()
    got = sess.run(None, {name: batch.cpu().numpy()})[0]
    if got.shape != ref.shape:
        raise UsageError(f"ONNX check failed for {str(path)!r}: output shape {got.shape} != torch {ref.shape}.")
    err = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 1.0
    if err > 1e-3 * max(1.0, scale):
        raise UsageError(f"ONNX check failed for {str(path)!r}: max abs difference to torch {err:.3g} "
                         f"(output scale {scale:.3g}).")
    return f"onnxruntime matches torch at batch 2 (max abs diff {err:.2e})"


def export_cell(results: Results, cell_key: str, fmt: Literal["onnx", "pt"] = "onnx",
                out: str | Path | None = None, *, imgsz: int | None = None, verify: bool = True) -> ExportResult:
    """Export the model of ``cell_key``: ``pt`` (the family's checkpoint format) or ``onnx`` (opset 17,
    fused, dynamic batch axis; checked against torch with onnxruntime when installed)."""
    import torch

    if fmt not in ("onnx", "pt"):
        raise UsageError(f"Unknown export format {fmt!r}; use onnx or pt.")
    cell = find_cell(results, cell_key)
    weights = cell_weights(results, cell)
    family = model_family(results, cell.model)
    model = family.load(weights)
    path = Path(out) if out is not None else default_export_path(results, cell_key, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    imgsz = imgsz or export_imgsz(results)
    if imgsz % family.stride:
        raise UsageError(f"--imgsz {imgsz} is not a multiple of the model's stride {family.stride}.")
    params = sum(p.numel() for p in model.parameters())
    if fmt == "pt":
        family.save(model.eval(), path, cell=cell.key, source=str(weights))
        return ExportResult(path=path, format="pt", imgsz=imgsz, params=params,
                            verified=f"reload it with prunebench.get_model_family({family.name!r}).load(path)")
    fused = family.fuse(model).eval()
    example = family.example_inputs(imgsz).float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(fused, (example,), str(path), opset_version=ONNX_OPSET, input_names=["images"],
                          output_names=["output0"],
                          dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}}, dynamo=False)
    verified = _verify_onnx(path, fused, example) if verify else "not verified (--no-verify)"
    return ExportResult(path=path, format="onnx", imgsz=imgsz, params=params, verified=verified)
