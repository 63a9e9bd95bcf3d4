"""dsnb.theory.plots, dsnb.show and the theory report: figures hold the data they claim to."""

import numpy as np
import plotly.graph_objects as go
import pytest

from dsnb import theory
from dsnb.report.palette import METHOD_COLORS
from dsnb.show import show_source, source_text
from dsnb.theory import plots

LOGP, CORRECT = theory.zipf_space(n=60, n_correct=5, skew=1.0)


@pytest.fixture(scope="module")
def hists():
    runs = {"grpo": {}, "ds": {"gamma_p": 0.3}}
    return {m: theory.simulate(LOGP, CORRECT, m, 30, 4, 0.5, 0, **c) for m, c in runs.items()}


def test_correct_probs_plot_holds_every_correct_path(hists):
    h = hists["grpo"]
    fig = plots.plot_correct_probs(h)
    y = np.asarray(fig.data[0].y, dtype=float)
    paths = y.reshape(CORRECT.sum(), -1)  # one row per correct y, each ending with a NaN gap
    assert np.isnan(paths[:, -1]).all() and not np.isnan(paths[:, :-1]).any()
    for path, idx in zip(paths[:, :-1], np.flatnonzero(CORRECT)):
        np.testing.assert_allclose(path, h.probs[:, idx])
    assert fig.data[0].line.color == METHOD_COLORS["grpo"]
    assert fig.layout.yaxis.type == "log" and "correct trajectory" in fig.layout.title.text


def test_training_curves_use_one_colour_per_method(hists):
    fig = plots.plot_training_curves(hists)
    assert len(fig.data) == 4
    for trace in fig.data:
        assert trace.line.color == METHOD_COLORS[trace.name.split()[0]]
    np.testing.assert_allclose(fig.data[1].y, hists["grpo"].H_c)


def test_pass_at_k_plot_is_log_k_and_starts_at_pass_at_1(hists):
    ks = np.array([1, 4, 16])
    curves = plots.pass_at_k_curves(hists, ks)
    fig = plots.plot_pass_at_k(ks, curves, spread={"ds": np.full(3, 0.01)})
    assert fig.layout.xaxis.type == "log"
    assert curves["base"][0] == pytest.approx(np.exp(LOGP)[CORRECT].sum())
    assert curves["grpo"][0] == pytest.approx(hists["grpo"].C[-1])
    assert len(fig.data) == 4  # base, grpo, ds band, ds


def test_frontier_plot_marks_where_ds_does_not_dominate():
    front = theory.frontier(LOGP, CORRECT, kappa=0.3, n_grid=41)
    fig = plots.plot_frontier(front, {"ds": (1.0, 0.5)})
    lost = np.isfinite(front.ent_C) & ~front.ds_dominates
    assert len(fig.data[2].x) == lost.sum()
    assert bool(fig.layout.shapes) == bool(lost.any())
    assert "kappa = 0.3" in fig.layout.title.text


def test_optima_and_credit_plots_have_one_trace_group_per_policy():
    optima = {"vanilla": theory.kl_optimum(LOGP, CORRECT, 0.5)}
    fig = plots.plot_optima(np.exp(LOGP), CORRECT, optima)
    assert len(fig.data) == 4 and sum(len(t.x) for t in fig.data) == 2 * LOGP.size
    fig = plots.plot_credit_probability(np.exp(LOGP), (2, 8), measured={2: np.exp(LOGP)})
    assert isinstance(fig, go.Figure) and len(fig.data) == 3


def test_show_source_renders_the_real_function():
    text = source_text(theory.kl_optimum)
    assert text.startswith("# dsnb/theory/optima.py, line ")
    assert "def kl_optimum(" in text and "[DS2]" in text
    assert "def kl_optimum(" in show_source(theory.kl_optimum).data
    with pytest.raises(ValueError, match="no Python source"):
        source_text(len)


def test_theory_report_is_one_offline_html_file_with_the_plots(tmp_path):
    from dsnb.theory.report import write_theory_report

    path = write_theory_report(tmp_path / "out")
    text = path.read_text(encoding="utf-8")
    assert path.name == "theory_report.html" and path.parent == tmp_path / "out"
    for title in (
        "Probability of every correct trajectory",
        "Correctness and diversity",
        "crossover",
        "Correctness vs diversity at a KL budget",
        "Selection bias",
    ):
        assert title in text
    assert 'src="https://cdn.plot.ly' not in text and text.count("<script") >= 7  # js inlined


def test_variants_of_one_family_share_its_colour_and_differ_by_dash():
    """Notebook 01's crossover: "ds γp=0.3" and "ds γp=0.8" were the same red, no dash."""
    ks = np.array([1, 2, 4, 8, 16, 32, 64])
    curves = {label: np.linspace(0.2, 0.9, ks.size) for label in ("base", "grpo", "ds γp=0.3", "ds γp=0.8")}
    fig = plots.plot_pass_at_k(ks, curves)
    line = {t.name: t.line for t in fig.data}
    assert line["ds γp=0.3"].color == line["ds γp=0.8"].color == METHOD_COLORS["ds"]
    assert line["ds γp=0.3"].dash != line["ds γp=0.8"].dash
    assert line["grpo"].color == METHOD_COLORS["grpo"] and line["base"].dash == "dash"
    assert len({(ln.color, ln.dash) for ln in line.values()}) == 4  # every trace tells itself apart


def test_log_k_axes_are_ticked_at_powers_of_two_and_the_largest_k():
    fig = plots.plot_pass_at_k(np.array([1, 3, 20, 60, 64]), {"grpo": np.full(5, 0.5)})
    assert fig.layout.xaxis.type == "log"
    assert list(fig.layout.xaxis.tickvals) == [1, 2, 4, 8, 16, 32, 64]
    assert list(fig.layout.xaxis.ticktext) == ["1", "2", "4", "8", "16", "32", "64"]


def test_more_methods_than_a_panel_holds_go_into_one_panel_per_family():
    ks = np.array([1, 2, 4])
    labels = (
        ["grpo"] + [f"ds γp={g}" for g in (0.1, 0.2, 0.3, 0.4, 0.5)] + ["entropy_bonus a", "entropy_bonus b"]
    )
    labels += ["grpo_kl"]  # 9 methods + base > MAX_TRACES
    fig = plots.plot_pass_at_k(ks, {"base": np.full(3, 0.1), **{m: np.full(3, 0.5) for m in labels}})
    panels = {}
    for t in fig.data:
        panels.setdefault(t.xaxis or "x", []).append(t.name)
    assert len(panels) == 4 and all(len(names) <= 8 and names[0] == "base" for names in panels.values())
    assert sorted(n for names in panels.values() for n in names[1:]) == sorted(labels)
    assert [t.showlegend for t in fig.data if t.name == "base"].count(True) == 1  # one legend entry


def test_training_curves_put_correctness_and_diversity_side_by_side(hists):
    fig = plots.plot_training_curves({"ds a": hists["ds"], "ds b": hists["grpo"]}, diversity="N_eff")
    c_a, div_a, c_b, div_b = fig.data
    assert (c_a.xaxis, div_a.xaxis) == (None, "x2") and fig.layout.yaxis2.title.text == "N_eff"
    assert c_a.line.color == c_b.line.color and c_a.line.dash != c_b.line.dash == div_b.line.dash
    np.testing.assert_allclose(div_a.y, hists["ds"].N_eff)
