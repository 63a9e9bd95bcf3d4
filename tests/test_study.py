"""The study: runs end to end, never recomputes a finished cell, resumes an interrupted one, and
its statistics and verdicts agree with hand computations on hand-made results."""

import json
import math

import pytest

from dsnb.cli import main
from dsnb.study.grid import QUICK, Setting, quick_grid
from dsnb.study.run import run_study
from dsnb.study.stats import T95, interval, load_results, paired, results_table, t95, t95_series, verdict_line


# ----------------------------------------------------------------------------- running the study
@pytest.fixture()
def study_env(tiny_model_dir, tmp_path, monkeypatch):
    """The tiny model as the nano model, no 4-number model, and counters on training and evaluation."""
    import dsnb.rl.trainer
    import dsnb.study.cell

    monkeypatch.setenv("DSNB_NANO", tiny_model_dir)
    monkeypatch.setenv("DSNB_NANO4", str(tmp_path / "no_nano4_here"))
    calls = {"train": 0, "evaluate": 0}
    train, evaluate = dsnb.rl.trainer.Trainer.train, dsnb.study.cell.evaluate

    def counted_train(self):
        calls["train"] += 1
        return train(self)

    def counted_evaluate(*a, **kw):
        calls["evaluate"] += 1
        return evaluate(*a, **kw)

    monkeypatch.setattr(dsnb.rl.trainer.Trainer, "train", counted_train)
    monkeypatch.setattr(dsnb.study.cell, "evaluate", counted_evaluate)
    return tmp_path, calls


def adapter(run_dir):
    from safetensors.torch import load_file

    ckpts = sorted((run_dir / "checkpoints").glob("step_*"))
    return load_file(str(ckpts[-1] / "adapter_model.safetensors"))


def test_quick_study_writes_tidy_results_and_a_report_and_never_recomputes_a_finished_cell(study_env, capsys):
    tmp, calls = study_env
    out = tmp / "study"
    rows = run_study(quick_grid(), out, seeds=[0], progress=False, **QUICK)
    runs = [r for r in rows if r["kind"] == "run"]
    assert [(r["setting"], r["seed"]) for r in runs] == [
        ("grpo", 0),
        ("ds_asym", 0),
        ("entropy_bonus_0.3", 0),
    ]
    assert calls == {"train": 3, "evaluate": 3}
    bases = [r for r in rows if r["kind"] == "base"]
    assert len(bases) == 1 and bases[0]["task"] == "countdown3"  # the base model once per world
    n, P = QUICK["eval_n"], QUICK["eval_problems"]
    for r in runs + bases:
        assert len(r["c"]) == len(r["distinct"]) == len(r["coverage_per_problem"]) == P
        assert len(r["pass@k"]) == n
        assert r["pass@1"] == pytest.approx(sum(r["c"]) / (n * P))  # pass@1 = c/n, by hand
        assert r[f"pass@{n}"] == pytest.approx(sum(c > 0 for c in r["c"]) / P)  # pass@n = P(c > 0)
    by = {(r["setting"], r["seed"]): r for r in runs}
    assert by[("ds_asym", 0)]["gamma_p"] == 1.0 and by[("grpo", 0)]["gamma_p"] == 0.0
    assert by[("entropy_bonus_0.3", 0)]["entropy_coef"] == 0.3
    cfg = json.loads((out / "runs" / "entropy_bonus_0.3_s0" / "config.json").read_text())
    assert cfg["lr"] == 5e-4 and cfg["loss"]["group_size"] == QUICK["group_size"]
    # the countdown4 block is declared, skipped with a reason, and listed as such
    assert "skipping cd4_grpo" in capsys.readouterr().out
    assert "cd4_grpo" in json.loads((out / "grid.json").read_text())["skipped"]
    # a second seed of one setting: only that new cell is trained; the finished ones are reused
    rows = run_study(quick_grid(), out, seeds=[0, 1], only=["grpo"], progress=False, **QUICK)
    assert calls == {"train": 4, "evaluate": 4} and len(rows) == 5
    assert len({r["eval_set"] for r in rows}) == 1 and len({r["eval_seed"] for r in rows}) == 1
    seed1 = json.loads((out / "runs" / "grpo_s1" / "config.json").read_text())
    assert seed1["seed"] == 1
    a0, a1 = adapter(out / "runs" / "grpo_s0"), adapter(out / "runs" / "grpo_s1")
    assert any(not (a0[k] == a1[k]).all() for k in a0)  # independent seeds: different adapters
    html = (out / "report.html").read_text()
    assert "ds_asym vs grpo:" in html and "grpo vs base:" in html and "Verdict:" in html
    assert "Declared but not in these results" in html and "<script" in html
    # rerun: nothing is trained or evaluated again, the results file is untouched
    before = (out / "results.jsonl").read_text()
    again = run_study(quick_grid(), out, seeds=[0, 1], only=["grpo"], progress=False, **QUICK)
    assert calls == {"train": 4, "evaluate": 4}
    assert (out / "results.jsonl").read_text() == before and len(again) == len(rows)


def test_an_interrupted_study_resumes_the_interrupted_cell_from_its_checkpoint(study_env):
    tmp, calls = study_env
    out, budget = tmp / "study", {**QUICK, "steps": 4}
    fired = []

    def ctrl_c_at_step_2(row, trainer):
        if row["step"] == 2 and not fired:
            fired.append(1)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study(
            quick_grid(),
            out,
            seeds=[0],
            only=["grpo"],
            progress=False,
            callbacks=[ctrl_c_at_step_2],
            **budget,
        )
    assert not (out / "results.jsonl").exists()
    rows = run_study(quick_grid(), out, seeds=[0], only=["grpo"], progress=False, **budget)
    assert [(r["kind"], r["setting"]) for r in rows] == [("run", "grpo"), ("base", "base")]
    assert calls["train"] == 2 and calls["evaluate"] == 1
    run = out / "runs" / "grpo_s0"
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]  # nothing lost, nothing twice
    events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "resumed" and e["step"] == 2 for e in events)
    assert rows[0]["curve"]["step"] == [1, 2, 3, 4]


def fake_row(**kw):
    base = {
        "kind": "run",
        "setting": "ds_asym",
        "seed": 0,
        "task": "countdown3",
        "model": "nano",
        "baseline": "grpo",
        **QUICK,
        "eval_seed": 1234,
        "eval_temperature": 1.0,
        "eval_max_new_tokens": 24,
        "train": {},
    }
    from dataclasses import asdict

    from dsnb.rl.loss import LossConfig

    return {**base, **asdict(LossConfig(group_size=QUICK["group_size"], gamma_p=1.0)), **kw}


def test_the_study_refuses_to_mix_budgets_or_redefined_settings_before_any_work(study_env, capsys):
    tmp, calls = study_env
    out = tmp / "study"
    out.mkdir()
    (out / "results.jsonl").write_text(json.dumps(fake_row()) + "\n")
    with pytest.raises(ValueError, match="other budget"):
        run_study(quick_grid(), out, seeds=[0], progress=False, **{**QUICK, "steps": 5})
    (out / "results.jsonl").write_text(json.dumps(fake_row(gamma_p=0.5)) + "\n")
    with pytest.raises(ValueError, match="defined differently"):
        run_study(quick_grid(), out, seeds=[0], progress=False, **QUICK)
    with pytest.raises(ValueError, match="unknown setting"):
        run_study(quick_grid(), out, only=["nope"], progress=False, **QUICK)
    assert main(["study", "--grid", "quick", "--only", "nope", "--out", str(out)]) == 2
    assert "unknown setting" in capsys.readouterr().err
    with pytest.raises(ValueError, match="group_size is part of the study's budget"):
        Setting("x", loss={"group_size": 4})
    with pytest.raises(ValueError, match="not allowed"):
        Setting("x", train={"steps": 4})
    assert calls == {"train": 0, "evaluate": 0}


def test_results_made_with_another_model_are_refused_before_any_work(study_env, tiny_model_dir):
    from dsnb.study.cell import model_fingerprint

    tmp, calls = study_env
    out = tmp / "study"
    out.mkdir()
    now = model_fingerprint("nano")
    assert now and now == model_fingerprint(tiny_model_dir)  # DSNB_NANO points at the tiny model
    (out / "results.jsonl").write_text(json.dumps(fake_row(model_sha=now)) + "\n")
    check = run_study(quick_grid(), out, seeds=[0], only=["ds_asym"], progress=False, report=False, **QUICK)
    assert calls["train"] == 0 and len(check) == 1  # same model: the cell counts as done
    (out / "results.jsonl").write_text(json.dumps(fake_row(model_sha="0" * 16)) + "\n")
    with pytest.raises(ValueError, match="re-pretrained"):
        run_study(quick_grid(), out, seeds=[0], only=["ds_asym"], progress=False, **QUICK)
    assert calls == {"train": 0, "evaluate": 0}


def test_a_leftover_run_directory_with_other_settings_is_refused(study_env):
    from dsnb.rl.trainer import TrainConfig

    tmp, calls = study_env
    out = tmp / "study"
    run = out / "runs" / "grpo_s0"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(TrainConfig.smoke(run_dir=str(run), steps=99).to_dict()))
    with pytest.raises(ValueError, match="other settings"):
        run_study(quick_grid(), out, seeds=[0], only=["grpo"], progress=False, **QUICK)
    assert calls["train"] == 0


# ----------------------------------------------------------------------------- statistics by hand
def test_t95_table_agrees_with_the_series_expansion_where_both_apply():
    for df in range(20, 31):
        assert t95_series(df) == pytest.approx(T95[df - 1], abs=2e-3)
    assert t95(1) == 12.706 and t95(200) == pytest.approx(1.972, abs=1e-3)  # printed t tables
    with pytest.raises(ValueError):
        t95(0)


def test_interval_is_the_hand_computed_t_interval():
    mean, half = interval([0.2, 0.4, 0.6])
    assert mean == pytest.approx(0.4)
    assert half == pytest.approx(4.303 * 0.2 / math.sqrt(3))  # sd = 0.2, t(2) = 4.303
    assert interval([0.7]) == (0.7, math.inf)


N = 4  # samples per problem in the hand-made results: pass@1 = c/4


def hand_row(setting, seed, c, baseline="grpo", eval_set="E", distinct=None, coverage=None):
    """A results row with only what the statistics read."""
    return {
        "kind": "run",
        "setting": setting,
        "seed": seed,
        "task": "countdown3",
        "model": "nano",
        "baseline": baseline,
        "note": "",
        "eval_n": N,
        "eval_set": eval_set,
        "c": c,
        "distinct": distinct or [min(x, 2) for x in c],
        "coverage_per_problem": coverage or [x / N for x in c],
        "gamma_p": 1.0 if setting.startswith("ds") else 0.0,
        "gamma_n": 0.0,
        "entropy_coef": 0.0,
        "pass@k": [sum(x / N for x in c) / len(c)] * N,
        "curve": {"step": [1, 2], "correct/mean": [0.1, 0.2], "div/distinct_correct": [1.0, 1.0]},
    }


GRPO = [hand_row("grpo", s, [1, 2, 1, 2], baseline=None) for s in (0, 1, 2)]
WIN = [
    hand_row("ds_asym", 0, [3, 4, 3, 4]),
    hand_row("ds_asym", 1, [4, 4, 3, 3]),
    hand_row("ds_asym", 2, [3, 3, 4, 4]),
]


def test_paired_difference_equals_the_hand_computation():
    p = paired(WIN, GRPO, "pass@1")
    # seed-averaged pass@1 per problem: win 10/12, 11/12, 10/12, 11/12; grpo 3/12, 6/12, 3/12, 6/12
    # differences 7/12, 5/12, 7/12, 5/12: mean 1/2, sd (1/12)·sqrt(4/3), t(3) = 3.182
    assert p.diff == pytest.approx(0.5)
    assert p.half_problems == pytest.approx(3.182 * (1 / 12) * math.sqrt(4 / 3) / 2)
    assert p.half_seeds == pytest.approx(0.0)  # every seed gains exactly 14/16 − 6/16
    assert p.verdict == "better" and p.problems == 4 and p.seeds == [0, 1, 2]
    # pass@2 = 1 − C(4 − c, 2)/C(4, 2): c = 1 -> 1/2, c = 2 -> 5/6, c >= 3 -> 1
    q = paired(WIN, GRPO, "pass@2")
    assert q.diff == pytest.approx((0.5 + 1 / 6 + 0.5 + 1 / 6) / 4)
    assert q.half_problems == pytest.approx(3.182 * (1 / 6) * math.sqrt(4 / 3) / 2)


def test_verdicts_call_a_clear_win_a_clear_loss_and_noise_by_their_names():
    assert paired(WIN, GRPO, "pass@1").verdict == "better"
    assert paired(GRPO, WIN, "pass@1").verdict == "worse"
    # +1 correct on two problems, −1 on the two others, for every seed: no difference on average
    even = [hand_row("ds_asym", s, [2, 1, 2, 1] if s != 1 else [0, 3, 0, 3]) for s in (0, 1, 2)]
    p = paired(even, GRPO, "pass@1")
    assert p.diff == pytest.approx(0.0) and p.verdict == "within noise"


def test_a_gain_that_only_one_seed_shows_is_not_claimed():
    # seed 0 gains 2 correct on every problem, seeds 1 and 2 gain nothing: the over-problems
    # interval is 0 wide (every problem gains 1/6) but over seeds [0.5, 0, 0] has t-half-width
    # 4.303·sd/√3 = 0.717 > 1/6
    lucky = [hand_row("ds_asym", 0, [3, 4, 3, 4])] + [hand_row("ds_asym", s, [1, 2, 1, 2]) for s in (1, 2)]
    p = paired(lucky, GRPO, "pass@1")
    assert p.diff == pytest.approx(1 / 6) and p.half_problems == pytest.approx(0.0)
    assert p.half_seeds == pytest.approx(4.303 * math.sqrt(1 / 12) / math.sqrt(3))
    assert p.verdict == "within noise"
    one = paired(WIN[:1], GRPO, "pass@1")
    assert one.verdict == "within noise" and "one seed" in verdict_line("ds_asym", "grpo", [one])


def test_verdict_lines_state_the_numbers_and_never_claim_an_unsupported_win():
    win = [paired(WIN, GRPO, "pass@1")]
    half = 3.182 * (1 / 12) * math.sqrt(4 / 3) / 2
    line = verdict_line("ds_asym", "grpo", win)
    assert line.startswith(f"ds_asym vs grpo: pass@1 +0.500 ± {half:.3f}: better")
    assert "nowhere worse" in line
    loss = verdict_line("grpo", "ds_asym", [paired(GRPO, WIN, "pass@1")])
    assert "-0.500" in loss and "did not beat ds_asym on any measure" in loss


def test_the_base_model_row_pairs_with_every_seed():
    base = {**hand_row("base", None, [0, 0, 2, 2]), "kind": "base"}
    p = paired(GRPO, [base], "pass@1")
    # per problem grpo − base: 1/4, 2/4, −1/4, 0: mean 1/8
    assert p.diff == pytest.approx(1 / 8) and p.seeds == [0, 1, 2]


def test_paired_comparisons_refuse_different_problems_and_skip_unknown_coverage():
    other = [hand_row("ds_asym", s, [3, 3, 3, 3], eval_set="F") for s in (0, 1, 2)]
    with pytest.raises(ValueError, match="same evaluation problems"):
        paired(other, GRPO, "pass@1")
    nan = float("nan")
    a = [hand_row("ds_asym", s, [1, 1, 1, 1], coverage=[nan, 0.5, 1.0, 0.5]) for s in (0, 1, 2)]
    b = [hand_row("grpo", s, [1, 1, 1, 1], coverage=[nan, 0.25, 0.5, 0.5]) for s in (0, 1, 2)]
    p = paired(a, b, "coverage")
    assert p.problems == 3 and p.diff == pytest.approx((0.25 + 0.5 + 0.0) / 3)


def test_results_table_shows_hand_computed_means_intervals_and_verdict_marks():
    table = results_table(GRPO + WIN)
    # grpo: pass@1 = 6/16 for every seed; ds_asym: 14/16 for every seed (intervals 0)
    assert "| grpo | 3 | 0.375 ± 0.000 |" in table
    assert "| ds_asym | 3 | 0.875 ± 0.000 |" in table
    assert "grpo: pass@1 ↑" in table and table.count("\n| ") == 3  # header + 2 settings


def test_report_only_redraws_from_the_results_file_alone(tmp_path, capsys):
    out = tmp_path / "study"
    out.mkdir()
    base = {**hand_row("base", None, [0, 1, 1, 2]), "kind": "base"}
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GRPO + WIN + [base]))
    assert len(load_results(out)) == 7
    assert main(["study", "--report-only", "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "ds_asym vs grpo: pass@1 +0.500" in html and "grpo vs base:" in html
    capsys.readouterr()
    assert main(["study", "--report-only", "--markdown", "--out", str(out)]) == 0
    md = capsys.readouterr().out
    assert "| setting | seeds | pass@1 |" in md and "| ds_asym | 3 |" in md  # the README's table
    assert main(["study", "--report-only", "--out", str(tmp_path / "empty")]) == 2
    assert "no study results" in capsys.readouterr().err


def test_studies_run_in_parallel_merge_into_one_with_each_cell_and_base_once(study_env, capsys):
    from dsnb.study.run import merge_studies

    tmp, calls = study_env
    a = run_study(quick_grid(), tmp / "a", seeds=[0], only=["grpo"], progress=False, report=False, **QUICK)
    b = run_study(quick_grid(), tmp / "b", seeds=[0], only=["ds_asym"], progress=False, report=False, **QUICK)
    assert sum(r["kind"] == "base" for r in a + b) == 2  # each process evaluated the base
    assert main(["study", "--merge", str(tmp / "a"), str(tmp / "b"), "--out", str(tmp / "all")]) == 0
    rows = load_results(tmp / "all")
    assert sorted((r["setting"], r["seed"]) for r in rows if r["kind"] == "run") == [
        ("ds_asym", 0),
        ("grpo", 0),
    ]
    assert sum(r["kind"] == "base" for r in rows) == 1
    assert (tmp / "all" / "report.html").exists()
    assert set(json.loads((tmp / "all" / "grid.json").read_text())["settings"]) == {"grpo", "ds_asym"}
    assert len(merge_studies([tmp / "a", tmp / "b"], tmp / "all")) == 3  # merging again adds nothing
    run_study(
        quick_grid(),
        tmp / "c",
        seeds=[0],
        only=["grpo"],
        progress=False,
        report=False,
        **{**QUICK, "eval_n": 4},
    )
    with pytest.raises(ValueError, match="another budget"):
        merge_studies([tmp / "c"], tmp / "all")
    assert len(load_results(tmp / "all")) == 3  # a refused merge writes nothing
    other = [
        dict(r, model_sha="0" * 16, seed=5) for r in load_results(tmp / "a") if r["kind"] == "run"
    ]  # only new cells, made with another model
    (tmp / "d").mkdir()
    (tmp / "d" / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in other))
    with pytest.raises(ValueError, match="another model"):
        merge_studies([tmp / "d"], tmp / "all")
    assert len(load_results(tmp / "all")) == 3
