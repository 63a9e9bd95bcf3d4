"""The shared-strategy world: GRPO's pass@k crossover, and DS against it (smoke tier)."""

import numpy as np
import pytest

from dsnb.theory import crossover_experiment, exact_pass_at_k, shared_strategy_space


def test_world_has_a_solver_for_every_prompt_and_never_solving_strategies():
    w = shared_strategy_space(n_prompts=40, competence=(0.9, 0.3), n_wrong=3, seed=2)
    assert w.correct.shape == (40, 5) and w.correct.any(axis=1).all()
    assert not w.correct[:, 2:].any()
    assert w.correct[:, 0].mean() > w.correct[:, 1].mean()
    np.testing.assert_array_equal(w.strategies[3], np.arange(5))


def test_world_rejects_bad_competence():
    with pytest.raises(ValueError, match="competence"):
        shared_strategy_space(competence=(0.5,))


def test_grpo_crosses_below_base_at_large_k_and_ds_recovers_it():
    w = shared_strategy_space(n_prompts=32, seed=0)
    runs = {"grpo": {"method": "grpo"}, "ds": {"method": "ds", "gamma_p": 0.8}}
    res = crossover_experiment(w, runs, steps=200, group_size=8, lr=0.5, seeds=(0, 1, 2), ks=(1, 64))
    assert res.gap("grpo", 1) > 0.1  # pass@1 rises ...
    assert res.gap("grpo", 64) < -0.05  # ... and pass@64 falls below the base model: crossover
    assert res.mean("ds")[1] > res.mean("grpo")[1] + 0.05
    assert res.gap("ds", 1) > 0.0  # DS still improves pass@1 over the base model
    np.testing.assert_allclose(res.base, exact_pass_at_k(np.exp(w.base_logp), w.correct, res.ks))
    assert res.curves["grpo"].shape == (3, 2) and np.all(res.spread("grpo") >= 0)
