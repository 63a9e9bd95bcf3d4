"""Solutions to notebook 05 (evaluate: pass@k): exercises 05.1-05.3."""

from math import comb

import numpy as np


def pass_at_k(n, c, k):
    """05.1 [PK1] 1 - C(n - c, k)/C(n, k): k of the n samples, drawn without replacement."""
    return 1.0 - comb(n - c, k) / comb(n, k)  # comb(n - c, k) = 0 when n - c < k: pass@k = 1


def pass_at_k_curve(n, c, ks):
    """05.2 the mean over problems of each problem's pass@k, for each k."""
    return np.array([np.mean([pass_at_k(int(ni), int(ci), k) for ni, ci in zip(n, c)]) for k in ks])


# 05.3: the unbiased estimator's expected value is the true pass@k at every n: the same. The
# biased 1 - (1 - c/n)^k is convex in c/n, so (Jensen) it sits below the truth on average, by less
# as n grows: it goes up.
MORE_SAMPLES = {"unbiased": "same", "biased": "up"}

SOLUTIONS = {"05.1": pass_at_k, "05.2": pass_at_k_curve, "05.3": MORE_SAMPLES}
