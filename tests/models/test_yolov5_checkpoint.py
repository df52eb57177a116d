"""Checkpoints: prunebench round trips (pruned shapes, fp16), state_dicts, and refusing code in pickles."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from prunebench.errors import UsageError
from prunebench.metrics.complexity import count_params
from prunebench.models.yolov5.family import YOLOv5n, YOLOv5s
from prunebench.models.yolov5.yolo import build_yolov5


def _tiny(nc: int = 3, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_yolov5("n", nc, width_multiple=0.0625)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _out(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)[0]


def test_roundtrip_unpruned(tmp_path: Path) -> None:
    fam = YOLOv5n()
    model = _tiny()
    model.names = ["leaf", "bud", "stem"]
    path = fam.save(model, tmp_path / "w.pt", epoch=3, note="hello")
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "prunebench"
    assert raw["version"] == 1
    assert raw["model"] == "yolov5n"
    assert raw["nc"] == 3
    assert raw["names"] == ["leaf", "bud", "stem"]
    assert raw["meta"]["epoch"] == 3
    assert raw["anchors"][2] == [116.0, 90.0, 156.0, 198.0, 373.0, 326.0]
    loaded = fam.load(path)
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(_out(model, x), _out(loaded, x))
    assert loaded.names == ["leaf", "bud", "stem"]
    assert loaded.nc == 3
    assert fam.build(nc=80, weights=path).nc == 3  # the file says how many classes


def test_pruned_model_reloads_without_repruning(tmp_path: Path, pruned) -> None:
    fam = YOLOv5n()
    model = pruned(_tiny())
    x = torch.rand(2, 3, 64, 64)
    before = _out(model, x)
    path = fam.save(model, tmp_path / "pruned.pt")
    loaded = fam.load(path)
    assert count_params(loaded) == count_params(model) < count_params(_tiny())
    assert loaded.model[24].m[0].in_channels == model.model[24].m[0].in_channels
    assert loaded.model[2].m[0].cv1.conv.out_channels == model.model[2].m[0].cv1.conv.out_channels
    assert torch.equal(before, _out(loaded, x))
    loaded.train()
    assert [t.shape for t in loaded(x)] == [t.shape for t in model.train()(x)]


def test_fp16_file(tmp_path: Path) -> None:
    fam = YOLOv5n({"half": True})
    model = _tiny()
    p16 = fam.save(model, tmp_path / "h.pt")
    p32 = YOLOv5n().save(model, tmp_path / "f.pt")
    sd = torch.load(p16, weights_only=True)["state_dict"]
    assert sd["model.0.conv.weight"].dtype == torch.float16
    assert p16.stat().st_size < 0.7 * p32.stat().st_size
    loaded = fam.load(p16)
    assert loaded.model[0].conv.weight.dtype == torch.float32
    x = torch.rand(1, 3, 64, 64)
    assert torch.allclose(_out(model, x), _out(loaded, x), atol=2e-2, rtol=1e-2)


def test_plain_state_dict_file(tmp_path: Path, pruned) -> None:
    model = pruned(_tiny(nc=5))
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    loaded = YOLOv5s().load(tmp_path / "sd.pt")
    assert loaded.nc == 5
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(_out(model, x), _out(loaded, x))


class _Evil:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple:
        import os

        return (os.system, (self.cmd,))


class _EvilExec:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple:
        import builtins

        return (builtins.exec, (self.code,))


@pytest.mark.parametrize("zip_format", [True, False])
@pytest.mark.parametrize("kind", ["system", "exec"])
def test_malicious_pickle_is_refused(tmp_path: Path, zip_format: bool, kind: str) -> None:
    marker = tmp_path / "pwned"
    payload = (_Evil(f"touch {marker}") if kind == "system"
               else _EvilExec(f"open({str(marker)!r}, 'w').write('x')"))
    path = tmp_path / "evil.pt"
    obj = {"model": payload, "epoch": 1}
    if zip_format:
        torch.save(obj, path)
    else:
        path.write_bytes(pickle.dumps(obj))
    with pytest.raises(UsageError) as err:
        YOLOv5n().load(path)
    msg = str(err.value)
    assert str(path) in msg
    assert ("system" in msg or "exec" in msg)
    assert not marker.exists()


def test_unknown_or_missing_files(tmp_path: Path) -> None:
    fam = YOLOv5n()
    with pytest.raises(UsageError, match="not found"):
        fam.load(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(UsageError, match="junk.pt"):
        fam.load(tmp_path / "junk.pt")
    torch.save({"a": 1}, tmp_path / "other.pt")
    with pytest.raises(UsageError, match="other.pt"):
        fam.load(tmp_path / "other.pt")
    torch.save({"x.weight": torch.zeros(2)}, tmp_path / "notyolo.pt")
    with pytest.raises(UsageError, match="anchors"):
        fam.load(tmp_path / "notyolo.pt")


def test_transfer_to_another_nc(tmp_path: Path, pruned) -> None:
    source = pruned(_tiny(nc=80))
    path = YOLOv5n().save(source, tmp_path / "coco.pt")
    assert YOLOv5n().build(nc=1, weights=path).nc == 80  # default: the file's nc wins
    model = YOLOv5n({"transfer": True}).build(nc=1, weights=path)
    assert model.nc == 1
    assert model.names == ["0"]
    head = model.model[-1]
    assert [c.out_channels for c in head.m] == [18, 18, 18]
    assert [c.in_channels for c in head.m] == [c.in_channels for c in source.model[-1].m]
    src_sd, sd = source.state_dict(), model.state_dict()
    body = [k for k in src_sd if not k.startswith("model.24.m.")]
    assert all(torch.equal(src_sd[k], sd[k]) for k in body)
    # the new output convs carry the official bias init: objectness log(8 / (640 / 8)^2) + U(-b, b)
    b = head.m[0].bias.detach().view(3, -1)[:, 4]
    assert (b - (-6.685)).abs().max() < 1.0
    x = torch.rand(1, 3, 64, 64)
    assert _out(model, x).shape == (1, 3 * (64 + 16 + 4), 6)


def test_names_given_at_save_and_fixed_nc(tmp_path: Path) -> None:
    model = _tiny(nc=2)
    path = YOLOv5n().save(model, tmp_path / "n.pt", names={0: "bud", 1: "leaf"}, epoch=1)
    raw = torch.load(path, weights_only=True)
    assert raw["names"] == ["bud", "leaf"]
    assert "names" not in raw["meta"]
    assert YOLOv5n().load(path).names == ["bud", "leaf"]
    model.nc = 2  # unchanged: allowed
    with pytest.raises(ValueError, match="predicts 2 classes"):
        model.nc = 3


@pytest.mark.parametrize("scope", ["backbone", "all"])
def test_model_pruned_by_a_registered_pruner_reloads(tmp_path: Path, scope: str, monkeypatch: pytest.MonkeyPatch,
                                                     fresh_catalogue: None) -> None:
    import prunebench as pb

    monkeypatch.setenv("PRUNEBENCH_DISABLE_PLUGINS", "all")
    if "l1" not in pb.list_pruners():
        pytest.skip("no l1 pruner registered in this checkout")
    fam = YOLOv5n({"width_multiple": 0.125})
    model = _tiny(nc=2)
    pruned_model, record = pb.prune(model, "l1", level=0.5, family=fam, imgsz=64, scope=scope)
    assert record.params_after < record.params_before
    path = fam.save(pruned_model, tmp_path / "p.pt")
    loaded = fam.load(path)
    assert count_params(loaded) == count_params(pruned_model)
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(_out(pruned_model, x), _out(loaded, x))
