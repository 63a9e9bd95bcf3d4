"""Notebooks 03-05 run top to bottom headless in smoke mode (DSNB_SMOKE=1, a tiny nano model),
in one working directory and in order, so notebook 05 finds and evaluates notebook 03's runs."""

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("03_live_ds_grpo_nano", "04_live_ds_grpo_real_model", "05_evaluate_pass_at_k")


def text_of(cell) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def cell_with(nb, snippet: str):
    return next(c for c in nb.cells if c.cell_type == "code" and snippet in c.source)


@pytest.fixture(scope="module")
def executed(tiny_model_dir, tmp_path_factory):
    """{name: (executed notebook, seconds)}, all run in one fresh working directory."""
    workdir = tmp_path_factory.mktemp("notebooks")
    env = {
        **os.environ,
        "DSNB_SMOKE": "1",
        "DSNB_NANO": tiny_model_dir,
        "DSNB_NANO4W": tiny_model_dir,
        "PYTHONWARNINGS": "ignore",
    }
    out = {}
    for name in NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        t0 = time.time()
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
        ).execute(env=env)
        out[name] = (nb, time.time() - t0)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    seconds = {n: round(s, 1) for n, (_, s) in out.items()}
    (artifacts / "notebook_seconds.json").write_text(json.dumps(seconds))
    return out


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_badges_and_no_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    first = nb.cells[0].source
    assert first.startswith("# ") and "What you will learn" in first
    assert f"colab.research.google.com/github/dsnb-project/dsnb/blob/main/notebooks/{name}.ipynb" in first
    assert f"mybinder.org/v2/gh/dsnb-project/dsnb/main?labpath=notebooks%2F{name}.ipynb" in first
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert all(len(c.source.splitlines()) <= 16 for c in code), "notebook cells stay short"
    colab = [c for c in code if "google.colab" in c.source]
    assert colab and all('"google.colab" in sys.modules:' in c.source for c in colab)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_headless_without_errors(executed, name):
    nb, _ = executed[name]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_notebook_03_shows_the_dashboard_and_logs_the_scheduled_gamma_switch(executed):
    nb, _ = executed["03_live_ds_grpo_nano"]
    shown = cell_with(nb, "dsnb.dashboard.live(").outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in shown)
    summary = text_of(cell_with(nb, "for name, trainer in dash.trainers.items()"))
    assert "grpo  step   4" in summary and "ds    step   4" in summary
    assert "'field': 'gamma_p'" in summary and "'new': 1.0" in summary and "'step': 2" in summary


def test_notebook_04_reloads_an_adapter_that_reproduces_the_trained_log_probs(executed):
    nb, _ = executed["04_live_ds_grpo_real_model"]
    report = text_of(cell_with(nb, "copy.load_adapter(ADAPTER)"))
    trained_vs_base = float(report.split("trained vs base:")[1].split()[0])
    loaded_vs_trained = float(report.split("loaded vs trained:")[1].split()[0])
    assert trained_vs_base > 0 and loaded_vs_trained == 0.0


def test_notebook_05_evaluates_the_runs_notebook_03_left_behind(executed):
    nb, _ = executed["05_evaluate_pass_at_k"]
    found = text_of(cell_with(nb, "found = {n: RunDir(p).latest_checkpoint()"))
    assert "'grpo': 'step_000004'" in found and "'ds': 'step_000004'" in found
    plot = cell_with(nb, "passk_figure(mine").outputs
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in plot)


def test_notebook_05_redraws_the_study_from_its_shipped_results(executed):
    nb, _ = executed["05_evaluate_pass_at_k"]
    listing = text_of(cell_with(nb, "display(Markdown(results_table(study)))"))
    assert "countdown3 (nano)" in listing and "seeds [0, 1, 2]" in listing
    table = cell_with(nb, "display(Markdown(results_table(study)))").outputs
    assert any("| grpo" in o.get("data", {}).get("text/markdown", "") for o in table)
    assert "grpo vs base:" in text_of(cell_with(nb, "join(verdicts(cd3))"))
    figs = [cell_with(nb, "= figures(cd3)")]
    figs += [c for c in nb.cells if c.cell_type == "code" and c.source.strip() in ("delta", "summary_bars")]
    assert len(figs) == 3
    for c in figs:
        assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in c.outputs)


def test_notebook_05_draws_the_second_editions_frontiers_and_their_verdicts(executed):
    nb, _ = executed["05_evaluate_pass_at_k"]
    first = cell_with(nb, "fronts = frontier_figures(v2)")
    assert "cells:" in text_of(first) and "grpo" in text_of(first)
    second = [c for c in nb.cells if c.cell_type == "code" and c.source.strip() == "fronts[1]"]
    for c in [first, *second]:
        assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in c.outputs)
    table = cell_with(nb, "summary_markdown(frontier_summary(v2))").outputs
    md = "".join(o.get("data", {}).get("text/markdown", "") for o in table)
    assert "| DS (γp) vs, y = pass@64 |" in md and "4+ solutions" in md and "| GRPO | **" in md
