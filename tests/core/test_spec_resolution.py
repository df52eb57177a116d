"""Spec resolution: a resolved copy, never a changed spec; stage keys that do not depend on how it was loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunebench.plugins import get_catalogue
from prunebench.spec import SpecError, load_spec, parse_spec, resolve_spec
from prunebench.suite.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]

BN_SCALE = """\
name: alias
dataset: {{name: tea-bud-synth, options: {{train: 8, val: 4, imgsz: 64}}}}
models: [{{name: yolov5n, options: {{width_multiple: 0.0625}}}}]
pruners:
  - name: bn-scale
    levels: [0.3, 0.6]
    options: {{{option}: 1.0e-5, sparsity_epochs: 1, scope: backbone}}
train: {{epochs: 1, imgsz: 64, batch_size: 4}}
finetune: {{epochs: 1, imgsz: 64, batch_size: 4}}
"""


def _keys(spec_text: str, *, check_plugins: bool, base_dir: Path | None = None) -> list[tuple[str, str]]:
    spec = parse_spec(spec_text, base_dir=base_dir, check_plugins=check_plugins)
    plan = build_plan(spec, get_catalogue(spec.plugins), threads=1)
    return [(s.label, s.key) for s in plan.stage_list()]


def test_stage_keys_do_not_depend_on_plugin_checks_or_option_aliases() -> None:
    runs = {(option, check): _keys(BN_SCALE.format(option=option), check_plugins=check)
            for option in ("lambda", "strength") for check in (True, False)}
    first = runs[("lambda", True)]
    assert {label.split()[0] for label, _ in first} >= {"data", "train", "sparsity", "prune", "finetune"}
    for variant, keys in runs.items():
        assert keys == first, variant
    # the options hashed are the canonical dump: the alias as key, only the options given
    spec = parse_spec(BN_SCALE.format(option="strength"))
    assert spec.pruners[0].options == {"lambda": 1e-5, "sparsity_epochs": 1, "scope": "backbone"}


def test_a_different_option_value_gives_different_keys() -> None:
    a = dict(_keys(BN_SCALE.format(option="lambda"), check_plugins=True))
    b = dict(_keys(BN_SCALE.format(option="lambda").replace("1.0e-5", "2.0e-5"), check_plugins=True))
    assert a["train yolov5n s0"] == b["train yolov5n s0"]
    assert a["sparsity yolov5n bn-scale s0"] != b["sparsity yolov5n bn-scale s0"]


def test_quick_study_keys_do_not_depend_on_plugin_checks() -> None:
    runs = []
    for check in (True, False):
        spec = load_spec(ROOT / "specs" / "tea-bud-quick.yaml", check_plugins=check)
        runs.append([(s.label, s.key) for s in build_plan(spec, get_catalogue(), threads=1).stage_list()])
    assert runs[0] == runs[1]
    assert len(runs[0]) == 37  # 34 + the speed stage of each of the 3 models
    # recorded with prunebench 0.1: the data stage of a 0.1 run folder is still found
    assert dict(runs[0])["data tea-bud-synth"] == "data-ad3b685200a058f6"


def test_resolution_returns_a_copy_and_leaves_the_spec_alone(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [bud]\n")
    text = BN_SCALE.format(option="strength").replace(
        "dataset: {name: tea-bud-synth, options: {train: 8, val: 4, imgsz: 64}}", "dataset: data.yaml")
    raw = parse_spec(text, base_dir=tmp_path, check_plugins=False)
    before = raw.model_dump()
    assert not raw.resolved
    resolved = resolve_spec(raw, get_catalogue())
    assert raw.model_dump() == before  # nothing written into the spec it was given
    assert resolved is not raw
    assert resolved.resolved
    assert resolve_spec(resolved) is resolved  # resolved once
    # the dataset plugin claimed the shorthand and resolved its own path against the spec's folder
    assert resolved.dataset.name == "yolo"
    assert resolved.dataset.options == {"path": str(tmp_path / "data.yaml")}
    assert raw.dataset.name == "data.yaml"
    assert raw.dataset.options == {}
    assert resolved.pruners[0].options["lambda"] == 1e-5
    assert raw.pruners[0].options["strength"] == 1e-5
    # a checked load gives the same resolved spec
    checked = parse_spec(text, base_dir=tmp_path)
    assert checked.resolved
    assert checked.model_dump() == resolved.model_dump()


def test_resolution_of_an_unchecked_spec_reports_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(BN_SCALE.format(option="lamda"))
    spec = load_spec(path, check_plugins=False)
    with pytest.raises(SpecError) as exc:
        build_plan(spec, get_catalogue(), threads=1)
    [problem] = exc.value.problems
    assert (problem.file, problem.line, problem.field) == (str(path), 7, "pruners.0.options.lamda")
    assert "Did you mean 'lambda'" in problem.message


def test_each_plugins_options_are_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cls = get_catalogue().pruners.get("bn-scale").Options
    calls: list[object] = []
    original = cls.model_validate.__func__

    def counting(klass: type, obj: object, *args: object, **kwargs: object) -> object:
        calls.append(obj)
        return original(klass, obj, *args, **kwargs)

    monkeypatch.setattr(cls, "model_validate", classmethod(counting))
    spec = parse_spec(BN_SCALE.format(option="lambda"))
    plan = build_plan(spec, get_catalogue(), threads=1)
    assert len(calls) == 1, calls
    pruner_stages = [s for s in plan.stage_list() if s.kind in ("sparsity", "prune")]
    assert pruner_stages
    for stage in pruner_stages:  # as the stage functions build the pruner from their inputs' canonical dict
        ref = stage.inputs["pruner"]
        pruner = get_catalogue().pruners.get(ref["name"])(ref["options"])
        assert pruner.options == spec.pruners[0]._validated
    assert len(calls) == 1, calls  # spec, plan and stages: validated once


def test_a_dataset_string_is_a_registered_name_or_a_claimed_shorthand(tmp_path: Path) -> None:
    text = BN_SCALE.format(option="lambda")
    named = parse_spec(text.replace("dataset: {name: tea-bud-synth, options: {train: 8, val: 4, imgsz: 64}}",
                                    "dataset: tea-bud-synth"))
    assert (named.dataset.name, named.dataset.options) == ("tea-bud-synth", {})
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace("dataset: {name: tea-bud-synth, options: {train: 8, val: 4, imgsz: 64}}",
                                 "dataset: my-data"))
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    [problem] = exc.value.problems
    assert (problem.line, problem.field) == (2, "dataset.name")
    assert "Unknown dataset 'my-data'" in problem.message
    assert ".yaml" in problem.message  # says how to give a data.yaml instead
