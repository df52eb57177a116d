"""The trainer: the loss falls, checkpoints reload, resume is exact, pruned models train, NaN stops."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torch import nn

from prunebench.contracts import ModelFamily
from prunebench.engine.config import TrainConfig
from prunebench.engine.trainer import RESULTS_COLUMNS, TrainCallbacks, TrainingDiverged, train
from prunebench.errors import UsageError


def _cfg(**kw: object) -> TrainConfig:
    base = {"epochs": 2, "batch_size": 4, "imgsz": 64, "nbs": 4, "workers": 0, "warmup_epochs": 0.0}
    return TrainConfig.model_validate({**base, **kw})


def _model(family: ModelFamily, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return family.build(nc=1)


def _total(row: dict[str, float]) -> float:
    return row["train/box_loss"] + row["train/obj_loss"] + row["train/cls_loss"]


def test_loss_falls_and_outputs_are_written(tiny_family: ModelFamily, tiny_data: Path, tmp_path: Path) -> None:
    # augmentation off: on 8 tiny images, 12 steps' epoch-mean loss is otherwise dominated by the mosaic draws
    no_aug = {"lr0": 0.1, "mosaic": 0.0, "scale": 0.0, "translate": 0.0, "fliplr": 0.0}
    res = train(_model(tiny_family), tiny_family, tiny_data, _cfg(epochs=6, hyp=no_aug), tmp_path, seed=0)
    assert res.epochs_run == 6
    assert len(res.history) == 6
    assert _total(res.history[-1]) < _total(res.history[0])
    assert not res.model.training
    with open(tmp_path / "results.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == RESULTS_COLUMNS
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4", "5"]
    assert res.best_path == tmp_path / "weights" / "best.pt"
    assert res.best_path.is_file()
    assert res.last_path.is_file()


def test_checkpoints_reload(tiny_family: ModelFamily, tiny_data: Path, tmp_path: Path) -> None:
    res = train(_model(tiny_family), tiny_family, tiny_data, _cfg(epochs=1), tmp_path, seed=0)
    x = torch.rand(1, 3, 64, 64)
    best = tiny_family.load(res.best_path).eval()
    with torch.no_grad():
        assert torch.allclose(best(x)[0], res.model(x)[0], atol=1e-6)
    tiny_family.load(res.last_path)
    state = torch.load(tmp_path / "weights" / "last_state.pt", weights_only=True)
    assert state["epoch"] == 0
    assert state["ema"]["updates"] > 0


def test_resume_continues_with_the_same_state(tiny_family: ModelFamily, tiny_data: Path, tmp_path: Path) -> None:
    cfg = _cfg(epochs=3)
    straight = train(_model(tiny_family), tiny_family, tiny_data, cfg, tmp_path / "a", seed=1)

    def stop_after_first(epoch: int, row: dict[str, float]) -> None:
        if epoch == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_model(tiny_family), tiny_family, tiny_data, cfg, tmp_path / "b", seed=1,
              callbacks=TrainCallbacks(on_epoch_end=[stop_after_first]))
    interrupted = torch.load(tmp_path / "b" / "weights" / "last_state.pt", weights_only=True)
    assert interrupted["epoch"] == 0
    epochs_seen: list[int] = []
    resumed = train(_model(tiny_family, seed=99), tiny_family, tiny_data, cfg, tmp_path / "b", seed=1,
                    callbacks=TrainCallbacks(on_epoch_end=[lambda e, r: epochs_seen.append(e)]))
    assert epochs_seen == [1, 2]
    assert [r["epoch"] for r in resumed.history] == [0.0, 1.0, 2.0]
    a = torch.load(tmp_path / "a" / "weights" / "last_state.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "weights" / "last_state.pt", weights_only=True)
    assert a["ema"]["updates"] == b["ema"]["updates"]
    for k, v in a["ema"]["weights"].items():
        assert torch.allclose(v.float(), b["ema"]["weights"][k].float(), atol=1e-5), k
    for k, v in a["optimizer"]["state"].items():
        assert torch.allclose(v["momentum_buffer"], b["optimizer"]["state"][k]["momentum_buffer"], atol=1e-5)
    for ra, rb in zip(straight.history, resumed.history, strict=True):
        assert ra["train/box_loss"] == pytest.approx(rb["train/box_loss"], rel=1e-4)
    # a finished run resumes to an immediate return
    again = train(_model(tiny_family), tiny_family, tiny_data, cfg, tmp_path / "b", seed=1)
    assert len(again.history) == 3


def test_a_pruned_model_trains_and_reloads(tiny_family: ModelFamily, tiny_data: Path, tmp_path: Path) -> None:
    import torch_pruning as tp

    model = _model(tiny_family)
    before = sum(p.numel() for p in model.parameters())
    pruner = tp.pruner.MagnitudePruner(model, tiny_family.example_inputs(64),
                                       importance=tp.importance.MagnitudeImportance(p=1), pruning_ratio=0.5,
                                       ignored_layers=tiny_family.ignored_layers(model))
    pruner.step()
    after = sum(p.numel() for p in model.parameters())
    assert after < before
    res = train(model, tiny_family, tiny_data, _cfg(epochs=1), tmp_path, seed=0)
    assert sum(p.numel() for p in res.model.parameters()) == after
    assert sum(p.numel() for p in tiny_family.load(res.last_path).parameters()) == after


def test_nan_loss_stops_with_epoch_and_batch(tiny_family: ModelFamily, tiny_data: Path, tmp_path: Path) -> None:
    model = _model(tiny_family)
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if n.endswith("conv.weight")).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 1/2, batch 1/2") as info:
        train(model, tiny_family, tiny_data, _cfg(), tmp_path, seed=0, stage="finetune")
    assert "(finetune)" in str(info.value)
    assert "train.hyp.lr0" in (info.value.hint or "")
    assert info.value.exit_code == 2


def test_after_backward_sees_gradients(tiny_family: ModelFamily, tiny_data: Path, tmp_path: Path) -> None:
    seen: list[float] = []

    def l1_on_bn(model: nn.Module) -> None:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                assert m.weight.grad is not None
                m.weight.grad.add_(1e-3 * torch.sign(m.weight.data))
        seen.append(1.0)

    rows: list[int] = []
    train(_model(tiny_family), tiny_family, tiny_data, _cfg(epochs=1), tmp_path, seed=0,
          callbacks=TrainCallbacks(after_backward=[l1_on_bn], on_epoch_end=[lambda e, r: rows.append(e)]))
    assert len(seen) == 2
    assert rows == [0]


def test_unknown_hyp_key_is_a_usage_error(tiny_family: ModelFamily, tiny_data: Path, tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"unknown hyper-parameter 'lr_0'. Did you mean 'lr0'\?"):
        _cfg(hyp={"lr_0": 0.1})  # no model family has it: refused with the budget (prunebench.engine.hyp)
    with pytest.raises(UsageError, match=r"unknown hyper-parameter 'dfl'"):  # YOLOv8's, not this family's
        train(_model(tiny_family), tiny_family, tiny_data, _cfg(hyp={"dfl": 1.0}), tmp_path)


def test_class_count_mismatch_is_a_usage_error(tiny_family: ModelFamily, tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="predicts 3 classes but .* has nc=1"):
        train(tiny_family.build(nc=3), tiny_family, tiny_data, _cfg(), tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is missing")
def test_cuda_without_cuda_is_a_usage_error(tiny_family: ModelFamily, tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="'cuda:0' requested but CUDA is not available"):
        train(_model(tiny_family), tiny_family, tiny_data, _cfg(), tmp_path, device="cuda:0")


def test_validate_first_records_the_model_as_it_came_in(tiny_family: ModelFamily, tiny_data: Path,
                                                        tmp_path: Path) -> None:
    from prunebench.engine.config import EvalConfig
    from prunebench.engine.validator import validate

    cfg = _cfg(epochs=1)
    model = _model(tiny_family, seed=3)
    before = validate(model, tiny_family, tiny_data, EvalConfig(imgsz=64, batch_size=8), device="cpu")
    res = train(model, tiny_family, tiny_data, cfg, tmp_path, seed=0, validate_first=True)
    assert res.initial is not None
    assert res.initial["epoch"] == -1.0
    assert res.initial["metrics/mAP_0.5"] == pytest.approx(before.metrics.map50, abs=1e-9)
    assert res.initial["metrics/recall"] == pytest.approx(before.metrics.recall, abs=1e-9)
    assert [r["epoch"] for r in res.history] == [0.0]  # not part of the epochs, results.csv or early stopping
    with (tmp_path / "results.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 1
    again = train(_model(tiny_family), tiny_family, tiny_data, cfg, tmp_path, seed=0, validate_first=True)
    # kept in last_state.pt, not recomputed from the trained model
    assert again.initial == pytest.approx(res.initial, nan_ok=True)
    plain = train(_model(tiny_family, seed=3), tiny_family, tiny_data, cfg, tmp_path / "plain", seed=0)
    assert plain.initial is None
