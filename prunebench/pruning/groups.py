"""Coupled channel groups of a model within a scope, found with Torch-Pruning's dependency graph."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch_pruning as tp
from torch import nn

from prunebench.contracts import ModelFamily
from prunebench.defaults import SCOPES
from prunebench.errors import UsageError
from prunebench.pruning.importance import GroupView

__all__ = ["ScopeGroups", "build_groups"]


@dataclass
class ScopeGroups:
    """The prunable groups of a scope: a group's convs share output channels and are pruned together."""

    dg: tp.DependencyGraph
    views: dict[str, GroupView]  # group key (its first output conv) -> layers
    roots: dict[str, nn.Conv2d]
    members: dict[str, list[str]]  # group key -> every conv whose OUTPUT channels the group prunes
    #: group key -> (conv, input channels it loses per removed channel) for convs whose INPUT the group prunes
    inputs: dict[str, list[tuple[str, float]]]
    notes: list[str] = field(default_factory=list)
    #: group key -> channel subsets (group indices) that must each keep a channel: the ranges of convs only
    #: partly tied to the group or reading only part of it, and what they leave (YOLOv8 C2f: cv1's halves)
    parts: dict[str, list[list[int]]] = field(default_factory=dict)
    #: group key -> conv -> share of the group's channels it carries (only convs partly tied, share < 1)
    shares: dict[str, dict[str, float]] = field(default_factory=dict)

    def keep_parts(self, key: str, keep: list[int], scores: torch.Tensor) -> list[int]:
        """``keep`` with, for every part left empty, its best-scoring channel in place of the worst kept one."""
        kept = set(keep)
        for part in self.parts.get(key, []):
            if kept & set(part):
                continue
            best = max(part, key=lambda i: (float(scores[i]), -i))
            others = [i for i in kept if not any(i in p and len(kept & set(p)) == 1 for p in self.parts[key])]
            if others and len(kept) > 1:
                kept.discard(min(others, key=lambda i: (float(scores[i]), -i)))
            kept.add(best)
        return sorted(kept)

    def group_of(self) -> dict[str, str]:
        """conv name -> group key, for every conv that belongs to a group."""
        return {name: key for key, names in self.members.items() for name in names}


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise UsageError(f"Unknown pruning scope {scope!r}.", hint="Allowed scopes: " + ", ".join(SCOPES))


def build_groups(model: nn.Module, family: ModelFamily, scope: str, example_inputs: torch.Tensor) -> ScopeGroups:
    """Trace ``model`` once and return the coupled groups whose output convs all lie in ``scope``.

    A group that couples a conv of the scope with one outside it (or with a protected layer) is left
    unpruned and said so in ``notes``. The model is traced in eval mode so BatchNorm statistics stay.
    """
    check_scope(scope)
    names = {m: n for n, m in model.named_modules()}
    order = {n: i for i, n in enumerate(names.values())}
    prunable = {id(m) for m in family.prunable_layers(model, scope)}  # type: ignore[arg-type]
    ignored = list(family.ignored_layers(model))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            dg = tp.DependencyGraph().build_dependency(model, example_inputs=example_inputs.to(device),
                                                       verbose=False)
    finally:
        model.train(was_training)
    # Roots in module order: a conv whose outputs are only partly tied to another's (YOLOv8 C2f: the second
    # half of cv1 with the bottleneck chain) must be reached from the wider conv, or its other part is lost.
    last = len(order)
    dg.module2node = dict(sorted(dg.module2node.items(), key=lambda kv: order.get(names.get(kv[0], ""), last)))

    views: dict[str, GroupView] = {}
    roots: dict[str, nn.Conv2d] = {}
    members: dict[str, list[str]] = {}
    inputs: dict[str, list[tuple[str, float]]] = {}
    notes: list[str] = []
    parts: dict[str, list[list[int]]] = {}
    shares: dict[str, dict[str, float]] = {}
    for group in dg.get_all_groups(ignored_layers=ignored, root_module_types=[nn.Conv2d]):
        outs: list[nn.Conv2d] = []
        bns: list[nn.Module] = []
        ins: list[tuple[nn.Conv2d, list[int]]] = []
        ranges: dict[nn.Module, list[int]] = {}
        in_ranges: list[list[int]] = []  # what each consumer reads (YOLOv8 C2f: the first bottleneck reads b)
        for item in group:
            dep, idxs = item.dep, item.idxs
            module = dep.target.module
            if dg.is_out_channel_pruning_fn(dep.handler):
                if isinstance(module, nn.Conv2d):
                    outs.append(module)
                    ranges[module] = sorted({int(i) for i in (getattr(item, "root_idxs", None) or idxs)})
                elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                    bns.append(module)
            elif isinstance(module, nn.Conv2d):
                ins.append((module, list(idxs)))
                in_ranges.append(sorted({int(i) for i in (getattr(item, "root_idxs", None) or idxs)}))
        outs = sorted(dict.fromkeys(outs), key=lambda m: order[names[m]])
        inside = [m for m in outs if id(m) in prunable]
        if not inside:
            continue
        out_names = [names[m] for m in outs]
        full = outs[0].out_channels
        if len(inside) < len(outs):
            outside = [names[m] for m in outs if id(m) not in prunable]
            notes.append(f"group {out_names[0]} left unpruned: coupled with {', '.join(outside)} outside "
                         f"scope {scope!r}")
            continue
        key = out_names[0]
        channels = int(outs[0].out_channels)
        # scores come from the layers that carry every channel of the group (partly tied ones are still pruned)
        views[key] = GroupView(key=key, channels=channels, convs_out=[m for m in outs if m.out_channels == full],
                               bns=[b for b in bns if getattr(b, "num_features", full) == full], convs_in=ins)
        roots[key] = outs[0]
        members[key] = out_names
        partial = {tuple(ranges[m]) for m in outs if m.out_channels != full and m in ranges}
        partial |= {tuple(r) for r in in_ranges if 0 < len(r) < full}
        if partial:
            shares[key] = {names[m]: m.out_channels / full for m in outs if m.out_channels != full}
            covered = {i for r in partial for i in r}
            rest = [i for i in range(full) if i not in covered]
            parts[key] = [list(r) for r in sorted(partial)] + ([rest] if rest else [])
        inputs[key] = [(names[m], len(i) / channels) for m, i in ins]
    ordered = sorted(views, key=lambda k: order[k])
    return ScopeGroups(dg=dg, views={k: views[k] for k in ordered}, roots={k: roots[k] for k in ordered},
                       members={k: members[k] for k in ordered}, inputs={k: inputs[k] for k in ordered},
                       notes=notes, parts=parts, shares=shares)


def prune_group(groups: ScopeGroups, key: str, remove: list[int]) -> None:
    """Physically remove output channels ``remove`` of group ``key`` (and every coupled layer)."""
    if not remove:
        return
    group = groups.dg.get_pruning_group(groups.roots[key], tp.prune_conv_out_channels, sorted(remove))
    group.prune()
