"""Small experiment runners shared by notebooks 01-02, the report and the tests.

``compare_methods`` trains several methods with the same budget and seeds and summarises them;
``holds_rate`` counts how often the [THM1] construction applies on random instances.
"""

from __future__ import annotations

import numpy as np

from dsnb.theory.simulate import simulate
from dsnb.theory.space import log_softmax
from dsnb.theory.theorem import theorem_construction

METRICS = ("C", "H_c", "N_eff", "kl")


def compare_methods(
    base_logp, correct, runs: dict, steps: int, group_size: int, lr: float, seeds=(0, 1, 2), **kwargs
) -> dict:
    """label -> {metric: (mean, std)} of the final policy over seeds, for C, H_c, N_eff, kl.

    runs: label -> dict(method=..., **coefs). Same steps, G, lr and seeds for every run, so the
    comparison is fair; ``kwargs`` (mode, ref, strategies, beta...) go to every ``simulate``.

    >>> table = compare_methods(np.log([0.5, 0.3, 0.2]), [True, True, False],
    ...                         {"grpo": {"method": "grpo"}}, steps=3, group_size=4, lr=0.1)
    >>> sorted(table["grpo"]), len(table["grpo"]["C"])
    (['C', 'H_c', 'N_eff', 'kl'], 2)
    """
    table = {}
    for label, spec in runs.items():
        spec = dict(spec)
        method = spec.pop("method")
        finals = [
            simulate(
                base_logp,
                correct,
                method,
                steps,
                group_size,
                lr,
                seed,
                record_every=max(steps, 1),
                **spec,
                **kwargs,
            )
            for seed in seeds
        ]
        table[label] = {
            m: (
                float(np.mean([getattr(h, m)[-1] for h in finals])),
                float(np.std([getattr(h, m)[-1] for h in finals])),
            )
            for m in METRICS
        }
    return table


def format_table(table: dict) -> str:
    """A plain-text table of ``compare_methods`` output, one row per run (mean ± std).

    >>> print(format_table({"grpo": {"C": (0.9, 0.01)}}))
    run                     C
    grpo        0.900 ± 0.010
    """
    metrics = list(next(iter(table.values())))
    width = max(10, *(len(label) + 1 for label in table))
    rows = [f"{'run':<{width}}" + "".join(f"{m:>15}" for m in metrics)]
    for label, row in table.items():
        rows.append(f"{label:<{width}}" + "".join(f"{row[m][0]:>7.3f} ± {row[m][1]:.3f}" for m in metrics))
    return "\n".join(rows)


def random_instance(rng: np.random.Generator):
    """A random one-prompt space (3-11 trajectories, first correct, last incorrect) and a beta."""
    n = int(rng.integers(3, 12))
    correct = rng.random(n) < 0.4
    correct[0], correct[-1] = True, False
    return log_softmax(1.5 * rng.normal(size=n)), correct, float(rng.uniform(0.2, 3.0))


def holds_rate(g_over_beta: float, n_instances: int = 200, seed: int = 0) -> float:
    """[THM1] the fraction of random instances where the construction's boost b is >= 0.

    >>> holds_rate(0.0, n_instances=20)  # no entropy term: DS = vanilla, b = 1/beta > 0
    1.0
    """
    rng = np.random.default_rng(seed)
    hits = [
        theorem_construction(lp, c, b, g_over_beta * b).holds
        for lp, c, b in (random_instance(rng) for _ in range(n_instances))
    ]
    return float(np.mean(hits))
