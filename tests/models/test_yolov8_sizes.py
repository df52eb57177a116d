"""Every figure of the official YOLOv8 n/s/m size table (ultralytics 8.4): layers, parameters, GFLOPs."""

from __future__ import annotations

import json

import pytest

from prunebench.cli import main
from prunebench.metrics.complexity import count_gradients, count_layers, count_params, gflops
from prunebench.models.yolov8.model import build_yolov8, fuse_model

# size, nc, unfused modules, params, GFLOPs, fused modules, params, GFLOPs (yolov8-facts.md, section 2)
TABLE = [
    ("n", 80, 225, 3_157_200, 8.855, 168, 3_151_904, 8.744),
    ("n", 1, 225, 3_011_043, 8.192, 168, 3_005_843, 8.083),
    ("s", 80, 225, 11_166_560, 28.812, 168, 11_156_544, 28.603),
    ("s", 1, 225, 11_135_987, 28.642, 168, 11_125_971, 28.433),
    ("m", 80, 295, 25_902_640, 79.314, 218, 25_886_080, 78.937),
    ("m", 1, 295, 25_856_899, 79.059, 218, 25_840_339, 78.682),
]


@pytest.mark.parametrize(("size", "nc", "layers", "params", "gf", "f_layers", "f_params", "f_gf"), TABLE)
def test_official_sizes(size: str, nc: int, layers: int, params: int, gf: float, f_layers: int, f_params: int,
                        f_gf: float) -> None:
    model = build_yolov8(size, nc)
    assert count_layers(model) == layers
    assert count_params(model) == params
    assert count_gradients(model) == params - 16  # the DFL's fixed 1x1 conv
    assert gflops(model, 640) == pytest.approx(gf, abs=6e-4)
    fused = fuse_model(model)
    assert count_layers(fused) == f_layers
    assert count_params(fused) == f_params
    assert gflops(fused, 640) == pytest.approx(f_gf, abs=6e-4)
    assert count_params(model) == params  # fuse() worked on a copy


@pytest.mark.parametrize(("nc", "params", "f_params", "f_gf"), [(80, 3_157_200, 3_151_904, 8.744),
                                                             (1, 3_011_043, 3_005_843, 8.083)])
def test_info_json_gives_the_official_figures(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                              fresh_catalogue: None, nc: int, params: int, f_params: int,
                                              f_gf: float) -> None:
    monkeypatch.setenv("PRUNEBENCH_DISABLE_PLUGINS", "all")
    assert main(["info", "yolov8n", "--nc", str(nc), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unfused"]["layers"] == 225
    assert data["unfused"]["params"] == params
    assert data["unfused"]["gradients"] == params - 16
    assert data["fused"]["layers"] == 168
    assert data["fused"]["params"] == f_params
    assert data["fused"]["gflops_640"] == pytest.approx(f_gf, abs=6e-4)
