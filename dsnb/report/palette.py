"""The palette rule, one for every figure in the package (theory plots, training plots, reports,
the dashboard):

- one **colour per method family** (GRPO, GRPO + KL, DS, entropy bonus, entropy penalty, the
  rivals), the base model always dark grey and dashed;
- within a family, **variants differ by dash** (and marker), in a fixed order, never by shade;
- at most :data:`MAX_TRACES` methods in one panel: more go into small multiples;
- log-k axes are ticked at 1, 2, 4, ..., n (:func:`log_k_ticks`).

Method names ("grpo", "ds", "ds γp=0.8", "entropy_bonus_0.1", a study setting's name) map to a
family by :func:`family_of`; a study row's LossConfig fields map by :func:`family`.
"""

from __future__ import annotations

FAMILY_COLORS = {
    "base": "#444444",
    "grpo": "#1f77b4",
    "grpo_kl": "#17becf",
    "ds": "#d62728",
    "entropy_bonus": "#2ca02c",
    "entropy_penalty": "#9467bd",
    "unlikeliness": "#ff7f0e",
    "passk": "#8c564b",
    "cispo": "#e377c2",
    "klcov": "#bcbd22",
    "clipcov": "#bcbd22",  # Cui et al.'s other Cov method; KL-Cov is not implemented (void on-policy)
}
METHOD_COLORS = {**FAMILY_COLORS, "vanilla": FAMILY_COLORS["grpo"]}
"""Colour by method name: every family, plus "vanilla" (the theory's plain RL optimum)."""
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "star")
MAX_TRACES = 8
"""Methods per panel before a figure must split into small multiples."""
OTHER = "#7f7f7f"


def family_of(name: str) -> str:
    """The family of a method *name*: the longest family name it starts with ("grpo" otherwise
    unknown names are grey: see :func:`color`).

    >>> [family_of(n) for n in ("ds γp=0.8", "ds_asym_kl", "entropy_bonus_0.1", "cd4_grpo_kl", "base")]
    ['ds', 'ds', 'entropy_bonus', 'grpo_kl', 'base']
    """
    key = name.split(" ")[0].lower()
    for prefix in ("cd4_", "cd3_"):
        key = key.removeprefix(prefix)
    for fam in sorted(FAMILY_COLORS, key=len, reverse=True):
        if key == fam or key.startswith(fam + "_") or key.startswith(fam + "@"):
            return fam
    return key


def family(loss: dict) -> str:
    """The family of a setting from its LossConfig fields (a study row, ``asdict(LossConfig)``).
    DS wins over everything it is combined with (DS + KL is a DS variant).

    >>> family({"gamma_p": 1.0, "beta": 0.02}), family({"beta": 0.02}), family({"entropy_coef": -0.1})
    ('ds', 'grpo_kl', 'entropy_penalty')
    """
    if loss.get("gamma_p", 0) > 0 or loss.get("gamma_n", 0) > 0:
        return "ds"
    rivals = (
        ("unlikeliness", "unlikeliness_coef"),
        ("passk", "passk_k"),
        ("klcov", "klcov_coef"),
        ("clipcov", "clipcov_frac"),
    )
    for fam, field in rivals:
        if loss.get(field):
            return fam
    if loss.get("ratio_form") == "cispo":
        return "cispo"
    coef = loss.get("entropy_coef", 0)
    if coef:
        return "entropy_bonus" if coef > 0 else "entropy_penalty"
    return "grpo_kl" if loss.get("beta", 0) > 0 else "grpo"


def color(method: str) -> str:
    """The colour of a method name (its family's; grey for anything unknown).

    >>> color("ds"), color("ds γp=0.3"), color("something else")
    ('#d62728', '#d62728', '#7f7f7f')
    """
    return METHOD_COLORS.get(method, FAMILY_COLORS.get(family_of(method), OTHER))


def styles(families: dict[str, str]) -> dict[str, dict]:
    """{name: {"color", "dash", "symbol"}} for methods in order: the family's colour, and the
    1st, 2nd, ... variant of a family get the 1st, 2nd, ... dash and marker. The base model is
    always dashed grey.

    >>> s = styles({"grpo": "grpo", "ds_a": "ds", "ds_b": "ds", "base": "base"})
    >>> s["ds_a"]["dash"], s["ds_b"]["dash"], s["ds_b"]["color"] == s["ds_a"]["color"], s["base"]["dash"]
    ('solid', 'dash', True, 'dash')
    """
    seen: dict[str, int] = {}
    out = {}
    for name, fam in families.items():
        if fam == "base":
            out[name] = {"color": FAMILY_COLORS["base"], "dash": "dash", "symbol": "circle-open"}
            continue
        i = seen[fam] = seen.get(fam, -1) + 1
        out[name] = {
            "color": FAMILY_COLORS.get(fam, OTHER),
            "dash": DASHES[i % len(DASHES)],
            "symbol": MARKERS[i % len(MARKERS)],
        }
    return out


def log_k_ticks(n: int) -> list[int]:
    """Tick values of a log-k axis: powers of two up to n, and n itself.

    >>> log_k_ticks(64), log_k_ticks(20), log_k_ticks(1)
    ([1, 2, 4, 8, 16, 32, 64], [1, 2, 4, 8, 16, 20], [1])
    """
    ticks, k = [], 1
    while k < n:
        ticks.append(k)
        k *= 2
    return ticks + [n]


def log_k_axis(fig, n: int, title: str = "k (samples per problem)", **pos) -> None:
    """Make a figure's x axis a log-k axis ticked at :func:`log_k_ticks` (``pos``: row, col)."""
    ticks = log_k_ticks(n)
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks], title_text=title, **pos)
