"""How the ``ray`` executor calls ``ray.init``: a local Ray is loopback-only, has no dashboard, keeps its auth.

A local Ray (no ``address``) is always a new one (``address="local"``: never a cluster another user started
on this machine), advertises 127.0.0.1 and binds its GCS, raylet, object manager and worker
ports to the loopback interface only; it starts no dashboard; Ray's token authentication (on by default
in Ray 2.60) is left as Ray sets it: prunebench never sets ``RAY_AUTH_MODE``. To join a cluster,
``node_ip_address`` is the address this driver advertises (a cluster started on 127.0.0.1 needs
127.0.0.1; a multi-homed machine needs the interface the cluster reaches).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LOOPBACK", "init_kwargs", "init_ray", "is_loopback"]

LOOPBACK = "127.0.0.1"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def init_kwargs(*, address: str | None, num_cpus: int | None = None, runtime_env: dict[str, Any] | None = None,
                node_ip_address: str | None = None) -> dict[str, Any]:
    """The keyword arguments of ``ray.init`` for these executor options (no side effects: the test seam)."""
    # "local": always a new Ray of this process; with None, Ray would join whatever cluster `ray start` last
    # recorded on this machine (or RAY_ADDRESS names), another user's included
    kwargs: dict[str, Any] = {"address": address if address is not None else "local", "include_dashboard": False,
                              "log_to_driver": False}
    if runtime_env:
        kwargs["runtime_env"] = runtime_env
    if address is None:
        kwargs["num_cpus"] = num_cpus
    ip = node_ip_address if node_ip_address is not None else (LOOPBACK if address is None else None)
    if ip is not None:
        kwargs["_node_ip_address"] = ip
    return kwargs


@contextmanager
def _keep_loopback(ray: Any, host: str | None) -> Iterator[None]:
    """Keep a loopback node address as given while ``ray.init`` runs.

    Ray replaces a loopback ``_node_ip_address`` by the machine's network address unless it runs in its
    single-machine mode (the one it uses on macOS and Windows), in which the node advertises and binds
    127.0.0.1 only. That mode is switched on for the ``ray.init`` call alone.
    """
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if not is_loopback(host) or constants is None or not hasattr(constants, "ENABLE_RAY_CLUSTER"):
        yield
        return
    before = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = before


def init_ray(ray: Any, kwargs: dict[str, Any]) -> None:
    """``ray.init(**kwargs)``, keeping a loopback ``_node_ip_address`` loopback."""
    with _keep_loopback(ray, kwargs.get("_node_ip_address")):
        ray.init(**kwargs)
