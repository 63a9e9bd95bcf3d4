"""Plots of training runs and evaluations: pure functions returning plotly Figures.

Used by the demo report, the study report, the dashboard and notebook 05. They follow the palette
rule of ``dsnb.report.palette``: a colour per method family and a dash per variant
(:func:`dsnb.report.palette.styles`), at most ``MAX_TRACES`` methods in a panel (more become small
multiples, :func:`panel_groups`), log-k axes ticked at 1, 2, 4, ..., n. Every axis has a title;
thin and thick lines and bands are named in the legend.
"""

from __future__ import annotations

import math
import textwrap

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dsnb.report.palette import DASHES, FAMILY_COLORS, MAX_TRACES, family_of, log_k_ticks, styles

# What a training metric is called on an axis, and one line that says what it measures.
METRIC_WORDS = {
    "correct/mean": (
        "pass@1 on training prompts",
        "pass@1",
        "fraction of the step's completions that are correct",
    ),
    "div/distinct_correct": (
        "distinct correct solutions",
        "distinct correct",
        "distinct correct solutions among a prompt's G samples",
    ),
    "entropy/token_mean": (
        "token entropy",
        "entropy (nats)",
        "mean entropy of the policy's next-token distribution",
    ),
    "reward/frac_zero_std": (
        "groups without signal",
        "fraction of groups",
        "fraction of groups whose G rewards are all equal (zero advantage)",
    ),
    "reward/mean": ("mean reward", "reward", "mean task reward of the step's completions"),
}
"""key -> (panel title, y-axis title, what it measures)."""
KIND_OF_FAMILY = {
    "grpo": "GRPO variants",
    "grpo_kl": "GRPO variants",
    "ds": "DS-GRPO variants",
    "entropy_bonus": "entropy bonus and penalty",
    "entropy_penalty": "entropy bonus and penalty",
}
PATTERNS = ("", "/", ".", "x", "-", "+")
"""Bar fill patterns, one per variant (bars cannot be dashed)."""
LINE_KEY = "#888888"
"""Colour of the legend entries that explain line widths and bands."""


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


def wrap(text: str, width: int = 70) -> str:
    """Break a subtitle into lines of at most `width` characters (plotly never wraps: it cuts).

    >>> wrap("one two three", 7)
    'one two<br>three'
    """
    return "<br>".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


def rgba(hex_color: str, alpha: float) -> str:
    """'#d62728' -> 'rgba(214,39,40,0.15)': a band's fill in its line's colour.

    >>> rgba("#d62728", 0.15)
    'rgba(214,39,40,0.15)'
    """
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:g})"


def default_styles(names) -> dict[str, dict]:
    """Styles by method name when the caller has no LossConfig at hand (family from the name)."""
    return styles({n: family_of(n) for n in names})


def panel_groups(
    names, families: dict[str, str] | None = None, kinds=None, context=(), max_traces: int = MAX_TRACES
) -> list[tuple[str, list[str]]]:
    """Small multiples: [(panel title, names)], at most `max_traces` names per panel.

    When all names fit, one untitled panel. Otherwise the names are grouped by kind (`kinds`:
    name -> panel title; default: the family's kind, e.g. "DS-GRPO variants"), the `context`
    names (the base model, the reference) are repeated in every panel, and a kind with more
    members than fit is split into even parts.

    >>> panel_groups(["a", "b"])
    [('', ['a', 'b'])]
    >>> fams = {"base": "base", "grpo": "grpo", **{f"ds{i}": "ds" for i in range(7)}, "eb": "entropy_bonus"}
    >>> [(t, len(ns)) for t, ns in panel_groups(list(fams), fams, context=("base", "grpo"))]
    [('DS-GRPO variants (1/2)', 6), ('DS-GRPO variants (2/2)', 5), ('entropy bonus and penalty', 3)]
    """
    names = list(names)
    if len(names) <= max_traces:
        return [("", names)]
    families = families or {n: family_of(n) for n in names}
    kinds = kinds or {n: KIND_OF_FAMILY.get(families[n], "other methods") for n in names}
    ctx = [n for n in context if n in names]
    grouped: dict[str, list[str]] = {}
    for n in names:
        if n not in ctx:
            grouped.setdefault(kinds[n], []).append(n)
    room = max(1, max_traces - len(ctx))
    out = []
    for kind, members in grouped.items():
        parts = math.ceil(len(members) / room)
        size = math.ceil(len(members) / parts)
        for i in range(parts):
            title = kind if parts == 1 else f"{kind} ({i + 1}/{parts})"
            out.append((title, ctx + members[i * size : (i + 1) * size]))
    return out


def grid(n_panels: int, cols: int = 2) -> tuple[int, int]:
    """(rows, cols) of a grid of small multiples.

    >>> grid(1), grid(3), grid(4)
    ((1, 1), (2, 2), (2, 2))
    """
    cols = 1 if n_panels == 1 else cols
    return math.ceil(n_panels / cols), cols


def specs(n_panels: int, rows: int, cols: int) -> list[list]:
    """make_subplots specs that leave the unused cells of a grid empty (no bare axes there).

    >>> specs(3, 2, 2)
    [[{}, {}], [{}, None]]
    """
    return [[{} if r * cols + c < n_panels else None for c in range(cols)] for r in range(rows)]


def legend_key(fig, text: str, width: float = 2.5, dash: str = "solid", fill: bool = False) -> None:
    """A grey legend entry that explains a line style or band ("thin line: each step's value")."""
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="lines",
            name=text,
            line=dict(color=LINE_KEY, width=8 if fill else width, dash=dash),
            opacity=0.35 if fill else 1.0,
            legendgroup="__key__",
            hoverinfo="skip",
        )
    )


def below(height: int, top: int, bottom: int, gap_px: int = 62) -> dict:
    """A horizontal legend under the plots, `gap_px` below the plot area (room for the x title);
    `top`, `bottom`: the figure's margins in pixels."""
    return dict(
        orientation="h", x=0, xanchor="left", yanchor="top", y=-gap_px / max(height - top - bottom, 100)
    )


def _seed_runs(runs) -> dict[str, list[list[dict]]]:
    """{name: rows of one run} or {name: [rows of seed 0, rows of seed 1, ...]} -> the latter."""
    out = {}
    for name, value in runs.items():
        value = list(value)
        out[name] = value if value and isinstance(value[0], list) else [value]
    return out


def _per_step(seed_rows: list[list[dict]], key: str) -> tuple[list, list[list]]:
    """Steps and each seed's values of `key` on those steps (None where a seed has no value)."""
    steps = sorted({r["step"] for rows in seed_rows for r in rows})
    table = [{r["step"]: r.get(key) for r in rows} for rows in seed_rows]
    return steps, [[t.get(s) for s in steps] for t in table]


def _mean(values) -> float:
    vals = [v for v in values if v is not None and v == v]
    return sum(vals) / len(vals) if vals else float("nan")


def training_curves(
    runs,
    keys=("correct/mean", "div/distinct_correct"),
    window: int = 9,
    titles=None,
    labels: dict[str, str] | None = None,
    styles: dict[str, dict] | None = None,
    panels: list[tuple[str, list[str]]] | None = None,
    title: str | None = None,
):
    """Training metrics against step: one column per metric key, one row per group of methods.

    runs: name -> rows of one run, or name -> [rows of each seed]. A thin line is each step's
    raw value (mean over seeds), the thick line its moving average over `window` steps, and the
    band (with 2+ seeds) the range of the seeds' moving averages. The legend says so.
    """
    runs = _seed_runs(runs)
    labels = labels or {}
    st = styles or default_styles(runs)
    panels = panels or panel_groups(runs)
    n_seeds = max((len(v) for v in runs.values()), default=1)
    words = [METRIC_WORDS.get(k, (k, k, "")) for k in keys]
    if titles is None:
        titles = [
            (f"{w[0]}: {group}" if group else f"{w[0]}<br><sup>{wrap(w[2], 80)}</sup>")
            for group, _ in panels
            for w in words
        ]
    fig = make_subplots(
        rows=len(panels),
        cols=len(keys),
        subplot_titles=titles,
        vertical_spacing=min(0.12, 0.45 / max(1, len(panels))),
        horizontal_spacing=0.1,
    )
    shown = set()
    for i, (_, names) in enumerate(panels, start=1):
        for j, key in enumerate(keys, start=1):
            for name in names:
                steps, ys = _per_step(runs[name], key)
                color = st[name]["color"]
                mean = [_mean(col) for col in zip(*ys)]
                if n_seeds > 1 and len(ys) > 1:
                    smooths = [smooth(y, window) for y in ys]
                    lo = [min(v) for v in zip(*smooths)]
                    hi = [max(v) for v in zip(*smooths)]
                    fig.add_trace(
                        go.Scatter(
                            x=steps + steps[::-1],
                            y=hi + lo[::-1],
                            fill="toself",
                            mode="lines",
                            fillcolor=rgba(color, 0.12),
                            line=dict(width=0),
                            hoverinfo="skip",
                            showlegend=False,
                            legendgroup=name,
                        ),
                        row=i,
                        col=j,
                    )
                fig.add_trace(
                    go.Scatter(
                        x=steps,
                        y=mean,
                        mode="lines",
                        line=dict(color=color, width=0.8),
                        opacity=0.3 if n_seeds > 1 else 0.4,
                        showlegend=False,
                        hoverinfo="skip",
                        legendgroup=name,
                    ),
                    row=i,
                    col=j,
                )
                fig.add_trace(
                    go.Scatter(
                        x=steps,
                        y=smooth(mean, window),
                        mode="lines",
                        name=labels.get(name, name),
                        legendgroup=name,
                        showlegend=name not in shown,
                        line=dict(color=color, width=2.5, dash=st[name]["dash"]),
                    ),
                    row=i,
                    col=j,
                )
                shown.add(name)
            fig.update_xaxes(title_text="step", row=i, col=j)
            fig.update_yaxes(title_text=words[j - 1][1], row=i, col=j)
    seeds = "mean over seeds" if n_seeds > 1 else "one run"
    legend_key(fig, f"thin line: each step's value ({seeds})", width=1)
    legend_key(fig, f"thick line: moving average over {window} steps")
    if n_seeds > 1:
        legend_key(fig, f"band: range over {n_seeds} seeds", fill=True)
    height, top = 120 + 300 * len(panels), 100 if title else 80
    fig.update_layout(
        height=height,
        margin=dict(t=top, l=60, r=10, b=50),
        template="plotly_white",
        legend=below(height, top, 50),
    )
    if title:
        fig.update_layout(title=dict(text=title, y=1, yref="container", yanchor="top", pad=dict(t=12)))
    last = max((r["step"] for v in runs.values() for rows in v for r in rows), default=0)
    if last <= 10:
        fig.update_xaxes(dtick=1)  # a few steps: whole numbers only
    return fig


def passk_figure(
    curves: dict[str, list[float]],
    bands: dict[str, tuple[list, list]] | None = None,
    title: str = "pass@k on held-out problems",
    labels: dict[str, str] | None = None,
    styles: dict[str, dict] | None = None,
    panels: list[tuple[str, list[str]]] | None = None,
    band_label: str = "band: range over seeds",
):
    """pass@k against k (log axis ticked 1, 2, 4, ..., n) per method; optional (low, high) bands.

    curves: name -> pass@k for k = 1..n. More than MAX_TRACES methods become small multiples
    (`panels`, see :func:`panel_groups`); the base model belongs in every panel.
    """
    labels = labels or {}
    st = styles or default_styles(curves)
    panels = panels or panel_groups(curves, context=("base",))
    rows, cols = grid(len(panels))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        specs=specs(len(panels), rows, cols),
        subplot_titles=[t for t, _ in panels] if len(panels) > 1 else None,
        vertical_spacing=0.14 if rows > 1 else 0.1,
        horizontal_spacing=0.08,
    )
    n = max((len(ys) for ys in curves.values()), default=0)
    shown = set()
    for p, (_, names) in enumerate(panels):
        pos = dict(row=p // cols + 1, col=p % cols + 1)
        for name in names:
            ys = list(curves[name])
            ks = list(range(1, len(ys) + 1))
            color = st[name]["color"]
            if bands and name in bands:
                lo, hi = bands[name]
                fig.add_trace(
                    go.Scatter(
                        x=ks + ks[::-1],
                        y=list(hi) + list(lo)[::-1],
                        fill="toself",
                        mode="lines",
                        fillcolor=rgba(color, 0.15),
                        line=dict(width=0),
                        hoverinfo="skip",
                        showlegend=False,
                        legendgroup=name,
                    ),
                    **pos,
                )
            fig.add_trace(
                go.Scatter(
                    x=ks,
                    y=ys,
                    mode="lines",
                    name=labels.get(name, name),
                    legendgroup=name,
                    showlegend=name not in shown,
                    line=dict(color=color, width=2 if name == "base" else 2.5, dash=st[name]["dash"]),
                ),
                **pos,
            )
            shown.add(name)
        ticks = log_k_ticks(n) if n else log_k_ticks(1024)  # unknown n: plotly shows those in range
        fig.update_xaxes(
            type="log",
            tickvals=ticks,
            ticktext=[str(t) for t in ticks],
            title_text="k (samples per problem)",
            **pos,
        )
        fig.update_yaxes(title_text="pass@k", range=[0, 1.02], **pos)
    if bands:
        legend_key(fig, band_label, fill=True)
    many = len(panels) > 1
    fig.update_layout(
        title=title,
        height=130 + 330 * rows if many else 420,
        template="plotly_white",
        margin=dict(t=90 if "<br>" in title else 60, l=60, r=10, b=50),
        legend=below(130 + 330 * rows, 90 if "<br>" in title else 60, 50) if many else None,
    )
    if many:
        fig.update_layout(height=fig.layout.height + 22 * math.ceil(len(shown) / 2))
    return fig


def bars(
    summary: dict[str, dict],
    keys=("pass@1", "pass@8", "distinct_correct", "coverage"),
    errors: dict[str, dict] | None = None,
    labels: dict[str, str] | None = None,
    styles: dict[str, dict] | None = None,
    title: str | None = None,
    error_label: str = "error bars: 95% interval over seeds",
):
    """Horizontal bars of summary numbers per method (one panel per key, methods top to bottom),
    optional error bars. Variants of one family share its colour and differ by fill pattern."""
    labels = labels or {}
    names = list(summary)
    st = styles or default_styles(names)
    words = {"distinct_correct": "distinct correct", "coverage": "coverage"}
    fig = make_subplots(
        rows=1,
        cols=len(keys),
        subplot_titles=[words.get(k, k) for k in keys],
        shared_yaxes=True,
        horizontal_spacing=0.03,
    )
    any_err = False
    for j, key in enumerate(keys, start=1):
        shown = [m for m in names if key in summary[m]]
        err = [((errors or {}).get(m, {}) or {}).get(key, 0.0) for m in shown]
        err = [e if e is not None and math.isfinite(e) else 0.0 for e in err]
        any_err = any_err or any(err)
        fig.add_trace(
            go.Bar(
                y=[labels.get(m, m) for m in shown],
                x=[summary[m][key] for m in shown],
                orientation="h",
                showlegend=False,
                marker=dict(
                    color=[st[m]["color"] for m in shown],
                    pattern=dict(shape=[PATTERNS[min(_variant(st, m), len(PATTERNS) - 1)] for m in shown]),
                ),
                error_x=dict(type="data", array=err, visible=any(err), color="#444444", thickness=1.2),
                hovertemplate="%{y}: %{x:.3f}<extra></extra>",
            ),
            row=1,
            col=j,
        )
        fig.update_xaxes(title_text=words.get(key, key), row=1, col=j)
    fig.update_yaxes(autorange="reversed", title_text="method", row=1, col=1)
    fig.update_layout(
        height=150 + 26 * len(names),
        template="plotly_white",
        margin=dict(t=90 if title else 40, l=10, r=10, b=60),
        title=(title + (f"<br><sup>{error_label}</sup>" if any_err else "")) if title else None,
    )
    return fig


def _variant(st: dict, name: str) -> int:
    """Which variant of its family a styled name is (0 for the first), read from its dash."""
    return DASHES.index(st[name]["dash"]) if st[name]["color"] != FAMILY_COLORS["base"] else 0
