"""A self-contained HTML page (plotly.js inlined: it opens offline): the frame of every report."""

from __future__ import annotations

import html

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;"
    "line-height:1.4}"
    "table{border-collapse:collapse;margin:.5em 0 1em}"
    "td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}"
    "th{white-space:nowrap}th:first-child,td:first-child{text-align:left}"
    "td.num{white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td small{color:#555}"
    ".note{background:#f6f6f6;padding:.6em 1em;border-left:4px solid #888}"
    ".finding{background:#eef5ee;padding:.6em 1em;border-left:4px solid #2ca02c;font-size:1.05em}"
    ".finding ul{margin:.3em 0}"
    "table.verdicts td.up{background:#e3f2e3}table.verdicts td.down{background:#fbe4e4}"
    "table.verdicts td.same{color:#666}"
    "details{margin:.5em 0 1em}summary{cursor:pointer;color:#1f5fa8}"
    ".plotly-graph-div{margin:1em 0}"
)


def page(title: str, blocks: list) -> str:
    """An HTML page from a list of blocks: strings are HTML, other objects are plotly figures."""
    parts, first = [], True
    for b in blocks:
        if isinstance(b, str):
            parts.append(b)
        else:
            parts.append(b.to_html(full_html=False, include_plotlyjs="inline" if first else False))
            first = False
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>"
    )
