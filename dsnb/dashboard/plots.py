"""The dashboard's plots: pure figure functions, and a pane that redraws one in place.

Two ways to redraw (``FigurePane``):

- "static" (the default): the figure's ordinary notebook output placed in an
  ``ipywidgets.Output`` by replacing its ``outputs`` in one assignment (no clear-then-draw
  flash). Each redraw is a whole figure (about 60 kB of plotly JSON at 150 steps), drawn by
  the same renderer as any plotly figure, so it shows wherever a figure shows: JupyterLab,
  Colab, VS Code.
- "figurewidget": a plotly ``FigureWidget``; each redraw copies the new figure's traces and
  layout into it inside ``batch_update()`` (one message). Lighter per redraw, but the
  widget can stay blank: Colab and VS Code have a long record of not rendering it (plotly.py
  #2202, #5027; colabtools #498), and in JupyterLab 4 with plotly 7 the first FigureWidgets
  of a page rendered empty axes, for good, in several of our real-browser runs of notebook 03.

Used by ``dsnb.dashboard.widget``; figure functions reuse ``dsnb.report`` (colours, smoothing).
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dsnb.report.figures import smooth
from dsnb.report.palette import family_of, log_k_axis, styles

BACKENDS = ("auto", "figurewidget", "static")
# (metric key, panel title, y range: fixed [lo, hi], "zero" = from 0, None = free), row by row
PANELS = [
    ("reward/mean", "reward ── and correct ┈┈", [0, 1.05]),
    ("div/distinct_correct", "distinct correct solutions / group", "zero"),
    ("entropy/token_mean", "mean token entropy", "zero"),
    ("reward/frac_zero_std", "equal-reward groups (no gradient)", [0, 1.05]),
    ("loss/total", "loss (≈ 0 by design: not progress)", None),
    ("ds/gamma_p", "γp ── and γn ┈┈ in force", "zero"),
]
MAX_TICKS = 7  # step labels per panel: a 250-pixel panel reads 7 three-digit labels
SECOND_LINE = {"reward/mean": "correct/mean", "ds/gamma_p": "ds/gamma_n"}


def choose_plot_backend(pref: str = "auto") -> str:
    """The backend of a :class:`FigurePane`: "auto" means "static" (it renders everywhere);
    an explicit choice wins.

    >>> choose_plot_backend("auto"), choose_plot_backend("figurewidget")
    ('static', 'figurewidget')
    """
    if pref not in BACKENDS:
        raise ValueError(f"backend={pref!r}: choose one of {BACKENDS}")
    return "static" if pref == "auto" else pref


def step_dtick(n_steps: int, max_ticks: int = MAX_TICKS) -> int:
    """The spacing of step labels: the smallest of 1, 2, 5, 10, 20, 50, ... that labels
    0..n_steps with at most `max_ticks` labels (every integer only while there are few).

    >>> [step_dtick(n) for n in (5, 6, 20, 60, 200, 1000)]
    [1, 1, 5, 10, 50, 200]
    """
    dtick, scale = 1, 1
    while n_steps // dtick + 1 > max_ticks:
        for m in (2, 5, 10):
            dtick = m * scale
            if n_steps // dtick + 1 <= max_ticks:
                return dtick
        scale *= 10
    return dtick


def control_changes(rows: list[dict], keys=("ds/gamma_p", "ds/gamma_n", "entropy_coef", "lr")):
    """Where a live control changed: [(x, label)], x halfway between the last row with the old
    value and the first with the new one.

    >>> rows = [{"step": s, "ds/gamma_p": g} for s, g in ((1, 0.0), (2, 0.0), (3, 1.5))]
    >>> control_changes(rows, keys=("ds/gamma_p",))
    [(2.5, 'γp 0 → 1.5')]
    """
    short = {"ds/gamma_p": "γp", "ds/gamma_n": "γn", "entropy_coef": "entropy", "lr": "lr"}
    out = []
    for prev, row in zip(rows, rows[1:]):
        moved = [
            f"{short[k]} {prev[k]:.3g} → {row[k]:.3g}"
            for k in keys
            if k in row and k in prev and row[k] != prev[k]
        ]
        if moved:
            out.append(((prev["step"] + row["step"]) / 2, ", ".join(moved)))
    return out


def run_styles(names) -> dict[str, dict]:
    """The palette rule for the runs of a dashboard: colour by method family, dash by variant."""
    return styles({name: family_of(name) for name in names})


def training_figure(runs: dict[str, list[dict]], changes=(), show_kl: bool = False, window: int = 5):
    """Six panels of live training metrics, one colour per run, smoothed lines over faint raw
    ones, and a dotted vertical line wherever a control changed (``changes`` = [(x, label)]).
    The first run is drawn widest, so a run that coincides with it stays visible on top."""
    panels = list(PANELS)
    if show_kl:
        panels[4] = ("kl", "KL to the base model (k3)", "zero")
    fig = make_subplots(
        rows=2, cols=3, subplot_titles=[p[1] for p in panels], horizontal_spacing=0.08, vertical_spacing=0.17
    )
    fig.update_annotations(font_size=12)  # the panel titles
    style = run_styles(runs)
    for j, (name, rows) in enumerate(runs.items()):
        steps = [r["step"] for r in rows]
        for i, (key, _, _) in enumerate(panels):
            pos = dict(row=i // 3 + 1, col=i % 3 + 1)
            for k, second in ((key, False), (SECOND_LINE.get(key), True)):
                if k is None:
                    continue
                ys = [r.get(k) for r in rows]
                is_control = k.startswith("ds/")  # a setting: draw it exactly, as steps
                fig.add_trace(
                    go.Scatter(
                        x=steps,
                        y=ys,
                        mode="lines",
                        opacity=0.25,
                        hoverinfo="skip",
                        line=dict(color=style[name]["color"], width=1),
                        showlegend=False,
                        visible=not is_control,
                    ),
                    **pos,
                )
                fig.add_trace(
                    go.Scatter(
                        x=steps,
                        y=ys if is_control else smooth(ys, window),
                        mode="lines",
                        name=name,
                        legendgroup=name,
                        showlegend=(i == 0 and not second),
                        line=dict(
                            color=style[name]["color"],
                            width=max(2.0, 5 - 2.5 * j),
                            dash="dot" if second else style[name]["dash"],
                            shape="hvh" if is_control else "linear",
                        ),
                    ),
                    **pos,
                )
    for x, label in changes:
        fig.add_vline(x=x, line=dict(color="#555", dash="dot", width=1.5), row="all", col="all")
        fig.add_annotation(
            x=x,
            y=1.0,
            yref="y domain",
            text=label,
            showarrow=False,
            xanchor="left",
            font=dict(size=10, color="#555"),
            row=1,
            col=1,
        )
    style_axes(fig, panels, max((r[-1]["step"] for r in runs.values() if r), default=0))
    return fig


def style_axes(fig, panels, last_step: int):
    """y ranges per panel; step labels every :func:`step_dtick` steps (set explicitly on every
    redraw, so a growing run never labels every integer); a size that fits a notebook."""
    for i, (_, _, yrange) in enumerate(panels):
        pos = dict(row=i // 3 + 1, col=i % 3 + 1)
        if isinstance(yrange, list):
            fig.update_yaxes(range=yrange, **pos)
        elif yrange == "zero":
            fig.update_yaxes(rangemode="tozero", **pos)
    fig.update_xaxes(tick0=0, dtick=step_dtick(last_step), range=[0, max(last_step, 1) * 1.02])
    fig.update_xaxes(title_text="step", row=2)
    fig.update_layout(
        height=520,
        template="plotly_white",
        margin=dict(t=60, l=45, r=15, b=40),
        legend=dict(orientation="h", y=1.13, x=0, xanchor="left"),
    )


def live_passk_figure(base_curve, evals: dict[str, tuple[int, list[float]]], n_problems: int, names=(), n=16):
    """[PK1] pass@k vs k: the base model (dashed grey) and each run at its latest
    mini-evaluation, k on a log axis ticked 1, 2, 4, ..., n. Runs in `names` not evaluated yet
    get an empty line (the figure keeps its structure) and the axes keep their range."""
    curves = {"base": base_curve or []}
    curves.update({name: evals.get(name, (0, []))[1] for name in names})
    curves.update({name: curve for name, (_, curve) in evals.items()})
    n = max([n] + [len(c) for c in curves.values()])
    steps = ", ".join(f"{name} at step {s}" for name, (s, _) in evals.items())
    if evals and all(s == 0 for s, _ in evals.values()):
        steps = "before training: every run is still the base model"
    fig = go.Figure()
    style = styles({name: family_of(name) for name in curves})
    for name, ys in curves.items():
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(ys) + 1)),
                y=ys,
                mode="lines+markers",
                name=name,
                line=dict(color=style[name]["color"], width=2.5, dash=style[name]["dash"]),
                marker=dict(size=5, symbol=style[name]["symbol"]),
            )
        )
    if not any(curves.values()):
        fig.add_annotation(
            text="the first mini-evaluation<br>runs before step 1",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
            font=dict(color="#777", size=13),
        )
    log_k_axis(fig, n)
    fig.update_xaxes(range=[-0.05, math.log10(n) + 0.05])  # log axis: the range is in log10 units
    fig.update_yaxes(title_text="pass@k", range=[0, 1.02])
    fig.update_layout(
        title=f"pass@k on {n_problems} held-out problems<br><sup>{steps or 'no evaluation yet'}</sup>",
        height=360,
        width=440,
        template="plotly_white",
        title_font_size=12,
        margin=dict(t=50, l=45, r=10, b=40),
        legend=dict(x=0.99, y=0.02, xanchor="right"),
    )
    return fig


def figure_bundle(fig) -> dict:
    """The mime bundle a notebook would show for `fig` (plotly picks the right renderer for
    JupyterLab, Colab or VS Code); outside a kernel, plotly JSON plus HTML."""
    bundle = fig._repr_mimebundle_() or {}
    if not bundle:
        bundle = {
            "application/vnd.plotly.v1+json": fig.to_plotly_json(),
            "text/html": fig.to_html(include_plotlyjs="cdn", full_html=False),
        }
    return bundle


class FigurePane:
    """A plot that redraws in place; ``.widget`` goes into the layout, ``.update(fig)`` redraws."""

    def __init__(self, fig, backend: str = "auto"):
        self.backend = choose_plot_backend(backend)
        self.redraws = 0
        if self.backend == "figurewidget":
            self.widget = go.FigureWidget(fig)
        else:
            height = fig.layout.height or 450
            self.widget = widgets.Output(layout=widgets.Layout(min_height=f"{height + 10}px"))
            self.update(fig)

    def update(self, fig) -> None:
        """Redraw with `fig` (same structure or not): one batched message, no flicker. Traces
        and the whole layout (axes and their ticks included) come from `fig`, so a figure that
        changes its axes as it grows redraws them too."""
        self.redraws += 1
        if self.backend == "static":
            self.widget.outputs = (
                {"output_type": "display_data", "data": figure_bundle(fig), "metadata": {}},
            )
            return
        fw = self.widget
        if len(fw.data) != len(fig.data):  # a new structure: rebuild the traces
            fw.data = ()
            fw.add_traces(list(fig.data))
        layout = fig.layout.to_plotly_json()
        layout.pop("template", None)  # the same template every time; copying it costs ~30 ms
        gone = {k: None for k in fw.layout.to_plotly_json() if k not in layout and k != "template"}
        with fw.batch_update():
            for old, new in zip(fw.data, fig.data):
                spec = new.to_plotly_json()
                spec.pop("type", None)
                old.update(spec, overwrite=True)
            fw.update_layout({**gone, **layout}, overwrite=True)
