"""``report.md``: the report document rendered as GitHub-flavoured Markdown with relative image links."""

from __future__ import annotations

from pathlib import Path

from prunebench.files import write_text_atomic
from prunebench.report.document import Block, build_document
from prunebench.report.tables import markdown_table
from prunebench.suite.results import Results

__all__ = ["render_markdown", "write_markdown"]


def _fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return fence


def render_markdown(blocks: list[Block]) -> str:
    """The blocks as Markdown."""
    out: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            out.append("#" * b.level + " " + str(b.value))
        elif b.kind == "text":
            out.append(str(b.value))
        elif b.kind == "bullets":
            out.append("\n".join(f"- {item}" for item in b.value) if b.value else "- (nothing to report)")
        elif b.kind == "table":
            out.append(markdown_table(b.value) + (f"\n\n*{b.caption}*" if b.caption else ""))
        elif b.kind == "image":
            out.append(f"![{b.caption}]({b.value})\n\n*{b.caption}*")
        elif b.kind == "code":
            text = str(b.value).rstrip("\n")
            fence = _fence(text)
            head = f"**{b.caption}**\n\n" if b.caption else ""
            out.append(f"{head}{fence}{b.lang}\n{text}\n{fence}")
    return "\n\n".join(out) + "\n"


def write_markdown(results: Results, run_dir: str | Path, plot_dir: str | Path | None = None) -> Path:
    """Write ``run_dir/report.md`` linking the PNGs found in ``plot_dir`` (default ``run_dir/plots``)."""
    run_dir = Path(run_dir)
    plots = Path(plot_dir) if plot_dir is not None else run_dir / "plots"
    rel = Path(plots).resolve().relative_to(run_dir.resolve()).as_posix() if plots.resolve().is_relative_to(
        run_dir.resolve()) else plots.resolve().as_posix()
    return write_text_atomic(run_dir / "report.md", render_markdown(build_document(results, plots, link_prefix=rel)))
