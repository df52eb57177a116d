"""A YOLO model as a sequence of layers wired by from-indices: its forward pass, head properties and layer wrapping."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["LayerShape", "LayeredDetectionModel", "make_layer", "parse_layers"]

#: ``shape(mod, args, n, ch, f, c2) -> (args, n, c2)``: a layer's arguments, repeats and output channels from
#: its yaml ``args`` and repeats ``n``, the output channels ``ch`` of the layers so far, its from-index ``f``
#: and the previous layer's output channels ``c2``
LayerShape = Callable[[type[nn.Module], list[Any], int, list[int], Any, int], tuple[list[Any], int, int]]


def make_layer(mod: type[nn.Module], args: list[Any], n: int, i: int, f: int | list[int], name: str) -> nn.Module:
    """``n`` copies of ``mod(*args)`` (one module if ``n`` is 1) tagged with ``.i``, ``.f``, ``.type``, ``.np``."""
    m_ = nn.Sequential(*(mod(*args) for _ in range(n))) if n > 1 else mod(*args)
    m_.i, m_.f, m_.type = i, f, name
    m_.np = sum(x.numel() for x in m_.parameters())
    return m_


def parse_layers(spec: Sequence[tuple[int | list[int], int, str, list[Any]]], modules: Mapping[str, type[nn.Module]],
                 d: Mapping[str, Any], ch_in: int, shape: LayerShape) -> tuple[nn.Sequential, list[int]]:
    """The layers of the yaml ``spec`` (from, repeats, module, args) and the indices whose outputs are kept.

    Repeats are scaled by ``d["depth_multiple"]`` (``d["repeats"]`` overrides them by layer index).
    """
    gd = d["depth_multiple"]
    repeats: Mapping[int, int] = d.get("repeats", {})
    layers: list[nn.Module] = []
    save: list[int] = []
    ch = [ch_in]
    c2 = ch_in
    for i, (f, n, name, args) in enumerate(spec):
        mod = modules[name]
        n = max(round(n * gd), 1) if n > 1 else n
        if i in repeats:
            n = repeats[i]
        args, n, c2 = shape(mod, args, n, ch, f, c2)
        m_ = make_layer(mod, args, n, i, f, name)
        save.extend(x % i for x in ([f] if isinstance(f, int) else f) if x != -1)
        layers.append(m_)
        if i == 0:
            ch = []
        ch.append(c2)
    return nn.Sequential(*layers), sorted(save)


class LayeredDetectionModel(nn.Module):
    """``.model`` is an ``nn.Sequential`` of layers with ``.f`` (from) and ``.i``; ``.model[-1]`` is the head."""

    model: nn.Sequential
    save: list[int]
    yaml: dict[str, Any]

    def _init_layers(self, cfg: Mapping[str, Any], ch: int,
                     parse: Callable[[Mapping[str, Any], int], tuple[nn.Sequential, list[int]]]) -> None:
        """Complete ``self.yaml`` with ``cfg``'s repeats, then build the layers with ``parse``; names are 0..nc-1."""
        if cfg.get("repeats"):
            self.yaml["repeats"] = {int(k): int(v) for k, v in dict(cfg["repeats"]).items()}
        self.model, self.save = parse(self.yaml, ch)
        self.names: list[str] = [str(i) for i in range(self.yaml["nc"])]
        self.inplace = True

    @property
    def nc(self) -> int:
        return self.model[-1].nc

    @nc.setter
    def nc(self, value: int) -> None:
        if int(value) != self.model[-1].nc:
            raise ValueError(f"this model's Detect head predicts {self.model[-1].nc} classes; it cannot be set "
                             f"to {value}: build a new model (or load with the family option transfer=True)")

    @property
    def stride(self) -> torch.Tensor:
        return self.model[-1].stride

    def forward(self, x: torch.Tensor) -> Any:
        y: list[torch.Tensor | None] = []
        for m in self.model:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            x = m(x)
            y.append(x if m.i in self.save else None)
        return x
