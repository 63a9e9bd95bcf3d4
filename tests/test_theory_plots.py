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
