"""``prunebench report RUN_DIR``: redraws from the store, runs only the named reporters, exits 2 on bad input."""

from __future__ import annotations

import json

import pytest

from prunebench.cli import main
from prunebench.report.reporting import reporter_refs
from prunebench.suite.results import Results


@pytest.fixture
def stored(monkeypatch, fake_results, no_third_party_plugins):
    """Results.load returns the fake results (the real store is read in tests/suite and the end-to-end test)."""
    monkeypatch.setattr(Results, "load", classmethod(lambda cls, run_dir: fake_results))
    return fake_results


def test_report_without_store_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "has no results store" in err
    assert "Traceback" not in err


def test_report_missing_folder_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "does not exist" in " ".join(capsys.readouterr().err.split())


def test_report_named_reporters_only(stored, capsys):
    run = stored.run_dir
    assert main(["report", str(run), "--reporter", "json", "-r", "csv", "--width", "200"]) == 0
    assert json.loads((run / "results.json").read_text())["name"] == "tea-bud-test"
    assert (run / "results.csv").is_file()
    assert not (run / "report.md").exists()
    assert "wrote 2 files" in " ".join(capsys.readouterr().out.split())


def test_report_unknown_reporter_exits_2_before_writing(stored, capsys):
    assert main(["report", str(stored.run_dir), "-r", "json", "-r", "markdwn"]) == 2
    assert "Did you mean 'markdown'" in " ".join(capsys.readouterr().err.split())
    assert not (stored.run_dir / "results.json").exists()


def test_reporter_refs_use_the_spec():
    spec = {"reporters": [{"name": "console", "options": {"width": 120}}, {"name": "json", "options": {}}]}
    assert reporter_refs(spec, []) == [("console", {"width": 120}), ("json", {})]
    assert reporter_refs(spec, ["console", "plots"]) == [("console", {"width": 120}), ("plots", {})]
    assert [n for n, _ in reporter_refs({}, [])] == ["console", "json", "csv", "plots", "markdown", "html"]


def test_a_failing_reporter_does_not_stop_the_others(stored, plugin_dir, capsys):
    (plugin_dir / "broken_reporter.py").write_text(
        "from prunebench import Reporter, hookimpl\n\n"
        "class Broken(Reporter):\n"
        "    name = 'broken'\n"
        "    def report(self, results, out_dir, console):\n"
        "        raise ZeroDivisionError('division by zero in a plot')\n\n"
        "@hookimpl\n"
        "def register_reporters(register):\n"
        "    register(Broken)\n")
    stored.spec["plugins"] = ["broken_reporter"]
    assert main(["report", str(stored.run_dir), "-r", "broken", "-r", "json"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "reporter 'broken' failed: ZeroDivisionError: division by zero in a plot" in out
    assert (stored.run_dir / "results.json").is_file()
