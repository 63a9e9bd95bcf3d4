"""A self-contained HTML page (plotly.js inlined: it opens offline): the frame of every report."""

from __future__ import annotations

import html


def page(title: str, blocks: list) -> str:
    """An HTML page from a list of blocks: strings are HTML, other objects are plotly figures."""
    parts, first = [], True
    for b in blocks:
        if isinstance(b, str):
            parts.append(b)
        else:
            parts.append(b.to_html(full_html=False, include_plotlyjs="inline" if first else False))
            first = False
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
        "color:#222}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
        "text-align:right}th:first-child,td:first-child{text-align:left}.note{background:#f6f6f6;"
        "padding:.6em 1em;border-left:4px solid #888}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>"
    )
