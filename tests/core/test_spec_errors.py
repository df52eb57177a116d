"""Malformed specs: each gives exit code 2 and a message naming file, line and field (no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunebench.cli import main
from prunebench.spec import SpecError, load_spec

GOOD = """\
name: tiny
seed: 0
dataset:
  name: tea-bud-synth
  options: {train: 8, val: 4, imgsz: 64}
models:
  - name: yolov5n
    options: {width_multiple: 0.0625}
pruners:
  - name: l1
    levels: [0.3, 0.6]
train: {epochs: 1, imgsz: 64, batch_size: 4}
finetune: {epochs: 1, imgsz: 64, batch_size: 4}
"""

# (id, spec text, expected line, expected field, fragments of the message)
CASES = [
    ("yaml-syntax", "name: x\nmodels: [yolov5n\n", 3, "", ["YAML syntax error"]),
    ("not-a-mapping", "- a\n- b\n", 1, "", ["must be a mapping"]),
    ("empty", "# nothing\n", None, "", ["the spec is empty"]),
    ("unknown-top-key", GOOD + "epochz: 3\n", 14, "epochz", ["unknown key 'epochz'", "Allowed keys"]),
    ("unknown-train-key", GOOD.replace("train: {epochs: 1,", "train: {epoch: 1,"), 12, "train.epoch",
     ["unknown key 'epoch'", "Did you mean 'epochs'"]),
    ("unknown-pruner-key", GOOD.replace("    levels: [0.3, 0.6]\n", "    levels: [0.3, 0.6]\n    scope: all\n"),
     12, "pruners.0.scope", ["unknown key 'scope'", "levels, options"]),
    ("unknown-pruner-option", GOOD.replace("    levels: [0.3, 0.6]\n",
                                           "    levels: [0.3, 0.6]\n    options: {scoop: all}\n"),
     12, "pruners.0.options.scoop", ["scoop"]),
    ("level-above-one", GOOD.replace("[0.3, 0.6]", "[0.3, 0.6, 1.5]"), 11, "pruners.0.levels.2",
     ["less than 1", "got 1.5"]),
    ("level-zero", GOOD.replace("[0.3, 0.6]", "[0.0]"), 11, "pruners.0.levels.0", ["greater than 0", "got 0.0"]),
    ("level-duplicate", GOOD.replace("[0.3, 0.6]", "[0.3, 0.3]"), 11, "pruners.0.levels",
     ["listed twice"]),
    ("empty-levels", GOOD.replace("[0.3, 0.6]", "[]"), 11, "pruners.0.levels", ["at least 1 item"]),
    ("empty-models", GOOD.replace("models:\n  - name: yolov5n\n    options: {width_multiple: 0.0625}\n",
                                  "models: []\n"), 6, "models", ["at least 1 item"]),
    ("wrong-type", GOOD.replace("train: {epochs: 1,", "train: {epochs: many,"), 12, "train.epochs",
     ["valid integer", "'many'"]),
    ("imgsz-not-multiple", GOOD.replace("train: {epochs: 1, imgsz: 64", "train: {epochs: 1, imgsz: 100"),
     12, "train.imgsz", ["multiple of 32", "100"]),
    ("unknown-model", GOOD.replace("  - name: yolov5n\n", "  - name: yolov5x\n"), 7, "models.0.name",
     ["Unknown model 'yolov5x'", "Did you mean"]),
    ("unknown-pruner", GOOD.replace("  - name: l1\n", "  - name: l3\n"), 10, "pruners.0.name",
     ["Unknown pruner 'l3'", "Available pruners"]),
    ("unknown-metric", GOOD + "metrics: [map50, mAP99]\n", 14, "metrics.1.name", ["Unknown metric 'mAP99'"]),
    ("duplicate-pruner", GOOD.replace("    levels: [0.3, 0.6]\n", "    levels: [0.3, 0.6]\n  - name: l1\n"
                                      "    levels: [0.9]\n"), None, "", ["duplicates pruners[0]", "label"]),
    ("duplicate-key", GOOD + "name: again\n", 14, "name", ["duplicate key 'name'"]),
    ("missing-dataset-path", GOOD.replace("dataset:\n  name: tea-bud-synth\n  options: {train: 8, val: 4, "
                                          "imgsz: 64}\n", "dataset: nowhere/data.yaml\n"), 3,
     "dataset.options.path", ["does not exist", "nowhere/data.yaml"]),
    ("bad-device", GOOD + "device: gpu0\n", 14, "device", ["'gpu0' is not a device", "cuda:N"]),
    ("missing-name", GOOD.replace("name: tiny\n", ""), None, "name", ["required"]),
    ("seed-and-seeds", GOOD + "seeds: [1, 2]\n", None, "", ["either `seed` or `seeds`"]),
    ("missing-weights", GOOD.replace("    options: {width_multiple: 0.0625}\n",
                                     "    options: {width_multiple: 0.0625}\n    weights: missing.pt\n"),
     9, "models.0.weights", ["missing.pt", "does not exist"]),
    ("bad-model-override", GOOD.replace("    options: {width_multiple: 0.0625}\n",
                                        "    options: {width_multiple: 0.0625}\n    train: {epochs: -2}\n"),
     9, "models.0.train.epochs", ["greater than or equal to 0", "-2"]),
]


@pytest.mark.parametrize(("text", "line", "field", "fragments"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int | None,
                        field: str, fragments: list[str]) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    problems = exc.value.problems
    assert problems
    assert all(p.file == str(path) for p in problems)
    hit = [p for p in problems if (not field or p.field == field)]
    assert hit, [p.render() for p in problems]
    if line is not None:
        assert hit[0].line == line, hit[0].render()
    for frag in fragments:
        assert any(frag in p.message for p in hit), (frag, [p.render() for p in problems])
    # Through the CLI: exit code 2, the file:line and field on stderr, no traceback.
    code = main(["validate", str(path)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "Traceback" not in err
    assert str(path) in err.replace("\n", "")
    if line is not None:
        assert f"{path}:{line}" in err.replace("\n", "")


def test_several_errors_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(GOOD.replace("[0.3, 0.6]", "[0.3, 7]") + "device: tpu\nfoo: 1\n")
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    fields = {p.field for p in exc.value.problems}
    assert {"pruners.0.levels.1", "device", "foo"} <= fields
    assert "3 problems" in str(exc.value)


def test_good_spec_loads(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(GOOD)
    spec = load_spec(path)
    assert spec.seeds == [0]
    assert spec.pruners[0].levels == [0.3, 0.6]
    assert spec.source_text == GOOD
    assert spec.run_dir == Path("runs/tiny")


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\nmodels: [yolov5n]\n")
    with pytest.raises(SpecError, match="YAML"):
        load_spec(path)


def test_missing_spec_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in " ".join(capsys.readouterr().err.split())
