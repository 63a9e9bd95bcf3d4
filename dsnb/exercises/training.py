"""Checkers for notebooks 03 (live DS-GRPO on the nano model) and 04 (a real model).

They compare the student's torch code with ``dsnb.rl.advantages`` and ``dsnb.rl.loss``.
torch is imported inside each checker, so ``import dsnb.exercises`` does not pull it in.
Inputs are float64 so that a correct answer never fails on float32 round-off.
"""

from __future__ import annotations

import numpy as np

from dsnb.exercises.core import (
    WORD,
    as_array,
    call,
    close,
    diagnose,
    dict_answer,
    exercise,
    right,
    sign_of,
    true_sign,
    wrong,
)


def _short(x) -> str:
    """A tensor or number as a student reads it: 3 decimals, long ones elided."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = float(x)
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=3, threshold=12, edgeitems=3, separator=", ")
    return f"{x:.3g}" if isinstance(x, float) else repr(x)


def _fail(out, args, mistakes, generic: str, nan_hint: str = ""):
    """Report a wrong output: the input, what the student's function gave, a hint."""
    arr = as_array(out)
    hint = diagnose(arr, mistakes, *args) or (nan_hint if np.isnan(arr).any() else "") or generic
    shown = ", ".join(_short(a) for a in args)
    wrong(f"on the input ({shown}) your function gave {_short(out)}, which is not right.", hint)


_NAN_GROUP = (
    "nan in a group whose rewards are all equal: std = 0 there, and 0/0 = nan. [GRPO1] divides "
    "by (std + eps); such a group carries no signal and its advantages are 0."
)
_NAN_PADDING = (
    "nan: padding may hold any value (nan, −inf), and multiplying by the mask keeps it (nan·0 = "
    "nan). Select the real tokens with torch.where instead."
)


def _rewards(torch, rng, n_groups: int, group_size: int, values=(0.0, 1.0)):
    """Random rewards (N,) float64, groups contiguous, with one all-equal group when B > 1."""
    r = rng.choice(values, size=(n_groups, group_size))
    if n_groups > 1:
        r[-1] = rng.choice([0.0, 1.0])  # no signal in this group
    return torch.tensor(r.reshape(-1), dtype=torch.float64)


# ---- notebook 03 -----------------------------------------------------------------------------


@exercise("03.1", "[GRPO1] the group advantage", "function")
def _check_group_advantage(student, rng):
    import torch

    from dsnb.rl.advantages import group_advantages

    cases = [(torch.tensor([1.0, 0, 0, 0, 1, 1, 1, 1], dtype=torch.float64), 4)]
    cases += [(_rewards(torch, rng, 3, 8, (0.0, 0.1, 1.0)), 8), (_rewards(torch, rng, 4, 2), 2)]
    cases.append((torch.tensor(rng.normal(size=10)), 5))  # any real-valued reward works too

    def normalised(r, g, correction=1, by_column=False):
        x = r.view(g, -1).T if by_column else r.view(-1, g)  # (B, G)
        x = (x - x.mean(1, keepdim=True)) / (x.std(1, correction=correction, keepdim=True) + 1e-4)
        return (x.T if by_column else x).reshape(-1)

    mistakes = [
        (
            lambda r, g: normalised(r, g, correction=0),
            "you used the population std (divide by G). GRPO, TRL and torch.std use the sample "
            "std (divide by G − 1); with G = 4 that makes every advantage 15% too large.",
        ),
        (
            lambda r, g: (r.view(-1, g) - r.view(-1, g).mean(1, keepdim=True)).reshape(-1),
            "you centred the rewards but did not divide by the group's std (that is Dr.GRPO).",
        ),
        (
            lambda r, g: (r - r.mean()) / (r.std() + 1e-4),
            "the statistics are over the whole batch: [GRPO1] uses the mean and std of each "
            "group of G (view the rewards as (B, G)).",
        ),
        (
            lambda r, g: normalised(r, g, by_column=True),
            "the groups are contiguous: completions 0..G−1 belong to prompt 0, so view as (B, G), "
            "not (G, B).",
        ),
    ]
    generic = "in each group of G the advantages should have mean 0 and (sample) std ≈ 1."
    for r, g in cases:
        expected = group_advantages(r, g, eps=1e-4).numpy()
        out = call(student, r.clone(), g)
        if not close(as_array(out, expected.shape), expected):
            _fail(out, (r, g), mistakes, generic, _NAN_GROUP)
    right(f"matches dsnb.rl.advantages.group_advantages on all {len(cases)} cases.")


def _ds_cases(torch, rng):
    f64 = torch.float64
    cases = [
        (torch.tensor([1.0, 1, 1, 0], dtype=f64), torch.tensor([-1.0, -1, -4, -2], dtype=f64), 4, 0.5, 0.25),
        (
            torch.tensor([1.0, 0.1, 0, 1, 0.1, 0.1, 0.1, 0.1], dtype=f64),  # 0.1 = format score: wrong
            torch.tensor([-2.0, -1, -5, -3, -1, -2, -6, -4], dtype=f64),
            4,
            0.3,
            0.6,
        ),
    ]
    for _ in range(2):
        r = _rewards(torch, rng, 3, 8, (0.0, 0.1, 1.0))
        lp = torch.tensor(-rng.uniform(0.5, 20.0, size=r.numel()), dtype=f64)
        gp, gn = rng.uniform(0.05, 1.0, size=2)
        cases.append((r, lp, 8, float(gp), float(gn)))
    return cases


@exercise("03.2", "[DS3] the DS-GRPO advantage", "function")
def _check_ds_advantage(student, rng):
    import torch

    from dsnb.rl.advantages import ds_advantages, group_advantages

    def ga(r, g):
        return group_advantages(r, g)

    def shaped(r, lp, g, gp, gn, sp=-1.0, sn=1.0, ok=None):
        ok = (r == 1) if ok is None else ok
        return ga(r, g) + torch.where(ok, sp * gp * lp, sn * gn * lp)

    mistakes = [
        (
            lambda *a: shaped(*a, sp=1.0),
            "a sign on the correct set: log pi <= 0, so −gamma_p·log pi is a bonus.",
        ),
        (lambda *a: shaped(*a, sn=-1.0), "a sign on the wrong set: +gamma_n·log pi <= 0 is a penalty."),
        (
            lambda r, *a: shaped(r, *a, ok=r > 0),
            "a reward of 0.1 (right format, wrong value) is *incorrect* for DS: correct means reward == 1.",
        ),
        (
            lambda r, lp, g, gp, gn: ga(r, g) - gp * lp,
            "the bonus −gamma_p·log pi goes to the correct completions only; the wrong ones get "
            "+gamma_n·log pi.",
        ),
        (lambda r, lp, g, gp, gn: shaped(r, lp, g, gn, gp), "gamma_p and gamma_n are swapped."),
        (
            lambda r, lp, g, gp, gn: ga(r + torch.where(r == 1, -gp * lp, gn * lp), g),
            "you shaped the reward and then normalised: in [DS3] the DS term is added *after* the "
            "group normalisation and is not itself normalised.",
        ),
    ]
    generic = (
        "[DS3] starts from A_i; correct completions (r_i = 1) get a term with gamma_p, the others "
        "one with gamma_n, both proportional to log pi(y_i). Check the signs and which set is which."
    )
    cases = _ds_cases(torch, rng)
    for r, lp, g, gp, gn in cases:
        expected = ds_advantages(r, lp, g, gp, gn).numpy()
        out = call(student, r.clone(), lp.clone().requires_grad_(True), g, gp, gn)
        if not close(as_array(out, expected.shape), expected):
            _fail(out, (r, lp, g, gp, gn), mistakes, generic)
        if getattr(out, "requires_grad", False):
            wrong(
                "the numbers are right, but your advantages carry a gradient back into seq_logp.",
                "log pi_old is a fixed part of the reward: use seq_logp.detach(), or the DS term "
                "becomes a second, unintended loss on the log-probs.",
            )
    right(f"matches dsnb.rl.advantages.ds_advantages on all {len(cases)} cases, detach included.")


def _as_index_set(value, key: str) -> set:
    try:
        return {int(i) for i in value}
    except (TypeError, ValueError):
        wrong(f"{key} = {value!r} should be a list of completion indices, like [0, 2].")


@exercise("03.3", "predict: [DS3] vs [DS4] in an all-correct group", "value")
def _check_ds3_vs_ds4(answer, rng):
    import torch

    from dsnb.rl.advantages import ds_advantages, ds_score_advantages

    answer = dict_answer(answer, ("DS3", "DS4"))
    r = torch.ones(4, dtype=torch.float64)
    lp = torch.tensor([-1.0, -1.0, -2.0, -6.0], dtype=torch.float64)
    truth = {
        "DS3": set(np.flatnonzero(ds_advantages(r, lp, 4, 1.0, 0.0).numpy() > 0).tolist()),
        "DS4": set(np.flatnonzero(ds_score_advantages(r, lp, 4, 1.0, 0.0).numpy() > 0).tolist()),
    }
    bad = [k for k in truth if _as_index_set(answer[k], k) != truth[k]]
    if bad:
        wrong(
            f"not right for: {', '.join(bad)}.",
            "GRPO alone gives 0 to every completion here. [DS3] adds −gamma_p·log pi to that 0; "
            "[DS4] shapes the score and then subtracts the group's mean shaped score.",
        )
    right("[DS3] pushes every correct answer up (rare ones most); [DS4] only moves mass from common to rare.")


@exercise("03.4", "predict: raise γn on the dashboard", "value")
def _check_gamma_n_slider(answer, rng):
    import torch

    from dsnb.rl.advantages import ds_advantages

    answer = dict_answer(answer, ("direction", "hardest"))
    r = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    lp = torch.tensor([-2.0, -1.0, -8.0, -3.0], dtype=torch.float64)
    delta = (ds_advantages(r, lp, 4, 1.0, 0.5) - ds_advantages(r, lp, 4, 1.0, 0.0)).numpy()[1:]
    signs = {true_sign(d) for d in delta}
    hardest = 1 + int(np.argmin(delta))  # index among the wrong completions 1, 2, 3
    names = {1: "common", 2: "rare"}
    said = str(answer["hardest"]).strip().lower()
    ok_hardest = said in (names.get(hardest, ""), str(hardest))
    if len(signs) != 1 or sign_of(answer["direction"], "direction") != signs.pop():
        wrong(
            "not right for: direction.",
            "[DS3] adds +gamma_n·log pi_old to each wrong completion. What is the sign of log pi_old?",
        )
    if not ok_hardest:
        wrong(
            "the direction is right; not right for: hardest.", "the added term is proportional to log pi_old."
        )
    right(
        f"all three go {WORD[int(np.sign(delta[0]))]}, the {names[hardest]} wrong answer most: "
        "gamma_n > 0 sharpens the incorrect set."
    )


# ---- notebook 04 -----------------------------------------------------------------------------


@exercise("04.1", "[DS5] the sequence log-prob, summed or mean", "function")
def _check_sequence_logp(student, rng):
    import torch

    from dsnb.rl.advantages import sequence_logp

    nan = float("nan")
    lp0 = torch.tensor([[-1.0, -2.0, -3.0], [-4.0, nan, nan]], dtype=torch.float64)
    cases = [(lp0, torch.tensor([[1, 1, 1], [1, 0, 0]]))]
    for fill in (nan, -float("inf")):
        lengths = rng.integers(1, 8, size=5)
        mask = torch.tensor(np.arange(7)[None, :] < lengths[:, None]).long()
        lp = torch.tensor(-rng.exponential(1.0, size=(5, 7)))
        cases.append((lp.masked_fill(mask == 0, fill), mask))

    def masked(lp, m):
        return torch.where(m.bool(), lp, torch.zeros_like(lp))

    def mean_over_t(lp, m, how):
        return masked(lp, m).sum(-1) / (lp.shape[-1] if how == "mean" else 1)

    mistakes = [
        (
            mean_over_t,
            "for 'mean' divide by the number of *real* tokens (mask.sum), not by the padded length T.",
        ),
        (lambda lp, m, how: masked(lp, m).sum(-1), "you return the sum for how='mean' too: read `how`."),
        (
            lambda lp, m, how: masked(lp, m).sum(-1) / m.sum(-1),
            "you return the mean for how='sum': read `how`.",
        ),
    ]
    generic = "[DS5]: Σ_t log pi(y_t) over the real tokens ('sum'), or that divided by their number ('mean')."
    for lp, m in cases:
        for how in ("sum", "mean"):
            expected = sequence_logp(lp, m, how).numpy()
            out = call(student, lp.clone(), m.clone(), how)
            if not close(as_array(out, expected.shape), expected):
                _fail(out, (lp, m, how), mistakes, generic, _NAN_PADDING)
    right(f"matches dsnb.rl.advantages.sequence_logp on all {2 * len(cases)} cases, nan padding included.")


@exercise("04.2", "predict: which answer gets the bigger DS bonus, sum vs mean", "value")
def _check_sum_vs_mean(answer, rng):
    import torch

    from dsnb.rl.advantages import sequence_logp

    answer = dict_answer(answer, ("sum", "mean"))
    lp = torch.full((2, 200), -0.1, dtype=torch.float64)
    lp[0, :20] = -0.5  # the short answer: 20 tokens at log p = −0.5
    mask = torch.zeros(2, 200, dtype=torch.long)
    mask[0, :20], mask[1, :] = 1, 1
    truth = {}
    for how in ("sum", "mean"):
        bonus = -0.01 * sequence_logp(lp, mask, how)  # −gamma_p·log pi, gamma_p = 0.01
        truth[how] = "short" if bonus[0] > bonus[1] else "long"
    bad = [k for k in truth if str(answer[k]).strip().lower() != truth[k]]
    if bad:
        wrong(
            f"not right for: {', '.join(bad)} (answer 'short' or 'long').",
            "compute each answer's log pi both ways: 20·(−0.5) vs 200·(−0.1) summed, −0.5 vs −0.1 averaged.",
        )
    right("the sum favours long answers (it grows with length); the mean compares per-token likelihood.")


@exercise("04.3", "[PPO1] the clipped token surrogate", "function")
def _check_clipped_surrogate(student, rng):
    import torch

    from dsnb.rl.loss import clipped_surrogate

    f64 = torch.float64
    zeros, plus, minus = (
        torch.zeros(1, 3, dtype=f64),
        torch.tensor([1.0], dtype=f64),
        torch.tensor([-1.0], dtype=f64),
    )
    ratios = torch.log(torch.tensor([[1.5, 0.5, 1.0]], dtype=f64))
    cases = [(ratios, zeros, plus, 0.2, 0.2), (ratios, zeros, minus, 0.2, 0.2)]
    ratios = torch.log(torch.tensor([[1.25, 0.75, 0.9]], dtype=f64))  # 1.25: inside the clip-higher range
    cases.append((ratios, zeros, plus, 0.2, 0.28))
    old = torch.tensor(rng.normal(-2.0, 0.5, size=(3, 4)))
    new = old + torch.tensor(rng.normal(0.0, 0.35, size=(3, 4)))
    cases.append((new, old, torch.tensor(rng.normal(size=3)), 0.2, 0.28))

    def surrogate(lp, old, a, lo, hi, pick=torch.minimum, sign=-1.0):
        ratio = torch.exp(lp - old)
        a = a.unsqueeze(1)
        return sign * pick(ratio * a, torch.clamp(ratio, 1 - lo, 1 + hi) * a)

    mistakes = [
        (
            lambda *c: surrogate(*c, sign=1.0),
            "a sign error: this is the objective; the *loss* is its negative.",
        ),
        (
            lambda *c: surrogate(*c, pick=torch.maximum),
            "max instead of min: PPO keeps the pessimistic branch.",
        ),
        (
            lambda lp, old, a, lo, hi: surrogate(lp, old, a, lo, lo),
            "the upper clip is 1 + eps_high, the lower 1 − eps_low (they differ: DAPO's clip-higher).",
        ),
        (
            lambda lp, old, a, lo, hi: -torch.clamp(torch.exp(lp - old), 1 - lo, 1 + hi) * a.unsqueeze(1),
            "without the min, a clipped token in the direction the advantage does *not* push loses "
            "its gradient: take −min(ρA, clip(ρ)A).",
        ),
        (
            lambda lp, old, a, lo, hi: surrogate(old, lp, a, lo, hi),
            "the ratio is upside down: ρ = pi/pi_old.",
        ),
    ]
    generic = (
        "[PPO1]: the ratio from the two log-probs, both branches times A, the pessimistic branch, "
        "and the sign of a loss (to be minimised)."
    )
    for lp, old, a, lo, hi in cases:
        ref_lp = lp.clone().requires_grad_(True)
        expected, _ = clipped_surrogate(ref_lp, old, a, lo, hi)
        expected.sum().backward()
        s_lp, s_old = lp.clone().requires_grad_(True), old.clone().requires_grad_(True)
        out = call(student, s_lp, s_old, a.clone(), lo, hi)
        if not close(as_array(out, expected.shape), expected.detach().numpy()):
            _fail(out, (lp, old, a, lo, hi), mistakes, generic)
        if not getattr(out, "requires_grad", False):
            wrong(
                "the values are right, but the loss has no gradient.", "keep it a torch expression of logp."
            )
        out.sum().backward()
        if s_old.grad is not None and bool(s_old.grad.abs().sum() > 0):
            wrong(
                "the values are right, but the gradient also flows into logp_old.",
                "pi_old is the policy that sampled the data, a constant: use logp_old.detach().",
            )
        if s_lp.grad is None or not close(s_lp.grad.numpy(), ref_lp.grad.numpy()):
            wrong(
                "the values are right, but the gradient wrt logp is not.",
                "keep it a torch expression of logp.",
            )
    right(f"matches dsnb.rl.loss.clipped_surrogate on all {len(cases)} cases, values and gradients.")
