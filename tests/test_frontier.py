"""The frontier figure and its verdicts ([FR1], [FR2]) on hand-made results rows: lines through
sweeps, buckets by solution multiplicity, matched-pass@1 differences computed by hand, dominance,
diverged points, and the shipped results drawn end to end."""

import math
import statistics
from dataclasses import fields

import numpy as np
import pytest

from dsnb.data import results_dir
from dsnb.study.frontier import (
    LOSS_DEFAULTS,
    bucket_mask,
    compare_lines,
    dominates,
    frontier_figures,
    frontier_summary,
    frontier_verdicts,
    line_key,
    lines,
    matched_difference,
    multiplicity,
    pick_lines,
    point_xy,
    summary_html,
    summary_markdown,
)
from dsnb.study.stats import T95, load_results, worlds

N = 4  # samples per problem
MULT = [1, 1, 2, 5]  # known solutions of the 4 problems: buckets 1, 1, 2-3, 4+


def row(setting, seed, c, distinct, sweep="", baseline="grpo", **loss):
    return {
        "kind": "run",
        "setting": setting,
        "seed": seed,
        "baseline": baseline,
        "task": "t",
        "model": "m",
        "eval_n": N,
        "eval_set": "e",
        "multiplicity": MULT,
        "c": list(c),
        "distinct": list(distinct),
        "coverage_per_problem": [math.nan] * len(c),
        "sweep": sweep,
        **loss,
    }


def base_row():
    return {**row("base", None, [1, 1, 1, 1], [1, 1, 1, 1]), "kind": "base"}


# a DS sweep of two points at pass@1 0.25 and 0.75, GRPO at 0.5; y = distinct correct
DS_LO = {s: [1, 1, 1, 1] for s in (0, 1, 2)}
DS_HI = {s: [3, 3, 3, 3] for s in (0, 1, 2)}
DIST_LO = {0: [2, 2, 2, 2], 1: [2, 3, 2, 2], 2: [3, 2, 2, 3]}
DIST_HI = {0: [3, 3, 2, 3], 1: [3, 3, 3, 3], 2: [3, 2, 3, 3]}
DIST_GRPO = {0: [1, 1, 1, 1], 1: [1, 2, 1, 1], 2: [1, 1, 1, 2]}


def rows_hand():
    out = [base_row()]
    for s in (0, 1, 2):
        out.append(row("grpo", s, [2, 2, 2, 2], DIST_GRPO[s], baseline=None))
        out.append(row("ds_0.1", s, DS_LO[s], DIST_LO[s], "ds", gamma_p=0.1))
        out.append(row("ds_1", s, DS_HI[s], DIST_HI[s], "ds", gamma_p=1.0))
    return out


def world_lines(rows):
    [w] = worlds(rows).values()
    return w, {ln.key: ln for ln in lines(w)}


# ----------------------------------------------------------------------------- lines
def test_rows_group_into_lines_by_sweep_or_by_what_differs_from_grpo():
    assert line_key({"sweep": "ds", "gamma_p": 3.0})[0] == "ds"
    assert line_key({"gamma_p": 0.1, "gamma_n": 0.1})[0] == line_key({"gamma_p": 1.0, "gamma_n": 1.0})[0]
    assert line_key({"gamma_p": 1.0})[0] != line_key({"gamma_p": 1.0, "gamma_n": 1.0})[0]  # asym vs sym
    assert line_key({"beta": 0.02})[0] == line_key({"beta": 0.1})[0] == "grpo_kl"
    assert line_key({"gamma_p": 1.0, "beta": 0.02})[0] != line_key({"gamma_p": 1.0})[0]
    assert line_key({})[0] == "grpo" and line_key({"normalize_std": False})[0] != "grpo"
    w, ls = world_lines(rows_hand())
    # [FR3] a declared sweep starts at GRPO (knob 0: the same runs), unless asked otherwise
    assert [p.setting for p in ls["ds"].points] == ["grpo", "ds_0.1", "ds_1"]
    assert [p.knob for p in ls["ds"].points] == [0.0, 0.1, 1.0]
    assert [p.anchor for p in ls["ds"].points] == [True, False, False]
    assert ls["ds"].points[0].rows is ls["grpo"].points[0].rows
    assert [p.setting for p in lines(w, anchor=False)[1].points] == ["ds_0.1", "ds_1"]


def test_loss_defaults_are_lossconfigs():
    from dsnb.rl.loss import LossConfig

    defaults = {f.name: f.default for f in fields(LossConfig)}
    assert {k: defaults[k] for k in LOSS_DEFAULTS} == LOSS_DEFAULTS


def test_at_most_eight_traces_per_panel_one_line_per_family():
    rows = rows_hand()
    extra = [("grpo_kl", "beta"), ("entropy_bonus", "entropy_coef"), ("unlikeliness", "unlikeliness_coef")]
    extra += [("passk", "passk_k"), ("clipcov", "clipcov_frac"), ("entropy_penalty", "entropy_coef")]
    for fam, knob in extra:
        values = (-0.1,) if fam == "entropy_penalty" else (2, 3)  # a single setting; sweeps of two
        for v in values:
            rows += [row(f"{fam}_{v}", s, [2, 2, 2, 2], [1, 1, 1, 1], fam, **{knob: v}) for s in (0, 1, 2)]
    rows += [row("ds_sym", s, [2, 2, 2, 2], [1, 1, 1, 1], gamma_p=1.0, gamma_n=1.0) for s in (0, 1, 2)]
    w, _ = world_lines(rows)
    main, rest = pick_lines(lines(w))
    fams = ["grpo", "grpo_kl", "ds", "entropy_bonus", "unlikeliness", "passk", "clipcov"]
    assert [ln.family for ln in main] == fams  # the single entropy penalty makes way for the sweeps
    assert [ln.key for ln in rest] == ["entropy_penalty", "ds|sym"]
    figs = frontier_figures(rows)
    assert len(figs) == 5  # pass@n, distinct for each of the two groups (four buckets each), the rest
    names = [{t.name for t in f.data} for f in figs[:4]]
    assert "entropy bonus (coef)" in names[0] and "Clip-Cov (frac)" not in names[0]
    assert {"Clip-Cov (frac)", "DS (γp)", "GRPO"} <= names[2] and "GRPO + KL (β)" not in names[2]
    for fig in figs:
        per_panel = {}
        for tr in fig.data:
            per_panel[tr.xaxis] = per_panel.get(tr.xaxis, 0) + 1
        assert max(per_panel.values()) <= 8
    assert {tr.name for tr in figs[4].data} == {"DS (γp)", "entropy penalty (coef)", "DS sym", "base model"}


# ----------------------------------------------------------------------------- buckets
def test_buckets_split_problems_by_solution_count():
    m = np.array(MULT)
    assert bucket_mask(m, 1, 1).tolist() == [True, True, False, False]
    assert bucket_mask(m, 2, 3).tolist() == [False, False, True, False]
    assert bucket_mask(m, 4, None).tolist() == [False, False, False, True]
    assert bucket_mask(m, 0, None).all()


def test_point_means_and_seed_intervals_by_hand_in_a_bucket():
    w, ls = world_lines(rows_hand())
    lo = ls["ds"].points[1]  # points[0] is GRPO [FR3]
    mask = bucket_mask(np.array(MULT), 1, 1)  # the first two problems
    x, hx, y, hy = point_xy(lo, "distinct_correct", mask)
    per_seed = [statistics.mean(DIST_LO[s][:2]) for s in (0, 1, 2)]  # 2, 2.5, 2.5
    assert x == pytest.approx(0.25) and hx == 0.0
    assert y == pytest.approx(statistics.mean(per_seed))
    assert hy == pytest.approx(T95[1] * statistics.stdev(per_seed) / math.sqrt(3))


def test_multiplicity_is_recovered_from_the_problem_file_in_eval_set_order():
    from dsnb.tasks.registry import eval_set_id, get_task

    problems = get_task("countdown3").load("eval", 20, 0, "nano")
    r = {"task": "countdown3", "c": [0] * 20, "template": "nano", "eval_set": eval_set_id(problems)}
    assert multiplicity(r).tolist() == [len(p.solutions) for p in problems]
    with pytest.raises(ValueError, match="no longer holds"):
        multiplicity({**r, "eval_set": "0123456789abcdef"})


# ----------------------------------------------------------------------------- [FR1] and [FR2]
def test_matched_difference_interpolates_per_seed_and_problem_by_hand():
    w, ls = world_lines(rows_hand())
    mask = np.ones(4, dtype=bool)
    d = matched_difference(ls["ds"], ls["grpo"], "distinct_correct", mask, 0.5)  # halfway: w = 1/2
    D = {s: [(a + b) / 2 - g for a, b, g in zip(DIST_LO[s], DIST_HI[s], DIST_GRPO[s])] for s in (0, 1, 2)}
    per_problem = [statistics.mean(D[s][j] for s in (0, 1, 2)) for j in range(4)]
    per_seed = [statistics.mean(D[s]) for s in (0, 1, 2)]
    assert d.diff == pytest.approx(statistics.mean(per_seed))
    assert d.half_problems == pytest.approx(T95[2] * statistics.stdev(per_problem) / 2)
    assert d.half_seeds == pytest.approx(T95[1] * statistics.stdev(per_seed) / math.sqrt(3))
    assert d.verdict == "better"  # +1.33 with both half-widths < 1
    assert matched_difference(ls["ds"], ls["grpo"], "distinct_correct", mask, 0.9) is None  # outside DS


def test_compare_lines_says_above_below_or_within_noise_and_dominance_when_ranges_miss():
    w, ls = world_lines(rows_hand())
    mask = np.ones(4, dtype=bool)
    how, kind, ev = compare_lines(ls["ds"], ls["grpo"], "distinct_correct", mask)
    assert (how, kind, [x for x, _ in ev]) == ("matched", "above", [0.5])
    assert compare_lines(ls["grpo"], ls["ds"], "distinct_correct", mask)[1] == "below"
    # a noisy line around GRPO's values: within noise
    noisy = rows_hand() + [
        row("kl_a", s, [1, 1, 1, 1], DIST_GRPO[(s + 1) % 3], "grpo_kl", beta=0.01) for s in (0, 1, 2)
    ]
    noisy += [row("kl_b", s, [3, 3, 3, 3], DIST_GRPO[(s + 2) % 3], "grpo_kl", beta=0.1) for s in (0, 1, 2)]
    _, ls2 = world_lines(noisy)
    assert compare_lines(ls2["grpo_kl"], ls2["grpo"], "distinct_correct", mask)[1] == "within noise"
    # GRPO's pass@1 outside the line's range: point against point
    far = [r for r in rows_hand() if r["setting"] != "ds_1"]
    _, ls3 = world_lines(far)
    how, kind, ev = compare_lines(ls3["ds"], ls3["grpo"], "distinct_correct", mask)
    assert how == "dominance" and kind == "none"  # ds_0.1 has more distinct but a lower pass@1


def test_dominance_needs_one_better_and_none_worse():
    rows = rows_hand() + [row("ds_hi", s, [2, 2, 2, 2], DIST_HI[s], "x", gamma_p=3.0) for s in (0, 1, 2)]
    w, _ = world_lines(rows)
    pts = {p.setting: p for ln in lines(w) for p in ln.points}
    mask = np.ones(4, dtype=bool)
    ok, dx, dy = dominates(pts["ds_hi"], pts["grpo"], "distinct_correct", mask)
    assert ok and dx.verdict == "within noise" and dy.verdict == "better" and dx.diff == 0
    assert not dominates(pts["grpo"], pts["ds_hi"], "distinct_correct", mask)[0]
    assert not dominates(pts["ds_0.1"], pts["grpo"], "distinct_correct", mask)[0]  # a trade


def test_verdict_lines_name_the_numbers_and_claim_only_what_the_intervals_support():
    lines_ = frontier_verdicts(rows_hand(), metrics=("distinct_correct",))
    overall = [v for v in lines_ if "all problems" in v]
    assert len(overall) == 1 and "Verdict: DS (γp) lies above GRPO wherever both reach" in overall[0]
    assert "at pass@1 0.500: +1.38 ±" in overall[0]  # 16.5 / 12, see the test above
    # a bucket of one problem: one problem gives no interval over problems, so nothing is claimed
    four = [v for v in lines_ if "4+ solutions" in v][0]
    assert "no difference the intervals support" in four
    # a single seed never wins
    one = [r for r in rows_hand() if r["seed"] in (0, None)]
    assert all("lies above" not in v for v in frontier_verdicts(one, metrics=("distinct_correct",)))


def test_a_diverged_point_is_a_cross_off_the_line_and_out_of_the_verdicts():
    rows = rows_hand()
    for r in rows:
        if r["setting"] == "ds_1":
            r["diverged"] = "correct rate collapsed"
    w, ls = world_lines(rows)
    mask = np.ones(4, dtype=bool)
    assert compare_lines(ls["ds"], ls["grpo"], "distinct_correct", mask)[0] == "dominance"
    fig = frontier_figures(rows, metrics=("distinct_correct",))[0]
    [ds] = [t for t in fig.data if t.name.startswith("DS") and t.xaxis == "x"]
    # in knob order: the GRPO end (γp 0, pass@1 0.5), ds_0.1 (0.25), a gap, the cross
    assert ds.x[:2] == (0.5, 0.25) and ds.x[2] is None
    assert "x-thin-open" in ds.marker.symbol and "diverged" in ds.name
    assert list(ds.marker.size[:2]) == [0, 9]  # the GRPO end has no marker of its own


def test_a_collapsed_run_does_not_squash_the_axes_it_is_named_off_them():
    rows = rows_hand() + [row("ds_9", s, [0, 0, 0, 0], [0, 0, 0, 0], "ds", gamma_p=9.0) for s in (0, 1, 2)]
    for r in rows:
        if r["setting"] == "ds_9":
            r["diverged"] = "correct rate collapsed"
    fig = frontier_figures(rows, metrics=("distinct_correct",))[0]
    assert fig.layout.xaxis.range[0] > 0.1  # fits the stable points (pass@1 0.25 and up), not 0
    notes = [a.text for a in fig.layout.annotations if a.text.startswith("off the axes")]
    assert notes and "ds_9 (diverged: pass@1 0.000" in notes[0]


def test_two_sweeps_from_grpo_are_not_compared_at_their_shared_end():
    # [FR3] both lines start at GRPO (pass@1 0.5); KL's other point sits at 0.25 like DS's lower one
    rows = rows_hand() + [row("kl", s, DS_LO[s], DIST_GRPO[s], "grpo_kl", beta=0.1) for s in (0, 1, 2)]
    w, ls = world_lines(rows)
    mask = np.ones(4, dtype=bool)
    how, kind, ev = compare_lines(ls["ds"], ls["grpo_kl"], "distinct_correct", mask)
    assert how == "matched" and [x for x, _ in ev] == [0.25]  # not at 0.5, where both are GRPO
    assert ev[0][1].diff == pytest.approx(
        statistics.mean(statistics.mean(a - g for a, g in zip(DIST_LO[s], DIST_GRPO[s])) for s in (0, 1, 2))
    )
    assert kind == "above"
    fig = frontier_figures(rows, metrics=("distinct_correct",))[0]
    names = [t.name for t in fig.data if t.xaxis == "x"]
    assert names.index("GRPO") > max(names.index("DS (γp)"), names.index("GRPO + KL (β)"))  # on top


def test_the_summary_table_holds_each_bucket_and_metric_verdict_with_its_deciding_difference():
    rows = rows_hand() + [row("kl", s, DS_LO[s], DIST_GRPO[s], "grpo_kl", beta=0.1) for s in (0, 1, 2)]
    [s] = frontier_summary(rows, metrics=("distinct_correct",)).values()
    assert s["reference"] == "DS (γp)" and list(s["lines"]) == ["GRPO", "GRPO + KL (β)"]
    assert [(b, n) for b, n, _ in s["columns"]] == [
        ("all problems", 4),
        ("1 solution", 2),
        ("2-3 solutions", 1),
        ("4+ solutions", 1),
    ]
    overall = s["lines"]["GRPO"][0]
    assert (overall.kind, overall.how) == ("above", "matched")  # the same case as the verdict test
    assert overall.evidence.startswith("+1.38 ±") and overall.evidence.endswith("at pass@1 0.500")
    one_problem = s["lines"]["GRPO"][2]
    assert one_problem.kind == "within noise"  # a bucket of one problem claims nothing
    md = summary_markdown({("countdown3", "m"): s})
    assert "| GRPO | **above** (+1.38 ±" in md and "2-3 solutions (1)" in md
    page = summary_html({("countdown3", "m"): s})
    assert page.count("<table") == 1 and "class='up'" in page


# ----------------------------------------------------------------------------- the shipped results
def test_the_shipped_results_draw_and_the_collapsed_entropy_bonus_is_flagged():
    rows = load_results(results_dir() / "study")
    figs = frontier_figures(rows)
    assert len(figs) == 6  # two worlds x (pass@64, distinct, the other settings)
    titles = [a.text for a in figs[3].layout.annotations]
    assert "1 solution" not in " ".join(titles) and "4+ solutions (35 problems)" in titles  # countdown4
    ent = [t for t in figs[3].data if t.name.startswith("entropy bonus")][0]
    assert "diverged" in ent.name
    verdicts = frontier_verdicts(rows)
    assert verdicts and all("Verdict:" in v or "no such problems" in v for v in verdicts)
