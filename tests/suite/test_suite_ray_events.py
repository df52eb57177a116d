"""Under Ray, a hook sees a stage's epoch while the stage still runs: the worker waits for the hook's mark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import prunebench as pb

pytestmark = [pytest.mark.ray, pytest.mark.slow]

HANDSHAKE_PLUGIN = '''
"""A temporary plugin: a hook marks each epoch it sees; a pruner's regulariser waits for epoch 0's mark."""
import time
from pathlib import Path

from prunebench.hookspecs import hookimpl
from prunebench.pruning.pruners import L1Pruner

FLAGS = Path({flags!r})


class WaitsForTheDriver(L1Pruner):
    name = "waits-for-the-driver"
    description = "L1 with a sparsity phase that waits until the driver's hook saw epoch 0 (tests)"
    needs_sparsity_training = True

    def sparsity_epochs(self):
        return 2

    def regularizer(self, model, family=None):
        calls = []

        def after_backward(model):
            calls.append(1)
            if len(calls) == 3:  # the first backward of epoch 1: epoch 0 has ended in this worker
                deadline = time.monotonic() + 60
                while not (FLAGS / "sparsity-0").exists():
                    if time.monotonic() > deadline:
                        raise RuntimeError("the driver's epoch_finished hook did not see epoch 0 in time")
                    time.sleep(0.02)
                (FLAGS / "acknowledged").touch()

        return after_backward


@hookimpl
def register_pruners(register):
    register(WaitsForTheDriver)


@hookimpl
def stage_started(stage, cell, run_dir):
    (FLAGS / f"started-{{stage.kind}}").touch()


@hookimpl
def epoch_finished(cell, stage, epoch, metrics):
    (FLAGS / f"{{stage}}-{{epoch}}").touch()
'''


def test_a_hook_sees_an_epoch_before_the_ray_task_returns(plugin_dir: Path, write_spec: Any,
                                                          tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from prunebench.suite.executors.ray_init import init_kwargs, init_ray

    flags = tmp_path / "flags"
    flags.mkdir()
    (plugin_dir / "handshake_plugin.py").write_text(HANDSHAKE_PLUGIN.format(flags=str(flags)), encoding="utf-8")
    spec = write_spec(out=tmp_path / "ray", plugins=["handshake_plugin"], baseline=False,
                      pruners=[{"name": "waits-for-the-driver", "levels": [0.5]}],
                      executor={"name": "ray", "options": {"num_cpus": 2}})
    init_ray(ray, init_kwargs(address=None, num_cpus=2))  # a local-only Ray (127.0.0.1, no dashboard)
    try:
        res = pb.run(spec, progress=False)
    finally:
        ray.shutdown()
    assert all(c.status == "done" for c in res.cells), [(c.key, c.error) for c in res.cells]
    assert (flags / "acknowledged").exists()  # the worker saw the hook's mark while training
    for kind in ("data", "train", "sparsity", "prune", "finetune", "evaluate"):
        assert (flags / f"started-{kind}").exists(), kind
