"""Plots of training runs and evaluations: pure functions returning plotly Figures.

Used by the demo report, the study report, the dashboard (which wraps them in FigureWidget)
and notebook 05. One colour per method everywhere (``dsnb.report.palette``).
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dsnb.metrics import GLOSSARY
from dsnb.report.palette import color


def smooth(values, window: int = 9):
    """Trailing moving average that ignores missing values (the first points average fewer).

    >>> smooth([1.0, 3.0, 5.0], window=2)
    [1.0, 2.0, 4.0]
    """
    out = []
    for i in range(len(values)):
        win = [v for v in values[max(0, i - window + 1) : i + 1] if v is not None and v == v]
        out.append(sum(win) / len(win) if win else float("nan"))
    return out


def training_curves(
    runs: dict[str, list[dict]], keys=("correct/mean", "div/distinct_correct"), window: int = 9, titles=None
):
    """One panel per metric key, one line per run (smoothed), raw values faint underneath."""
    titles = titles or [f"{k}<br><sup>{GLOSSARY.get(k, '')[:70]}</sup>" for k in keys]
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=titles)
    for name, rows in runs.items():
        steps = [r["step"] for r in rows]
        for j, key in enumerate(keys, start=1):
            ys = [r.get(key) for r in rows]
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=ys,
                    mode="lines",
                    line=dict(color=color(name), width=1),
                    opacity=0.25,
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=1,
                col=j,
            )
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=smooth(ys, window),
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    showlegend=j == 1,
                    line=dict(color=color(name), width=2.5),
                ),
                row=1,
                col=j,
            )
            fig.update_xaxes(title_text="step", row=1, col=j)
    fig.update_layout(height=360, margin=dict(t=70, l=40, r=10, b=40), template="plotly_white")
    return fig


def passk_figure(
    curves: dict[str, list[float]],
    bands: dict[str, tuple[list, list]] | None = None,
    title: str = "pass@k on held-out problems",
):
    """pass@k against k (log scale) per method, optional (low, high) confidence bands."""
    fig = go.Figure()
    for name, ys in curves.items():
        ks = list(range(1, len(ys) + 1))
        if bands and name in bands:
            lo, hi = bands[name]
            fig.add_trace(
                go.Scatter(
                    x=ks + ks[::-1],
                    y=list(hi) + list(lo)[::-1],
                    fill="toself",
                    fillcolor=color(name),
                    opacity=0.15,
                    line=dict(width=0),
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        dash = "dash" if name == "base" else "solid"
        fig.add_trace(
            go.Scatter(
                x=ks, y=ys, mode="lines", name=name, line=dict(color=color(name), width=2.5, dash=dash)
            )
        )
    fig.update_xaxes(type="log", title_text="k (samples per problem)")
    fig.update_yaxes(title_text="pass@k", range=[0, 1.02])
    fig.update_layout(title=title, height=400, template="plotly_white", margin=dict(t=50, l=50, r=10, b=40))
    return fig


def bars(
    summary: dict[str, dict],
    keys=("pass@1", "pass@8", "distinct_correct", "coverage"),
    errors: dict[str, dict] | None = None,
):
    """Grouped bars of summary numbers per method (one panel per key), optional error bars."""
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=list(keys))
    for j, key in enumerate(keys, start=1):
        names = [m for m in summary if key in summary[m]]
        err = [((errors or {}).get(m, {}) or {}).get(key, 0.0) for m in names]
        fig.add_trace(
            go.Bar(
                x=names,
                y=[summary[m][key] for m in names],
                showlegend=False,
                marker_color=[color(m) for m in names],
                error_y=dict(type="data", array=err, visible=any(err)),
            ),
            row=1,
            col=j,
        )
    fig.update_layout(height=320, template="plotly_white", margin=dict(t=40, l=40, r=10, b=40))
    return fig
