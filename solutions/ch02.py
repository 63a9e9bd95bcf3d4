"""Solutions to notebook 02 (entropy bonus vs penalty vs DS): exercises 02.1-02.4."""

import numpy as np


def _normalise(logits):
    w = np.exp(logits - logits.max())  # shift by the max: exp never overflows
    return w / w.sum()


def entropy_optimum(base_logp, correct, beta, g):
    """02.1 [ENT1] pi ∝ pi_base^(beta/(beta+g)) · exp(r/(beta+g))."""
    r = correct.astype(float)
    return _normalise((beta * base_logp + r) / (beta + g))


def ds_optimum(base_logp, correct, beta, gamma_p, gamma_n):
    """02.2 [DS2] correct ∝ e^(1/beta) pi_base^(1 - gamma_p/beta); incorrect ∝ pi_base^(1 + gamma_n/beta)."""
    logits = np.where(
        correct, 1.0 / beta + (1.0 - gamma_p / beta) * base_logp, (1.0 + gamma_n / beta) * base_logp
    )
    return _normalise(logits)


# 02.3: gamma_n only changes the power on the *incorrect* set, 1 + gamma_n/beta > 1. Every
# incorrect pi_base < 1 raised to a higher power shrinks, so the incorrect mass falls and C rises.
# Inside the correct set nothing changes (same power 1 - gamma_p/beta, same boost): H_c is the same.
GAMMA_N_SIGNS = {"C": "up", "H_c": "same"}

# 02.4: g from +0.2 to -0.2 at beta = 0.5: the power beta/(beta+g) goes from 0.71 to 1.67 (sharper
# on both sets, so H_c falls), and the correct boost e^(1/(beta+g)) from e^1.43 to e^3.33: C rises.
BONUS_TO_PENALTY_SIGNS = {"C": "up", "H_c": "down"}

SOLUTIONS = {
    "02.1": entropy_optimum,
    "02.2": ds_optimum,
    "02.3": GAMMA_N_SIGNS,
    "02.4": BONUS_TO_PENALTY_SIGNS,
}
