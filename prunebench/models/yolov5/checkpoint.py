"""Safe checkpoint I/O: prunebench files, official YOLOv5 ``.pt`` files and state_dicts, never running code.

Official YOLOv5 checkpoints pickle a whole ``models.yolo.DetectionModel``. They are read with a restricted
unpickler: tensors and plain data are rebuilt, every ``models.*`` / ``torch.nn.modules.*`` class is mapped
to an inert stand-in that only collects its ``__dict__``, and any other global is refused.
"""

from __future__ import annotations

import codecs
import collections
import pickle
import types
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunebench.errors import UsageError
from prunebench.models.yolov5.yolo import DetectionModel, build_yolov5

__all__ = ["FORMAT", "VERSION", "CheckpointInfo", "complete_info", "pop_names", "read_checkpoint", "read_state_dict",
           "resize_to_state_dict", "restricted_load", "save_checkpoint", "state_dict_to_model", "stored_state_dict",
           "write_atomically"]

FORMAT = "prunebench"
VERSION = 1

#: globals a checkpoint may name that rebuild tensors or plain data (nothing here can run code)
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "object"): object,
    ("builtins", "bytearray"): bytearray,
    ("_codecs", "encode"): codecs.encode,  # protocol-2 pickles store bytes as (latin-1 str, "latin1")
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
}
for _dt in ("float16", "float32", "float64", "bfloat16", "int8", "uint8", "int16", "int32", "int64", "bool"):
    _SAFE_GLOBALS[("torch", _dt)] = getattr(torch, _dt)


_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

#: Ultralytics 8.x pickles (``ultralytics.nn.tasks.DetectionModel``, ``...modules.conv.Conv``, ``...block.C2f``,
#: ``...head.Detect``; 8.0's ``ultralytics.yolo.*``): mapped to inert stand-ins, never imported
_ULTRALYTICS_MODULES = ("ultralytics.nn.", "ultralytics.yolo.")
_ULTRALYTICS_DATA = {("ultralytics.utils", "IterableSimpleNamespace")}  #: a training-args namespace (plain data)


class _Inert:
    """Stand-in for a pickled class (a YOLOv5 or torch.nn module): it only stores its state."""

    _qualname: str = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)


_INERT_CACHE: dict[str, type] = {}


def _inert_class(module: str, name: str) -> type:
    key = f"{module}.{name}"
    if key not in _INERT_CACHE:
        _INERT_CACHE[key] = type(name, (_Inert,), {"_qualname": key, "__module__": __name__})
    return _INERT_CACHE[key]


def _numpy_global(module: str, name: str) -> Any:
    """numpy scalars and arrays (e.g. ``best_fitness`` in a last.pt): rebuilt from raw bytes, nothing run."""
    if not module.startswith("numpy"):
        return None
    import numpy as np

    multiarray = getattr(getattr(np, "_core", None), "multiarray", None) or np.core.multiarray
    if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("scalar", "_reconstruct"):
        return getattr(multiarray, name)
    if module == "numpy" and name in ("dtype", "ndarray"):
        return getattr(np, name)
    if module == "numpy.dtypes" and name.endswith("DType") and hasattr(np, "dtypes"):
        return getattr(np.dtypes, name)
    return None


class _RestrictedUnpickler(pickle.Unpickler):
    source: str = "<checkpoint>"

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)  # protocol-2 pickles name Python 2 modules
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if module == "copyreg" and name == "_reconstructor":
            return _reconstructor
        if (module.split(".", maxsplit=1)[0] in ("models", "utils") or module.startswith("torch.nn.modules.")
                or module.startswith(_ULTRALYTICS_MODULES) or (module, name) in _ULTRALYTICS_DATA):
            return _inert_class(module, name)
        np_obj = _numpy_global(module, name)
        if np_obj is not None:
            return np_obj
        raise UsageError(
            f"Refused to load {self.source}: it names the global '{module}.{name}', which a checkpoint "
            f"has no need for (loading it could run code).",
            hint="Only tensors, plain data and YOLOv5/Ultralytics/torch.nn module state are accepted. "
                 "Re-save the weights as a state_dict from a trusted environment.")


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    if not (isinstance(cls, type) and issubclass(cls, _Inert)) or base is not object:
        raise UsageError(f"Refused to load a checkpoint: copyreg._reconstructor of {cls!r} is not allowed.")
    return object.__new__(cls)


def _pickle_module(source: str) -> types.ModuleType:
    mod = types.ModuleType("prunebench_restricted_pickle")

    class Unpickler(_RestrictedUnpickler):
        pass

    Unpickler.source = source

    def load(f: Any, **kwargs: Any) -> Any:
        return Unpickler(f, **kwargs).load()

    mod.Unpickler = Unpickler  # type: ignore[attr-defined]
    mod.load = load  # type: ignore[attr-defined]
    mod.__version__ = "prunebench"  # type: ignore[attr-defined]
    return mod


def restricted_load(path: str | Path) -> Any:
    """Load ``path`` without executing code: ``torch.load(weights_only=True)`` first, then the restricted
    unpickler (official YOLOv5 pickles). Raises :class:`UsageError` naming the file and any refused global."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"Checkpoint {path} is a folder, not a file.", hint="Give the .pt file inside it.")
    if not path.is_file():
        raise UsageError(f"Checkpoint not found: {path}", hint="Check the path given as weights.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # whatever the safe loader refuses (a text file gives KeyError): the restricted unpickler
        pass
    try:
        return torch.load(path, map_location="cpu", pickle_module=_pickle_module(str(path)), weights_only=False)
    except UsageError:
        raise
    except Exception as exc:  # a truncated, foreign or garbage file
        raise UsageError(f"Cannot read checkpoint {path}: {type(exc).__name__}: {exc}",
                         hint="Expected a prunebench checkpoint, an official YOLOv5 .pt or a state_dict "
                              "saved with torch.save.") from exc


# --------------------------------------------------------------------------------------------------
# Turning what was loaded into a state_dict and metadata
# --------------------------------------------------------------------------------------------------


class CheckpointInfo(dict):
    """What a checkpoint says: ``state_dict``, ``nc``, ``names``, ``anchors``, ``model``, ``meta``, ``format``."""


def _inert_state_dict(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    d = getattr(obj, "__dict__", {})
    for key in ("_parameters", "_buffers"):
        non_persistent = d.get("_non_persistent_buffers_set", set()) if key == "_buffers" else set()
        for name, t in (d.get(key) or {}).items():
            if t is not None and name not in non_persistent:
                out[prefix + name] = t.detach() if isinstance(t, torch.Tensor) else t
    for name, child in (d.get("_modules") or {}).items():
        if child is not None:
            out.update(_inert_state_dict(child, f"{prefix}{name}."))
    return out


def _names_list(names: Any, nc: int) -> list[str]:
    if isinstance(names, Mapping):
        return [str(names.get(i, names.get(str(i), i))) for i in range(nc)]
    if isinstance(names, (list, tuple)) and len(names) == nc:
        return [str(n) for n in names]
    return [str(i) for i in range(nc)]


def _detect_key(sd: Mapping[str, Any]) -> str:
    keys = [k for k in sd if k.endswith(".anchors") and k.startswith("model.")]
    if not keys:
        raise UsageError("The state_dict has no 'model.<i>.anchors' entry: it is not a YOLOv5 detection model.",
                         hint=f"First keys found: {list(sd)[:5]}")
    return keys[0][: -len(".anchors")]


def _nc_from_state_dict(sd: Mapping[str, torch.Tensor]) -> int:
    det = _detect_key(sd)
    na = sd[det + ".anchors"].shape[1]
    return int(sd[det + ".m.0.weight"].shape[0] // na - 5)


def read_checkpoint(path: str | Path) -> CheckpointInfo:
    """Read any supported checkpoint into a :class:`CheckpointInfo` (state_dict in fp32 plus metadata)."""
    info, sd = read_state_dict(path, what="YOLOv5", file_keys=("model", "names", "anchors"), inert_info=_inert_info,
                               hint="Expected a prunebench checkpoint, an official YOLOv5 .pt or a state_dict.")
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()
          if isinstance(v, torch.Tensor) and not k.endswith(".anchor_grid")}  # v5.0 kept anchor_grid
    return complete_info(info, sd, _nc_from_state_dict(sd))


def _inert_info(obj: Mapping[str, Any], mdl: _Inert) -> dict[str, Any]:
    yaml = getattr(mdl, "yaml", None) or {}
    return {"names": getattr(mdl, "names", None), "meta": {
        "epoch": obj.get("epoch"), "yaml": {k: v for k, v in dict(yaml).items() if k in (
            "nc", "depth_multiple", "width_multiple", "anchors")}}, "format": "yolov5"}


def read_state_dict(path: str | Path, *, what: str, file_keys: tuple[str, ...], hint: str,
                    inert_info: Callable[[Mapping[str, Any], _Inert], dict[str, Any]],
                    ) -> tuple[CheckpointInfo, dict[str, Any]]:
    """The info and raw state_dict of a prunebench file (``file_keys`` copied), an official ``.pt`` or a state_dict.

    ``inert_info(checkpoint, model)`` gives the info of an official ``.pt`` whose model is pickled; ``what``
    names the model and ``hint`` the accepted files in the errors.
    """
    obj = restricted_load(path)
    info = CheckpointInfo(format="state_dict", model=None, names=None, anchors=None, meta={})
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT:
        if obj.get("version") != VERSION:
            raise UsageError(f"{path}: prunebench checkpoint version {obj.get('version')!r} is not supported "
                             f"(this prunebench reads version {VERSION}).")
        sd = dict(obj["state_dict"])
        info.update(format=FORMAT, **{k: obj.get(k) for k in file_keys}, meta=dict(obj.get("meta") or {}))
    elif isinstance(obj, Mapping) and ("model" in obj or "ema" in obj) and not _is_tensor_map(obj):
        mdl = obj.get("ema") or obj.get("model")
        if isinstance(mdl, Mapping):
            sd = dict(mdl)
        elif isinstance(mdl, _Inert):
            sd = _inert_state_dict(mdl)
            info.update(inert_info(obj, mdl))
        else:
            raise UsageError(f"{path}: the 'model' entry is a {type(mdl).__name__}, not a {what} model or "
                             "a state_dict.")
    elif isinstance(obj, Mapping) and _is_tensor_map(obj):
        sd = dict(obj)
    elif isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        sd = dict(obj["state_dict"])
    else:
        raise UsageError(f"{path}: not a recognised checkpoint (got a {type(obj).__name__}).", hint=hint)
    return info, sd


def complete_info(info: CheckpointInfo, sd: dict[str, torch.Tensor], nc: int) -> CheckpointInfo:
    """``info`` with ``nc``, ``names`` (one per class) and the state_dict ``sd`` set."""
    info["nc"] = nc
    info["names"] = _names_list(info["names"], nc)
    info["state_dict"] = sd
    return info


def _is_tensor_map(obj: Mapping[str, Any]) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


# --------------------------------------------------------------------------------------------------
# Rebuilding a (possibly pruned) model from a state_dict
# --------------------------------------------------------------------------------------------------


def _repeats(sd: Mapping[str, Any]) -> dict[int, int]:
    found: dict[int, set[int]] = {}
    for k in sd:
        parts = k.split(".")
        if len(parts) > 4 and parts[0] == "model" and parts[2] == "m" and parts[4] == "cv1":
            found.setdefault(int(parts[1]), set()).add(int(parts[3]))
    return {i: len(v) for i, v in found.items()}


def resize_to_state_dict(model: nn.Module, sd: Mapping[str, torch.Tensor]) -> nn.Module:
    """Replace every Conv2d/BatchNorm2d whose shape differs from ``sd`` by one of the stored shape (in place)."""
    for name, mod in list(model.named_modules()):
        new: nn.Module | None = None
        if isinstance(mod, nn.Conv2d) and name + ".weight" in sd:
            w = sd[name + ".weight"]
            if tuple(w.shape) != tuple(mod.weight.shape):
                new = nn.Conv2d(w.shape[1] * mod.groups, w.shape[0], mod.kernel_size, mod.stride, mod.padding,
                                mod.dilation, mod.groups, bias=name + ".bias" in sd)
        elif isinstance(mod, nn.BatchNorm2d) and name + ".weight" in sd:
            c = sd[name + ".weight"].shape[0]
            if c != mod.num_features:
                new = nn.BatchNorm2d(c, eps=mod.eps, momentum=mod.momentum)
        if new is not None:
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, new)
    if isinstance(model, DetectionModel):
        for layer in model.model:
            layer.np = sum(p.numel() for p in layer.parameters())
    return model


def state_dict_to_model(sd: Mapping[str, torch.Tensor], *, size: str = "n", nc: int | None = None,
                        names: list[str] | None = None, source: str = "<state_dict>",
                        transfer: bool = False) -> DetectionModel:
    """Build a DetectionModel whose structure and channel counts match ``sd`` and load it.

    With ``transfer`` and an ``nc`` different from the file's, everything but Detect's output convs is loaded
    and those are created anew for ``nc`` (official bias init): YOLOv5 train.py's transfer learning.
    """
    file_nc = _nc_from_state_dict(sd)
    nc = file_nc if nc is None or not transfer else nc
    det = _detect_key(sd)
    anchors_grid = sd[det + ".anchors"]
    nl = anchors_grid.shape[0]
    strides = torch.tensor([8.0 * 2 ** i for i in range(nl)]).view(-1, 1, 1)  # P3, P4, P5
    pixel_anchors = [[round(a, 4) for a in row] for row in (anchors_grid * strides).view(nl, -1).tolist()]
    if nl != 3:
        raise UsageError(f"{source}: {nl} detection levels; prunebench's YOLOv5 has 3 (P3, P4, P5).")
    model = build_yolov5(size, nc, repeats=_repeats(sd), anchors=pixel_anchors)
    model.yaml["anchors"] = pixel_anchors
    head = {k: v for k, v in sd.items() if k.startswith(det + ".m.")}
    if nc != file_nc:
        sd = {k: v for k, v in sd.items() if k not in head}
        d = model.model[-1]
        fresh = []
        for i, conv in enumerate(d.m):  # inputs follow the (possibly pruned) file, outputs the new nc
            cin = head[f"{det}.m.{i}.weight"].shape[1]
            if cin != conv.in_channels:
                d.m[i] = nn.Conv2d(cin, conv.out_channels, 1)
                fresh.append(i)
        if fresh:
            model._initialize_biases(only=fresh)
    resize_to_state_dict(model, sd)
    missing, unexpected = _key_diff(model, sd)
    if nc != file_nc:
        missing = [k for k in missing if not k.startswith(det + ".m.")]
    if missing or unexpected:
        raise UsageError(f"{source}: the weights do not fit a YOLOv5 model: missing keys {missing[:5]}, "
                         f"unexpected keys {unexpected[:5]}.")
    try:
        model.load_state_dict(sd, strict=nc == file_nc)
    except RuntimeError as exc:
        raise UsageError(f"{source}: the weights do not fit a YOLOv5 model: {exc}") from exc
    model.yaml["nc"] = nc
    model.names = list(names) if names and len(names) == nc else [str(i) for i in range(nc)]
    return model


def _key_diff(model: nn.Module, sd: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    own = set(model.state_dict())
    return sorted(own - set(sd)), sorted(set(sd) - own)


def save_checkpoint(model: nn.Module, path: str | Path, *, name: str, half: bool = False,
                    meta: Mapping[str, Any] | None = None) -> Path:
    """Save ``model`` as a prunebench checkpoint (loadable with ``torch.load(weights_only=True)``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = stored_state_dict(model, half)
    det = model.model[-1] if isinstance(model, DetectionModel) else None
    anchors = ((det.anchors * det.stride.view(-1, 1, 1)).view(det.nl, -1).tolist() if det is not None
               else None)
    nc = det.nc if det is not None else None
    meta = dict(meta or {})
    names = pop_names(meta, model)
    ckpt = {"format": FORMAT, "version": VERSION, "model": name, "nc": nc, "names": names, "anchors": anchors,
            "state_dict": sd, "meta": _plain(meta)}
    return write_atomically(ckpt, path)


def stored_state_dict(model: nn.Module, half: bool) -> dict[str, torch.Tensor]:
    """``model``'s state_dict as detached CPU copies, floating tensors in fp16 if ``half``."""
    return {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().clone()
            for k, v in model.state_dict().items()}


def pop_names(meta: dict[str, Any], model: nn.Module) -> list[str] | None:
    """The class names: ``meta``'s ``names`` (removed from it), else the model's; as strings."""
    names = meta.pop("names", None) or list(getattr(model, "names", [])) or None
    if names is not None:
        names = [str(n) for n in (names.values() if isinstance(names, Mapping) else names)]
    return names


def write_atomically(ckpt: Mapping[str, Any], path: Path) -> Path:
    """``torch.save`` ``ckpt`` to a temporary file beside ``path``, then move it onto ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)
    return path


def _plain(obj: Any) -> Any:
    """Keep metadata to plain types so the file stays loadable with weights_only=True."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    return str(obj)
