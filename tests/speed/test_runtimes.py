"""Runtime adapters: output of every installed runtime against eager PyTorch; missing runtimes."""

from __future__ import annotations

import sys

import pytest
import torch

from prunebench.errors import UsageError
from prunebench.speed.runtimes import RUNTIMES, ExportCache, check_runtimes, eager_reference, get_runtime


@pytest.fixture(scope="module")
def tiny_pruned() -> torch.nn.Module:
    from prunebench.contracts import PruneContext
    from prunebench.plugins import get_catalogue

    cat = get_catalogue()
    family = cat.models.get("yolov5n")({"width_multiple": 0.125})
    torch.manual_seed(0)
    model = family.build(nc=3)
    # non-trivial BatchNorm statistics, so that the fused model differs from the unfused one
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    ctx = PruneContext(family=family, example_inputs=family.example_inputs(64), seed=0, device="cpu", imgsz=64)
    return cat.pruners.get("l1")({"scope": "all"}).prune(model.eval(), 0.4, ctx).model.eval()


def _installed_cpu_runtimes() -> list[str]:
    return [n for n, rt in RUNTIMES.items() if rt.unavailable("cpu") is None]


@pytest.mark.parametrize("name", _installed_cpu_runtimes())
def test_runtime_matches_eager_fp32(name: str, tiny_pruned: torch.nn.Module, tmp_path) -> None:
    x = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    ref = eager_reference(tiny_pruned, x)
    prepared = get_runtime(name).prepare("pruned", tiny_pruned, x, device="cpu", threads=1,
                                         exports=ExportCache(tmp_path))
    out = prepared.output()
    assert out.shape == ref.shape
    assert float(abs(out - ref).max()) < 1e-3
    assert prepared.time_once() > 0.0
    if name == "torch":
        assert prepared.info["memory_format"] in {"contiguous", "channels_last"}
        assert set(prepared.info["memory_format_choice"]) == {"contiguous_ms", "channels_last_ms"}


def test_default_install_has_onnxruntime() -> None:
    assert RUNTIMES["onnxruntime"].unavailable("cpu") is None


def test_missing_runtime_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if openvino were not installed
    with pytest.raises(UsageError) as info:
        check_runtimes(["torch", "openvino"], "cpu")
    text = str(info.value)
    assert "speed.runtimes.1: runtime 'openvino' needs the openvino package" in text
    assert "pip install openvino" in text


def test_gpu_only_runtime_on_cpu_is_refused() -> None:
    with pytest.raises(UsageError, match="runs only on a CUDA device"):
        check_runtimes(["torch-fp16"], "cpu")


def test_unknown_runtime_suggests_the_closest() -> None:
    with pytest.raises(UsageError, match="Did you mean 'openvino'"):
        get_runtime("openvin")
