"""The ``ray`` executor: stages as Ray tasks that respect their dependencies; events stream to the driver.

Each task's observer is a proxy that puts the stage's lifecycle and epoch events on a Ray queue as they
happen; the driver drains the queue while it waits for tasks, so its hooks and live display see a stage
start and every epoch end while the stage runs, as under the ``local`` executor. Results (each a
:class:`~prunebench.suite.stage.StageResult`) come back as task return values; only the driver writes
the store.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from prunebench.contracts import Executor, PluginOptions
from prunebench.errors import UsageError
from prunebench.suite.executors.base import OnDone, StageFunction, UpstreamFailed, topological

__all__ = ["RayExecutor", "RemoteStageError", "import_ray", "run_ray"]

#: seconds the driver waits for a task before it looks at the event queue again
EVENT_POLL_SECONDS = 0.1


class RemoteStageError(RuntimeError):
    """A stage raised in a Ray worker; carries the remote exception's type name and traceback."""

    def __init__(self, type_name: str, message: str, tb: str | None = None) -> None:
        self.type_name = type_name
        self.remote_traceback = tb
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.args[0]}"


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise UsageError("The `ray` executor needs Ray, which is not installed.",
                         hint='Install it with: pip install "prunebench[ray]"  (or use `executor: local`).') from exc
    return ray


class _EventProxy:
    """A stage's observer inside a Ray worker: puts each event on the driver's queue as it happens."""

    progress = None  # a worker draws no bars

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def stage_started(self, stage: Any) -> None:
        self.queue.put(("stage_started", stage.key, None))

    def epoch_end(self, stage: Any, epoch: int, row: dict[str, float]) -> None:
        self.queue.put(("epoch_end", stage.key, (int(epoch), dict(row))))


def _drain(queue: Any, by_key: dict[str, Any], observer: Any) -> None:
    """Deliver the queued events to the driver's observer, in the order they were sent."""
    n = queue.qsize()
    if not n:
        return
    for event, key, payload in queue.get_nowait_batch(n):
        if observer is None or key not in by_key:
            continue
        if event == "stage_started":
            observer.stage_started(by_key[key])
        elif event == "epoch_end":
            observer.epoch_end(by_key[key], payload[0], payload[1])


def _stage_task(run_stage: StageFunction, events: Any, driver_path: list[str], stage: Any, dep_keys: list[str],
                *dep_results: Any) -> tuple[str, Any]:
    """The body of one Ray task. Never raises: returns ``(status, payload)`` so dependents can skip."""
    import ray

    for p in driver_path:  # plugin modules a spec names from the driver's path (same machine)
        if p not in sys.path and os.path.isdir(p):
            sys.path.append(p)

    deps: dict[str, Any] = {}
    for key, (status, payload) in zip(dep_keys, dep_results):
        if status == "error":
            return "skipped", {"upstream": key, **payload}
        if status == "skipped":
            return "skipped", payload
        deps[key] = payload
    device = None
    if str(stage.inputs.get("device", "cpu")).startswith("cuda") and ray.get_gpu_ids():
        device = "cuda:0"  # Ray sets CUDA_VISIBLE_DEVICES to the GPU(s) it gave this task
    try:
        return "ok", run_stage.with_device(device).with_observer(_EventProxy(events))(stage, deps)
    except Exception as exc:
        return "error", {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}


def run_ray(stages: Sequence[Any], run_stage: StageFunction, on_done: OnDone, *, address: str | None = None,
            num_cpus: int | None = None, gpus_per_cell: float = 0.0, cpus_per_task: float = 1.0,
            runtime_env: dict[str, Any] | None = None, node_ip_address: str | None = None) -> None:
    """Submit every stage as a Ray task (upstream ObjectRefs as arguments) and report them in the driver.

    A Ray started here is local-only (127.0.0.1, no dashboard, Ray's token auth untouched): see ray_init.
    """
    ray = import_ray()
    started_here = False
    if not ray.is_initialized():
        from prunebench.suite.executors.ray_init import _AUTH_HINT, check_cluster, init_kwargs, init_ray

        check_cluster(address, node_ip_address)  # fail fast where ray.init would wait (bad address, node, token)
        try:
            init_ray(ray, init_kwargs(address=address, num_cpus=num_cpus, runtime_env=runtime_env,
                                      node_ip_address=node_ip_address))
        except Exception as exc:
            raise UsageError(f"Could not connect to Ray at {address or 'a new local cluster'}: {exc}",
                             hint="Check executor.options.address (e.g. ray://host:10001 or auto), "
                                  "or leave it out to start a local Ray. " + _AUTH_HINT) from exc
        started_here = True
    events: Any = None
    try:
        from ray.util.queue import Queue

        order = topological(stages)
        index = {s.key: i for i, s in enumerate(order)}
        by_key = {s.key: s for s in order}
        events = Queue(actor_options={"num_cpus": 0})
        task = ray.remote(_stage_task)
        runner_ref = ray.put(run_stage)
        driver_path = [p for p in sys.path if p]
        refs: dict[str, Any] = {}
        pending: dict[Any, Any] = {}
        for stage in order:
            dep_keys = [d for d in stage.deps if d in refs]
            gpus = gpus_per_cell if stage.kind != "data" else 0.0
            ref = task.options(num_cpus=cpus_per_task, num_gpus=gpus, max_retries=0).remote(
                runner_ref, events, driver_path, stage, dep_keys, *[refs[d] for d in dep_keys])
            refs[stage.key] = ref
            pending[ref] = stage
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=EVENT_POLL_SECONDS)
            _drain(events, by_key, run_stage.observer)  # a finished task's events are all queued by now
            for ref in sorted(ready, key=lambda r: index[pending[r].key]):
                stage = pending.pop(ref)
                status, payload = ray.get(ref)
                if status == "ok":
                    on_done(stage, payload, None)
                elif status == "error":
                    on_done(stage, None, RemoteStageError(payload["type"], payload["message"],
                                                          payload.get("traceback")))
                else:
                    root = by_key.get(payload.get("upstream", ""), payload.get("upstream"))
                    on_done(stage, None, UpstreamFailed(root, f"{payload['type']}: {payload['message']}"))
    finally:
        if events is not None:
            events.shutdown()
        if started_here:
            ray.shutdown()


class RayExecutor(Executor):
    """Run the stages as Ray tasks (GPUs requested per task); the driver alone writes the results store."""

    name: ClassVar[str] = "ray"
    description: ClassVar[str] = "runs the stages as Ray tasks on a local or remote Ray cluster"

    class Options(PluginOptions):
        address: str | None = Field(None, description="Ray address (auto, ray://host:10001, host:6379); "
                                                      "None starts a local Ray in this process")
        num_cpus: int | None = Field(None, ge=1, le=4096,
                                     description="CPUs of the local Ray started when address is None "
                                                 "(default: all)")
        gpus_per_cell: float = Field(0.0, ge=0.0, le=64.0,
                                     description="GPUs each training/pruning/evaluation task requests "
                                                 "(fractions share a GPU)")
        cpus_per_task: float = Field(1.0, gt=0.0, le=1024.0, description="CPUs each task requests")
        runtime_env: dict[str, Any] | None = Field(None, description="Ray runtime_env for the workers "
                                                                      "(e.g. env_vars, py_modules)")
        node_ip_address: str | None = Field(None, min_length=1, max_length=255,
                                            description="the address this driver's Ray node advertises "
                                                        "(default 127.0.0.1 for a local Ray; give the "
                                                        "cluster's interface, e.g. 127.0.0.1 for a cluster "
                                                        "started on loopback)")

    options: Options  # type: ignore[assignment]

    def run(self, stages: list[Any], run_stage: StageFunction, on_done: OnDone) -> None:
        o = self.options
        run_ray(stages, run_stage, on_done, address=o.address, num_cpus=o.num_cpus,
                gpus_per_cell=o.gpus_per_cell, cpus_per_task=o.cpus_per_task, runtime_env=o.runtime_env,
                node_ip_address=o.node_ip_address)
