"""Bundled plugin: reporters (console tables, results.json/csv, plots, report.md, report.html)."""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from prunebench.contracts import PluginOptions, Reporter
from prunebench.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.register import Register

__all__ = ["ConsoleReporter", "CsvReporter", "HtmlReporter", "JsonReporter", "MarkdownReporter",
           "PlotsReporter", "register_reporters"]


def _inside_run_folder(value: str) -> str:
    """A reporter writes only inside the run folder: a relative path without ``..`` parts."""
    path = PurePath(value)
    if path.is_absolute() or ".." in path.parts or not path.parts or value != value.strip():
        raise ValueError(f"{value!r} is not a name inside the run folder: reporters write only there; give a "
                         f"relative path without '..' (e.g. 'results.json' or 'exports/results.json')")
    return value


#: a file or folder name inside the run folder
InRunFolder = Annotated[str, AfterValidator(_inside_run_folder)]


class ConsoleReporter(Reporter):
    """Rich tables per model (baseline first, retention), best pruner per level, failed cells."""

    name: ClassVar[str] = "console"
    description: ClassVar[str] = "rich tables per model with retention, best pruner per level, failed cells"

    class Options(PluginOptions):
        width: int | None = Field(None, ge=40, le=1000,
                                  description="console width in characters (default: the terminal's)")

    def report(self, results: Any, out_dir: Path, console: Any) -> list[Path]:
        from rich.console import Console

        from prunebench.report.tables import print_tables

        if console is None or self.options.width is not None:
            console = Console(width=self.options.width)
        print_tables(results, console)
        return []


class JsonReporter(Reporter):
    """``results.json``: name, spec, environment and one entry per cell (fixed layout)."""

    name: ClassVar[str] = "json"
    description: ClassVar[str] = "results.json: every cell with its metrics and prune record"

    class Options(PluginOptions):
        filename: InRunFolder = Field("results.json", min_length=1, max_length=255,
                              description="file name inside the run folder")

    def report(self, results: Any, out_dir: Path, console: Any) -> list[Path]:
        from prunebench.report.results_export import write_json

        return [write_json(results, Path(out_dir) / self.options.filename)]


class CsvReporter(Reporter):
    """``results.csv``: one row per cell, one column per metric."""

    name: ClassVar[str] = "csv"
    description: ClassVar[str] = "results.csv: one row per cell, one column per metric"

    class Options(PluginOptions):
        filename: InRunFolder = Field("results.csv", min_length=1, max_length=255,
                              description="file name inside the run folder")

    def report(self, results: Any, out_dir: Path, console: Any) -> list[Path]:
        from prunebench.report.results_export import write_csv

        return [write_csv(results, Path(out_dir) / self.options.filename)]


class PlotsReporter(Reporter):
    """PNG plots in ``plots/``: curves, losses, metric vs level, trade-offs, size, BN gammas."""

    name: ClassVar[str] = "plots"
    description: ClassVar[str] = "PNG plots: curves, losses, metrics vs level, trade-off, size, BN gammas"

    class Options(PluginOptions):
        folder: InRunFolder = Field("plots", min_length=1, max_length=255, description="folder inside the run folder")

    def report(self, results: Any, out_dir: Path, console: Any) -> list[Path]:
        from prunebench.report.plots import write_all_plots

        return write_all_plots(results, Path(out_dir) / self.options.folder)


def _ensure_plots(results: Any, plot_dir: Path) -> None:
    """Draw the plots that are not there yet (a report asked for without the plots reporter)."""
    from prunebench.report.plot_style import save
    from prunebench.report.plots import plot_jobs

    for job in plot_jobs(results):
        if not (plot_dir / job.name).is_file():
            save(job.draw(), plot_dir / job.name)


class MarkdownReporter(Reporter):
    """``report.md``: findings, tables, failed cells, plots (relative links), environment, spec."""

    name: ClassVar[str] = "markdown"
    description: ClassVar[str] = "report.md with findings, tables, plots, environment and spec"

    class Options(PluginOptions):
        plots: InRunFolder = Field("plots", min_length=1, max_length=255,
                           description="folder of the PNG plots inside the run folder (drawn if missing)")

    def report(self, results: Any, out_dir: Path, console: Any) -> list[Path]:
        from prunebench.report.markdown import write_markdown

        plot_dir = Path(out_dir) / self.options.plots
        _ensure_plots(results, plot_dir)
        return [write_markdown(results, out_dir, plot_dir)]


class HtmlReporter(Reporter):
    """``report.html``: the Markdown report's content in one self-contained file (images embedded)."""

    name: ClassVar[str] = "html"
    description: ClassVar[str] = "report.html, self-contained (plots embedded as data URIs)"

    class Options(PluginOptions):
        plots: InRunFolder = Field("plots", min_length=1, max_length=255,
                           description="folder of the PNG plots inside the run folder (drawn if missing)")

    def report(self, results: Any, out_dir: Path, console: Any) -> list[Path]:
        from prunebench.report.html import write_html

        plot_dir = Path(out_dir) / self.options.plots
        _ensure_plots(results, plot_dir)
        return [write_html(results, out_dir, plot_dir)]


@hookimpl
def register_reporters(register: Register[type[Reporter]]) -> None:
    for cls in (ConsoleReporter, JsonReporter, CsvReporter, PlotsReporter, MarkdownReporter, HtmlReporter):
        register(cls)
