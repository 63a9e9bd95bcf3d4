"""Solutions to notebook 01 (why RL sharpens): exercises 01.1-01.4."""

import numpy as np

# 01.1 [SH1]: J = 0.4. Each logit moves by lr*pi(y)*(r(y) - J). Correct pair (0.3 vs 0.1): both move
# up, the likelier three times as much, so log(pi_0/pi_1) goes up. Incorrect pair: both move down,
# the likelier three times as much, so log(pi_2/pi_3) goes down.
SHARPENING_SIGNS = {"correct": "up", "incorrect": "down"}


def log_ratio_change(probs, correct, i, j, lr):
    """01.2 [SH1] one step z += lr * dJ/dz [PG1] changes log(pi_i/pi_j) = z_i - z_j by
    lr * (pi_i (r_i - J) - pi_j (r_j - J)); exact for any lr, since the normaliser cancels."""
    r = correct.astype(float)
    J = np.sum(probs * r)
    return lr * (probs[i] * (r[i] - J) - probs[j] * (r[j] - J))


def credit_probability(probs, group_size):
    """01.3 [SEL1] 1 - P(y missed by all G independent draws) = 1 - (1 - pi)^G."""
    return 1.0 - (1.0 - probs) ** group_size


def read_crossover(cross):
    """01.4: the first k on the grid where GRPO's mean pass@k is below the base model's."""
    below = cross.ks[cross.mean("grpo") < cross.base]
    return int(below[0]) if below.size else "never"


SOLUTIONS = {
    "01.1": SHARPENING_SIGNS,
    "01.2": log_ratio_change,
    "01.3": credit_probability,
    "01.4": read_crossover,
}
