"""Bundled plugin: the ``local`` executor (in this process) and the ``ray`` executor (a Ray cluster)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field

from prunebench.contracts import Executor, PluginOptions
from prunebench.hookspecs import hookimpl


class LocalExecutor(Executor):
    """Run every stage in this process, one after another, in dependency order."""

    name: ClassVar[str] = "local"
    description: ClassVar[str] = "runs the stages in this process, one after another (live progress display)"

    class Options(PluginOptions):
        pass

    def run(self, stages: list[Any], run_stage: Callable[[Any, dict[str, Any]], Any],
            on_done: Callable[[Any, Any, BaseException | None], None]) -> None:
        from prunebench.suite.executors.local import run_local

        run_local(stages, run_stage, on_done)


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

    def run(self, stages: list[Any], run_stage: Callable[[Any, dict[str, Any]], Any],
            on_done: Callable[[Any, Any, BaseException | None], None]) -> None:
        from prunebench.suite.executors.ray import run_ray

        o = self.options
        run_ray(stages, run_stage, on_done, address=o.address, num_cpus=o.num_cpus,
                gpus_per_cell=o.gpus_per_cell, cpus_per_task=o.cpus_per_task, runtime_env=o.runtime_env,
                node_ip_address=o.node_ip_address)


@hookimpl
def register_executors(register: Any) -> None:
    register(LocalExecutor)
    register(RayExecutor)
