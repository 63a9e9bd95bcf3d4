"""A self-contained HTML page of the sharpening and smoothing plots (``dsnb theory --out DIR``).

numpy + plotly only, a few seconds on a CPU; plotly.js is inlined so the page works offline.
The same experiments as notebooks 01 and 02, at their default sizes. Each section opens with its
finding, computed from the plotted numbers with the noise rule of every dsnb report
(``dsnb.report.noise``: a difference counts when its 95% t-interval over seeds excludes zero).
"""

from __future__ import annotations

import html
import pathlib

import numpy as np

from dsnb import theory
from dsnb.report.figures import legend_key
from dsnb.report.noise import interval, seed_words, verdict
from dsnb.report.page import page
from dsnb.report.palette import log_k_axis
from dsnb.theory import plots

KS = np.unique(np.geomspace(1, 1024, 21).astype(int))
SEEDS = (0, 1, 2)
GAMMA_CROSS = 0.8
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
        {"grpo": {"method": "grpo"}, f"ds γp={GAMMA_CROSS}": {"method": "ds", "gamma_p": GAMMA_CROSS}},
        steps=300,
        group_size=8,
        lr=0.5,
        seeds=SEEDS,
        ks=KS,
    )
    curves = plots.plot_training_curves(hists)
    curves.update_layout(
        title_text="Correctness and diversity over training<br><sup>solid: correctness C (left axis); "
        "dashed: diversity H_c, the entropy of the policy on the correct set (right axis)</sup>",
        yaxis2_title_text="diversity H_c (nats)",
        margin_t=80,
    )
    crossover = plots.plot_crossover(cross)
    log_k_axis(crossover, int(KS[-1]))
    legend_key(crossover, f"band: ±1 std over {seed_words(len(SEEDS))}", fill=True)
    crossover.update_layout(
        title_text=f"The pass@k crossover across prompts<br><sup>{cross_words(cross)}</sup>", margin_t=80
    )
    sharpening = [
        plots.plot_correct_probs(hists["grpo"]),
        curves,
        plots.plot_credit_probability(np.exp(logp)),
        crossover,
    ]
    optima = {
        "vanilla": theory.kl_optimum(logp, correct, 0.5),
        "entropy_bonus": theory.kl_optimum(logp, correct, 0.5, "entropy", entropy_coef=0.3),
        "ds": theory.kl_optimum(logp, correct, 0.5, "ds", gamma_p=0.15),
    }
    front = theory.frontier(logp, correct, kappa=0.3)
    smoothing = [plots.plot_optima(np.exp(logp), correct, optima), plots.plot_frontier(front)]
    return [
        ("Why RL sharpens", crossover_finding(cross), SHARPENING, sharpening),
        ("Entropy bonus vs penalty vs differential smoothing", frontier_finding(front), SMOOTHING, smoothing),
    ]


def seed_gap(cross, a: str, b: str | None, k: int) -> tuple[float, float, str]:
    """Mean and 95% half-width over seeds of pass@k(a) − pass@k(b) (b None: the base model,
    which has no seed), and the verdict of the noise rule."""
    i = int(np.flatnonzero(cross.ks == k)[0])
    other = cross.base[i] if b is None else cross.curves[b][:, i]
    mean, half = interval(cross.curves[a][:, i] - other)
    return mean, half, verdict(mean, half)


def cross_words(cross) -> str:
    return (
        f"mean over {seed_words(len(SEEDS))} of 64 prompts that share strategies; k up to {int(cross.ks[-1])}"
    )


def crossover_finding(cross) -> str:
    """The sharpening section's conclusion: does GRPO cross below the base model at large k, and
    does DS stay above GRPO there (both judged over seeds)?"""
    ds, k_max = f"ds γp={GAMMA_CROSS}", int(cross.ks[-1])
    mean = {m: cross.mean(m) for m in cross.curves}
    seeds = seed_words(len(SEEDS))
    _, _, up1 = seed_gap(cross, "grpo", None, 1)
    _, _, down = seed_gap(cross, "grpo", None, k_max)
    _, _, ds_vs = seed_gap(cross, ds, "grpo", k_max)
    _, _, ds_1 = seed_gap(cross, ds, "grpo", 1)
    grpo = (
        f"GRPO raised pass@1 from {cross.base[0]:.2f} to {mean['grpo'][0]:.2f} ({words(up1)}) and moved "
        f"pass@{k_max} from {cross.base[-1]:.2f} to {mean['grpo'][-1]:.2f} ({words(down)})"
    )
    grpo += ": the crossover." if up1 == "better" and down == "worse" else "."
    ds_text = (
        f" DS (γp = {GAMMA_CROSS}) against GRPO: pass@{k_max} {mean[ds][-1]:.2f} vs {mean['grpo'][-1]:.2f} "
        f"({words(ds_vs)}), pass@1 {mean[ds][0]:.2f} vs {mean['grpo'][0]:.2f} ({words(ds_1)})."
    )
    return grpo + ds_text + f" (95% intervals over {seeds}.)"


def words(v: str) -> str:
    return {"better": "up, beyond the noise", "worse": "down, beyond the noise"}.get(v, "within noise")


def frontier_finding(front) -> str:
    """The smoothing section's conclusion: at how many diversity levels DS's frontier reaches the
    entropy heuristics' correctness within the same KL budget (an exact computation: no noise)."""
    feasible = np.isfinite(front.ent_C)
    lost = feasible & ~front.ds_dominates
    text = (
        f"At a KL budget of κ = {front.kappa:g}, some DS policy was at least as correct and as diverse "
        f"as the entropy-regularised one at {int((feasible & ~lost).sum())} of {int(feasible.sum())} "
        "diversity levels"
    )
    if lost.any():
        text += (
            f"; it was not for H_c from {front.ent_H[lost].min():.2f} to {front.ent_H[lost].max():.2f}, "
            "the strongest bonuses (the shaded region)"
        )
    return text + ". Closed forms: exact, no noise."


def write_theory_report(out_dir) -> pathlib.Path:
    """Write ``out_dir/theory_report.html`` (created if needed) and return its path."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocks = []
    for title, found, text, figs in _figures():
        blocks += [
            f"<h2>{html.escape(title)}</h2>",
            f"<p class='finding'><b>Finding.</b> {html.escape(found)}</p>",
            f"<p>{html.escape(text)}</p>",
            *figs,
        ]
    path = out / "theory_report.html"
    path.write_text(
        page("Sharpening and differential smoothing, in a toy space of trajectories", blocks),
        encoding="utf-8",
    )
    return path
