"""Every hook is typed, documented in docs/hooks.md, exercised by a test, and callable as documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from prunebench import hookimpl, hookspecs, plugins

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(n for n, f in vars(hookspecs).items()
               if callable(f) and hasattr(f, f"{hookspecs.PROJECT_NAME}_spec"))
CATALOGUE_HOOKS = [h for h in HOOKS if h.startswith("register_")]
LIFECYCLE_HOOKS = [h for h in HOOKS if not h.startswith("register_")]


def test_expected_hooks_exist() -> None:
    assert set(CATALOGUE_HOOKS) == {"register_models", "register_pruners", "register_metrics",
                                    "register_datasets", "register_reporters", "register_executors"}
    assert set(LIFECYCLE_HOOKS) == {"suite_started", "cell_started", "stage_started", "epoch_finished",
                                    "stage_finished", "cell_finished", "suite_finished"}


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_typed_and_has_param_docs(hook: str) -> None:
    fn = getattr(hookspecs, hook)
    sig = inspect.signature(fn)
    doc = inspect.getdoc(fn) or ""
    assert doc, f"{hook} has no docstring"
    for name, param in sig.parameters.items():
        assert param.annotation is not inspect.Parameter.empty, f"{hook}({name}) is not typed"
        assert f":param {name}:" in doc, f"{hook} does not document {name}"
    assert sig.return_annotation in ("None", None)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook: str) -> None:
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    assert re.search(rf"^#+ `?{hook}`?", text, re.MULTILINE), f"docs/hooks.md has no section for {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_tested_outside_this_file(hook: str) -> None:
    here = Path(__file__).resolve()
    files = [p for p in (ROOT / "tests").rglob("test_*.py") if p.resolve() != here]
    files += list((ROOT / "plugins").rglob("test_*.py"))
    assert any(hook in p.read_text(encoding="utf-8") for p in files), f"no test mentions the hook {hook}"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def suite_started(self, spec: Any, run_dir: Path, plan: Any) -> None:
        self.calls.append(("suite_started", {"spec": spec, "run_dir": run_dir, "plan": plan}))

    @hookimpl
    def cell_started(self, cell: Any, run_dir: Path) -> None:
        self.calls.append(("cell_started", {"cell": cell}))

    @hookimpl
    def stage_started(self, stage: Any, cell: Any, run_dir: Path) -> None:
        self.calls.append(("stage_started", {"stage": stage}))

    @hookimpl
    def epoch_finished(self, cell: Any, stage: str, epoch: int, metrics: dict[str, float]) -> None:
        self.calls.append(("epoch_finished", {"stage": stage, "epoch": epoch}))

    @hookimpl
    def stage_finished(self, stage: Any, cell: Any, result: Any, error: str | None) -> None:
        self.calls.append(("stage_finished", {"error": error}))

    @hookimpl
    def cell_finished(self, cell: Any, status: str, metrics: dict[str, float], error: str | None) -> None:
        self.calls.append(("cell_finished", {"status": status}))

    @hookimpl
    def suite_finished(self, spec: Any, run_dir: Path, results: Any, failed: int) -> None:
        self.calls.append(("suite_finished", {"failed": failed}))


def test_lifecycle_hooks_reach_an_observer(tmp_path: Path, fresh_catalogue: None) -> None:
    pm, _ = plugins.get_plugin_manager(entry_points=False, defaults=False)
    rec = Recorder()
    pm.register(rec, name="recorder")
    pm.check_pending()
    pm.hook.suite_started(spec=None, run_dir=tmp_path, plan=[])
    pm.hook.cell_started(cell="c", run_dir=tmp_path)
    pm.hook.stage_started(stage="s", cell="c", run_dir=tmp_path)
    pm.hook.epoch_finished(cell="c", stage="finetune", epoch=0, metrics={"loss": 1.0})
    pm.hook.stage_finished(stage="s", cell="c", result=None, error=None)
    pm.hook.cell_finished(cell="c", status="done", metrics={}, error=None)
    pm.hook.suite_finished(spec=None, run_dir=tmp_path, results=None, failed=0)
    assert [c[0] for c in rec.calls] == ["suite_started", "cell_started", "stage_started", "epoch_finished",
                                          "stage_finished", "cell_finished", "suite_finished"]


def test_catalogue_hooks_receive_typed_register(fresh_catalogue: None) -> None:
    seen: dict[str, str] = {}

    class Probe:
        pass

    for hook in CATALOGUE_HOOKS:
        def impl(register: plugins.Register[Any], _hook: str = hook) -> None:
            seen[_hook] = register.kind
        impl.__name__ = hook
        setattr(Probe, hook, staticmethod(hookimpl(impl)))
    pm, _ = plugins.get_plugin_manager(entry_points=False, defaults=False)
    pm.register(Probe(), name="probe")
    for hook in CATALOGUE_HOOKS:
        getattr(pm.hook, hook)(register=plugins.Register(plugins.Registry(hook[9:-1]), "probe", None, None))
    assert seen == {h: h[9:-1] for h in CATALOGUE_HOOKS}
