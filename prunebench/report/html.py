"""``report.html``: the report document as one self-contained HTML file (images as base64 data URIs)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from prunebench.files import write_text_atomic
from prunebench.report.document import Block, build_document
from prunebench.suite.results import Results

__all__ = ["render_html", "write_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em}
th,td{border:1px solid #ccc;padding:3px 7px}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.baseline td{font-weight:bold}tr.failed td{color:#b00}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#555}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}caption{caption-side:bottom;
text-align:left;font-size:.85em;color:#555;padding-top:.3em}
"""

_TEXT_COLUMNS = {"Pruner", "Level", "Note", "Best", "Runner-up", "Ties", "Error", "Model", "Cell", "Key", "Value"}


_NUM = ' class="num"'


def _inline(text: str) -> str:
    """Escape, then turn Markdown back-ticks into <code>."""
    parts = html.escape(str(text)).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _image(src: Path) -> str:
    data = base64.b64encode(src.read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def render_html(blocks: list[Block], base_dir: Path, title: str = "prunebench report") -> str:
    """The blocks as one HTML page; image paths are read relative to ``base_dir`` and embedded."""
    out = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
           f"</title><style>{_CSS}</style></head><body>"]
    for b in blocks:
        if b.kind == "heading":
            out.append(f"<h{b.level}>{_inline(b.value)}</h{b.level}>")
        elif b.kind == "text":
            out.append(f"<p>{_inline(b.value)}</p>")
        elif b.kind == "bullets":
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.value) + "</ul>")
        elif b.kind == "table":
            t = b.value
            head = "".join(f"<th>{html.escape(h)}</th>" for h in t.headers)
            body = []
            styles = t.styles or [""] * len(t.rows)
            for row, style in zip(t.rows, styles):
                cls = {"bold": "baseline", "red": "failed"}.get(style, "")
                tds = "".join(f"<td{'' if h in _TEXT_COLUMNS else _NUM}>{html.escape(c)}</td>"
                              for h, c in zip(t.headers, row))
                body.append(f"<tr class=\"{cls}\">{tds}</tr>" if cls else f"<tr>{tds}</tr>")
            cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
            out.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        elif b.kind == "image":
            src = base_dir / str(b.value)
            if src.is_file():
                out.append(f"<figure><img src=\"{_image(src)}\" alt=\"{html.escape(b.caption)}\">"
                           f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
            else:
                out.append(f"<p class=\"missing\">missing plot: {html.escape(str(b.value))}</p>")
        elif b.kind == "code":
            cap = f"<p><strong>{html.escape(b.caption)}</strong></p>" if b.caption else ""
            out.append(f"{cap}<pre><code>{html.escape(str(b.value))}</code></pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_html(results: Results, run_dir: str | Path, plot_dir: str | Path | None = None) -> Path:
    """Write ``run_dir/report.html`` with every PNG of ``plot_dir`` (default ``run_dir/plots``) embedded."""
    run_dir = Path(run_dir)
    plots = Path(plot_dir) if plot_dir is not None else run_dir / "plots"
    blocks = build_document(results, plots, link_prefix=plots.resolve().as_posix())
    text = render_html(blocks, Path("/"), title=f"{results.name}: prunebench report")
    return write_text_atomic(run_dir / "report.html", text)
