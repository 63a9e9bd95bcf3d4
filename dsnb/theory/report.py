"""A self-contained HTML page of the sharpening and smoothing plots (``dsnb theory --out DIR``).

numpy + plotly only, a few seconds on a CPU; plotly.js is inlined so the page works offline.
The same experiments as notebooks 01 and 02, at their default sizes.
"""

from __future__ import annotations

import html
import pathlib

import numpy as np

from dsnb import theory
from dsnb.report.page import page
from dsnb.theory import plots

KS = np.unique(np.geomspace(1, 1024, 21).astype(int))
RUNS = {
    "grpo": {},
    "ds": {"gamma_p": 0.3},
    "entropy_bonus": {"entropy_coef": 0.1},
    "entropy_penalty": {"entropy_coef": 0.1},
}

SHARPENING = """RL with a 0/1 reward raises correctness C (pass@1) but concentrates the policy on a
few correct answers. The probability of the already likely correct answers grows fastest
([SH1], rich get richer), rare correct answers are rarely sampled and so rarely credited
([SEL1]), and even at the KL optimum the gain is proportional to the base probability ([REI1]).
Across prompts that share a policy, pass@k at large k falls below the base model's."""

SMOOTHING = """An entropy bonus flattens the correct set but also the incorrect one (mass moves onto
errors); a penalty sharpens both. Differential smoothing (DS) rewards rare *correct* answers
only ([DS1]). At a KL budget kappa, DS reaches at least the entropy heuristics' correctness at
the same diversity, except in the shaded region (very strong bonus), where it does not."""


def _figures(seed: int = 0):
    """(section title, text, [figures]) for the report."""
    logp, correct = theory.zipf_space(n=500, n_correct=12, skew=1.0)
    hists = {m: theory.simulate(logp, correct, m, 200, 8, 0.5, seed, **c) for m, c in RUNS.items()}
    world = theory.shared_strategy_space(n_prompts=64, seed=seed)
    cross = theory.crossover_experiment(
        world,
        {"grpo": {"method": "grpo"}, "ds γp=0.8": {"method": "ds", "gamma_p": 0.8}},
        steps=300,
        group_size=8,
        lr=0.5,
        seeds=(0, 1, 2),
        ks=KS,
    )
    sharpening = [
        plots.plot_correct_probs(hists["grpo"]),
        plots.plot_training_curves(hists),
        plots.plot_credit_probability(np.exp(logp)),
        plots.plot_crossover(cross),
    ]
    optima = {
        "vanilla": theory.kl_optimum(logp, correct, 0.5),
        "entropy_bonus": theory.kl_optimum(logp, correct, 0.5, "entropy", entropy_coef=0.3),
        "ds": theory.kl_optimum(logp, correct, 0.5, "ds", gamma_p=0.15),
    }
    smoothing = [
        plots.plot_optima(np.exp(logp), correct, optima),
        plots.plot_frontier(theory.frontier(logp, correct, kappa=0.3)),
    ]
    return [
        ("Why RL sharpens", SHARPENING, sharpening),
        ("Entropy bonus vs penalty vs differential smoothing", SMOOTHING, smoothing),
    ]


def write_theory_report(out_dir) -> pathlib.Path:
    """Write ``out_dir/theory_report.html`` (created if needed) and return its path."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocks = []
    for title, text, figs in _figures():
        blocks += [f"<h2>{html.escape(title)}</h2>", f"<p>{html.escape(text)}</p>", *figs]
    path = out / "theory_report.html"
    path.write_text(
        page("Sharpening and differential smoothing, in a toy space of trajectories", blocks),
        encoding="utf-8",
    )
    return path
