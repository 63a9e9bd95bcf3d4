"""The theory of sharpening and differential smoothing on a toy space of whole trajectories.

numpy only (importing it takes milliseconds). Notebooks 01 and 02 are built on it; the
equations are docs/method.md sections 1-4, tagged as in NOTATION.md.

- space: ``TrajectorySpace``, ``zipf_space`` (base log-probs, correct mask, validation)
- metrics: ``correctness`` [C1], ``correct_entropy`` [DIV1], ``correct_variance`` [DIV2],
  ``effective_solutions`` [DIV3], ``kl_reverse`` [KL1], ``kl_forward`` [KL2], ``exact_pass_at_k`` [PK0]
- optima: ``kl_optimum`` [RL1] [ENT1] [DS2], ``ds_reward`` [DS1], ``reinforcement_gain`` [REI1]
- dynamics / simulate: ``policy_gradient`` [PG1], ``simulate`` -> ``History``
- sharpening: ``sharpening_rate`` [SH1], ``credit_probability`` [SEL1], ``sampled_fraction``
- theorem / frontier: ``theorem_construction`` [THM1], ``frontier``
- shared: ``shared_strategy_space``, ``crossover_experiment`` (the pass@k crossover)
- experiments: ``compare_methods``, ``format_table``, ``holds_rate``
- plots (``dsnb.theory.plots``), apps (``dsnb.theory.apps``: the slider apps of notebooks 01-02)
  and report (``dsnb.theory.report.write_theory_report``) need plotly/ipywidgets: import them
  yourself; this package face imports numpy only.
"""

from dsnb.theory.dynamics import SimConfig, group_advantage, policy_gradient, sample_groups
from dsnb.theory.experiments import compare_methods, format_table, holds_rate, random_instance
from dsnb.theory.frontier import Frontier, frontier
from dsnb.theory.metrics import (
    correct_distribution,
    correct_entropy,
    correct_variance,
    correctness,
    effective_solutions,
    exact_pass_at_k,
    kl_forward,
    kl_reverse,
)
from dsnb.theory.optima import ds_reward, kl_optimum, reinforcement_gain
from dsnb.theory.shared import CrossoverResult, SharedSpace, crossover_experiment, shared_strategy_space
from dsnb.theory.sharpening import credit_probability, sampled_fraction, sharpening_rate
from dsnb.theory.simulate import History, simulate
from dsnb.theory.space import TrajectorySpace, log_softmax, softmax, zipf_space
from dsnb.theory.theorem import TheoremCheck, theorem_construction

__all__ = [
    "CrossoverResult",
    "Frontier",
    "History",
    "SharedSpace",
    "SimConfig",
    "TheoremCheck",
    "TrajectorySpace",
    "correct_distribution",
    "correct_entropy",
    "correct_variance",
    "compare_methods",
    "correctness",
    "credit_probability",
    "crossover_experiment",
    "ds_reward",
    "effective_solutions",
    "format_table",
    "frontier",
    "group_advantage",
    "holds_rate",
    "kl_forward",
    "kl_optimum",
    "kl_reverse",
    "log_softmax",
    "exact_pass_at_k",
    "policy_gradient",
    "random_instance",
    "reinforcement_gain",
    "sample_groups",
    "sampled_fraction",
    "sharpening_rate",
    "shared_strategy_space",
    "simulate",
    "softmax",
    "theorem_construction",
    "zipf_space",
]
