"""The demo's code path end to end (quick mode: seconds, says nothing about the methods)."""

import json

import pytest

from dsnb.cli import main
from dsnb.study.demo import DemoConfig, run_demo


def test_quick_demo_writes_summary_report_and_table(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DSNB_NANO", tiny_model_dir)
    monkeypatch.setenv("DSNB_NANO4W", tiny_model_dir)  # the demo's world is countdown4m
    cfg = DemoConfig.quick(out=str(tmp_path / "demo"), seeds=[0, 1])  # 2 seeds: each one's value shown
    summary = run_demo(cfg)
    saved = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert saved["methods"].keys() == {"grpo", "ds", "entropy_bonus"}
    for m in saved["methods"].values():
        assert len(m["pass@k"]) == cfg.eval_n
        assert all(a <= b + 1e-12 for a, b in zip(m["pass@k"], m["pass@k"][1:]))  # pass@k grows with k
    assert len(saved["base"]["pass@k"]) == cfg.eval_n
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "Seeds and noise" in html and "pass@k on held-out problems" in html
    assert "plotly" in html.lower() and "<script" in html  # self-contained plots
    out = capsys.readouterr().out
    assert summary["seeds"] == [0, 1] and DemoConfig().seeds == [
        0,
        1,
        2,
    ]  # the default: 3, for the paired test
    g = saved["methods"]["grpo"]
    assert f"{g['pass@1']:.3f} ({g['per_seed'][0]['pass@1']:.3f}, {g['per_seed'][1]['pass@1']:.3f})" in out
    header = next(line for line in out.splitlines() if line.startswith("method")).split()
    assert header == ["method", "pass@1", "pass@8", "distinct_correct", "coverage"]  # n = 8: one pass@8
    assert "DS-GRPO (γp = 3, γn = 0, summed log-prob) vs GRPO:" in out  # the finding, in the terminal too
    assert (
        "Finding" in html and "DS-GRPO (γp = 3, γn = 0, summed log-prob)" in html and "{'gamma_p'" not in html
    )
    runs = sorted(p.name for p in (tmp_path / "demo" / "runs").iterdir())
    assert runs == ["ds_s0", "ds_s1", "entropy_bonus_s0", "entropy_bonus_s1", "grpo_s0", "grpo_s1"]


def test_the_table_shows_one_value_each_seed_or_an_interval_by_the_number_of_seeds():
    from dsnb.study.demo import spread

    s = {"pass@1": 0.25, "ci95": {"pass@1": 0.04}, "per_seed": [{"pass@1": 0.2}, {"pass@1": 0.3}]}
    assert spread({"seeds": [0]}, s, "pass@1") == "0.250"
    assert spread({"seeds": [0, 1]}, s, "pass@1") == "0.250 (0.200, 0.300)"
    assert spread({"seeds": [0, 1, 2]}, s, "pass@1") == "0.250 ± 0.040"


def test_demo_rejects_unknown_methods_before_any_work(capsys, tmp_path):
    with pytest.raises(ValueError, match="unknown demo methods"):
        DemoConfig(methods=["ppo"])
    assert main(["demo", "--methods", "ppo", "--out", str(tmp_path / "x")]) == 2
    assert "unknown demo methods" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_runs_trained_in_parallel_processes_give_the_same_summary_as_one_process(
    tiny_model_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("DSNB_NANO", tiny_model_dir)
    monkeypatch.setenv("DSNB_NANO4W", tiny_model_dir)  # inherited by the spawned workers
    kw = dict(seeds=[0], methods=["grpo", "ds"], eval_problems=4, eval_n=4)
    one = run_demo(DemoConfig.quick(out=str(tmp_path / "one"), jobs=1, **kw))
    two = run_demo(DemoConfig.quick(out=str(tmp_path / "two"), jobs=2, **kw))
    assert DemoConfig.quick(jobs=2, **kw).workers() == 2 and DemoConfig.quick(**kw).workers() == 1
    for m in ("grpo", "ds"):  # one torch thread per worker: the same numbers as here
        assert two["methods"][m]["per_seed"][0]["c"] == one["methods"][m]["per_seed"][0]["c"]
    assert two["base"]["c"] == one["base"]["c"]
    assert sorted(p.name for p in (tmp_path / "two" / "runs").iterdir()) == ["ds_s0", "grpo_s0"]
    with pytest.raises(ValueError, match="jobs=0"):
        DemoConfig(jobs=0)
