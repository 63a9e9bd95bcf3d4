"""Frontiers, not single points: each method's sweep as a line in the plane pass@1 (x) against
pass@64 or distinct correct solutions (y), overall and per solution-multiplicity bucket, and plain
verdicts that say which line lies above which, only where the intervals support it.

Why lines: the paper's claim (Theorem 3.4) is about frontiers: a DS policy at least as correct AND
as diverse as any entropy-regularised one. Two single settings that differ "within noise" may be
two points of one frontier; a sweep of each method's knob draws the frontier itself.

"Lies above" [FR1], precisely. Take two lines A and B (each the seed-mean points of a sweep, sorted
by pass@1, diverged points left out). At a matched pass@1 x* inside BOTH lines' pass@1 range,
interpolate each line linearly between its two neighbouring points, per seed and per problem:
ŷ(x*)[s, j] = (1 − w)·y_i[s, j] + w·y_{i+1}[s, j], w from the seed-mean pass@1 of the two points.
D[s, j] = ŷ_A(x*)[s, j] − ŷ_B(x*)[s, j] is then a paired difference on the same problems, and it
gets the study's two 95% intervals (over problems, over seeds; ``dsnb.study.stats.Paired``). A lies
above B at x* when both intervals of D exclude 0 on the positive side. The matched points x* are
every sweep point of either line inside the common range. The pass@1 noise is drawn (error bars)
but does not enter w: a verdict is "at the same mean pass@1".

When the two pass@1 ranges do not meet (a single setting such as GRPO is a line of one point)
the comparison is point against point [FR2]: a dominates b when, paired the same way, a is better
on pass@1 or on y and worse on neither; A lies above B when some point of A dominates one of B
and none of B dominates one of A. Nothing else is called "above".

Every declared sweep starts at GRPO [FR3]: knob = 0 is plain GRPO for each family (γp = 0,
β = 0, coefficient 0, no clipped covariance, k = 0), so GRPO's own runs are each sweep line's end
point (drawn and compared as such; the same runs, not a copy). Two lines that share that end are
not compared at it (their difference there is 0 by construction); a line compared with GRPO
itself leaves its GRPO end out.

Pure functions of results rows (``results.jsonl``; no torch). A row's per-problem solution counts
come from its ``multiplicity`` list, or are recovered from the problem file in ``eval_set`` order
(refused if the file changed). Colours and dashes: ``dsnb.report.palette``. Call
:func:`frontier_figures` and :func:`frontier_verdicts` from the study report and notebook 05.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dsnb.report.labels import DEFAULTS
from dsnb.report.palette import FAMILY_COLORS, MAX_TRACES, family, styles
from dsnb.study.stability import row_divergence
from dsnb.study.stats import Paired, fmt_diff, interval, mean_ci, metric_words, per_problem, worlds

BUCKETS = (
    ("all problems", 0, None),
    ("1 solution", 1, 1),
    ("2-3 solutions", 2, 3),
    ("4+ solutions", 4, None),
)
"""(label, lowest, highest) number of known solutions of a problem; 0 = every problem."""
KNOBS = {
    "ds": ("gamma_p", "γp"),
    "grpo_kl": ("beta", "β"),
    "entropy_bonus": ("entropy_coef", "coef"),
    "entropy_penalty": ("entropy_coef", "coef"),
    "unlikeliness": ("unlikeliness_coef", "β"),
    "passk": ("passk_k", "k"),
    "clipcov": ("clipcov_frac", "frac"),
    "klcov": ("klcov_coef", "coef"),
}
"""Each family's knob: the LossConfig field its sweep varies, and its symbol."""
NAMES = {
    "grpo": "GRPO",
    "grpo_kl": "GRPO + KL",
    "ds": "DS",
    "entropy_bonus": "entropy bonus",
    "entropy_penalty": "entropy penalty",
    "unlikeliness": "unlikeliness",
    "passk": "pass@k adv.",
    "clipcov": "Clip-Cov",
    "klcov": "KL-Cov",
}
LOSS_DEFAULTS = DEFAULTS
"""LossConfig defaults of the fields that tell lines apart (:data:`dsnb.report.labels.DEFAULTS`)."""


# ----------------------------------------------------------------------------- lines through sweeps
@dataclass
class Point:
    setting: str
    knob: float | None
    rows: list[dict]  # one per seed
    diverged: str | None = None
    anchor: bool = False  # GRPO drawn as a sweep's knob = 0 end [FR3]


@dataclass
class Line:
    key: str
    family: str
    label: str
    points: list[Point] = field(default_factory=list)


def _loss(row: dict) -> dict:
    return {k: v if row.get(k) is None else row[k] for k, v in LOSS_DEFAULTS.items()}


def line_key(row: dict) -> tuple[str, str]:
    """(key, label) of the line a run row is a point of: its ``sweep`` when the grid declared one,
    else its family and every other setting that differs from GRPO (the knob left out; for DS,
    gamma_n only as "sym" (= gamma_p) or "asym" (0)).

    >>> line_key({"gamma_p": 1.0, "gamma_n": 1.0, "ds_logp": "mean"})
    ('ds|sym|mean log-prob', 'DS sym, mean log-prob')
    >>> line_key({"gamma_p": 1.0, "ds_where": "score", "normalize_std": False, "beta": 0.02})[1]
    'DS asym, + KL β=0.02, score level'
    >>> line_key({"beta": 0.02, "sweep": "grpo_kl"})
    ('grpo_kl', 'GRPO + KL (β)')
    """
    loss, fam = _loss(row), family(_loss(row))
    knob, sym = KNOBS.get(fam, (None, ""))
    if row.get("sweep"):
        return row["sweep"], NAMES.get(fam, fam) + (f" ({sym})" if sym else "")
    parts = []
    if fam == "ds":
        parts.append(
            "sym" if loss["gamma_n"] == loss["gamma_p"] else "asym" if loss["gamma_n"] == 0 else "gn"
        )
    skip = {knob, "gamma_n" if fam == "ds" else None}
    diff = {k: v for k, v in loss.items() if k not in skip and v != LOSS_DEFAULTS[k]}
    if diff.get("ds_where") == "score":
        diff.pop("normalize_std", None)  # score level implies it
    parts += [WORDS.get((k, v)) or _word(k, v) for k, v in diff.items()]
    parts += [f"{k}={v}" for k, v in sorted((row.get("train") or {}).items())]
    return "|".join([fam] + parts), " ".join([NAMES.get(fam, fam)] + [", ".join(parts)] * bool(parts))


WORDS = {
    ("ds_logp", "mean"): "mean log-prob",
    ("ds_where", "score"): "score level",
    ("normalize_std", False): "no std",
}


def _word(k: str, v) -> str:
    return {"beta": f"+ KL β={v:g}"}.get(k, f"{k}={v}") if isinstance(v, (int, float)) else f"{k}={v}"


def lines(world: dict, anchor: bool = True) -> list[Line]:
    """The lines of one world (``stats.worlds``), in the order their settings first appear;
    each line's points are its settings (seed rows together). With `anchor`, every declared
    sweep starts at GRPO, its knob = 0 point [FR3]."""
    out: dict[str, Line] = {}
    for name, rows in world["settings"].items():
        key, label = line_key(rows[0])
        fam = family(_loss(rows[0]))
        line = out.setdefault(key, Line(key, fam, label))
        knob = KNOBS.get(fam, (None,))[0]
        why = next((w for r in rows if (w := row_divergence(r))), None)
        pre = next(
            (
                (r.get("precheck") or {})
                for r in rows
                if (r.get("precheck") or {}).get("status") == "diverged"
            ),
            {},
        )
        why = why or (f"pre-check: {pre['why']}" if pre else None)
        line.points.append(Point(name, _loss(rows[0]).get(knob) if knob else None, rows, why))
    grpo = out.get("grpo")
    if anchor and grpo and len(grpo.points) == 1:
        g = grpo.points[0]
        for ln in out.values():
            if ln.key in KNOBS and ln is not grpo:  # a declared sweep: knob = 0 is GRPO
                ln.points.insert(0, Point(g.setting, 0.0, g.rows, g.diverged, anchor=True))
    return list(out.values())


def without_anchor(line: Line) -> Line:
    """The line without its GRPO end, to be compared with GRPO itself."""
    return Line(line.key, line.family, line.label, [p for p in line.points if not p.anchor])


def pick_lines(all_lines: list[Line], limit: int = MAX_TRACES - 1) -> tuple[list[Line], list[Line]]:
    """(main, rest): one line per family (its longest; the first of equals), at most `limit` (one
    trace is the base model): GRPO, then sweeps before single settings; and every other line."""
    order = list(FAMILY_COLORS)
    best: dict[str, Line] = {}

    def size(ln: Line) -> int:  # its own settings (not the GRPO end [FR3])
        return sum(not p.anchor for p in ln.points)

    for ln in all_lines:  # ties: the family's plain line (key = family), else the first
        have = best.get(ln.family)
        if have is None or (size(ln), ln.key == ln.family) > (size(have), have.key == have.family):
            best[ln.family] = ln
    rank = {f: i for i, f in enumerate(order)}
    # GRPO always; then sweeps (2+ points) before single settings; then the palette's order
    first = sorted(best.values(), key=lambda ln: (ln.family != "grpo", size(ln) < 2, rank.get(ln.family, 99)))
    main = sorted(first[:limit], key=lambda ln: rank.get(ln.family, 99))
    return main, [ln for ln in all_lines if ln not in main]


# ----------------------------------------------------------------------------- per-problem values
@lru_cache(maxsize=32)
def _recovered(task: str, n: int, template: str, eval_set: str) -> tuple[int, ...]:
    from dsnb.tasks.registry import eval_set_id, get_task

    problems = get_task(task).load("eval", n, 0, template)
    if eval_set_id(problems) != eval_set:
        raise ValueError(
            f"the {task} problem file no longer holds the problems these results were evaluated on "
            f"(eval_set {eval_set}): their solution counts cannot be recovered"
        )
    return tuple(len(p.solutions) for p in problems)


def multiplicity(row: dict) -> np.ndarray:
    """Known solutions per evaluation problem (P,): the row's own list, or recovered from the problem
    file in eval_set order (0 where no solver knows them, e.g. GSM8K)."""
    if row.get("multiplicity") is not None:
        return np.asarray(row["multiplicity"])
    return np.asarray(_recovered(row["task"], len(row["c"]), row.get("template", "nano"), row["eval_set"]))


def bucket_mask(mult: np.ndarray, lo: int, hi: int | None) -> np.ndarray:
    """Problems in a bucket: lo <= solutions <= hi (lo = 0: every problem).

    >>> bucket_mask(np.array([1, 2, 3, 5, 0]), 2, 3).tolist(), bucket_mask(np.array([1, 0]), 0, None).tolist()
    ([False, True, True, False, False], [True, True])
    """
    if lo == 0:
        return np.ones(len(mult), dtype=bool)
    return (mult >= lo) & (mult <= (hi if hi is not None else np.inf))


def y_metric(n: int, metric: str) -> str:
    return f"pass@{n}" if metric == "pass@n" else metric


def _values(rows: list[dict], metric: str, mask) -> dict:
    """{seed: per-problem values of `metric` on the masked problems}."""
    return {r["seed"]: per_problem(r, metric)[mask] for r in rows}


def point_xy(point: Point, metric: str, mask) -> tuple[float, float, float, float]:
    """(x mean, x half-width, y mean, y half-width) over seeds, on the masked problems."""
    xs = [v.mean() for v in _values(point.rows, "pass@1", mask).values()]
    ys = [np.nanmean(v) for v in _values(point.rows, metric, mask).values()]
    (x, hx), (y, hy) = mean_ci(xs), mean_ci(ys)
    return x, hx, y, hy


# ----------------------------------------------------------------------------- the figure
def _bars(means, halves, top: float | None) -> dict:
    """Error bars of mean ± half, cut at 0 and at `top` (1 for a probability: a t-interval that
    runs past it says nothing more)."""
    up = [
        None if m is None or h is None else (h if top is None else min(h, top - m))
        for m, h in zip(means, halves)
    ]
    down = [None if m is None or h is None else min(h, m) for m, h in zip(means, halves)]
    return dict(type="data", symmetric=False, array=up, arrayminus=down, thickness=1, width=2)


def _trace(line: Line, style: dict, metric: str, mask, legend: bool) -> go.Scatter:
    """The line through the sweep's points (in knob order, else by pass@1); a diverged point is a cross, cut
    off from the line by a gap (None), so the line never runs through a collapsed run."""
    good = [p for p in line.points if not p.diverged]
    if all(p.knob is not None for p in good):  # the path the knob walks (|knob|: 0 is GRPO)
        good.sort(key=lambda p: abs(p.knob))
    else:
        good.sort(key=lambda p: point_xy(p, metric, mask)[0])
    cols = {k: [] for k in ("x", "hx", "y", "hy", "text", "hover", "symbol", "size")}
    for p in good + [p for p in line.points if p.diverged]:
        if p.diverged and cols["x"]:
            for k in cols:
                cols[k].append({"symbol": style["symbol"], "size": 0}.get(k))  # a gap in the line
        x, hx, y, hy = point_xy(p, metric, mask)
        for k, v in zip(("x", "hx", "y", "hy"), (x, hx, y, hy)):
            # GRPO's own marker and bars are drawn at a sweep's GRPO end, on top [FR3]
            cols[k].append(None if p.anchor and k in ("hx", "hy") else v)
        ends = p.diverged or p is good[0] or p is good[-1]  # label the sweep's ends (hover: every point)
        cols["text"].append("" if p.knob is None or not ends or p.anchor else f"{p.knob:g}")
        cols["size"].append(0 if p.anchor else 12 if line.family == "grpo" else 9)
        cols["hover"].append(
            ("GRPO, this sweep's knob = 0: " if p.anchor else "")
            + f"{p.setting} ({len(p.rows)} seeds)<br>pass@1 {x:.3f} ± {hx:.3f}<br>{metric} {y:.3f} ± {hy:.3f}"
            + (f"<br>DIVERGED: {p.diverged}" if p.diverged else "")
        )
        cols["symbol"].append("x-thin-open" if p.diverged else style["symbol"])
    diverged = any(p.diverged for p in line.points)
    return go.Scatter(
        x=cols["x"],
        y=cols["y"],
        error_x=_bars(cols["x"], cols["hx"], 1.0),
        error_y=_bars(cols["y"], cols["hy"], 1.0 if metric.startswith("pass@") else None),
        mode="lines+markers+text",
        text=cols["text"],
        textposition="top right",
        textfont=dict(size=9, color=style["color"]),
        hovertext=cols["hover"],
        hoverinfo="text",
        name=line.label + (" (x = diverged)" if diverged else ""),
        legendgroup=line.key,
        showlegend=legend,
        line=dict(color=style["color"], dash=style["dash"], width=2),
        marker=dict(
            color=style["color"],
            symbol=cols["symbol"],
            size=cols["size"],
            line=dict(width=1.5, color=style["color"]),
        ),
    )


def _base_trace(base: dict, metric: str, mask, legend: bool) -> go.Scatter:
    x, y = per_problem(base, "pass@1")[mask].mean(), np.nanmean(per_problem(base, metric)[mask])
    return go.Scatter(
        x=[x],
        y=[y],
        mode="markers+text",
        text=["base"],
        textposition="bottom center",
        name="base model",
        legendgroup="base",
        showlegend=legend,
        hovertext=[f"base model<br>pass@1 {x:.3f}<br>y {y:.3f}"],
        hoverinfo="text",
        marker=dict(color=FAMILY_COLORS["base"], symbol="circle-open", size=13, line=dict(width=2)),
        textfont=dict(color=FAMILY_COLORS["base"]),
    )


def frontier_figure(
    world: dict, drawn: list[Line], metric: str, buckets=BUCKETS, title: str = ""
) -> go.Figure:
    """One figure: a panel per bucket (2 x 2 for the four buckets), each line through its sweep
    with seed intervals on both axes, the base model as a grey open circle."""
    n = world["n"]
    ref = next(r for ln in drawn for p in ln.points for r in p.rows)
    mult = multiplicity(ref)
    masks = [bucket_mask(mult, lo, hi) for _, lo, hi in buckets]
    keep = [i for i, m in enumerate(masks) if m.any()]
    cols = 2 if len(keep) > 1 else 1
    nrows = math.ceil(len(keep) / cols)
    titles = [f"{buckets[i][0]} ({_count(int(masks[i].sum()))})" for i in keep]
    fig = make_subplots(nrows, cols, subplot_titles=titles, horizontal_spacing=0.09, vertical_spacing=0.14)
    sty = styles({ln.key: ln.family for ln in drawn})
    ym = y_metric(n, metric)
    for panel, i in enumerate(keep):
        pos = dict(row=panel // cols + 1, col=panel % cols + 1)
        for ln in sorted(drawn, key=lambda ln: ln.family == "grpo"):  # GRPO on top: the sweeps' end
            fig.add_trace(_trace(ln, sty[ln.key], ym, masks[i], panel == 0), **pos)
            fig.data[-1].legendrank = 1 + drawn.index(ln)
        if world["base"] is not None:
            fig.add_trace(_base_trace(world["base"], ym, masks[i], panel == 0), **pos)
        xr, yr, off = _ranges(world, drawn, ym, masks[i])
        fig.update_xaxes(title_text="pass@1 (correctness)", range=xr, **pos)
        fig.update_yaxes(title_text=_y_title(ym, n), range=yr, **pos)
        if off:
            ax = "" if panel == 0 else str(panel + 1)
            fig.add_annotation(
                text="off the axes: " + "<br>".join(off),
                xref=f"x{ax} domain",
                yref=f"y{ax} domain",
                x=0.01,
                y=0.01,
                xanchor="left",
                yanchor="bottom",
                showarrow=False,
                align="left",
                font=dict(size=10, color="#555"),
            )
    key = (
        "lines join a method's sweep from GRPO (its knob = 0) on (labels: the knob; hover: every point)"
        " · bars: 95% intervals over seeds · ×: a diverged run · ○: the base model"
    )
    height = 360 * nrows + 170
    fig.update_layout(
        title=dict(text=f"{title}<br><sup>{key}</sup>", font=dict(size=15)),
        template="plotly_white",
        height=height,
        width=1100 if cols == 2 else 900,
        legend=dict(orientation="h", yanchor="top", y=-90 / (360 * nrows), xanchor="left", x=0),
        margin=dict(t=100, l=60, r=20, b=150),
    )
    return fig


def _ranges(world: dict, drawn: list[Line], metric: str, mask):
    """Axis ranges that fit the stable points, their seed intervals and the base model (a diverged
    run at pass@1 0 would squash every other point into a corner), and a line for each diverged
    point left outside them."""
    xs, ys, bad = [], [], []
    for ln in drawn:
        for p in ln.points:
            x, hx, y, hy = point_xy(p, metric, mask)
            if p.diverged:
                bad.append((p, x, y))
            else:
                xs += [x - hx, x + hx] if math.isfinite(hx) else [x]
                ys += [y - hy, y + hy] if math.isfinite(hy) else [y]
    if world["base"] is not None:
        bx, by = (_values([world["base"]], m, mask)[None] for m in ("pass@1", metric))
        xs.append(float(bx.mean()))
        ys.append(float(np.nanmean(by)))
    if not xs:
        return None, None, []

    def pad(v):
        lo, hi = min(v), max(v)
        d = (hi - lo) * 0.06 or 0.01
        return [max(lo - d, 0.0 if lo >= 0 else lo - d), hi + d]

    xr, yr = pad(xs), pad(ys)
    off = [
        f"{p.setting} (diverged: pass@1 {x:.3f}, {metric_words(metric)} {y:.3f})"
        for p, x, y in bad
        if not (xr[0] <= x <= xr[1] and yr[0] <= y <= yr[1])
    ]
    return xr, yr, off


def _count(n: int) -> str:
    return f"{n} problem" + ("s" if n != 1 else "")


def _y_title(metric: str, n: int) -> str:
    if metric == "distinct_correct":
        return f"distinct correct solutions (of {n} samples)"
    return f"{metric} (solved within {metric[5:]} samples)"


GROUPS = (
    ("GRPO, GRPO + KL, DS and the entropy bonus", ("grpo", "grpo_kl", "ds", "entropy_bonus")),
    ("DS against the rivals", ("grpo", "ds", "unlikeliness", "passk", "clipcov", "klcov")),
)
"""The main lines, drawn in two figures per y metric so that a panel stays readable: the paper's
comparison (DS against entropy regularisation and a KL), then DS against the newer rivals (a group
drawn only when it has a line besides GRPO and DS). Families in neither share the first."""


def frontier_figures(rows: list[dict], metrics=("pass@n", "distinct_correct")) -> list[go.Figure]:
    """Per world: for each group of :data:`GROUPS` and each y metric a figure of its main lines
    (one per method family, all four buckets), then one overall figure of the remaining lines
    (fixed variants, ablations) with the DS line for reference, no panel above 8 traces."""
    figs = []
    known = {f for _, fams in GROUPS for f in fams}
    for (task, model), w in worlds(rows).items():
        all_lines = lines(w)
        if not all_lines:
            continue
        main, rest = pick_lines(all_lines)
        for k, (what, fams) in enumerate(GROUPS):
            drawn = [ln for ln in main if ln.family in fams or (k == 0 and ln.family not in known)]
            if k and not any(ln.family not in ("grpo", "ds") for ln in drawn):
                continue
            head = f"{task} ({model}): {what}, each a sweep; mean ± 95% interval over seeds"
            for m in metrics:
                figs.append(
                    frontier_figure(w, drawn, m, title=f"{head}; y = {metric_words(y_metric(w['n'], m))}")
                )
        ds = [ln for ln in main if ln.family == "ds"]
        per = MAX_TRACES - 1 - len(ds)
        for k in range(0, len(rest), per):
            part = ds + rest[k : k + per]
            sub = f"{task} ({model}): the other settings, with the DS line for reference"
            figs.append(frontier_figure(w, part, metrics[0], BUCKETS[:1], sub))
    return figs


# ----------------------------------------------------------------------------- verdicts [FR1]
def _curve(line: Line, metric: str, mask):
    pts = [p for p in line.points if not p.diverged]
    data = []
    for p in pts:
        x = float(np.mean([v.mean() for v in _values(p.rows, "pass@1", mask).values()]))
        data.append((x, _values(p.rows, metric, mask)))
    return sorted(data, key=lambda d: d[0])


def _at(curve, x: float):
    """{seed: interpolated per-problem values} of a curve at pass@1 x (inside its range)."""
    for (x0, v0), (x1, v1) in zip(curve, curve[1:]):
        if x0 <= x <= x1:
            w = 0.0 if x1 == x0 else (x - x0) / (x1 - x0)
            return {s: (1 - w) * v0[s] + w * v1[s] for s in v0.keys() & v1.keys()}
    return dict(curve[0][1]) if len(curve) == 1 and math.isclose(curve[0][0], x) else None


def paired_values(metric: str, va: dict, vb: dict) -> Paired | None:
    """The study's paired difference of two {seed: per-problem values} (the same problems): its
    mean, and its 95% intervals over problems and over the common seeds (None without one)."""
    seeds = sorted(va.keys() & vb.keys(), key=str)
    if not seeds:
        return None
    D = np.array([va[s] - vb[s] for s in seeds])  # (S, P)
    D = D[:, ~np.isnan(D).any(axis=0)]
    if D.shape[1] == 0:
        return None
    diff, half_p = interval(D.mean(axis=0)) if D.shape[1] > 1 else (float(D.mean()), math.inf)
    _, half_s = interval(D.mean(axis=1))
    return Paired(metric, float(diff), half_p, half_s, seeds, D.shape[1])


def matched_difference(a: Line, b: Line, metric: str, mask, x: float) -> Paired | None:
    """[FR1] D = ŷ_A(x) − ŷ_B(x) at pass@1 x, paired over problems and seeds (None: x outside a line)."""
    a, b = _pair(a, b)
    va, vb = _at(_curve(a, metric, mask), x), _at(_curve(b, metric, mask), x)
    return None if va is None or vb is None else paired_values(metric, va, vb)


def dominates(a: Point, b: Point, metric: str, mask) -> tuple[bool, Paired, Paired] | None:
    """[FR2] a dominates b: better on pass@1 or on `metric` and worse on neither (paired, both
    intervals; as ``stats.Paired.verdict``). Returns (dominates, pass@1 difference, y difference)."""
    dx = paired_values("pass@1", _values(a.rows, "pass@1", mask), _values(b.rows, "pass@1", mask))
    dy = paired_values(metric, _values(a.rows, metric, mask), _values(b.rows, metric, mask))
    if dx is None or dy is None:
        return None
    v = {dx.verdict, dy.verdict}
    return ("better" in v and "worse" not in v), dx, dy


def _pair(a: Line, b: Line) -> tuple[Line, Line]:
    """GRPO against a sweep: the sweep without its GRPO end (not GRPO against itself) [FR3]."""
    if a.family == "grpo" or b.family == "grpo":
        return without_anchor(a), without_anchor(b)
    return a, b


def compare_lines(a: Line, b: Line, metric: str, mask) -> tuple[str, str, list]:
    """(how, kind, evidence): how = "matched" ([FR1], at matched pass@1 in the common range, when
    both lines reach it) or "dominance" ([FR2], point against point, otherwise); kind = "above",
    "below", "cross", "within noise" (matched) or "above", "below", "cross", "none" (dominance)."""
    a, b = _pair(a, b)
    ca, cb = _curve(a, metric, mask), _curve(b, metric, mask)
    if not ca or not cb:
        return "dominance", "none", []
    shared = {p.setting for p in a.points if p.anchor} & {p.setting for p in b.points if p.anchor}
    same = [x for x, _ in _curve(Line("", "", "", [p for p in a.points if p.anchor]), metric, mask)]
    lo, hi = max(ca[0][0], cb[0][0]), min(ca[-1][0], cb[-1][0])
    xs = []
    for x in sorted(x for x, _ in ca + cb if lo - 1e-12 <= x <= hi + 1e-12):
        if shared and any(abs(x - s) < 1e-9 for s in same):
            continue  # both lines sit on the same GRPO point there: nothing to compare
        if not xs or x - xs[-1] > 1e-3:  # one comparison per distinct pass@1
            xs.append(x)
    got = [(x, d) for x in xs if (d := matched_difference(a, b, metric, mask, x)) is not None]
    if got:
        kinds = {d.verdict for _, d in got}
        if kinds >= {"better", "worse"}:
            return "matched", "cross", got
        kind = {"better": "above", "worse": "below"}.get(
            next(iter(kinds - {"within noise"}), ""), "within noise"
        )
        return "matched", kind, got
    good_a = [p for p in a.points if not p.diverged and not p.anchor]
    good_b = [p for p in b.points if not p.diverged and not p.anchor]
    wins = [(p, q, *r[1:]) for p in good_a for q in good_b if (r := dominates(p, q, metric, mask)) and r[0]]
    losses = [(q, p, *r[1:]) for p in good_a for q in good_b if (r := dominates(q, p, metric, mask)) and r[0]]
    kind = "cross" if wins and losses else "above" if wins else "below" if losses else "none"
    return "dominance", kind, wins + losses


def _range(curve) -> str:
    return f"{curve[0][0]:.3f}" if len(curve) == 1 else f"{curve[0][0]:.3f}-{curve[-1][0]:.3f}"


def verdict_text(a: Line, b: Line, metric: str, mask, where: str) -> str:
    """One plain line: the comparisons made and what they support (never more)."""
    how, kind, ev = compare_lines(a, b, metric, mask)
    head = f"{where}, {metric_words(metric)}: {a.label} vs {b.label}"
    if how == "matched":
        at = "; ".join(f"at pass@1 {x:.3f}: {fmt_diff(d)} ({d.verdict})" for x, d in ev)
        seeds = min(len(d.seeds) for _, d in ev)
        end = {
            "above": f"{a.label} lies above {b.label}",
            "below": f"{a.label} lies below {b.label}",
            "cross": "the lines cross (above at some matched pass@1, below at others)",
            "within noise": "no difference the intervals support",
        }[kind]
        if kind in ("above", "below"):
            part = any(d.verdict == "within noise" for _, d in ev)
            end += " at some matched pass@1, within noise at the others" if part else " wherever both reach"
        one = " (one seed: the seed spread is unknown)" if seeds < 2 else ""
        return f"{head}, at matched pass@1 [FR1]: {at}. Verdict: {end}{one}."
    ca, cb = (_curve(ln, metric, mask) for ln in _pair(a, b))
    span = f"pass@1 ranges {_range(ca)} and {_range(cb)} do not overlap" if ca and cb else "a line is empty"
    if kind == "none":
        return (
            f"{head} ({span}; point against point [FR2]): no point dominates another. Verdict: not resolved."
        )
    said = "; ".join(
        f"{p.setting} dominates {q.setting} (pass@1 {fmt_diff(dx)}, {metric} {fmt_diff(dy)})"
        for p, q, dx, dy in ev
    )
    end = {
        "above": f"{a.label} lies above (dominates)",
        "below": f"{a.label} lies below (is dominated)",
        "cross": "they cross (each dominates somewhere)",
    }[kind]
    return f"{head} ({span}; point against point [FR2]): {said}. Verdict: {end}."


def frontier_verdicts(
    rows: list[dict], reference: str = "ds", metrics=("pass@n", "distinct_correct")
) -> list[str]:
    """[FR1] Per world, bucket and y metric: the `reference` family's main line against every other
    main line ("lies above" only where both paired intervals exclude zero; see the module doc)."""
    out = []
    for (task, model), w in worlds(rows).items():
        main, _ = pick_lines(lines(w))
        refs = [ln for ln in main if ln.family == reference]
        if not refs:
            out.append(f"{task} ({model}): no {reference} line in these results.")
            continue
        mult = multiplicity(next(r for p in refs[0].points for r in p.rows))
        for label, lo, hi in BUCKETS:
            mask = bucket_mask(mult, lo, hi)
            if not mask.any():
                out.append(f"{task}, {label}: no such problems among the {len(mult)} evaluated.")
                continue
            for m in metrics:
                ym = y_metric(w["n"], m)
                for other in main:
                    if other is not refs[0]:
                        out.append(
                            verdict_text(refs[0], other, ym, mask, f"{task}, {label} ({int(mask.sum())})")
                        )
    return out


# ----------------------------------------------------------------------------- the summary table
@dataclass
class Cell:
    kind: str  # "above", "below", "cross", "within noise", "none"
    how: str  # "matched" [FR1] or "dominance" [FR2]
    evidence: str  # the deciding paired difference, e.g. "+0.071 ± 0.053 at pass@1 0.096"


def _evidence(how: str, kind: str, ev: list) -> str:
    if how == "matched" and ev:
        want = {"above": "better", "below": "worse"}.get(kind)
        pick = next((e for e in ev if e[1].verdict == want), None) if want else None
        x, d = pick or max(ev, key=lambda e: abs(e[1].diff) / (e[1].half or math.inf))
        return f"{fmt_diff(d)} at pass@1 {x:.3f}"
    if ev:
        p, q, dx, dy = ev[0]
        return (
            f"{p.setting} over {q.setting}: pass@1 {fmt_diff(dx)}, {metric_words(dy.metric)} {fmt_diff(dy)}"
        )
    return ""


def frontier_summary(rows: list[dict], reference: str = "ds", metrics=("pass@n", "distinct_correct")) -> dict:
    """{(task, model): {"columns": [(bucket label, problems, metric)], "lines": {label: [Cell]}}}: the
    `reference` family's line against every other main line, per bucket and y metric, as
    :func:`compare_lines` judges it (the table behind the README's per-bucket verdicts)."""
    out = {}
    for (task, model), w in worlds(rows).items():
        main, _ = pick_lines(lines(w))
        refs = [ln for ln in main if ln.family == reference]
        if not refs:
            continue
        mult = multiplicity(next(r for p in refs[0].points for r in p.rows))
        cols, cells = [], {ln.label: [] for ln in main if ln is not refs[0]}
        for label, lo, hi in BUCKETS:
            mask = bucket_mask(mult, lo, hi)
            if not mask.any():
                continue
            for m in metrics:
                ym = y_metric(w["n"], m)
                cols.append((label, int(mask.sum()), ym))
                for other in main:
                    if other is not refs[0]:
                        how, kind, ev = compare_lines(refs[0], other, ym, mask)
                        cells[other.label].append(Cell(kind, how, _evidence(how, kind, ev)))
        out[(task, model)] = {"reference": refs[0].label, "columns": cols, "lines": cells}
    return out


KIND_WORDS = {
    "above": "above",
    "below": "below",
    "cross": "cross",
    "within noise": "within noise",
    "none": "not resolved",
}


def _by_metric(s: dict):
    """(metric, [(column index, bucket label, problems)]) in the summary's column order."""
    out: dict = {}
    for i, (b, n, m) in enumerate(s["columns"]):
        out.setdefault(m, []).append((i, b, n))
    return out.items()


def summary_markdown(summary: dict) -> str:
    """The summary as Markdown: per world and y metric a table (rows: the other lines; columns: the
    multiplicity buckets)."""
    parts = []
    for (task, model), s in summary.items():
        for m, cols in _by_metric(s):
            head = [f"{s['reference']} vs, y = {metric_words(m)}"] + [f"{b} ({n})" for _, b, n in cols]
            parts += [f"**{task} ({model}), {metric_words(m)}**", ""]
            parts.append("| " + " | ".join(head) + " |")
            parts.append("|" + "---|" * len(head))
            for label, cells in s["lines"].items():
                row = [label] + [
                    f"**{KIND_WORDS[c.kind]}**" + (f" ({c.evidence})" if c.evidence else "")
                    for c in (cells[i] for i, _, _ in cols)
                ]
                parts.append("| " + " | ".join(row) + " |")
            parts.append("")
    return "\n".join(parts)


def summary_html(summary: dict) -> str:
    """The same tables as HTML (green: the reference lies above; red: below)."""
    cls = {"above": "up", "below": "down", "within noise": "same", "none": "same", "cross": ""}
    parts = []
    for s in summary.values():
        for m, cols in _by_metric(s):
            head = "".join(f"<th>{html.escape(b)} ({n})</th>" for _, b, n in cols)
            body = []
            for label, cells in s["lines"].items():
                tds = "".join(
                    f"<td class='{cls[c.kind]}'>{KIND_WORDS[c.kind]}"
                    f"<br><small>{html.escape(c.evidence)}</small></td>"
                    for c in (cells[i] for i, _, _ in cols)
                )
                body.append(f"<tr><td>{html.escape(label)}</td>{tds}</tr>")
            title = f"{s['reference']} vs … · y = {metric_words(m)}"
            parts.append(
                f"<table class='verdicts'><tr><th>{html.escape(title)}</th>{head}</tr>"
                + "".join(body)
                + "</table>"
            )
    return "".join(parts)
