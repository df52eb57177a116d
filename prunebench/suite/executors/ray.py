"""Run stages as Ray tasks that respect their dependencies; results flow back to the driver."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from prunebench.errors import UsageError
from prunebench.suite.executors.base import UpstreamFailed, topological

__all__ = ["RemoteStageError", "import_ray", "run_ray"]


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


def _stage_task(run_stage: Any, driver_path: list[str], stage: Any, dep_keys: list[str],
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
        return "ok", run_stage.with_device(device)(stage, deps)
    except Exception as exc:
        return "error", {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}


def run_ray(stages: Sequence[Any], run_stage: Callable[[Any, dict[str, Any]], Any],
            on_done: Callable[[Any, Any, BaseException | None], None], *, address: str | None = None,
            num_cpus: int | None = None, gpus_per_cell: float = 0.0, cpus_per_task: float = 1.0,
            runtime_env: dict[str, Any] | None = None, node_ip_address: str | None = None) -> None:
    """Submit every stage as a Ray task (upstream ObjectRefs as arguments) and report them in the driver.

    A Ray started here is local-only (127.0.0.1, no dashboard, Ray's token auth untouched): see ray_init.
    """
    ray = import_ray()
    started_here = False
    if not ray.is_initialized():
        from prunebench.suite.executors.ray_init import init_kwargs, init_ray

        try:
            init_ray(ray, init_kwargs(address=address, num_cpus=num_cpus, runtime_env=runtime_env,
                                      node_ip_address=node_ip_address))
        except Exception as exc:
            raise UsageError(f"Could not connect to Ray at {address or 'a new local cluster'}: {exc}",
                             hint="Check executor.options.address (e.g. ray://host:10001 or auto), "
                                  "or leave it out to start a local Ray.") from exc
        started_here = True
    try:
        order = topological(stages)
        index = {s.key: i for i, s in enumerate(order)}
        by_key = {s.key: s for s in order}
        task = ray.remote(_stage_task)
        runner_ref = ray.put(run_stage)
        driver_path = [p for p in sys.path if p]
        refs: dict[str, Any] = {}
        pending: dict[Any, Any] = {}
        for stage in order:
            dep_keys = [d for d in stage.deps if d in refs]
            gpus = gpus_per_cell if stage.kind != "data" else 0.0
            ref = task.options(num_cpus=cpus_per_task, num_gpus=gpus, max_retries=0).remote(
                runner_ref, driver_path, stage, dep_keys, *[refs[d] for d in dep_keys])
            refs[stage.key] = ref
            pending[ref] = stage
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            more, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
            for ref in sorted(set(ready) | set(more), key=lambda r: index[pending[r].key]):
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
        if started_here:
            ray.shutdown()
