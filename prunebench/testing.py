"""Helpers for your own pytest-benchmark tests: load a run's models and time them.

Use it as a pytest plugin (``pytest_plugins = ["prunebench.testing"]`` in ``conftest.py``, or
``pytest -p prunebench.testing``) to get the ``--prunebench-run DIR`` option and the ``prunebench_run``
fixture::

    from prunebench.testing import latency_fn, load_cell_model

    def test_pruned_latency(benchmark, prunebench_run):
        model, family = load_cell_model(prunebench_run.run_dir, "yolov5n/l1/0.6/s0")
        benchmark(latency_fn(model, imgsz=640, threads=1))

See docs/benchmarking.md for tracking speed across commits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.report.run_folder import load_cell_model as _load_cell_model
from prunebench.report.run_folder import open_run
from prunebench.suite.results import Results

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import ModelFamily

__all__ = ["RUN_ENV", "done_cells", "latency_fn", "load_cell_model", "load_run", "prunebench_run",
           "pytest_addoption"]

#: Environment variable read when ``--prunebench-run`` is not given.
RUN_ENV = "PRUNEBENCH_RUN"


def load_run(run_dir: str | Path) -> Results:
    """The stored results of a run folder (a :class:`~prunebench.suite.results.Results`)."""
    return open_run(run_dir)


def load_cell_model(run_dir: str | Path | Results, cell_key: str, fused: bool = True,
                    device: str = "cpu") -> tuple[nn.Module, ModelFamily]:
    """``(model, family)`` of the cell ``cell_key`` of ``run_dir``: its evaluated (fine-tuned) model in eval
    mode, Conv+BN fused unless ``fused=False``, on ``device``."""
    return _load_cell_model(run_dir, cell_key, fused=fused, device=device)


def done_cells(results: Results, pattern: str = "*") -> list[str]:
    """Keys of the finished cells that match the glob ``pattern`` (e.g. ``"yolov5n/*"``), for parametrize."""
    import fnmatch

    return [c.key for c in results.cells if c.status == "done" and fnmatch.fnmatchcase(c.key, pattern)]


def latency_fn(model: nn.Module, imgsz: int, device: str = "cpu", threads: int | None = None,
               warmup: int = 3, batch: int = 1) -> Callable[[], Any]:
    """A no-argument callable running one batch-``batch`` inference of ``model``: pass it to ``benchmark``.

    The model is moved to ``device`` and put in eval mode; the input is a fixed random image. ``threads``
    sets ``torch.set_num_threads`` (process-wide; state it beside the numbers). On CUDA the callable
    synchronises so that the time covers the kernels. ``warmup`` calls run before it is returned.
    """
    import torch

    if threads is not None:
        if threads < 1:
            raise ValueError(f"Expected `threads` to be a positive integer but got {threads}")
        torch.set_num_threads(threads)
    if imgsz < 1 or batch < 1:
        raise ValueError(f"Expected positive `imgsz` and `batch` but got imgsz={imgsz}, batch={batch}")
    dev = torch.device(device)
    model = model.to(dev).eval()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, imgsz, imgsz, generator=gen).to(dev)
    if dev.type == "cuda":
        dtype = next((p.dtype for p in model.parameters()), torch.float32)
        x = x.to(dtype)
    cuda = dev.type == "cuda"

    def run() -> Any:
        with torch.inference_mode():
            out = model(x)
        if cuda:
            torch.cuda.synchronize(dev)
        return out

    for _ in range(max(0, warmup)):
        run()
    return run


# --------------------------------------------------------------------------------------------------
# pytest plugin: --prunebench-run DIR and the prunebench_run fixture
# --------------------------------------------------------------------------------------------------


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("prunebench")
    group.addoption("--prunebench-run", action="store", default=None, metavar="DIR",
                    help=f"run folder of `prunebench run` for the prunebench_run fixture (or ${RUN_ENV})")


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed when used as a plugin
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def prunebench_run(request: Any) -> Results:
        """The stored results of ``--prunebench-run DIR`` (or $PRUNEBENCH_RUN); skips when neither is set."""
        run_dir = request.config.getoption("--prunebench-run", default=None) or os.environ.get(RUN_ENV)
        if not run_dir:
            pytest.skip(f"no run folder: pass --prunebench-run DIR or set {RUN_ENV}")
        return load_run(run_dir)
