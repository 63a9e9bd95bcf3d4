"""The ``dsnb`` command line: theory report, demo, nano pretraining, training and resuming runs.

dsnb demo [--quick] [--seeds 0 1 2] [--out runs/demo]   the main job (CPU, no downloads)
dsnb theory --out runs/theory                           numpy-only sharpening/smoothing report
dsnb nano pretrain --out runs/nano_model                rebuild the shipped nano model's recipe
dsnb nano pretrain --recipe dsnb/data/nano4/dsnb_nano.json --out runs/nano4   (any shipped one)
dsnb train --preset nano --run-dir runs/ds --gamma-p 1  one training run
dsnb resume runs/ds                                     continue an interrupted run
dsnb study --out runs/study [--grid quick] [--only grpo ds_asym]   the honest study (hours)
dsnb study --report-only --out runs/study               redraw its report from results.jsonl
dsnb study --merge runs/a runs/b --out runs/study       fold studies run in parallel into one
dsnb study --grid v2 --plan [--task countdown4m --model nano4m]   estimate the second edition's time
dsnb study --grid v2 --out runs/study2 [--task T --model M]      pre-check, sweeps, selection, seeds
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

# Each command imports what it needs when it runs, so `dsnb --help` answers without torch.


def cmd_demo(a):
    from dsnb.study.demo import DemoConfig, run_demo

    kw = {
        k: v
        for k, v in dict(
            out=a.out,
            seeds=a.seeds,
            steps=a.steps,
            methods=a.methods,
            eval_problems=a.eval_problems,
            eval_n=a.eval_n,
        ).items()
        if v is not None
    }
    cfg = DemoConfig.quick(**kw) if a.quick else DemoConfig(**kw)
    run_demo(cfg)
    print(f"report: {cfg.out}/report.html  summary: {cfg.out}/summary.json")


def cmd_theory(a):
    from dsnb.theory.report import write_theory_report

    print(f"report: {write_theory_report(a.out)}")


def cmd_nano(a):
    from dsnb.nano import NanoConfig, pretrain

    kw = {
        k: v
        for k, v in dict(
            steps=a.steps, seed=a.seed, num_count=a.num_count, mistake_frac=a.mistake_frac
        ).items()
        if v is not None
    }
    if a.recipe:  # reproduce a shipped model: its dsnb_nano.json holds the recipe
        kw = {**json.loads(Path(a.recipe).read_text())["recipe"], **kw}
    cfg = NanoConfig.smoke() if a.smoke else NanoConfig(**kw)
    print(f"nano model written to {pretrain(cfg, a.out)}")


def cmd_train(a):
    from dsnb.rl.loss import LossConfig
    from dsnb.rl.trainer import PRESETS, TrainConfig, Trainer

    if a.preset not in PRESETS:
        raise SystemExit(f"unknown preset {a.preset!r}; choose from {PRESETS}")
    preset = getattr(TrainConfig, a.preset)()
    loss = {
        k: v
        for k, v in dict(
            gamma_p=a.gamma_p,
            gamma_n=a.gamma_n,
            entropy_coef=a.entropy_coef,
            beta=a.beta,
            ds_logp=a.ds_logp,
            ds_where=a.ds_where,
        ).items()
        if v is not None
    }
    over = {
        k: v
        for k, v in dict(run_dir=a.run_dir, steps=a.steps, seed=a.seed, task=a.task).items()
        if v is not None
    }
    cfg = TrainConfig.from_dict(
        {**asdict(preset), **over, "loss": LossConfig(**{**asdict(preset.loss), **loss})}
    )
    Trainer(cfg).train()
    print(f"run written to {cfg.run_dir}")


def cmd_resume(a):
    from dsnb.rl.trainer import Trainer

    t = Trainer.resume(a.run_dir)
    t.train()
    print(f"run {a.run_dir} at step {t.step}")


def cmd_study(a):
    if a.merge:
        from dsnb.study.run import merge_studies

        rows = merge_studies(a.merge, a.out)
        print(f"{a.out}: {sum(r['kind'] == 'run' for r in rows)} cells")
    if a.report_only or a.merge:
        from dsnb.study.report import write_study_report

        print(f"report: {write_study_report(a.out)}")
        return
    from dsnb.study.grid import GRIDS, QUICK, V2_BUDGET, v2_grid
    from dsnb.study.run import run_study, run_study_v2

    v2 = a.grid == "v2"
    grid = v2_grid(a.task, a.model, a.prefix) if v2 else GRIDS[a.grid]()
    if a.list:
        for s in grid:
            print(f"{s.name:<26} {s.task:<11} {s.loss or 'GRPO'} {s.train or ''}  {s.note}")
        return
    budget = {
        **(QUICK if a.grid == "quick" else {}),
        **{
            k: v
            for k, v in dict(
                seeds=a.seeds,
                steps=a.steps,
                eval_problems=a.eval_problems,
                eval_n=a.eval_n,
                prompts_per_step=a.prompts_per_step,
            ).items()
            if v is not None
        },
    }
    if a.plan:
        return _print_plan(grid, {**(V2_BUDGET if v2 else {}), **budget}, a)
    if v2:
        run_study_v2(a.out, a.task, a.model, a.prefix, only=a.only, precheck_steps=a.precheck_steps, **budget)
    else:
        run_study(grid, a.out, only=a.only, **budget)
    print(f"results: {a.out}/results.jsonl")


def _print_plan(grid, budget, a):
    from dsnb.study.grid import StudyConfig
    from dsnb.study.plan import plan, plan_lines, probe_world

    cfg = StudyConfig(**budget)
    print(f"dsnb study --plan: probing {grid[0].task}/{grid[0].model} (a few training steps and samples) ...")
    p = plan(
        grid, cfg, probe_world(grid, cfg), precheck_steps=a.precheck_steps, completion_len=a.completion_len
    )
    print("\n".join(plan_lines(p, a.processes)))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dsnb", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="GRPO vs DS-GRPO vs entropy bonus on the nano world (CPU)")
    d.add_argument("--out", default=None)
    d.add_argument("--quick", action="store_true", help="seconds; exercises the code, not the methods")
    d.add_argument("--seeds", type=int, nargs="+")
    d.add_argument("--steps", type=int)
    d.add_argument("--methods", nargs="+")
    d.add_argument("--eval-problems", type=int)
    d.add_argument("--eval-n", type=int)
    d.set_defaults(fn=cmd_demo)
    t = sub.add_parser("theory", help="numpy-only HTML report of the sharpening and smoothing plots")
    t.add_argument("--out", default="runs/theory")
    t.set_defaults(fn=cmd_theory)
    n = sub.add_parser("nano", help="the nano model")
    n.add_argument("action", choices=["pretrain"])
    n.add_argument("--out", default="runs/nano_model")
    n.add_argument("--steps", type=int)
    n.add_argument("--seed", type=int)
    n.add_argument("--num-count", type=int)
    n.add_argument("--mistake-frac", type=float)
    n.add_argument("--recipe", help="a shipped model's dsnb_nano.json: rebuild that model (flags override)")
    n.add_argument("--smoke", action="store_true")
    n.set_defaults(fn=cmd_nano)
    r = sub.add_parser("train", help="one training run")
    r.add_argument("--preset", default="nano")
    r.add_argument("--run-dir")
    r.add_argument("--task")
    r.add_argument("--steps", type=int)
    r.add_argument("--seed", type=int)
    for name in ("gamma-p", "gamma-n", "entropy-coef", "beta"):
        r.add_argument(f"--{name}", type=float)
    r.add_argument("--ds-logp", choices=["sum", "mean"])
    r.add_argument("--ds-where", choices=["advantage", "score"])
    r.set_defaults(fn=cmd_train)
    s = sub.add_parser("resume", help="continue an interrupted run from its newest checkpoint")
    s.add_argument("run_dir")
    s.set_defaults(fn=cmd_resume)
    st = sub.add_parser("study", help="the grid of settings x seeds, results.jsonl and report.html")
    st.add_argument("--out", default="runs/study")
    st.add_argument("--prompts-per-step", type=int)
    st.add_argument("--grid", choices=["default", "quick", "v2"], default="default")
    st.add_argument("--task", default="countdown3", help="v2: the world's task (e.g. countdown4m)")
    st.add_argument("--model", default="nano", help="v2: the world's model (e.g. nano4m)")
    st.add_argument("--prefix", default="", help="v2: a prefix for the setting names (several worlds)")
    st.add_argument("--precheck-steps", type=int, default=20, help="v2: steps of the stability pre-check")
    st.add_argument("--plan", action="store_true", help="estimate the grid's time from a short probe")
    st.add_argument("--completion-len", type=float, help="--plan: expected completion tokens (scales)")
    st.add_argument("--processes", type=int, default=1, help="--plan: parallel processes to plan for")
    st.add_argument("--seeds", type=int, nargs="+")
    st.add_argument("--steps", type=int)
    st.add_argument("--eval-problems", type=int)
    st.add_argument("--eval-n", type=int)
    st.add_argument("--only", nargs="+", help="run only these settings (names from --list)")
    st.add_argument("--list", action="store_true", help="print the grid's settings and exit")
    st.add_argument(
        "--report-only", action="store_true", help="redraw OUT/report.html from OUT/results.jsonl"
    )
    st.add_argument(
        "--merge",
        nargs="+",
        metavar="DIR",
        help="fold the results of other study directories into OUT (then redraw the report)",
    )
    st.set_defaults(fn=cmd_study)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except ValueError as err:  # bad input: a clear message, no traceback
        print(f"dsnb: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
