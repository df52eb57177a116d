"""report.md links plots that exist; report.html embeds them; reporters write their files."""

from __future__ import annotations

import re

import prunebench as pb
from prunebench.report.document import spec_yaml
from prunebench.report.html import write_html
from prunebench.report.markdown import write_markdown


def test_report_md_sections_and_links(plotted_run, failed_key):
    fake_results, _ = plotted_run
    run = fake_results.run_dir
    text = write_markdown(fake_results, run).read_text()
    assert text.startswith("# tea-bud-test: pruning benchmark report")
    for heading in ("## Findings", "## Results", "### yolov5n", "### Best pruner per level (by mAP50-95)",
                    "## Failed cells", "## Plots", "## Environment", "## Spec"):
        assert f"\n{heading}\n" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 24  # every plot of plot_jobs, the two recovery plots included
    for link in links:
        assert link.startswith("plots/")
        assert (run / link).is_file()
    assert "```yaml\nname: tea-bud-test\n" in text
    assert "| git_commit | abc1234 |" in text
    assert failed_key in text
    assert "falls steadily with the level" in text


def test_report_html_is_self_contained(plotted_run):
    fake_results, _ = plotted_run
    run = fake_results.run_dir
    html = write_html(fake_results, run).read_text()
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == 24  # every plot, the two recovery plots included
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<table>" in html
    assert 'class="baseline"' in html
    assert "&lt;" not in html.split("<body>")[0]


def test_spec_yaml_falls_back_to_the_stored_mapping(fake_results):
    fake_results.spec_text = ""
    assert "name: tea-bud-test" in spec_yaml(fake_results)


def test_every_bundled_reporter_writes_its_files(plotted_run, no_third_party_plugins):
    from rich.console import Console

    fake_results, _ = plotted_run
    run = fake_results.run_dir
    console = Console(record=True, width=250)
    written = {}
    for name in ("console", "json", "csv", "markdown", "html"):
        written[name] = pb.create_reporter(name).report(fake_results, run, console)
    assert written["console"] == []
    assert "yolov5s" in console.export_text()
    assert written["json"] == [run / "results.json"]
    assert written["csv"] == [run / "results.csv"]
    assert written["markdown"] == [run / "report.md"]
    assert written["html"] == [run / "report.html"]
    assert len(list((run / "plots").glob("*.png"))) == 24


def test_plots_and_markdown_reporters_draw_into_the_run_folder(fake_results, no_third_party_plugins):
    fake_results.cells = [c for c in fake_results.cells if c.model == "yolov5n" and c.pruner in (None, "l1")]
    run = fake_results.run_dir
    md = pb.create_reporter("markdown").report(fake_results, run, None)  # draws the plots it links
    drawn = sorted(p.name for p in (run / "plots").glob("*.png"))
    assert md == [run / "report.md"]
    assert len(drawn) == 11  # with the recovery plot of yolov5n
    again = pb.create_reporter("plots", folder="figures").report(fake_results, run, None)
    assert sorted(p.name for p in again) == drawn
    assert all(p.parent == run / "figures" for p in again)
