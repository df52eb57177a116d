"""A small conv net with YOLOv5's couplings (residual C3, SPPF concat, upsample + concat neck, Detect)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from prunebench.contracts import ModelFamily


class Conv(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool = True) -> None:
        super().__init__()
        self.cv1, self.cv2, self.add = Conv(c, c, 1), Conv(c, c, 3), shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True) -> None:
        super().__init__()
        c_ = c2 // 2
        self.cv1, self.cv2, self.cv3 = Conv(c1, c_), Conv(c1, c_), Conv(2 * c_, c2)
        self.m = nn.Sequential(*(Bottleneck(c_, shortcut) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.cv1, self.cv2 = Conv(c1, c1 // 2), Conv(c1 * 2, c2)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class ToyNet(nn.Module):
    """Backbone 0-4, neck 5-8, two output convs (the 'Detect' head)."""

    def __init__(self, w: int = 16, no: int = 6) -> None:
        super().__init__()
        self.model = nn.ModuleList([
            Conv(3, w, 3, 2),            # 0
            C3(w, w, 2),                 # 1
            Conv(w, 2 * w, 3, 2),        # 2
            C3(2 * w, 2 * w, 1),         # 3
            SPPF(2 * w, 2 * w),          # 4
            Conv(2 * w, w, 1),           # 5
            nn.Upsample(scale_factor=2),  # 6
            C3(2 * w, w, 1, False),      # 7 (input: cat(6, 1))
            Conv(w, w, 3, 2),            # 8
        ])
        self.out = nn.ModuleList([nn.Conv2d(w, no, 1), nn.Conv2d(w, no, 1)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        m = self.model
        x = m[0](x)
        p1 = m[1](x)
        x = m[4](m[3](m[2](p1)))
        x = m[5](x)
        x = m[7](torch.cat([m[6](x), p1], 1))
        y = m[8](x)
        return [self.out[0](x), self.out[1](y)]


class ToyFamily(ModelFamily):
    """The ModelFamily contract for ToyNet (only what pruning uses is real; the rest refuses)."""

    name = "toy"

    def build(self, nc: int, weights: str | Path | None = None) -> nn.Module:
        torch.manual_seed(0)
        net = ToyNet()
        for m in net.modules():  # distinct BN statistics so outputs depend on every channel
            if isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.1, 0.1)
        return net

    def loss(self, model: nn.Module, hyp: Any) -> Any:
        def fn(outputs: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            loss = sum(((o - targets.mean()) ** 2).mean() for o in outputs)
            return loss, loss.detach()[None]
        return fn

    def postprocess(self, outputs: Any, **kw: Any) -> list[torch.Tensor]:
        raise NotImplementedError

    def example_inputs(self, imgsz: int = 64, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, 3, imgsz, imgsz)

    def ignored_layers(self, model: nn.Module) -> list[nn.Module]:
        return list(model.out)

    def prunable_layers(self, model: nn.Module, scope: str) -> list[nn.Module]:
        last = 4 if scope == "backbone" else 8
        out = []
        for i, block in enumerate(model.model):
            if i > last:
                continue
            for name, m in block.named_modules():
                if isinstance(m, nn.Conv2d) and (scope == "all" or not name.endswith("cv1.conv") or
                                                 ".m." not in f".{name}"):
                    out.append(m)
        return out

    def default_hyp(self) -> dict[str, float]:
        return {}

    def save(self, model: nn.Module, path: str | Path, **meta: Any) -> Path:
        raise NotImplementedError

    def load(self, path: str | Path) -> nn.Module:
        raise NotImplementedError

    def fuse(self, model: nn.Module) -> nn.Module:
        raise NotImplementedError


@pytest.fixture
def toy_family() -> ToyFamily:
    return ToyFamily()


@pytest.fixture
def toy_model(toy_family: ToyFamily) -> nn.Module:
    return toy_family.build(nc=1).eval()


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """The test machine is shared: one intra-op thread per test process, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
