"""The second edition of the study: the v2 grid, the validation split, the stability rule and
pre-check, the choice of the best setting per family on validation, the compute plan, and the
whole pipeline end to end on the tiny model (resumable, nothing recomputed)."""

import json
import math

import pytest

from dsnb.cli import main
from dsnb.study.grid import QUICK, SWEEPS, Setting, StudyConfig, default_grid, v2_grid
from dsnb.study.plan import Probe, plan, plan_lines
from dsnb.study.run import check_compatible, run_study_v2
from dsnb.study.select import fix_selection, select_best, val_score
from dsnb.study.stability import divergence, row_divergence
from dsnb.study.stats import load_results
from dsnb.tasks.data import countdown_rows


# ----------------------------------------------------------------------------- the grid
def test_v2_grid_sweeps_every_method_and_keeps_every_fixed_variant():
    g = v2_grid("countdown4m", "nano4m")
    names = [s.name for s in g]
    assert len(names) == len(set(names)) and {s.task for s in g} == {"countdown4m"}
    for fam, (knob, values) in SWEEPS.items():
        pts = [s for s in g if s.sweep == fam]
        assert 3 <= len(pts) <= 4 and sorted(s.loss[knob] for s in pts) == sorted(values)
    assert all(s.baseline == "grpo" for s in g[1:]) and g[0].loss == {}
    fixed = {s.name: s.loss for s in g if not s.sweep}
    assert fixed["ds_sym_sum_1"] == {"gamma_p": 1.0, "gamma_n": 1.0}
    assert fixed["ds_sym_mean_1"]["ds_logp"] == "mean" and fixed["ds_score"]["ds_where"] == "score"
    assert fixed["ds_asym_kl"]["beta"] > 0 and fixed["entropy_penalty_0.1"]["entropy_coef"] < 0
    assert [s.name for s in v2_grid(prefix="m_")][:2] == ["m_grpo", "m_grpo_kl_0.005"]
    assert v2_grid(prefix="m_")[1].baseline == "m_grpo"


def test_a_setting_the_studys_group_cannot_hold_is_refused_before_any_work(tmp_path):
    from dsnb.study.run import run_study

    with pytest.raises(ValueError, match="passk_4.*1 <= k < G"):
        run_study(v2_grid(), tmp_path, seeds=[0], progress=False, **QUICK)  # k = 4 needs G > 4
    assert not (tmp_path / "results.jsonl").exists()


def test_first_edition_rows_stay_compatible_with_the_new_fields():
    rows = load_results_shipped()
    first = rows[0]
    cfg = StudyConfig(
        **{k: first[k] for k in ("steps", "prompts_per_step", "group_size", "eval_problems", "eval_n")}
    )
    check_compatible(rows, default_grid(), cfg)  # no val_problems, no rival fields: the defaults
    with pytest.raises(ValueError, match="other budget"):
        check_compatible(rows, default_grid(), StudyConfig(**{**cfg.__dict__, "val_problems": 10}))


def load_results_shipped():
    from dsnb.data import results_dir

    return load_results(results_dir() / "study")


# ----------------------------------------------------------------------------- the validation split
def test_val_is_the_tail_of_the_eval_rows_and_the_reported_rows_do_not_move():
    evl, val = countdown_rows("eval", 500), countdown_rows("val", 80)
    assert val == evl[::-1][:80]
    first = countdown_rows("eval", 150)
    assert first == evl[:150] and not {json.dumps(r) for r in first} & {json.dumps(r) for r in val}
    with pytest.raises(ValueError, match="501 val problems"):
        countdown_rows("val", 501)


def test_gsm8k_has_no_validation_split():
    from dsnb.tasks.registry import get_task

    with pytest.raises(ValueError, match="only 'train' and 'eval'"):
        get_task("gsm8k").load("val", 5)


# ----------------------------------------------------------------------------- the stability rule
def curve(correct, entropy, loss=0.1):
    return [
        {"step": i + 1, "loss/total": loss, "correct/mean": c, "entropy/token_mean": h}
        for i, (c, h) in enumerate(zip(correct, entropy))
    ]


def test_divergence_names_nan_collapse_and_entropy_blowup_and_passes_a_healthy_run():
    healthy = curve([0.2, 0.25, 0.3, 0.3, 0.35, 0.4] * 2, [1.2, 1.1, 1.0, 1.0, 0.9, 0.9] * 2)
    assert divergence(healthy) is None
    assert "non-finite loss at step 1" == divergence(curve([0.2] * 4, [1.0] * 4, loss=math.nan))
    assert "collapsed" in divergence(curve([0.3] * 5 + [0.05] * 5, [1.0] * 10))
    assert "blew up" in divergence(curve([0.3] * 10, [1.0] * 5 + [2.6] * 5))
    assert divergence(curve([0.3] * 10, [0.2] * 5 + [0.45] * 5)) is None  # doubled, but by 0.25 nats
    assert divergence(curve([0.0] * 10, [1.0] * 10)) is None  # never correct: nothing to collapse
    assert divergence([]) is None


def test_rows_recorded_before_the_flag_are_judged_by_their_curve():
    rows = {(r["setting"], r["seed"]): r for r in load_results_shipped() if r["kind"] == "run"}
    assert "collapsed" in row_divergence(rows[("cd4_entropy_bonus_0.1", 0)])
    assert row_divergence(rows[("grpo", 0)]) is None
    assert row_divergence({"diverged": None, "curve": {"correct/mean": [1.0, 0.0]}}) is None  # the flag wins


# ----------------------------------------------------------------------------- choosing on validation
def vrow(setting, seed, c, sweep="", baseline="grpo", diverged=None, task="t"):
    return {
        "kind": "run",
        "setting": setting,
        "seed": seed,
        "sweep": sweep,
        "baseline": baseline,
        "task": task,
        "model": "m",
        "eval_n": 4,
        "diverged": diverged,
        "val": {"c": c, "distinct": [1] * len(c)},
    }


def test_val_score_is_the_mean_of_pass_at_k_on_a_log_grid_by_hand():
    # n = 4, c = (1, 0): pass@1 = 1/8, pass@2 = (1 − 3/6)/2 = 1/4, pass@4 = 1/2 -> mean 7/24
    assert val_score(vrow("a", 0, [1, 0])) == pytest.approx((1 / 8 + 1 / 4 + 1 / 2) / 3)
    with pytest.raises(ValueError, match="no validation results"):
        val_score({"setting": "x", "seed": 0, "eval_n": 4})


def test_best_per_family_on_validation_skips_diverged_and_picks_the_best_rival(tmp_path):
    rows = []
    for s in (0, 1, 2):
        rows += [
            vrow("grpo", s, [1, 1], baseline=None),
            vrow("ds_0.3", s, [2, 1], "ds"),
            vrow("ds_1", s, [3, 2], "ds", diverged="correct rate collapsed" if s == 1 else None),
            vrow("ds_3", s, [1, 0], "ds"),
            vrow("passk_2", s, [2, 2], "passk"),
            vrow("unlikeliness_0.5", s, [2, 1], "unlikeliness"),
            vrow("ds_sym", s, [4, 4]),  # a fixed setting: never a candidate
            vrow("grpo", s + 3, [4, 4], baseline=None),  # seed 3: not part of the choice
        ]
    sel = select_best(rows)["t/m"]
    assert sel["families"]["ds"]["setting"] == "ds_0.3" and "ds_1" in sel["families"]["ds"]["diverged"]
    assert sel["best_rival"] == "passk" and sel["five_seeds"] == ["grpo", "ds_0.3", "passk_2"]
    assert sel["families"]["grpo"]["value"] == pytest.approx(val_score(vrow("grpo", 0, [1, 1])))
    # fixed once: new rows do not move the recorded choice
    fix_selection(tmp_path, rows)
    better = [vrow("ds_3", s, [4, 4], "ds") for s in (0, 1, 2)]
    again = fix_selection(tmp_path, [r for r in rows if r["setting"] != "ds_3"] + better)
    assert again["t/m"]["families"]["ds"]["setting"] == "ds_0.3"


# ----------------------------------------------------------------------------- the plan
def test_plan_lines_state_the_probe_the_cells_and_the_total():
    g = v2_grid()
    cfg = StudyConfig(seeds=[0, 1, 2], steps=100, prompts_per_step=16, group_size=16, val_problems=80)
    p = plan(g, cfg, Probe("countdown3", "nano", 2.0, 0.002, 10.0), completion_len=20.0)
    assert p["cells"] == 30 * 3 + 5 * 2 and p["scale"] == 2.0
    assert p["cell_s"] == pytest.approx(100 * 4.0 + 230 * 64 * 0.004, abs=0.05)  # rounded to 0.1 s
    text = "\n".join(plan_lines(p, processes=2))
    assert "100 (30 settings x 3 seeds + 5 best x 2 seeds)" in text and "2 parallel ones" in text


# ----------------------------------------------------------------------------- end to end
@pytest.fixture()
def tiny_env(tiny_model_dir, monkeypatch):
    import dsnb.rl.trainer

    monkeypatch.setenv("DSNB_NANO", tiny_model_dir)
    calls = {"train": 0}
    train = dsnb.rl.trainer.Trainer.train

    def counted(self):
        calls["train"] += 1
        return train(self)

    monkeypatch.setattr(dsnb.rl.trainer.Trainer, "train", counted)
    return calls


def small_grid():
    def s(name, sweep, **loss):
        return Setting(name, loss, {}, "countdown3", "nano", None if name == "grpo" else "grpo", "", sweep)

    return [s("grpo", ""), s("ds_0.3", "ds", gamma_p=0.3), s("ds_sym", "", gamma_p=1.0, gamma_n=1.0)]


def test_the_v2_pipeline_prechecks_validates_selects_and_adds_seeds_only_to_the_best(
    tiny_env, tmp_path, capsys
):
    out = tmp_path / "v2"
    budget = dict(QUICK, seeds=[0], extra_seeds=[1], eval_problems=4, eval_n=4, val_problems=2)
    rows = run_study_v2(out, grid=small_grid(), precheck_steps=1, progress=False, report=False, **budget)
    said = capsys.readouterr().out
    pre = json.loads((out / "precheck.json").read_text())
    assert set(pre) == {s.name for s in small_grid()} and all(v["steps"] == 1 for v in pre.values())
    assert "stability pre-check" in said and "5 seeds:" in said
    runs = [r for r in rows if r["kind"] == "run"]
    sel = json.loads((out / "selection.json").read_text())["countdown3/nano"]
    chosen = set(sel["five_seeds"])
    assert {"grpo"} <= chosen and sel["families"]["ds"]["setting"] in chosen
    assert "ds_sym" not in chosen  # a fixed setting is never "best"
    seeds = {}
    for r in runs:
        seeds.setdefault(r["setting"], set()).add(r["seed"])
    assert chosen == {"grpo", "ds_0.3"} and seeds == {"grpo": {0, 1}, "ds_0.3": {0, 1}, "ds_sym": {0}}
    for r in runs:
        assert r["val"]["eval_set"] != r["eval_set"] and len(r["val"]["c"]) == 2
        assert r["multiplicity"] == [len(x["solutions"]) for x in countdown_rows("eval", 4)]
        assert r["precheck"]["status"] in ("ok", "diverged") and "diverged" in r
    assert {r["sweep"] for r in runs} == {"", "ds"}
    # everything is done: a rerun trains nothing and keeps the selection
    n = tiny_env["train"]
    run_study_v2(out, grid=small_grid(), precheck_steps=1, progress=False, report=False, **budget)
    assert tiny_env["train"] == n
    assert json.loads((out / "selection.json").read_text())["countdown3/nano"] == sel


def test_validation_problems_overlapping_the_reported_ones_are_refused(tiny_env, tmp_path):
    with pytest.raises(ValueError, match="also among the"):
        run_study_v2(
            tmp_path,
            grid=small_grid()[:1],
            precheck_steps=0,
            progress=False,
            report=False,
            **dict(QUICK, seeds=[0], steps=1, eval_problems=300, val_problems=300),
        )
    assert tiny_env["train"] == 0  # refused before any work


def test_cli_lists_and_plans_the_v2_grid(tiny_env, capsys):
    assert main(["study", "--grid", "v2", "--task", "countdown4m", "--model", "nano4m", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "passk_4" in listed and "countdown4m" in listed
    argv = ["study", "--grid", "v2", "--plan", "--steps", "2", "--prompts-per-step", "1", "--eval-n", "2"]
    assert main(argv + ["--processes", "2"]) == 0
    said = capsys.readouterr().out
    assert "estimated total" in said and "per training step" in said and "2 parallel ones" in said


def test_parallel_v2_processes_merge_with_their_prechecks_and_the_last_stage_redoes_none(
    tiny_env, tmp_path, capsys
):
    from dsnb.study.run import merge_studies

    budget = dict(QUICK, seeds=[0], extra_seeds=[1], eval_problems=4, eval_n=4, val_problems=2)
    kw = dict(grid=small_grid(), precheck_steps=1, progress=False, report=False, **budget)
    run_study_v2(tmp_path / "a", only=["grpo", "ds_0.3"], **kw)
    run_study_v2(tmp_path / "b", only=["ds_sym"], **kw)
    assert "merge the OUTs" in capsys.readouterr().out
    merge_studies([tmp_path / "a", tmp_path / "b"], tmp_path / "all")
    pre = json.loads((tmp_path / "all" / "precheck.json").read_text())
    assert set(pre) == {"grpo", "ds_0.3", "ds_sym"}
    n = tiny_env["train"]
    rows = run_study_v2(tmp_path / "all", **kw)  # selection and the extra seeds: 2 cells, no pre-check
    assert tiny_env["train"] == n + 2
    assert sorted((r["setting"], r["seed"]) for r in rows if r["kind"] == "run" and r["seed"] == 1) == [
        ("ds_0.3", 1),
        ("grpo", 1),
    ]
