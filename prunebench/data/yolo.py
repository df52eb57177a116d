"""YOLO-format dataset descriptors: load a ``data.yaml`` and list the image files of each split."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prunebench.errors import UsageError

__all__ = [
    "IMAGE_FORMATS",
    "DataInfo",
    "img2label_path",
    "list_split_files",
    "load_data_yaml",
]

#: image suffixes prunebench reads (checked with Pillow, decoded with OpenCV)
IMAGE_FORMATS: tuple[str, ...] = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")

#: files that may sit in an image folder without being reported as unsupported images
_IGNORED_SUFFIXES = {".txt", ".json", ".cache", ".yaml", ".yml", ".md", ".npy", ".db"}

_SPLITS = ("train", "val", "test")


@dataclass
class DataInfo:
    """A parsed ``data.yaml``: the dataset root, per-split image files, class count and names."""

    yaml_path: Path
    path: Path
    nc: int
    names: list[str]
    train: list[Path] = field(default_factory=list)
    val: list[Path] = field(default_factory=list)
    test: list[Path] = field(default_factory=list)
    #: per split: files found in the split's folders that are not a supported image format
    unsupported: dict[str, list[Path]] = field(default_factory=dict)
    #: per split: the sources as written in the yaml (for messages)
    sources: dict[str, list[str]] = field(default_factory=dict)

    def split(self, name: str) -> list[Path]:
        """The image files of split ``name`` (``train``, ``val`` or ``test``)."""
        if name not in _SPLITS:
            raise UsageError(f"Unknown dataset split {name!r}; allowed: train, val, test.")
        files = getattr(self, name)
        if not files and name not in self.sources:
            raise UsageError(f"{self.yaml_path}: the dataset has no {name!r} split.",
                             hint=f"Add a '{name}:' entry (a folder of images or a .txt list) to {self.yaml_path}.")
        return files


def img2label_path(image: Path) -> Path:
    """YOLOv5's convention: replace the last ``/images/`` in the path by ``/labels/`` and use ``.txt``."""
    s = str(image)
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    if sa in s:
        head, _, tail = s.rpartition(sa)
        s = head + sb + tail
    return Path(s).with_suffix(".txt")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [str(value)]
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    return [str(value)]


def list_split_files(sources: Sequence[str], root: Path, yaml_path: Path, split: str) -> tuple[list[Path], list[Path]]:
    """Image files (sorted) and unsupported files named by ``sources``: folders, ``.txt`` lists or files."""
    images: list[Path] = []
    unsupported: list[Path] = []
    for src in sources:
        p = Path(src).expanduser()
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if not f.is_file() or f.name.startswith("."):
                    continue
                suffix = f.suffix.lower()
                if suffix in IMAGE_FORMATS:
                    images.append(f)
                elif suffix not in _IGNORED_SUFFIXES:
                    unsupported.append(f)
        elif p.is_file() and p.suffix.lower() == ".txt":
            for line in p.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                f = Path(line)
                f = f if f.is_absolute() else (p.parent / f if line.startswith(".") else root / f)
                if f.suffix.lower() in IMAGE_FORMATS:
                    images.append(f)
                else:
                    unsupported.append(f)
        elif p.is_file():
            (images if p.suffix.lower() in IMAGE_FORMATS else unsupported).append(p)
        else:
            raise UsageError(
                f"{yaml_path}: {split}: {src!r} does not exist (looked for {p}).",
                hint="Paths in a data.yaml are relative to its 'path:' entry, which is relative to the "
                     "yaml file's folder. Fix the path, or generate the synthetic set with "
                     "`prunebench data synth tea-bud --out DIR`.",
            )
    return sorted(dict.fromkeys(images)), sorted(dict.fromkeys(unsupported))


def _parse_names(raw: dict[str, Any], yaml_path: Path) -> tuple[int, list[str]]:
    names_raw = raw.get("names")
    nc_raw = raw.get("nc")
    if names_raw is None and nc_raw is None:
        raise UsageError(f"{yaml_path}: missing key 'names' (and 'nc').",
                         hint="Add e.g. `names: [tea-bud]` or `names: {0: tea-bud}`.")
    if isinstance(names_raw, dict):
        try:
            keys = sorted(int(k) for k in names_raw)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{yaml_path}: names: keys must be class ids 0..nc-1, got {list(names_raw)}.") from exc
        if keys != list(range(len(keys))):
            raise UsageError(f"{yaml_path}: names: class ids must be 0..{len(keys) - 1} without gaps, got {keys}.")
        names = [str(names_raw[k] if k in names_raw else names_raw[str(k)]) for k in keys]
    elif isinstance(names_raw, list):
        names = [str(n) for n in names_raw]
    elif names_raw is None:
        names = []
    else:
        raise UsageError(f"{yaml_path}: names: expected a list or a mapping, got {type(names_raw).__name__} "
                         f"{names_raw!r}.")
    if nc_raw is not None:
        if not isinstance(nc_raw, int) or isinstance(nc_raw, bool) or nc_raw < 1:
            raise UsageError(f"{yaml_path}: nc: expected a positive integer, got {nc_raw!r}.")
        if names_raw is None:  # docs/data.md: names are required (results and plots name the classes)
            example = ", ".join(f"class{i}" for i in range(min(nc_raw, 3))) + (", ..." if nc_raw > 3 else "")
            raise UsageError(f"{yaml_path}: missing key 'names' (nc is {nc_raw}).",
                             hint=f"List the {nc_raw} class names, e.g. `names: [{example}]`.")
        if len(names) != nc_raw:
            raise UsageError(f"{yaml_path}: nc is {nc_raw} but names lists {len(names)} classes ({names}).",
                             hint="Make 'nc' equal the number of names, or drop 'nc'.")
    if not names:
        raise UsageError(f"{yaml_path}: names: the list of class names is empty.")
    return len(names), names


def load_data_yaml(path: str | Path) -> DataInfo:
    """Parse a YOLOv5 ``data.yaml`` and list each split's images.

    ``path:`` (the dataset root) is resolved against the yaml file's folder when relative; ``train``,
    ``val`` and ``test`` are folders, ``.txt`` lists of images or single files (or lists of those)
    relative to the root. ``names`` is a list or a ``{id: name}`` mapping; ``nc`` is optional.
    Raises :class:`~prunebench.errors.UsageError` naming the file and the key for every problem.
    """
    import yaml

    from prunebench.files import read_text_file

    yaml_path = Path(path).expanduser()
    if yaml_path.is_dir():
        raise UsageError(f"Dataset file {yaml_path} is a folder, not a data.yaml.",
                         hint=f"Pass the data.yaml inside it (e.g. {yaml_path / 'data.yaml'}).")
    if not yaml_path.is_file():
        raise UsageError(f"Dataset file {yaml_path} does not exist.",
                         hint="Pass a YOLO data.yaml, or create the synthetic set with "
                              "`prunebench data synth tea-bud --out datasets/tea-bud`.")
    text = read_text_file(yaml_path, "dataset file")  # not UTF-8 (UTF-16, Latin-1): said so
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{yaml_path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}.") from exc
    if not isinstance(raw, dict):
        raise UsageError(f"{yaml_path}: expected a mapping with keys path, train, val, names; "
                         f"got {type(raw).__name__}.")
    missing = [k for k in ("train", "val") if not raw.get(k)]
    if missing:
        raise UsageError(f"{yaml_path}: missing key(s) {', '.join(repr(m) for m in missing)}.",
                         hint="A data.yaml needs `train:` and `val:` (image folders or .txt lists), "
                              "`names:` and optionally `path:` and `test:`.")
    nc, names = _parse_names(raw, yaml_path)
    root_raw = raw.get("path")
    root = Path(str(root_raw)).expanduser() if root_raw else yaml_path.parent
    if not root.is_absolute():
        root = (yaml_path.parent / root).resolve()
    if not root.is_dir():
        raise UsageError(f"{yaml_path}: path: the dataset root {root} does not exist.",
                         hint="'path:' is resolved against the yaml file's folder; fix it or generate "
                              "the data (`prunebench data synth tea-bud --out DIR`).")
    info = DataInfo(yaml_path=yaml_path.resolve(), path=root, nc=nc, names=names)
    for split in _SPLITS:
        sources = _as_list(raw.get(split))
        if not sources:
            continue
        files, bad = list_split_files(sources, root, yaml_path, split)
        setattr(info, split, files)
        info.unsupported[split] = bad
        info.sources[split] = sources
    return info
