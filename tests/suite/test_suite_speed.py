"""The speed stage in a suite: one per model and seed, cached like any stage, rows in the store; runtimes checked."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import prunebench as pb
from prunebench.cli import main
from prunebench.report.markdown import write_markdown
from prunebench.speed.report import speed_plot_jobs, speed_tables
from prunebench.speed.stage import speed_rows

SPEED = {"runtimes": ["torch", "onnxruntime"], "imgsz": 64, "threads": 1, "time_cap_s": 2, "min_rounds": 4,
         "warmup": 1}


@pytest.mark.slow
def test_speed_stage_runs_is_cached_and_reruns_when_a_model_changes(write_spec: Callable[..., Path],
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = pb.run(write_spec(out=out, speed=SPEED), progress=False)
    rows = speed_rows(res)
    assert {(r["runtime"], r["variant"]) for r in rows} == {
        (rt, v) for rt in ("torch", "onnxruntime") for v in ("yolov5n/baseline/s0", "yolov5n/l1/0.5/s0")}
    for r in rows:
        assert r["status"] == "ok", r["error"]
        assert (r["model"], r["seed"], r["baseline"]) == ("yolov5n", 0, "yolov5n/baseline/s0")
        assert r["max_abs_error"] < 1e-3
        assert r["speedup_lo"] <= r["speedup"] <= r["speedup_hi"]
        assert r["imgsz"] == 64
        assert r["threads"] == 1
        assert r["cpu"]
    speed_keys = [k for k, s in res.stages.items() if s.kind == "speed"]
    assert len(speed_keys) == 1
    # the reports show the interleaved figures per runtime
    tables = speed_tables(res)
    assert [t.title for t in tables] == ["yolov5n (seed 0): deployed speed per runtime"]
    assert [(r[0], r[1].split(" ")[0]) for r in tables[0].rows] == [
        ("baseline", "torch"), ("l1 0.5", "torch"), ("baseline", "onnxruntime"), ("l1 0.5", "onnxruntime")]
    report = write_markdown(res, res.run_dir, tmp_path / "plots").read_text()
    assert "## Deployed speed" in report
    assert "Speed-up [95% CI]" in report
    for job in speed_plot_jobs(res):
        fig = job.draw()
        assert fig.axes
    # the same spec again: nothing is recomputed, the speed rows are the stored ones
    again = pb.run(write_spec(out=out, speed=SPEED), progress=False)
    assert speed_rows(again) == rows
    # another level: a new variant, so the speed stage reruns (and times both levels with the baseline)
    changed = pb.run(write_spec(out=out, speed=SPEED, pruners=[{"name": "l1", "levels": [0.5, 0.7]}]),
                     progress=False)
    variants = {r["variant"] for r in speed_rows(changed) if r["runtime"] == "torch"}
    assert variants == {"yolov5n/baseline/s0", "yolov5n/l1/0.5/s0", "yolov5n/l1/0.7/s0"}


def test_missing_runtime_exits_2_with_the_install_command(write_spec: Callable[..., Path],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if openvino were not installed
    path = write_spec(speed={"runtimes": ["torch", "openvino"]})
    assert main(["validate", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "speed.runtimes.1: runtime 'openvino' needs the openvino package" in err
    assert "pip install openvino" in err


def test_unknown_runtime_is_a_spec_error(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(speed={"runtimes": ["onnxruntme"]})
    assert main(["validate", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "speed.runtimes" in err
    assert "Did you mean 'onnxruntime'" in err
