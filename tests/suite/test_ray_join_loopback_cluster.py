"""A driver joins an existing loopback-only Ray cluster through the executor's options and runs a tiny suite on
it; token authentication stays on; a driver that could not join fails fast with what to do.

The cluster is started here as an operator would: ``ray start --head --node-ip-address=127.0.0.1`` with
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (without it, Ray on Linux replaces 127.0.0.1 by the machine's network
address and listens on every interface) and token authentication (``RAY_AUTH_MODE=token``, a token file of
this test). The driver is a ``prunebench run`` process whose environment has the token but not the
loopback switch: prunebench's ``node_ip_address`` option alone makes it join. The cluster's processes are
found by their temporary folder (unique to this test) and their children, and stopped by pid afterwards,
whatever happened.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")


@dataclass
class Cluster:
    address: str
    temp_dir: Path
    token_file: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process of this cluster or of a driver: the token, no stray Ray address."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_file),
                    "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1", **extra})
        return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cluster_processes(temp_dir: Path) -> list[Any]:
    """The processes of the cluster rooted in ``temp_dir`` (their command lines name it) and their children."""
    roots = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(temp_dir) in arg for arg in proc.info["cmdline"] or []):
                roots.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    found = {p.pid: p for p in roots}
    for root in roots:
        try:
            found.update({c.pid: c for c in root.children(recursive=True)})
        except psutil.NoSuchProcess:
            continue
    return [p for pid, p in found.items() if pid != os.getpid()]


def _stop(temp_dir: Path) -> None:
    """Stop this cluster's processes (and only them): SIGTERM, then SIGKILL what is left after 10 s."""
    procs = _cluster_processes(temp_dir)
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=10)


def _listening(procs: list[Any]) -> list[tuple[str, str, int]]:
    out = []
    for proc in procs:
        try:
            out += [(proc.name(), c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet")
                    if c.status == psutil.CONN_LISTEN]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


@pytest.fixture(scope="module")
def loopback_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for this module's tests (starting one takes 10-20 s on a loaded 2-core machine)."""
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.is_file():
        pytest.skip("the `ray` command is not installed next to this Python")
    token_file = tmp_path_factory.mktemp("ray-token") / "ray_token"
    token_file.write_text(secrets.token_hex(32), encoding="utf-8")
    token_file.chmod(0o600)
    temp_dir = Path(tempfile.mkdtemp(prefix="pbray-", dir="/tmp"))  # short: Ray's socket paths must fit
    cluster = Cluster(f"127.0.0.1:{_free_port()}", temp_dir, token_file)
    try:
        started = subprocess.run(
            [str(ray_bin), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={cluster.address.split(':')[1]}",
             "--include-dashboard=false", f"--temp-dir={temp_dir}", "--num-cpus=2", "--disable-usage-stats"],
            env=cluster.env(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0"), capture_output=True, text=True, timeout=180,
            check=False)
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        assert "Local node IP: 127.0.0.1" in started.stdout + started.stderr
        yield cluster
    finally:
        _stop(temp_dir)
        assert not _cluster_processes(temp_dir), "Ray processes of the test cluster are still running"
        shutil.rmtree(temp_dir, ignore_errors=True)


def _run(cluster: Cluster, write_spec: Any, out: Path, options: dict[str, Any], **env: str) -> tuple[int, str, float]:
    spec = write_spec(out=out, executor={"name": "ray", "options": options}, reporters=["json"])
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "prunebench", "run", str(spec), "--no-progress"],
                          env=cluster.env(**env), capture_output=True, text=True, timeout=540, check=False)
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split()), time.monotonic() - t0


def test_a_driver_joins_a_loopback_cluster_and_runs_a_suite_there(loopback_cluster: Cluster, write_spec: Any,
                                                                   tmp_path: Path) -> None:
    code, out, _ = _run(loopback_cluster, write_spec, tmp_path / "run",
                        {"address": loopback_cluster.address, "node_ip_address": "127.0.0.1"})
    assert code == 0, out[-4000:]
    cells = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))["cells"]
    assert cells, "the suite planned no cell"
    assert all(c["status"] == "done" for c in cells), cells
    assert all(isinstance(c["metrics"].get("map50"), float) for c in cells), cells
    # the driver connected to this cluster and its tasks ran in the cluster's workers (their logs are there)
    logs = list(loopback_cluster.temp_dir.glob("session_*/logs"))
    assert list(logs[0].glob("python-core-driver-*.log")), "no driver joined the test cluster"
    assert list(logs[0].glob("python-core-worker-*.log")), "the test cluster ran no worker"
    procs = _cluster_processes(loopback_cluster.temp_dir)
    listening = _listening(procs)
    assert any(port == int(loopback_cluster.address.split(":")[1]) for _, _, port in listening), listening
    wide = [(n, ip, port) for n, ip, port in listening
            if not ipaddress.ip_address(ip.removeprefix("::ffff:")).is_loopback]
    assert not wide, f"the cluster listens beyond loopback: {wide}"


def test_a_driver_that_cannot_join_fails_fast_saying_what_to_do(loopback_cluster: Cluster, write_spec: Any,
                                                                tmp_path: Path) -> None:
    # no node_ip_address: Ray would replace 127.0.0.1 by the network address and wait for a GCS not there
    code, out, took = _run(loopback_cluster, write_spec, tmp_path / "a", {"address": loopback_cluster.address})
    assert code == 2, out[-3000:]
    assert f"The Ray cluster at {loopback_cluster.address} advertises 127.0.0.1 (loopback)" in out
    assert "node_ip_address: 127.0.0.1" in out
    assert took < 60, took
    # a node address no node of the cluster advertises: Ray would wait 60 s, then fail
    code, out, took = _run(loopback_cluster, write_spec, tmp_path / "b",
                           {"address": loopback_cluster.address, "node_ip_address": "192.0.2.77"})
    assert code == 2, out[-3000:]
    assert "No node of the Ray cluster" in out
    assert "advertises node_ip_address 192.0.2.77 (its nodes advertise: 127.0.0.1)" in out
    assert took < 60, took
    # the wrong token: refused by the cluster at once, with how to give the right one (auth is never turned off)
    wrong = tmp_path / "wrong_token"
    wrong.write_text(secrets.token_hex(32), encoding="utf-8")
    code, out, took = _run(loopback_cluster, write_spec, tmp_path / "c",
                           {"address": loopback_cluster.address, "node_ip_address": "127.0.0.1"},
                           RAY_AUTH_TOKEN_PATH=str(wrong))
    assert code == 2, out[-3000:]
    assert "refused this driver's authentication token" in out
    assert "RAY_AUTH_TOKEN_PATH" in out
    assert took < 60, took
    # nothing listens there
    code, out, _ = _run(loopback_cluster, write_spec, tmp_path / "d",
                        {"address": f"127.0.0.1:{_free_port()}", "node_ip_address": "127.0.0.1"})
    assert code == 2, out[-3000:]
    assert "No Ray cluster answers at 127.0.0.1:" in out
