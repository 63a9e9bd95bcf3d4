"""One name per method, built from its LossConfig fields: what every table, legend and sentence
calls a setting ("DS-GRPO (γp = 1, γn = 0, summed log-prob)", "GRPO + KL (β = 0.02)").

A *loss* here is a dict of ``dsnb.rl.loss.LossConfig`` fields: a study row, ``asdict(LossConfig)``
or the few fields a preset changes (missing fields take LossConfig's defaults). The report layer
never imports the trainer, so the defaults are restated in :data:`DEFAULTS` (a test compares them
with LossConfig's).
"""

from __future__ import annotations

from dsnb.report.palette import family

DEFAULTS = {
    "clip_eps_low": 0.2,
    "clip_eps_high": 0.2,
    "beta": 0.0,
    "loss_agg": "token-mean",
    "normalize_std": True,
    "entropy_coef": 0.0,
    "gamma_p": 0.0,
    "gamma_n": 0.0,
    "ds_logp": "sum",
    "ds_where": "advantage",
    "ds_ref": "old",
    "unlikeliness_coef": 0.0,
    "passk_k": 0,
    "clipcov_frac": 0.0,
}
"""LossConfig's defaults for the fields a label reads and a study line is told apart by (plain
GRPO); a row recorded before a field existed ran with its default. Tests check them against
LossConfig."""

BASE_LABEL = "base model (adapter off)"


def num(x: float) -> str:
    """A coefficient as people write it: 1, 0.1, 0.02, 1e-04 stays short.

    >>> num(1.0), num(0.10), num(0.02), num(0.0001)
    ('1', '0.1', '0.02', '0.0001')
    """
    return f"{x:g}" if abs(x) >= 1e-4 or x == 0 else f"{x:.0e}"


def method_label(loss: dict | None) -> str:
    """The method a LossConfig describes, with the variant spelled out; ``None`` is the base model.

    >>> method_label({"gamma_p": 1.0, "gamma_n": 0.0})
    'DS-GRPO (γp = 1, γn = 0, summed log-prob)'
    >>> method_label({"gamma_p": 0.01, "gamma_n": 0.01, "ds_logp": "mean", "beta": 0.02})
    'DS-GRPO (γp = 0.01, γn = 0.01, mean log-prob) + KL (β = 0.02)'
    >>> method_label({"gamma_p": 1.0, "ds_where": "score", "normalize_std": False})
    'DS-GRPO (γp = 1, γn = 0, summed log-prob, score-level: centred, no std)'
    >>> [method_label({"passk_k": 8}), method_label({"unlikeliness_coef": 0.5, "ds_logp": "mean"})]
    ['pass@k advantage (k = 8)', 'unlikeliness reward (β = 0.5)']
    >>> [method_label(x) for x in ({}, {"normalize_std": False}, {"entropy_coef": -0.1}, None)]
    ['GRPO', 'GRPO (no std division)', 'entropy penalty (0.1)', 'base model (adapter off)']

    The learner's pitfall: "ds" alone says nothing; the same name has meant summed or mean
    log-prob and γn = 0 or γn = γp in different codebases, with opposite results in the study.
    """
    if loss is None:
        return BASE_LABEL
    f = {**DEFAULTS, **{k: v for k, v in loss.items() if k in DEFAULTS and v is not None}}
    fam = family(f)
    extras = []  # what is added on top of the core method
    if fam == "ds":
        inner = [f"γp = {num(f['gamma_p'])}", f"γn = {num(f['gamma_n'])}"]
        inner.append(("summed" if f["ds_logp"] == "sum" else "mean") + " log-prob")
        if f["ds_where"] == "score":
            inner.append("score-level: centred, no std" if not f["normalize_std"] else "score-level")
        elif not f["normalize_std"]:
            inner.append("no std division")
        if f["ds_ref"] == "base":
            inner.append("log π_base")
        core = f"DS-GRPO ({', '.join(inner)})"
    elif fam in ("entropy_bonus", "entropy_penalty"):
        core = f"entropy {fam.split('_')[1]} ({num(abs(f['entropy_coef']))})"
    elif fam in ("grpo", "grpo_kl"):
        dr = f["loss_agg"] == "dr-grpo" and not f["normalize_std"]
        core = "Dr.GRPO" if dr else "GRPO" if f["normalize_std"] else "GRPO (no std division)"
    elif fam == "unlikeliness":
        core = f"unlikeliness reward (β = {num(f['unlikeliness_coef'])})"
    elif fam == "passk":
        core = f"pass@k advantage (k = {f['passk_k']})"
    elif fam == "clipcov":
        core = f"Clip-Cov (frac = {num(f['clipcov_frac'])})"
    else:  # a rival family the palette knows without a knob here (KL-Cov, CISPO)
        core = fam.replace("_", " ")
    if f["entropy_coef"] and fam not in ("entropy_bonus", "entropy_penalty"):
        word = "bonus" if f["entropy_coef"] > 0 else "penalty"
        extras.append(f"entropy {word} ({num(abs(f['entropy_coef']))})")
    if f["beta"] > 0:
        extras.append(f"KL (β = {num(f['beta'])})")
    if f["clip_eps_high"] != f["clip_eps_low"]:
        extras.append(f"clip-higher (ε = {num(f['clip_eps_low'])}/{num(f['clip_eps_high'])})")
    if f["loss_agg"] not in ("token-mean", "dr-grpo") or (f["loss_agg"] == "dr-grpo" and core != "Dr.GRPO"):
        extras.append(f"{f['loss_agg']} aggregation")
    return " + ".join([core, *extras])
