"""A real tiny run through the store: reporters, `prunebench report`, `prunebench export` and the docs'
pytest-benchmark example, all from ``Results.load``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from prunebench.cli import main
from prunebench.suite.results import Results

pytestmark = pytest.mark.slow

BUDGET = {"epochs": 1, "imgsz": 64, "batch_size": 4, "max_batches": 1, "warmup_epochs": 0.0, "cache": False}


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import prunebench as pb

    root = tmp_path_factory.mktemp("e2e")
    spec = {
        "name": "tiny-e2e", "seeds": [0], "device": "cpu", "output": str(root / "run"),
        "dataset": {"name": "tea-bud-synth",
                    "options": {"train": 8, "val": 4, "imgsz": 64, "seed": 0, "out": str(root / "data")}},
        "models": [{"name": "yolov5n", "options": {"width_multiple": 0.0625, "depth_multiple": 0.33}}],
        "pruners": [{"name": "l1", "levels": [0.5]}],
        "train": BUDGET, "finetune": BUDGET, "evaluate": {"batch_size": 4}, "calibration_batches": 1,
    }  # no `reporters:`: the default, every bundled reporter
    path = root / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    pb.run(path, progress=False)
    return root / "run"


def test_the_run_wrote_every_report(real_run):
    for name in ("results.json", "results.csv", "report.md", "report.html"):
        assert (real_run / name).stat().st_size > 0
    data = json.loads((real_run / "results.json").read_text())
    assert [c["key"] for c in data["cells"]] == ["yolov5n/baseline/s0", "yolov5n/l1/0.5/s0"]
    base, pruned = data["cells"]
    assert base["pruner"] is None
    assert base["level"] == 0
    assert base["prune"] is None
    assert pruned["prune"]["params_after"] < pruned["prune"]["params_before"]
    assert pruned["metrics"]["params"] < base["metrics"]["params"]
    md = (real_run / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links
    assert all((real_run / link).is_file() for link in links)


def test_report_redraws_from_the_store(real_run, capsys):
    before = Results.load(real_run)
    (real_run / "report.md").unlink()
    assert main(["report", str(real_run), "-r", "markdown", "-r", "console", "--width", "200"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "baseline" in out
    assert (real_run / "report.md").is_file()
    assert Results.load(real_run).cells == before.cells  # nothing recomputed or rewritten


def test_export_onnx_from_a_real_cell(real_run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "pruned.onnx"
    assert main(["export", str(real_run), "--cell", "yolov5n/l1/0.5/s0", "--out", str(out)]) == 0
    assert out.is_file()
    assert "onnxruntime matches torch" in " ".join(capsys.readouterr().out.split())
    assert main(["export", str(real_run), "--cell", "yolov5n/l1/0.3/s0"]) == 2
    assert "Did you mean 'yolov5n/l1/0.5/s0'" in " ".join(capsys.readouterr().err.split())


def test_docs_benchmark_example_runs(real_run, tmp_path):
    test = tmp_path / "test_pruned_speed.py"
    test.write_text(textwrap.dedent("""
        import pytest

        from prunebench.testing import latency_fn, load_cell_model

        CELLS = ["yolov5n/baseline/s0", "yolov5n/l1/0.5/s0"]


        @pytest.mark.parametrize("cell", CELLS)
        def test_latency(benchmark, prunebench_run, cell):
            model, _family = load_cell_model(prunebench_run, cell)
            imgsz = prunebench_run.spec["train"]["imgsz"]
            benchmark.group = f"latency imgsz {imgsz}, 1 thread"
            benchmark.extra_info.update({"cell": cell, "params": sum(p.numel() for p in model.parameters())})
            benchmark.pedantic(latency_fn(model, imgsz=imgsz, threads=1), rounds=3, iterations=1,
                               warmup_rounds=1)
    """))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "prunebench.testing", "-p", "no:cacheprovider",
         "--prunebench-run", str(real_run), f"--benchmark-json={tmp_path / 'bench.json'}", str(test)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert {b["extra_info"]["cell"] for b in bench["benchmarks"]} == {"yolov5n/baseline/s0", "yolov5n/l1/0.5/s0"}
