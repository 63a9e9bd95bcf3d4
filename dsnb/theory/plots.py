"""Plots of the theory layer: pure functions from ``dsnb.theory`` results to plotly figures.

Used by notebooks 01 and 02, the slider apps of ``dsnb.theory.apps`` and the theory report.
The palette rule of ``dsnb.report.palette`` everywhere: one colour per method family (a label's
first word: "ds γp=0.3" is DS), variants of a family told apart by dash and marker, at most
``MAX_TRACES`` methods in one panel (more go into small multiples), log-k axes ticked at
1, 2, 4, ..., n. Every figure has a title (the report and the tests look for it) and few traces,
so the apps can redraw it quickly.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dsnb.report.palette import MAX_TRACES, METHOD_COLORS, family_of, log_k_ticks, styles
from dsnb.theory.metrics import exact_pass_at_k
from dsnb.theory.sharpening import credit_probability

# A light look without ``template=``: setting a template copies it (~30 ms a figure), too slow
# for the slider apps.
AXIS = dict(gridcolor="#e5e5e5", zerolinecolor="#cccccc", linecolor="#999999")
LAYOUT = dict(
    height=380,
    margin=dict(l=60, r=20, t=60, b=50),
    plot_bgcolor="white",
    legend=dict(orientation="h", y=-0.2),
)


def family(label: str) -> str:
    """The palette family of a label: its first word ("vanilla", the plain RL optimum, is GRPO's).

    >>> family("ds γp=0.3"), family("entropy_bonus g=0.25"), family("vanilla"), family("base")
    ('ds', 'entropy_bonus', 'grpo', 'base')
    """
    fam = family_of(label) if label else ""
    return "grpo" if fam == "vanilla" else fam


def label_styles(labels) -> dict[str, dict]:
    """{label: {"color", "dash", "symbol"}}: family colour, the n-th variant of a family the n-th
    dash (``dsnb.report.palette.styles``).

    >>> s = label_styles(["grpo", "ds γp=0.3", "ds γp=0.8"])
    >>> s["ds γp=0.3"]["color"] == s["ds γp=0.8"]["color"], s["ds γp=0.3"]["dash"], s["ds γp=0.8"]["dash"]
    (True, 'solid', 'dash')
    """
    return styles({label: family(label) for label in labels})


def color(label: str) -> str:
    """The colour of a method's family, found by the first word of a label ("ds γp=0.5" -> ds)."""
    return label_styles([label])[label]["color"]


def small_multiples(labels, max_traces: int = MAX_TRACES) -> list[list[str]]:
    """Labels split into panels of at most `max_traces`: all in one panel when they fit, else
    one panel per family (a family bigger than a panel continues in the next).

    >>> small_multiples(["grpo", "ds a", "ds b"], 8)
    [['grpo', 'ds a', 'ds b']]
    >>> small_multiples(["grpo", "ds a", "grpo_kl", "ds b", "ds c"], 2)
    [['grpo'], ['ds a', 'ds b'], ['ds c'], ['grpo_kl']]
    """
    labels = list(labels)
    if len(labels) <= max_traces:
        return [labels]
    by_family: dict[str, list[str]] = {}
    for label in labels:
        by_family.setdefault(family(label), []).append(label)
    return [g[i : i + max_traces] for g in by_family.values() for i in range(0, len(g), max_traces)]


def _panel_axes(n: int, gap: float = 0.08) -> dict:
    """Layout of n side-by-side panels (x, x2, ... with y, y2, ...), without make_subplots
    (~50 ms a figure, which the slider apps would feel)."""
    width = (1 - gap * (n - 1)) / n
    out = {}
    for i in range(n):
        sx = "" if i == 0 else str(i + 1)
        out[f"xaxis{sx}"] = dict(AXIS, domain=[i * (width + gap), i * (width + gap) + width], anchor=f"y{sx}")
        out[f"yaxis{sx}"] = dict(AXIS, anchor=f"x{sx}")
    return out


def _panel_titles(titles) -> list[dict]:
    """Panel titles as annotations above each x axis domain."""
    n, gap = len(titles), 0.08
    width = (1 - gap * (n - 1)) / n
    return [
        dict(
            text=t,
            x=i * (width + gap) + width / 2,
            y=1.0,
            xref="paper",
            yref="paper",
            xanchor="center",
            yanchor="bottom",
            showarrow=False,
            font=dict(size=13),
        )
        for i, t in enumerate(titles)
    ]


def _figure(title: str, x_title: str, y_title: str, xaxis=None, yaxis=None, **layout):
    """An empty figure with the common look. The layout is passed whole to the constructor:
    ``update_layout(xaxis_title=...)`` is ~5x slower, which the slider apps would feel."""
    return go.Figure(
        layout=dict(
            LAYOUT,
            title=dict(text=title),
            **layout,
            xaxis=dict(AXIS, title=dict(text=x_title), **(xaxis or {})),
            yaxis=dict(AXIS, title=dict(text=y_title), **(yaxis or {})),
        )
    )


def _lines_with_gaps(step: np.ndarray, paths: np.ndarray):
    """(T,) steps and (T, K) paths -> one x, y pair with NaN between paths (one fast trace)."""
    n_paths = paths.shape[1]
    x = np.concatenate([np.append(step, np.nan)] * n_paths)
    y = np.concatenate([np.append(paths[:, k], np.nan) for k in range(n_paths)])
    return x, y


def plot_correct_probs(history, title: str = "Probability of every correct trajectory"):
    """pi_t(y) for each correct y over training (one prompt), log scale; the base mass in grey."""
    probs = history.probs if history.probs.ndim == 2 else history.probs[:, 0, :]
    correct = history.space.correct[0]
    idx = np.flatnonzero(correct)
    x, y = _lines_with_gaps(history.step, probs[:, idx])
    label = history.config.method
    fig = _figure(title, "step", "pi(y)", yaxis=dict(type="log"))
    fig.add_trace(
        go.Scatter(
            x=x, y=y, mode="lines", name=f"{label}: correct y", line=dict(color=color(label), width=1.5)
        )
    )
    fig.add_trace(
        go.Scatter(
            x=history.step,
            y=history.C,
            mode="lines",
            name="C (all correct)",
            line=dict(color=METHOD_COLORS["base"], dash="dot"),
        )
    )
    return fig


def plot_training_curves(
    histories: dict, title: str = "Correctness and diversity over training", diversity: str = "H_c"
) -> go.Figure:
    """Two panels: correctness C and a diversity metric over training, one line per run in its
    family's colour and variant's dash. Traces go run by run: C, then the diversity metric."""
    labels = list(histories)
    style = label_styles(labels)
    if len(labels) > MAX_TRACES:
        raise ValueError(
            f"{len(labels)} runs in one panel are unreadable (at most {MAX_TRACES}); "
            "plot them in groups, e.g. one figure per family"
        )
    axes = _panel_axes(2)
    axes["xaxis"]["title"] = axes["xaxis2"]["title"] = dict(text="step")
    axes["yaxis"].update(title=dict(text="correctness C"), range=[0, 1.02])
    axes["yaxis2"].update(title=dict(text=diversity), rangemode="tozero")
    fig = go.Figure(
        layout=dict(
            LAYOUT, title=dict(text=title), annotations=_panel_titles(["correctness C", diversity]), **axes
        )
    )
    for label, h in histories.items():
        line = dict(color=style[label]["color"], dash=style[label]["dash"])
        fig.add_trace(go.Scatter(x=h.step, y=h.C, name=label, legendgroup=label, line=line))
        fig.add_trace(
            go.Scatter(
                x=h.step,
                y=getattr(h, diversity),
                name=label,
                legendgroup=label,
                showlegend=False,
                line=line,
                xaxis="x2",
                yaxis="y2",
            )
        )
    return fig


def plot_pass_at_k(
    ks, curves: dict, spread: dict | None = None, title: str = "pass@k: base vs trained"
) -> go.Figure:
    """pass@k curves on a log-k axis ticked 1, 2, 4, ..., max k; ``spread`` (same keys) draws a
    ±1 std band. More than MAX_TRACES methods: one panel per family, the base in each."""
    ks = np.asarray(ks, dtype=float)
    methods = [label for label in curves if label != "base"]
    panels = small_multiples(methods, MAX_TRACES - ("base" in curves))
    style = label_styles(curves)
    ticks = log_k_ticks(int(ks.max()))
    axes = _panel_axes(len(panels))
    for i in range(len(panels)):
        sx = "" if i == 0 else str(i + 1)
        axes[f"xaxis{sx}"].update(
            type="log", tickvals=ticks, ticktext=[str(t) for t in ticks], title=dict(text="k (samples)")
        )
        axes[f"yaxis{sx}"].update(range=[0, 1.02], title=dict(text="pass@k" if i == 0 else ""))
    fig = go.Figure(layout=dict(LAYOUT, title=dict(text=title), **axes))
    for i, panel in enumerate(panels):
        sx = "" if i == 0 else str(i + 1)
        for label in (["base"] if "base" in curves else []) + panel:
            y, st = np.asarray(curves[label], dtype=float), style[label]
            where = dict(
                xaxis=f"x{sx}", yaxis=f"y{sx}", legendgroup=label, showlegend=i == 0 or label != "base"
            )
            if spread and label in spread:
                band = np.concatenate([y + spread[label], (y - spread[label])[::-1]])
                fig.add_trace(
                    go.Scatter(
                        x=np.concatenate([ks, ks[::-1]]),
                        y=band,
                        fill="toself",
                        line=dict(width=0),
                        fillcolor=st["color"],
                        opacity=0.15,
                        hoverinfo="skip",
                        **{**where, "showlegend": False},
                    )
                )
            fig.add_trace(
                go.Scatter(
                    x=ks,
                    y=y,
                    name=label,
                    mode="lines+markers",
                    line=dict(color=st["color"], dash=st["dash"]),
                    marker=dict(symbol=st["symbol"], size=6),
                    **where,
                )
            )
    return fig


def pass_at_k_curves(histories: dict, ks) -> dict:
    """{"base": ..., label: ...} exact pass@k [PK0] of the base and each final policy."""
    first = next(iter(histories.values()))
    correct = first.space.unbatch(first.space.correct)
    out = {"base": exact_pass_at_k(first.space.unbatch(first.space.base_probs), correct, ks)}
    out.update({label: h.pass_at_k(ks) for label, h in histories.items()})
    return out


def plot_crossover(result, title: str = "The pass@k crossover across prompts") -> go.Figure:
    """A ``CrossoverResult``: base and each method's mean pass@k, ±1 std over seeds."""
    curves = {"base": result.base, **{k: result.mean(k) for k in result.curves}}
    spread = {k: result.spread(k) for k in result.curves}
    return plot_pass_at_k(result.ks, curves, spread, title=title)


def plot_frontier(
    front, points: dict | None = None, title: str = "Correctness vs diversity at a KL budget"
) -> go.Figure:
    """Each family's best C per diversity level H_c within KL <= kappa; shaded: DS not dominant.

    ``points``: label -> (H_c, C) of particular policies (e.g. the sliders' optima).
    """
    lost = np.isfinite(front.ent_C) & ~front.ds_dominates
    shade = (
        [
            dict(
                type="rect",
                xref="x",
                yref="paper",
                x0=front.ent_H[lost].min(),
                x1=front.ent_H[lost].max(),
                y0=0,
                y1=1,
                fillcolor="grey",
                opacity=0.15,
                line=dict(width=0),
            )
        ]
        if lost.any()
        else []
    )
    fig = _figure(
        f"{title} (kappa = {front.kappa:g}, {front.divergence} KL)",
        "diversity H_c (entropy on the correct set)",
        "correctness C",
        shapes=shade,
    )
    fig.add_trace(
        go.Scatter(
            x=front.ent_H,
            y=front.ent_C,
            name="entropy (bonus/penalty)",
            line=dict(color=METHOD_COLORS["entropy_bonus"]),
        )
    )
    fig.add_trace(
        go.Scatter(x=front.ds_H, y=front.ds_C, name="DS", line=dict(color=METHOD_COLORS["ds"], width=3))
    )
    fig.add_trace(
        go.Scatter(
            x=front.ent_H[lost],
            y=front.ent_C[lost],
            mode="markers",
            name="DS does not dominate",
            marker=dict(symbol="x", size=7, color="black"),
        )
    )
    for label, (h, c) in {"base": front.base, "vanilla": front.vanilla, **(points or {})}.items():
        fig.add_trace(
            go.Scatter(
                x=[h],
                y=[c],
                mode="markers",
                name=label,
                marker=dict(size=12, color=color(label), symbol="diamond"),
            )
        )
    return fig


def _log_spaced(n: int, keep: int = 150) -> np.ndarray:
    """About ``keep`` ranks out of n, log-spaced: a log-x plot of them looks like all n."""
    return np.unique(np.geomspace(1, n, keep).astype(int)) - 1


def plot_optima(
    base_probs, correct, optima: dict, title: str = "Base policy vs KL optimum, per method"
) -> go.Figure:
    """Probabilities sorted by base rank (log y): circles correct, crosses incorrect.

    Every correct trajectory is drawn; above 300 trajectories the incorrect ones are thinned to
    ~150 log-spaced ranks (identical on the log-x axis, 5x less to redraw).
    """
    base_probs, correct = np.asarray(base_probs), np.asarray(correct, dtype=bool)
    order = np.argsort(-base_probs)
    n = base_probs.size
    rank = np.arange(1, n + 1)
    shown = np.zeros(n, dtype=bool)
    shown[_log_spaced(n) if n > 300 else slice(None)] = True
    fig = _figure(
        title,
        "rank of y under pi_base",
        "probability",
        yaxis=dict(type="log"),
        xaxis=dict(type="log" if n > 50 else "linear"),
    )
    for label, probs in {"base": base_probs, **optima}.items():
        p, c = np.asarray(probs)[order], correct[order]
        for mask, symbol, suffix in ((c, "circle", "correct"), (~c & shown, "x-thin", "incorrect")):
            fig.add_trace(
                go.Scatter(
                    x=rank[mask],
                    y=p[mask],
                    mode="markers",
                    name=f"{label} ({suffix})",
                    legendgroup=label,
                    marker=dict(
                        color=color(label), symbol=symbol, size=7, line=dict(width=1, color=color(label))
                    ),
                )
            )
    return fig


def plot_credit_probability(
    probs,
    group_sizes=(4, 16, 64),
    measured: dict | None = None,
    title: str = "Selection bias: P(sampled at least once in a group)",
):
    """[SEL1] 1 − (1 − pi)^G against pi for several G; ``measured``: G -> Monte Carlo fractions."""
    order = np.argsort(np.asarray(probs, dtype=float))
    probs = np.asarray(probs, dtype=float)[order]
    fig = _figure(title, "pi(y)", "P(y credited)", xaxis=dict(type="log"), yaxis=dict(range=[0, 1.02]))
    shades = ("#9ecae1", "#4292c6", "#08306b", "#041733")
    dashes = ("dot", "dash", "solid", "dashdot")  # told apart without colour, too
    for g, shade, dash in zip(group_sizes, shades, dashes):
        fig.add_trace(
            go.Scatter(
                x=probs, y=credit_probability(probs, g), name=f"G = {g}", line=dict(color=shade, dash=dash)
            )
        )
        if measured and g in measured:
            fig.add_trace(
                go.Scatter(
                    x=probs,
                    y=np.asarray(measured[g])[order],
                    mode="markers",
                    name=f"G = {g}, sampled",
                    marker=dict(color=shade, size=5),
                )
            )
    return fig
