"""prunebench.testing: latency_fn for pytest-benchmark, run loading and the prunebench_run fixture plugin."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from prunebench.errors import UsageError
from prunebench.testing import done_cells, latency_fn, load_run


class _Counter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.calls = 0
        self.shapes: list[tuple[int, ...]] = []
        self.grad_enabled: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.shapes.append(tuple(x.shape))
        self.grad_enabled.append(torch.is_grad_enabled())
        return self.conv(x)


def test_latency_fn_warms_up_and_runs_inference():
    model = _Counter().train()
    threads = torch.get_num_threads()
    try:
        fn = latency_fn(model, imgsz=32, threads=1, warmup=2)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert model.calls == 2
    assert not model.training
    out = fn()
    assert model.calls == 3
    assert out.shape == (1, 4, 30, 30)
    assert model.shapes[-1] == (1, 3, 32, 32)
    assert model.grad_enabled == [False] * 3


def test_latency_fn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="threads"):
        latency_fn(_Counter(), imgsz=32, threads=0)
    with pytest.raises(ValueError, match="imgsz"):
        latency_fn(_Counter(), imgsz=0)


def test_done_cells(fake_results, failed_key):
    keys = done_cells(fake_results, "yolov5s/bn-scale/*")
    assert failed_key not in keys
    assert len(keys) == 5


def test_load_run_errors(tmp_path):
    with pytest.raises(UsageError, match="has no results store"):
        load_run(tmp_path)


def test_fixture_plugin_skips_without_a_run_folder(tmp_path):
    test = tmp_path / "test_user_bench.py"
    test.write_text(textwrap.dedent("""
        def test_uses_run(prunebench_run):
            raise AssertionError("must have been skipped")
    """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "prunebench.testing", "-q", "-rs",
                           "-p", "no:cacheprovider", str(test)], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120, env={**__import__("os").environ, "PRUNEBENCH_RUN": ""}, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout
    assert "--prunebench-run DIR" in proc.stdout
    help_proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "prunebench.testing", "--help"],
                               capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert "--prunebench-run=DIR" in help_proc.stdout
