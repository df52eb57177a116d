"""``run``/``validate --device``: a spec written for another machine is checked and planned for this one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prunebench.cli import main
from prunebench.plugins import get_catalogue
from prunebench.spec import load_spec, with_device
from prunebench.suite.plan import build_plan


def test_validate_device_overrides_a_device_this_machine_lacks(write_spec: Any,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(device="cuda:7")
    assert main(["validate", str(spec)]) == 2  # refused: no such GPU here
    assert "cuda:7" in " ".join(capsys.readouterr().err.split())
    assert main(["validate", str(spec), "--device", "cpu"]) == 0
    assert "spec OK" in " ".join(capsys.readouterr().out.split())


def test_device_override_plans_the_stages_of_that_device(write_spec: Any, tmp_path: Path) -> None:
    cat = get_catalogue()
    cpu = load_spec(write_spec(name="cpu.yaml", device="cpu"))
    gpu = load_spec(write_spec(name="gpu.yaml", device="cuda:7"), check_plugins=False)
    overridden = with_device(gpu, "cpu")
    assert overridden.device == "cpu"
    assert gpu.device == "cuda:7"  # a copy: the loaded spec is unchanged
    keys = sorted(build_plan(overridden, cat).stages)
    assert keys == sorted(build_plan(cpu, cat).stages)  # the device is part of the stage keys...
    assert keys != sorted(build_plan(gpu, cat).stages)  # ...so a GPU run's stages are not reused on the CPU


def test_a_bad_device_override_is_refused(write_spec: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write_spec()), "--device", "gpu0"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--device: 'gpu0' is not a device" in err
    assert "cuda:N" in err
    assert "Traceback" not in err
