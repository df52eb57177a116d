"""The YOLOv5 model: official module tree and keys, outputs in both modes, decode arithmetic, bias init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import prunebench as pb
from prunebench.errors import UsageError
from prunebench.models.yolov5.common import C3, SPPF, Bottleneck, Conv
from prunebench.models.yolov5.family import YOLOv5m, YOLOv5n, YOLOv5s
from prunebench.models.yolov5.yolo import Detect, build_yolov5, fuse_model


@pytest.fixture(scope="module")
def tiny() -> nn.Module:
    torch.manual_seed(0)
    return build_yolov5("n", 3, width_multiple=0.0625)


def test_official_state_dict_keys() -> None:
    model = build_yolov5("n", 80)
    sd = model.state_dict()
    for key in ("model.0.conv.weight", "model.0.bn.running_var", "model.2.m.0.cv1.conv.weight",
                "model.9.cv2.bn.bias", "model.24.anchors", "model.24.m.0.weight", "model.24.m.2.bias"):
        assert key in sd, key
    assert sd["model.24.m.0.weight"].shape == (255, 64, 1, 1)
    assert not any("stride" in k or "grid" in k for k in sd)
    n_conv = sum(isinstance(m, Conv) for m in model.modules())
    assert n_conv == 57
    assert len(sd) == 6 * n_conv + 7


def test_layer_attributes_and_types() -> None:
    model = build_yolov5("s", 80)
    types = [type(m) for m in model.model]
    assert types[0] is Conv
    assert types[2] is C3
    assert types[9] is SPPF
    assert types[11] is nn.Upsample
    assert isinstance(model.model[-1], Detect)
    assert [m.i for m in model.model] == list(range(25))
    assert model.model[12].f == [-1, 6]
    assert model.model[24].f == [17, 20, 23]
    assert model.save == [4, 6, 10, 14, 17, 20, 23]
    assert model.model[0].np == 3 * 32 * 36 + 64  # conv 6x6 (3->32) + BN
    assert len(model.model[6].m) == 3
    assert len(build_yolov5("m", 80, width_multiple=0.0625).model[6].m) == 6
    bn = model.model[0].bn
    assert bn.eps == 1e-3
    assert bn.momentum == 0.03
    assert model.model[2].m[0].add
    assert not model.model[13].m[0].add


def test_detect_attributes_and_bias_init() -> None:
    model = build_yolov5("n", 80)
    d = model.model[-1]
    assert (d.nc, d.na, d.nl, d.no) == (80, 3, 3, 85)
    assert d.stride.tolist() == [8.0, 16.0, 32.0]
    assert torch.allclose(d.anchors[0], torch.tensor([[10, 13], [16, 30], [33, 23]]) / 8.0)
    assert torch.allclose(d.anchors[2], torch.tensor([[116, 90], [156, 198], [373, 326]]) / 32.0)
    for mi, s in zip(d.m, (8, 16, 32)):
        b = mi.bias.detach().view(3, -1)
        bound = 1 / math.sqrt(mi.in_channels)  # default Conv2d bias init is U(-bound, bound)
        obj = b[:, 4] - math.log(8 / (640 / s) ** 2)
        cls = b[:, 5:] - math.log(0.6 / (80 - 0.99999))
        assert obj.abs().max() <= bound
        assert cls.abs().max() <= bound
    d1 = build_yolov5("n", 1).model[-1]
    assert (d1.m[0].bias.detach().view(3, -1)[:, 5] - 11.0).abs().max() < 0.2


def test_train_and_eval_outputs(tiny: nn.Module) -> None:
    x = torch.rand(2, 3, 64, 96)
    tiny.train()
    raw = tiny(x)
    assert [tuple(t.shape) for t in raw] == [(2, 3, 8, 12, 8), (2, 3, 4, 6, 8), (2, 3, 2, 3, 8)]
    tiny.eval()
    with torch.no_grad():
        dec, raw2 = tiny(x)
    assert dec.shape == (2, 3 * (96 + 24 + 6), 8)
    assert [t.shape for t in raw2] == [t.shape for t in raw]
    # decode by hand for level 1, anchor 2, cell (y=1, x=4)
    d = tiny.model[-1]
    r = raw2[1][0, 2, 1, 4].sigmoid()
    stride, anchor = 16.0, d.anchors[1, 2] * 16.0
    xy = (r[:2] * 2 - 0.5 + torch.tensor([4.0, 1.0])) * stride
    wh = (r[2:4] * 2) ** 2 * anchor
    row = 3 * 8 * 12 + 2 * (4 * 6) + 1 * 6 + 4
    assert torch.allclose(dec[0, row, :4], torch.cat((xy, wh)), atol=1e-5)
    assert torch.allclose(dec[0, row, 4:], r[4:], atol=1e-6)


def test_fuse_matches_unfused_in_eval(tiny: nn.Module) -> None:
    torch.manual_seed(1)
    model = build_yolov5("n", 3, width_multiple=0.0625)
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    fused = fuse_model(model)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x)[0], fused(x)[0], atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert not fused.training


def _names(model: nn.Module, convs: list[nn.Module]) -> set[str]:
    ids = {id(c) for c in convs}
    return {n for n, m in model.named_modules() if id(m) in ids}


def test_prunable_layers_scopes() -> None:
    fam = YOLOv5n()
    model = build_yolov5("n", 80)
    bb = _names(model, fam.prunable_layers(model, "backbone"))
    neck = _names(model, fam.prunable_layers(model, "backbone+neck"))
    every = _names(model, fam.prunable_layers(model, "all"))
    assert {"model.0.conv", "model.1.conv", "model.2.cv1.conv", "model.2.cv3.conv", "model.2.m.0.cv2.conv",
            "model.9.cv1.conv", "model.9.cv2.conv"} <= bb
    assert "model.2.m.0.cv1.conv" not in bb
    assert "model.10.conv" not in bb
    assert all(int(n.split(".")[1]) <= 9 for n in bb)
    assert bb < neck
    assert "model.23.cv3.conv" in neck
    assert "model.17.m.0.cv1.conv" not in neck
    assert neck < every
    assert "model.17.m.0.cv1.conv" in every
    assert "model.2.m.0.cv1.conv" in every
    assert len(bb) == 26
    assert len(neck) == 46
    assert len(every) == 57
    all_convs = {n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    ignored = _names(model, fam.ignored_layers(model))
    assert ignored == {"model.24.m.0", "model.24.m.1", "model.24.m.2"}
    assert every == all_convs - ignored
    with pytest.raises(UsageError, match="scope"):
        fam.prunable_layers(model, "head")  # type: ignore[arg-type]


def test_registered_through_the_plugin_hook(monkeypatch: pytest.MonkeyPatch, fresh_catalogue: None) -> None:
    monkeypatch.setenv("PRUNEBENCH_DISABLE_PLUGINS", "all")  # bundled plugins only
    assert {"yolov5n", "yolov5s", "yolov5m"} <= set(pb.list_models("yolov5*"))
    assert isinstance(pb.get_model_family("yolov5m"), YOLOv5m)
    entry = pb.get_catalogue().models.get("yolov5s")
    assert entry is YOLOv5s


def test_family_options() -> None:
    fam = YOLOv5s({"width_multiple": 0.0625, "depth_multiple": 0.33})
    m = fam.build(nc=2)
    assert m.model[0].conv.out_channels == 8
    assert m.nc == 2
    assert fam.example_inputs(64, 2).shape == (2, 3, 64, 64)
    with pytest.raises(UsageError):
        fam.example_inputs(65)
    hyp = fam.default_hyp()
    assert hyp["lr0"] == 0.01
    assert hyp["anchor_t"] == 4.0
    assert hyp["mosaic"] == 1.0
    assert len(hyp) == 29
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        YOLOv5n({"width_multiple": 0})
    with pytest.raises(ValidationError):
        YOLOv5n({"bogus": 1})
    with pytest.raises(ValidationError):
        YOLOv5n({"anchors": [[10, 13, 16]]})
    custom = YOLOv5n({"width_multiple": 0.0625,
                          "anchors": [[8, 8, 16, 16, 24, 24], [32, 32, 48, 48, 64, 64],
                                   [96, 96, 128, 128, 256, 256]]}).build(nc=1)
    assert torch.allclose(custom.model[-1].anchors[0, 0], torch.tensor([1.0, 1.0]))


def test_bottleneck_module() -> None:
    b = Bottleneck(8, 8)
    assert b.add
    assert b.cv1.conv.out_channels == 4
    assert not Bottleneck(8, 16).add
