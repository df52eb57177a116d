"""Bad input, table-driven: every case exits 2, shows no traceback, and names the field and the value received.

Each case writes what it needs under ``tmp_path`` and returns the command line and the phrases the message
must contain (compared with whitespace normalised: rich may wrap).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from prunebench.cli import main

Case = Callable[[Path, Callable[..., Path]], tuple[list[str], list[str]]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def add(fn: Case) -> Case:
        CASES[name] = fn
        return fn
    return add


def _spec_text(write_spec: Callable[..., Path], **overrides: Any) -> str:
    return write_spec(**overrides).read_text(encoding="utf-8")


# ---- the spec -------------------------------------------------------------------------------------


@case("three problems are reported at once")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(seeds=[-1], device="gpu", models=[{"name": "yolov5q"}])
    return ["validate", str(spec)], ["3 problems", "seeds.0", "-1", "device", "'gpu'", "models.0.name", "'yolov5q'"]


@case("seed: abc is reported as seed, with its line and value")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    text = _spec_text(write_spec).replace("seeds:\n- 0\n", "seed: abc\n")
    spec = tmp / "seed.yaml"
    spec.write_text(text, encoding="utf-8")
    line = text.splitlines().index("seed: abc") + 1
    return ["validate", str(spec)], [f"seed.yaml:{line}: seed:", "'abc'"]


@case("a negative seed")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["validate", str(write_spec(seeds=[3, -1]))], ["seeds.1", "greater than or equal to 0", "-1"]


@case("levels equal once rounded name both")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(pruners=[{"name": "l1", "levels": [0.3, 0.30000000001]}])
    return ["validate", str(spec)], ["pruners.0.levels", "0.3 (index 0)", "0.30000000001 (index 1)"]


@case("a name that leaves runs/")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = tmp / "name.yaml"
    spec.write_text(_spec_text(write_spec).replace("name: tiny", "name: ../../x"), encoding="utf-8")
    return ["validate", str(spec)], ["name:", "'../../x'", "cannot name a run folder"]


@case("a UTF-16 spec")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = tmp / "utf16.yaml"
    spec.write_text(_spec_text(write_spec), encoding="utf-16")
    return ["validate", str(spec)], [str(spec), "is UTF-16 text", "UTF-8"]


@case("a spec that is not UTF-8")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = tmp / "latin1.yaml"
    spec.write_bytes(_spec_text(write_spec).replace("name: tiny", "name: t\xe9").encode("latin-1"))
    return ["validate", str(spec)], [str(spec), "not UTF-8", "0xe9", "line 1"]


@case("a YAML alias bomb")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = tmp / "bomb.yaml"
    rows = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, cur in zip("abcdefg", "bcdefgh"):
        rows.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    spec.write_text("\n".join([*rows, "name: x", "models: [yolov5n]"]) + "\n", encoding="utf-8")
    return ["validate", str(spec)], ["expands to more than 100,000 values", "aliases"]


@case("weights that are a folder")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "w.pt").mkdir()
    spec = write_spec(models=[{"name": "yolov5n", "weights": str(tmp / "w.pt")}])
    return ["validate", str(spec)], ["models.0.weights", "is a folder"]


# ---- what validate catches because run would fail on it ----------------------------------------


@case("a device that does not exist here")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["validate", str(write_spec(device="cuda:99"))], ["device:", "'cuda:99'"]


@case("weights that are a text file")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "w.pt").write_text("not a checkpoint")
    spec = write_spec(models=[{"name": "yolov5n", "weights": str(tmp / "w.pt")}])
    return ["validate", str(spec)], ["models.0.weights", "w.pt"]


@case("weights that are a truncated checkpoint")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    import prunebench as pb

    fam = pb.get_model_family("yolov5n", width_multiple=0.0625)
    good = fam.save(fam.build(nc=1), tmp / "good.pt")
    (tmp / "cut.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    tiny = {"width_multiple": 0.0625}
    spec = write_spec(models=[{"name": "yolov5n", "options": tiny, "weights": str(tmp / "cut.pt")}])
    return ["validate", str(spec)], ["models.0.weights", "cut.pt"]


@case("weights whose class count disagrees with the dataset")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    import prunebench as pb

    fam = pb.get_model_family("yolov5n", width_multiple=0.0625)
    three = fam.save(fam.build(nc=3), tmp / "three.pt")
    spec = write_spec(models=[{"name": "yolov5n", "options": {"width_multiple": 0.0625}, "weights": str(three)}])
    return ["validate", str(spec)], ["models.0.weights", "3 classes", "the dataset has 1", "transfer: true"]


@case("an unknown hyper-parameter")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(train={"epochs": 1, "imgsz": 64, "hyp": {"lr00": 0.1}})
    return ["validate", str(spec)], ["train.hyp.lr00", "unknown hyper-parameter 'lr00'", "Did you mean 'lr0'"]


@case("a hyper-parameter out of range")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(finetune={"epochs": 1, "imgsz": 64, "hyp": {"mosaic": 7}})
    return ["validate", str(spec)], ["finetune.hyp.mosaic", "less than or equal to 1", "7"]


@case("a hyper-parameter of another model family")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    spec = write_spec(train={"epochs": 1, "imgsz": 64, "hyp": {"dfl": 1.0}})
    return ["validate", str(spec)], ["train.hyp.dfl", "not a hyper-parameter of yolov5n"]


@case("a dataset whose training labels are all invalid")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    data = _unusable_dataset(tmp)
    return ["validate", str(write_spec(dataset=str(data)))], ["dataset:", "train", "none of the 2 images is usable"]


# ---- paths given on the command line ------------------------------------------------------------


@case('output: "" in the spec')
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["validate", str(write_spec(output=""))], ["output:", "the run folder is empty"]


@case("info --weights FOLDER")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "w").mkdir()
    return ["info", "yolov5n", "--weights", str(tmp / "w")], [str(tmp / "w"), "is a folder, not a file"]


@case("run --out FILE")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "afile").write_text("x")
    return ["run", str(write_spec()), "--out", str(tmp / "afile"), "--no-progress"], ["afile", "is a file"]


@case("run --out under a file")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "afile").write_text("x")
    return (["run", str(write_spec()), "--out", str(tmp / "afile" / "sub"), "--no-progress"],
            ["afile", "is a file"])


@case('run --out ""')
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["run", str(write_spec()), "--out", "", "--no-progress"], ["--out", "empty path"]


@case("validate --out FILE")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "afile").write_text("x")
    return ["validate", str(write_spec()), "--out", str(tmp / "afile")], ["afile", "is a file"]


@case("schema --out into a missing folder")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["schema", "--out", str(tmp / "missing" / "s.json")], [str(tmp / "missing"), "does not exist"]


@case("data synth --out FILE")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "afile").write_text("x")
    return ["data", "synth", "tea-bud", "--out", str(tmp / "afile"), "--train", "2", "--val", "1"], ["is a file"]


@case("data synth --train without bound")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return (["data", "synth", "tea-bud", "--out", str(tmp / "d"), "--train", "1000000000"],
            ["--train", "100,000", "1,000,000,000"])


@case("report --width 0")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["report", str(tmp), "--width", "0"], ["--width", "between 40 and 10000", "got 0"]


# ---- plugin options and datasets -----------------------------------------------------------------


@case("info --scope bogus")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return (["info", "yolov5n", "-o", "width_multiple=0.0625", "--prune", "l1", "--level", "0.3", "--scope", "bogus"],
            ["scope", "'bogus'", "backbone"])


@case("info -o width_multiple=-5")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["info", "yolov5n", "-o", "width_multiple=-5"], ["width_multiple", "greater than 0", "-5"]


@case("a data.yaml without names")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    root = tmp / "ds"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
    data = root / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val", "nc": 3}))
    return ["data", "check", str(data)], ["missing key 'names'", "nc is 3"]


@case("a data.yaml that is a folder")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    (tmp / "ds").mkdir()
    return ["data", "check", str(tmp / "ds")], ["is a folder, not a data.yaml"]


@case("a UTF-16 data.yaml")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    data = tmp / "data.yaml"
    data.write_text("path: .\ntrain: images\nval: images\nnames: [a]\n", encoding="utf-16")
    return ["data", "check", str(data)], [str(data), "is UTF-16 text"]


def _unusable_dataset(tmp: Path) -> Path:
    from PIL import Image

    root = tmp / "ds"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (64, 48), (90, 140, 60)).save(root / "images" / split / f"{i}.png")
            (root / "labels" / split / f"{i}.txt").write_text("0 1.5 0.5 0.2 0.2\n" if split == "train" else
                                                              "0 0.5 0.5 0.2 0.2\n")
    data = root / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val",
                                    "names": ["bud"]}))
    return data


@case("data check of a dataset whose training images are all unusable")
def _(tmp: Path, write_spec: Callable[..., Path]) -> tuple[list[str], list[str]]:
    return ["data", "check", str(_unusable_dataset(tmp))], ["train", "none of the 2 images is usable",
                                                             "coordinates outside [0, 1]"]


def test_data_check_does_not_hint_to_run_data_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", str(_unusable_dataset(tmp_path))]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "none of the 2 images is usable" in err
    assert "prunebench data check" not in err


def _ids() -> list[str]:
    return list(CASES)


@pytest.mark.parametrize("name", _ids())
def test_bad_input_is_refused_clearly(name: str, tmp_path: Path, write_spec: Callable[..., Path],
                                      assert_refused: Callable[[list[str], list[str]], str]) -> None:
    assert_refused(*CASES[name](tmp_path, write_spec))


@pytest.mark.parametrize("name", ["run --out FILE", "info -o width_multiple=-5", "a negative seed"])
def test_debug_shows_the_traceback_and_keeps_exit_code_2(name: str, tmp_path: Path, write_spec: Callable[..., Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    argv, needles = CASES[name](tmp_path, write_spec)
    assert main(["--debug", *argv]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Traceback" in err
    assert needles[0] in err


def test_a_yaml_alias_bomb_is_refused_before_it_takes_memory(tmp_path: Path, write_spec: Callable[..., Path]) -> None:
    import tracemalloc

    from prunebench.errors import UsageError
    from prunebench.spec import load_spec

    argv, _ = CASES["a YAML alias bomb"](tmp_path, write_spec)
    tracemalloc.start()
    try:
        with pytest.raises(UsageError, match="expands to more than"):
            load_spec(argv[1])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB"  # was 1.1 GB before the bound


def test_info_nc_that_disagrees_with_the_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import prunebench as pb

    fam = pb.get_model_family("yolov5n", width_multiple=0.0625)
    ckpt = fam.save(fam.build(nc=3), tmp_path / "three.pt")
    argv = ["info", "yolov5n", "-o", "width_multiple=0.0625", "--weights", str(ckpt)]
    assert main([*argv, "--nc", "1"]) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert "--nc 1" in text
    assert "has 3 classes" in text
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nc"] == 3


def test_junk_plugin_filters_warn_and_unknown_names_mention_the_filter(
        monkeypatch: pytest.MonkeyPatch, fresh_catalogue: None, capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import metadata

    from prunebench import plugins

    installed = sorted({ep.name for ep in metadata.entry_points(group=plugins.ENTRY_POINT_GROUP)})
    monkeypatch.setattr(plugins, "_WARNED", set())
    monkeypatch.setenv("PRUNEBENCH_DISABLE_PLUGINS", "no-such-plugin")
    assert main(["plugins", "--json"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "PRUNEBENCH_DISABLE_PLUGINS names 'no-such-plugin'" in err
    monkeypatch.delenv("PRUNEBENCH_DISABLE_PLUGINS")
    plugins.reset()
    monkeypatch.setenv("PRUNEBENCH_PLUGINS", "junk")
    from prunebench.errors import UsageError

    with pytest.raises(UsageError) as info:
        plugins.get_catalogue().pruners.get("nni-l1")
    if installed:
        assert "PRUNEBENCH_PLUGINS='junk' keeps these installed plugins out" in info.value.message
        assert installed[0] in info.value.message
    assert "PRUNEBENCH_PLUGINS names 'junk'" in " ".join(capsys.readouterr().err.split())
