"""dsnb.theory.apps: the slider apps redraw their figures when a slider moves (Python side)."""

import ipywidgets
import numpy as np
import plotly.graph_objects as go
import pytest

from dsnb.theory.apps import sharpening_app, smoothing_app


def snapshot(fig):
    """Every trace's y data as float arrays, to compare before and after a slider move."""
    return [np.asarray(t.y, dtype=float) for t in fig.data]


def changed(before, after):
    return len(before) != len(after) or any(
        a.shape != b.shape or not np.allclose(a, b, equal_nan=True) for a, b in zip(before, after)
    )


@pytest.fixture(scope="module")
def sharp():
    return sharpening_app(n=200)


@pytest.fixture(scope="module")
def smooth():
    return smoothing_app(n=200, n_correct=10)


def test_apps_are_containers_exposing_sliders_and_figure_widgets(sharp, smooth):
    assert isinstance(sharp, ipywidgets.VBox) and isinstance(smooth, ipywidgets.VBox)
    assert set(sharp.sliders) == {"group_size", "steps", "lr", "skew", "n_correct"}
    assert set(smooth.sliders) == {"kappa", "beta", "gamma_p", "gamma_n", "entropy_coef"}
    for app in (sharp, smooth):
        assert all(isinstance(f, go.FigureWidget) for f in app.figures.values())
        assert all(f in app.children for f in app.figures.values())


@pytest.mark.parametrize(
    "name, value", [("group_size", 3), ("steps", 60), ("lr", 1.5), ("skew", 1.6), ("n_correct", 14)]
)
def test_each_sharpening_slider_redraws_the_figures(sharp, name, value):
    before = {k: snapshot(f) for k, f in sharp.figures.items()}
    sharp.sliders[name].value = value
    assert changed(before["probs"], snapshot(sharp.figures["probs"]))
    assert changed(before["curves"], snapshot(sharp.figures["curves"]))


def test_sharpening_status_reports_the_run(sharp):
    assert "C:" in sharp.status.value and "N_eff" in sharp.status.value


@pytest.mark.parametrize(
    "name, value, figure",
    [
        ("beta", 2.0, "optima"),
        ("gamma_p", 0.6, "optima"),
        ("gamma_n", 0.4, "optima"),
        ("entropy_coef", 0.8, "optima"),
        ("kappa", 1.1, "frontier"),
    ],
)
def test_each_smoothing_slider_redraws_its_figure(smooth, name, value, figure):
    before = snapshot(smooth.figures[figure])
    smooth.sliders[name].value = value
    assert changed(before, snapshot(smooth.figures[figure]))


def test_kappa_slider_retitles_the_frontier(smooth):
    smooth.sliders["kappa"].value = 0.5
    assert "kappa = 0.5" in smooth.figures["frontier"].layout.title.text


def test_penalty_stronger_than_beta_is_skipped_not_crashed(smooth):
    smooth.sliders["beta"].value = 0.2
    smooth.sliders["entropy_coef"].value = -0.4  # beta + g <= 0: no closed form
    assert "entropy" not in smooth.status.value and "ds:" in smooth.status.value
    smooth.sliders["entropy_coef"].value = -0.1
    assert "entropy_penalty" in smooth.status.value
