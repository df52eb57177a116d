"""Bundled plugin: datasets ``yolo`` (an existing data.yaml) and ``tea-bud-synth`` (generated tea buds)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from prunebench.contracts import DatasetProvider, PluginOptions
from prunebench.errors import UsageError
from prunebench.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.register import Register

__all__ = ["TeaBudSynth", "YoloData", "register_datasets"]


class YoloData(DatasetProvider):
    """A YOLO-format dataset described by a ``data.yaml`` (your own images and labels)."""

    name: ClassVar[str] = "yolo"
    description: ClassVar[str] = "an existing YOLO-format dataset from a data.yaml (images/ + labels/)"

    class Options(PluginOptions):
        path: str = Field("datasets/tea-bud.yaml", min_length=1, max_length=4096,
                          description="path to the data.yaml (relative paths: from the current directory; "
                                      "default: the repository's synthetic tea-bud descriptor)")
        check: bool = Field(True, description="check images and labels (cached) when preparing")

    @classmethod
    def from_shorthand(cls, text: str) -> dict[str, Any] | None:
        """``dataset: path/to/data.yaml`` in a spec means this plugin with that ``path``."""
        return {"path": text} if text.lower().endswith((".yaml", ".yml")) else None

    @classmethod
    def resolve_options(cls, options: PluginOptions, base_dir: Path) -> tuple[PluginOptions, list[tuple[str, str]]]:
        """A ``path`` given in the spec is resolved against the spec's folder and must exist."""
        if "path" not in options.model_fields_set:
            return options, []
        raw = options.path  # type: ignore[attr-defined]
        q = Path(raw).expanduser()
        if not (q.is_absolute() or q.exists()):
            q = base_dir / q
        if not q.exists():
            return options, [("path", f"dataset file {raw!r} does not exist (looked for {str(q)!r}); give the "
                                      f"path of a YOLO data.yaml, or use `dataset: {{name: tea-bud-synth}}` "
                                      f"to generate one")]
        return options.model_copy(update={"path": str(q)}), []

    def _yaml(self) -> Path:
        return Path(self.options.path).expanduser().resolve()  # type: ignore[attr-defined]

    def prepare(self, root: Path) -> Path:
        """Check the dataset's train and val splits (once; cached) and return the data.yaml path."""
        from prunebench.data.check import check_split
        from prunebench.data.yolo import load_data_yaml

        path = self._yaml()
        info = load_data_yaml(path)
        if self.options.check:  # type: ignore[attr-defined]
            check_split(info, "train")
            check_split(info, "val")
        return path

    def check(self) -> int | None:
        """The data.yaml is read and (with ``check``) its train and val splits checked, as :meth:`prepare` does."""
        from prunebench.data.check import check_split
        from prunebench.data.yolo import load_data_yaml

        info = load_data_yaml(self._yaml())
        if self.options.check:  # type: ignore[attr-defined]
            for split in ("train", "val"):
                _say_skipped(info, split, check_split(info, split))
        return info.nc

    def splits(self) -> set[str] | None:
        """The splits the data.yaml names."""
        from prunebench.data.yolo import load_data_yaml

        return set(load_data_yaml(self._yaml()).sources)

    def fingerprint(self) -> str:
        """Changes when any image or label file of any split changes (path, size, mtime) or the classes do."""
        from prunebench.data.check import split_fingerprint
        from prunebench.data.yolo import load_data_yaml

        info = load_data_yaml(self._yaml())
        h = hashlib.sha1(f"{info.nc}|{info.names}".encode())
        for split in ("train", "val", "test"):
            h.update(f"{split}:{split_fingerprint(getattr(info, split), info.nc)}".encode())
        return f"yolo:{h.hexdigest()}"


class TeaBudSynth(DatasetProvider):
    """The synthetic tea-bud set: light-green buds on a cluttered canopy, generated once per option set."""

    name: ClassVar[str] = "tea-bud-synth"
    description: ClassVar[str] = "synthetic one-class tea-bud detection set, generated locally (deterministic)"

    class Options(PluginOptions):
        train: int = Field(400, ge=1, le=100_000, description="training images")
        val: int = Field(40, ge=1, le=100_000, description="validation images (40 gives about 100 buds)")
        test: int = Field(0, ge=0, le=100_000, description="test images (0: no test split)")
        imgsz: int = Field(320, ge=64, le=4096, description="image width in pixels (height is 3/4 of it)")
        seed: int = Field(0, ge=0, le=2**31 - 1, description="generator seed: same seed, same images")
        out: str | None = Field(None, min_length=1, max_length=4096,
                                description="output folder; default: <datasets root>/tea-bud for the default "
                                            "options, <datasets root>/tea-bud-<hash> otherwise")

    def _synth_options(self) -> Any:
        from prunebench.data.synth import SynthOptions

        o = self.options
        return SynthOptions(train=o.train, val=o.val, test=o.test, imgsz=o.imgsz, seed=o.seed)  # type: ignore[attr-defined]

    def _key(self) -> str:
        from prunebench.data.synth import GENERATOR_VERSION

        opts = self.options.model_dump(exclude={"out"})
        return f"v{GENERATOR_VERSION}:" + ",".join(f"{k}={opts[k]}" for k in sorted(opts))

    def folder(self, root: Path) -> Path:
        """Where :meth:`prepare` generates the images for these options."""
        out = self.options.out  # type: ignore[attr-defined]
        if out:
            return Path(out).expanduser().resolve()
        defaults = self.Options().model_dump(exclude={"out"})
        if self.options.model_dump(exclude={"out"}) == defaults:
            return Path(root) / "tea-bud"
        return Path(root) / f"tea-bud-{hashlib.sha1(self._key().encode()).hexdigest()[:8]}"

    def prepare(self, root: Path) -> Path:
        """Generate the set under :meth:`folder` unless an identical generation is already there."""
        from prunebench.data.synth import generate_tea_bud

        return generate_tea_bud(self.folder(root), self._synth_options())

    def check(self) -> int | None:
        """One class (tea-bud); an ``out`` that cannot be the dataset's folder is refused before generating."""
        out = self.options.out  # type: ignore[attr-defined]
        if out:
            path = Path(out).expanduser()
            blocker = next((p for p in (path, *path.parents) if p.exists()), None)
            if blocker is not None and not blocker.is_dir():
                what = "is a file" if blocker == path else f"lies under the file {str(blocker)!r}"
                raise UsageError(f"options.out {out!r} {what}: the synthetic images need a folder there.",
                                 hint="Give a folder (it is created if missing), or leave `out` out.")
        return 1

    def splits(self) -> set[str] | None:
        """train and val, and test when ``test`` images are asked for."""
        return {"train", "val"} | ({"test"} if self.options.test else set())  # type: ignore[attr-defined]

    def fingerprint(self) -> str:
        return f"tea-bud-synth:{self._key()}"


class DataWarning(UserWarning):
    """Images of a split that training and evaluation will skip (missing, corrupt or unsupported files)."""


def _say_skipped(info: Any, split: str, index: Any) -> None:
    """Warn, once per check, when images of ``split`` will be skipped: a run never drops data without a word."""
    import warnings
    from collections import Counter

    if not index.skipped:
        return
    total = len(index.files) + len(index.skipped)
    kinds = Counter(str(reason).split(":")[0] for _, reason in index.skipped)
    first_path, first_reason = index.skipped[0]
    listed = ", ".join(str(x) for x in (getattr(info, "sources", {}) or {}).get(split, []))
    where = f" ({listed})" if listed else ""
    warnings.warn(f"{info.yaml_path}: {split}{where}: {len(index.skipped)} of {total} images will be skipped "
                  f"({', '.join(f'{n} {k}' for k, n in kinds.most_common())}; e.g. {first_path}: {first_reason}); "
                  f"`prunebench data check {info.yaml_path}` lists them all.", DataWarning, stacklevel=2)


@hookimpl
def register_datasets(register: Register[type[DatasetProvider]]) -> None:
    register(YoloData)
    register(TeaBudSynth)
