"""How the ``ray`` executor calls ``ray.init``: a local Ray is loopback-only, has no dashboard, keeps its auth.

A local Ray (no ``address``) is always a new one (``address="local"``: never a cluster another user started
on this machine), advertises 127.0.0.1 and binds its GCS, raylet, object manager and worker
ports to the loopback interface only; it starts no dashboard; Ray's token authentication (on by default
in Ray 2.60) is left as Ray sets it: prunebench never sets ``RAY_AUTH_MODE``. To join a cluster,
``node_ip_address`` is the address this driver advertises (a cluster started on 127.0.0.1 needs
127.0.0.1; a multi-homed machine needs the interface the cluster reaches).

Before joining a cluster at ``host:port``, :func:`check_cluster` asks its GCS (a few seconds at most) whether
it answers, accepts this driver's token and has a node at the address the driver will advertise. Without
that check a mismatch makes ``ray.init`` wait: 60 s for a node at ``node_ip_address`` when the cluster's
nodes advertise another address, and much longer (its GCS retries) when Ray rewrote a loopback address the
cluster's GCS does not listen on. Ray rewrites a loopback address (``ray start --node-ip-address=127.0.0.1``,
``ray.init(address="127.0.0.1:port")``, ``_node_ip_address="127.0.0.1"``) to the machine's network address
(``ray._private.services.resolve_ip_for_localhost``) unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
(``ray_constants.ENABLE_RAY_CLUSTER``): a head started on Linux with ``--node-ip-address=127.0.0.1`` alone
advertises the network address and listens on every interface.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prunebench.errors import UsageError

__all__ = ["LOOPBACK", "check_cluster", "init_kwargs", "init_ray", "is_loopback"]

LOOPBACK = "127.0.0.1"
#: seconds :func:`check_cluster` waits for the cluster's GCS to answer
CHECK_TIMEOUT_S = 10.0
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0"
_AUTH_HINT = ("A Ray cluster with token authentication (Ray's default) needs RAY_AUTH_MODE=token and its token in "
              "this driver's environment: RAY_AUTH_TOKEN, a file named by RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token "
              "(`ray get-auth-token` prints it on the head). prunebench never turns authentication off.")


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


def _host_port(address: str | None) -> tuple[str, int] | None:
    """``(host, port)`` of a plain GCS address (``host:port``, ``[v6]:port``); None for ray://, auto, local."""
    if not address or "://" in address or address in ("auto", "local"):
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _as_ray_sees_it(node_ip_address: str) -> str:
    """The address Ray looks for: it maps localhost, 127.0.0.1 and ::1 to 127.0.0.1 in the loopback mode
    :func:`init_ray` switches on (``resolve_ip_for_localhost``); other addresses stay as written."""
    return LOOPBACK if node_ip_address in ("localhost", "127.0.0.1", "::1") else node_ip_address


def check_cluster(address: str | None, node_ip_address: str | None, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Fail fast, with what to do, where joining the cluster at ``address`` would make ``ray.init`` wait.

    Checks, for a ``host:port`` address only (Ray Client ``ray://`` and ``auto`` are left to Ray): that
    something listens there, that the GCS accepts this driver's authentication token, and that one of the
    cluster's alive nodes advertises ``node_ip_address`` (a driver connects to the node of its machine by
    that address). Raises :class:`UsageError`; returns quietly where Ray's API for the check is missing.
    """
    hp = _host_port(address)
    if hp is None:
        return
    host, port = hp
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise UsageError(f"No Ray cluster answers at {address} (executor.options.address): "
                         f"{exc.strerror or exc}.",
                         hint="Start one there (`ray start --head --port=PORT ...`) or correct the address; leave "
                              "the address out to start a local Ray.") from None
    try:
        from ray._raylet import GcsClient
        from ray.core.generated.gcs_pb2 import GcsNodeInfo
    except ImportError:  # pragma: no cover - an older or newer Ray: ray.init does its own waiting
        return
    from ray.exceptions import AuthenticationError

    try:
        client = GcsClient(address=f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        nodes = client.get_all_node_info(timeout=timeout_s, state_filter=GcsNodeInfo.GcsNodeState.ALIVE)
    except AuthenticationError as exc:
        raise UsageError(f"The Ray cluster at {address} refused this driver's authentication token: "
                         f"{str(exc).splitlines()[0][:200]}", hint=_AUTH_HINT) from None
    except Exception as exc:
        raise UsageError(f"The Ray cluster at {address} did not answer as a Ray GCS within {timeout_s:g} s "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}).",
                         hint="Check that the address is the head's GCS port (`ray start --head --port`).") from None
    advertised = sorted({n.node_manager_address for n in nodes.values()})
    if node_ip_address is None:
        if is_loopback(host) and advertised and all(is_loopback(a) for a in advertised):
            raise UsageError(
                f"The Ray cluster at {address} advertises {', '.join(advertised)} (loopback), but without "
                f"node_ip_address Ray replaces {host} by this machine's network address and waits for a GCS "
                f"that does not listen there.",
                hint=f"Add `node_ip_address: {advertised[0]}` to executor.options.")
        return
    if _as_ray_sees_it(node_ip_address) in advertised:
        return
    where = ", ".join(advertised) or "no alive node"
    if is_loopback(node_ip_address) and advertised and not any(is_loopback(a) for a in advertised):
        hint = (f"Ray replaced the loopback address of this cluster's nodes by the machine's network address: "
                f"`ray start --node-ip-address=127.0.0.1` keeps 127.0.0.1 (advertised, and the only interface its "
                f"ports listen on) only when it runs with {_LOOPBACK_ENV}. Restart the head with "
                f"`{_LOOPBACK_ENV} ray start --head --node-ip-address=127.0.0.1 ...`, or join it as it is with "
                f"`node_ip_address: {advertised[0]}`.")
    else:
        hint = (f"Set executor.options.node_ip_address to the address of this machine's Ray node "
                f"({where}), or start a Ray node on this machine that joins the cluster.")
    raise UsageError(f"No node of the Ray cluster at {address} advertises node_ip_address {node_ip_address} "
                     f"(its nodes advertise: {where}); ray.init would wait for one "
                     f"(60 s, then fail).", hint=hint)
