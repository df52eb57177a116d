"""Export of a cell's model: ONNX (opset 17, dynamic batch, checked by onnxruntime) and .pt; CLI errors."""

from __future__ import annotations

import pytest

import prunebench as pb
from prunebench.cli import main
from prunebench.errors import UsageError
from prunebench.report.model_export import export_cell
from prunebench.report.run_folder import find_cell, load_cell_model
from prunebench.suite.results import Results

TINY = {"width_multiple": 0.0625, "depth_multiple": 0.33}
KEY = "yolov5n/l1/0.6/s0"


@pytest.fixture
def tiny_run(fake_results, no_third_party_plugins):
    """The fake run whose yolov5n cells point at one real, tiny YOLOv5n checkpoint."""
    fake_results.spec["models"][0]["options"] = dict(TINY)
    family = pb.get_model_family("yolov5n", **TINY)
    model = family.build(nc=1)
    cell = find_cell(fake_results, KEY)
    family.save(model, fake_results.run_dir / cell.artifacts["weights"])
    return fake_results


@pytest.fixture
def stored(monkeypatch, fake_results):
    """Results.load returns the fake results (the CLI's path through the store is tested in tests/suite)."""
    monkeypatch.setattr(Results, "load", classmethod(lambda cls, run_dir: fake_results))
    return fake_results


def test_export_onnx_checked_by_onnxruntime(tiny_run, tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    res = export_cell(tiny_run, KEY, "onnx", tmp_path / "m.onnx")
    assert res.path.is_file()
    assert res.imgsz == 128
    assert res.verified.startswith("onnxruntime matches torch")
    proto = onnx.load(str(res.path))
    assert max(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")) == 17
    dim0 = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param == "batch"


def test_export_pt_reloads(tiny_run, tmp_path):
    res = export_cell(tiny_run, KEY, "pt", tmp_path / "m.pt")
    model = pb.get_model_family("yolov5n", **TINY).load(res.path)
    assert sum(p.numel() for p in model.parameters()) == res.params


def test_default_export_path(tiny_run):
    res = export_cell(tiny_run, KEY, "onnx", verify=False)
    assert res.path == tiny_run.run_dir / "exports" / "yolov5n_l1_0.6_s0.onnx"
    assert res.verified == "not verified (--no-verify)"


def test_load_cell_model_is_fused_and_in_eval_mode(tiny_run):
    model, family = load_cell_model(tiny_run, KEY)
    assert family.name == "yolov5n"
    assert not model.training
    assert not any(type(m).__name__.startswith("BatchNorm") for m in model.modules())


def test_export_errors(tiny_run):
    with pytest.raises(UsageError, match="Did you mean 'yolov5n/l1/0.6/s0'") as exc:
        export_cell(tiny_run, "yolov5n/l1/0.66/s0", "onnx")
    assert "yolov5n/baseline/s0" in str(exc.value)
    with pytest.raises(UsageError, match="is failed: RuntimeError"):
        export_cell(tiny_run, "yolov5s/bn-scale/0.9/s1", "pt")
    with pytest.raises(UsageError, match="weights of cell 'yolov5n/l1/0.3/s0' are missing"):
        export_cell(tiny_run, "yolov5n/l1/0.3/s0", "pt")


def test_cli_export_unknown_cell_exits_2(stored, capsys):
    code = main(["export", str(stored.run_dir), "--cell", "yolov5n/l1/0.66/s0", "--format", "onnx"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "has no cell 'yolov5n/l1/0.66/s0'" in err
    assert "Did you mean 'yolov5n/l1/0.6/s0'" in err
    assert "Traceback" not in err


def test_cli_export_without_a_store_exits_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", str(empty), "--cell", KEY]) == 2
    assert "results store" in " ".join(capsys.readouterr().err.split())
    assert main(["export", str(tmp_path / "nope"), "--cell", KEY]) == 2
    assert "does not exist" in " ".join(capsys.readouterr().err.split())


def test_cli_export_bad_format_exits_2(tmp_path):
    assert main(["export", str(tmp_path), "--cell", KEY, "--format", "tflite"]) == 2


def test_cli_export_writes_onnx(tiny_run, stored, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "cli.onnx"
    assert main(["export", str(tiny_run.run_dir), "--cell", KEY, "--out", str(out)]) == 0
    assert out.is_file()
    assert "onnxruntime matches torch" in " ".join(capsys.readouterr().out.split())
