"""A local Ray started by prunebench is reachable from this machine only: 127.0.0.1, no dashboard, auth kept."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

import pytest

from prunebench.suite.executors.ray_init import init_kwargs, init_ray, is_loopback


def test_a_local_ray_advertises_loopback_and_starts_no_dashboard() -> None:
    kw = init_kwargs(address=None, num_cpus=2)
    assert kw["_node_ip_address"] == "127.0.0.1"
    assert kw["include_dashboard"] is False
    assert kw["address"] == "local"  # a new Ray, never one `ray start` left running on this machine
    assert kw["num_cpus"] == 2
    assert not any("auth" in str(k).lower() for k in kw)  # token authentication is Ray's default: untouched


def test_node_ip_address_reaches_ray_init_for_a_cluster() -> None:
    assert "_node_ip_address" not in init_kwargs(address="auto")  # Ray picks the interface that reaches it
    kw = init_kwargs(address="10.1.2.3:6379", node_ip_address="127.0.0.1")
    assert kw["_node_ip_address"] == "127.0.0.1"
    assert "num_cpus" not in kw
    assert init_kwargs(address=None, node_ip_address="10.0.0.5")["_node_ip_address"] == "10.0.0.5"


def test_the_executor_option_is_validated_and_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import prunebench as pb
    from prunebench.suite.executors import ray_init

    seen: dict[str, Any] = {}

    class Stop(Exception):
        pass


    def capture(ray: Any, kwargs: dict[str, Any]) -> None:  # the seam: what would reach ray.init
        seen.update(kwargs)
        raise Stop

    pytest.importorskip("ray")
    monkeypatch.setattr(ray_init, "init_ray", capture)
    executor = pb.create_executor("ray", address="auto", node_ip_address="127.0.0.1")
    with pytest.raises(pb.UsageError, match="Could not connect to Ray"):
        executor.run([], lambda s, d: {}, lambda s, r, e: None)
    assert seen["_node_ip_address"] == "127.0.0.1"
    assert seen["address"] == "auto"
    assert seen["include_dashboard"] is False


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("10.0.0.1")
    assert not is_loopback(None)


@pytest.mark.ray
def test_a_real_local_ray_listens_and_advertises_on_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")  # a cluster someone else named: never joined
    psutil = pytest.importorskip("psutil")
    if ray.is_initialized():
        ray.shutdown()
    assert os.environ.get("RAY_AUTH_MODE") != "disabled"
    init_ray(ray, init_kwargs(address=None, num_cpus=1))
    try:
        assert [n["NodeManagerAddress"] for n in ray.nodes()] == ["127.0.0.1"]
        assert ray.get(ray.remote(lambda: 1 + 1).remote()) == 2
        listening = []
        for proc in psutil.Process().children(recursive=True):
            try:
                conns = proc.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            listening += [(proc.name(), c.laddr.ip) for c in conns if c.status == psutil.CONN_LISTEN]
        assert listening, "found no listening socket of the Ray processes"
        wide = [(name, ip) for name, ip in listening
                if not ipaddress.ip_address(ip.removeprefix("::ffff:")).is_loopback]
        assert not wide, f"Ray listens beyond loopback: {wide}"
        assert os.environ.get("RAY_AUTH_MODE", "token") != "disabled"  # Ray's token auth stays on
    finally:
        ray.shutdown()
    from ray._private import ray_constants

    assert ray_constants.ENABLE_RAY_CLUSTER  # Ray's own setting restored after init
