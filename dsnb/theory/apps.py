"""Slider apps for notebooks 01 and 02: one call each, ipywidgets + plotly FigureWidget.

``sharpening_app()`` (notebook 01): sampled GRPO on a Zipf base policy; sliders for G, steps,
learning rate, base skew and the number of correct trajectories.
``smoothing_app()`` (notebook 02): the KL-budget frontier and the closed-form optima; sliders
for kappa, beta, gamma_p, gamma_n and the entropy coefficient g.

Each app is an ``ipywidgets.VBox`` with ``app.sliders`` (name -> slider) and ``app.figures``
(name -> FigureWidget). Moving a slider recomputes with ``dsnb.theory``, rebuilds the figures
with the pure functions of ``dsnb.theory.plots`` and copies their data into the FigureWidgets
inside ``batch_update()`` (one redraw). ``benchmarks/bench_theory_sliders.py`` times it.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from dsnb import theory
from dsnb.theory import plots

PASS_KS = np.unique(np.geomspace(1, 1024, 21).astype(int))


def _sync(widget: go.FigureWidget, fig: go.Figure):
    """Copy a freshly built figure into a live FigureWidget: data in place, one redraw."""
    if len(widget.data) != len(fig.data) or any(a.type != b.type for a, b in zip(widget.data, fig.data)):
        widget.data = []  # the trace list changed shape: rebuild it (rare)
        widget.add_traces(fig.data)
        widget.layout.title, widget.layout.shapes = fig.layout.title, fig.layout.shapes
        return
    with widget.batch_update():
        for old, new in zip(widget.data, fig.data):
            spec = new.to_plotly_json()
            spec.pop("type")
            old.update(spec, overwrite=True)
        widget.layout.title, widget.layout.shapes = fig.layout.title, fig.layout.shapes


class TheoryApp(widgets.VBox):
    """Sliders on top, live figures below; ``update()`` redraws from the sliders' values."""

    def __init__(self, title: str, sliders: dict, compute, note: str = ""):
        super().__init__()
        self.sliders = sliders
        """name -> ipywidgets slider; set ``.value`` to drive the app from code."""
        self.compute = compute
        """values dict -> (dict name -> go.Figure, status html)."""
        self.status = widgets.HTML()
        """A line of numbers about the current setting."""
        figs, self.status.value = compute(self.values)
        self.figures = {name: go.FigureWidget(fig) for name, fig in figs.items()}
        """name -> plotly FigureWidget, updated in place."""
        grid = widgets.GridBox(
            list(sliders.values()), layout=widgets.Layout(grid_template_columns="repeat(3, 1fr)")
        )
        self.children = [widgets.HTML(f"<b>{title}</b> {note}"), grid, self.status, *self.figures.values()]
        for slider in sliders.values():
            slider.observe(lambda change: self.update(), names="value")

    @property
    def values(self) -> dict:
        """The sliders' current values, by name."""
        return {name: s.value for name, s in self.sliders.items()}

    def update(self):
        """Recompute and redraw (called by every slider change)."""
        figs, self.status.value = self.compute(self.values)
        for name, fig in figs.items():
            _sync(self.figures[name], fig)


def _slider(kind, description, value, lo, hi, step, **kw):
    style = {"description_width": "initial"}
    return kind(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        style=style,
        **kw,
    )


def sharpening_app(n: int = 1000, seed: int = 0) -> TheoryApp:
    """Notebook 01's app: watch sampled GRPO sharpen the correct set of a Zipf base policy."""
    sliders = {
        "group_size": _slider(widgets.IntSlider, "G (group size)", 8, 2, 64, 1),
        "steps": _slider(widgets.IntSlider, "steps", 150, 10, 400, 10),
        "lr": _slider(widgets.FloatLogSlider, "learning rate", 0.5, -2, 0.5, 0.1, base=10),
        "skew": _slider(widgets.FloatSlider, "base skew", 1.0, 0.0, 2.0, 0.1),
        "n_correct": _slider(widgets.IntSlider, "# correct", 10, 1, 40, 1),
    }

    def compute(v):
        logp, correct = theory.zipf_space(n, v["n_correct"], v["skew"])
        hist = theory.simulate(
            logp,
            correct,
            "grpo",
            v["steps"],
            v["group_size"],
            v["lr"],
            seed,
            record_every=max(1, v["steps"] // 50),
        )
        figs = {
            "probs": plots.plot_correct_probs(hist),
            "curves": plots.plot_training_curves({"grpo": hist}, diversity="N_eff"),
            "pass_at_k": plots.plot_pass_at_k(PASS_KS, plots.pass_at_k_curves({"grpo": hist}, PASS_KS)),
        }
        status = (
            f"C: {hist.C[0]:.3f} → {hist.C[-1]:.3f} &nbsp; N_eff: {hist.N_eff[0]:.2f} → "
            f"{hist.N_eff[-1]:.2f} &nbsp; KL(pi‖pi_base) = {hist.kl[-1]:.3f}"
        )
        return figs, status

    return TheoryApp(
        "Why RL sharpens", sliders, compute, f"(sampled GRPO, N = {n} trajectories, seed {seed})"
    )


def _smoothing_points(logp, correct, v):
    """(H_c, C, KL) of the three closed-form optima at the sliders' values; skips bad settings."""
    runs = {
        "vanilla": ("vanilla", {}),
        "ds": ("ds", dict(gamma_p=v["gamma_p"], gamma_n=v["gamma_n"])),
        "entropy_bonus" if v["entropy_coef"] >= 0 else "entropy_penalty": (
            "entropy",
            dict(entropy_coef=v["entropy_coef"]),
        ),
    }
    out, base = {}, np.exp(logp)
    for label, (method, coefs) in runs.items():
        try:
            p = theory.kl_optimum(logp, correct, v["beta"], method, **coefs)
        except ValueError:  # e.g. a penalty stronger than beta: no closed form to show
            continue
        out[label] = (
            float(theory.correct_entropy(p, correct)),
            float(theory.correctness(p, correct)),
            float(theory.kl_reverse(p, base)),
            p,
        )
    return out


def smoothing_app(n: int = 1000, n_correct: int = 20, skew: float = 1.0) -> TheoryApp:
    """Notebook 02's app: the frontier at budget kappa, and where each closed form lands."""
    logp, correct = theory.zipf_space(n, n_correct, skew)
    sliders = {
        "kappa": _slider(widgets.FloatSlider, "KL budget kappa", 0.3, 0.02, 2.0, 0.02),
        "beta": _slider(widgets.FloatLogSlider, "beta", 0.5, -1.5, 1, 0.05, base=10),
        "gamma_p": _slider(widgets.FloatSlider, "gamma_p", 0.2, 0.0, 1.0, 0.02),
        "gamma_n": _slider(widgets.FloatSlider, "gamma_n", 0.0, 0.0, 1.0, 0.02),
        "entropy_coef": _slider(widgets.FloatSlider, "entropy coef g", 0.2, -0.5, 2.0, 0.02),
    }

    fronts = {}  # kappa -> Frontier: only the kappa slider needs a new frontier

    def compute(v):
        if v["kappa"] not in fronts:
            fronts[v["kappa"]] = theory.frontier(logp, correct, v["kappa"])
        front = fronts[v["kappa"]]
        pts = _smoothing_points(logp, correct, v)
        figs = {
            "frontier": plots.plot_frontier(front, {k: p[:2] for k, p in pts.items()}),
            "optima": plots.plot_optima(np.exp(logp), correct, {k: p[3] for k, p in pts.items()}),
        }
        status = " &nbsp; ".join(
            f"{k}: C={c:.3f}, H_c={h:.2f}, KL={kl:.3f}{'' if kl <= v['kappa'] else ' (over budget)'}"
            for k, (h, c, kl, _) in pts.items()
        )
        return figs, status

    return TheoryApp(
        "Entropy bonus vs penalty vs DS", sliders, compute, f"(Zipf base, N = {n}, {n_correct} correct)"
    )
