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

# Each command imports what it needs when it runs, so `dsnb --help` answers without torch. The
# defaults quoted in the help texts are the config classes' (tests/test_cli.py checks them).


class UsageError(ValueError):
    """A mistake in the command line or its paths: one line on stderr, exit status 2."""


def writable_dir(path, flag: str) -> Path:
    """Create `path` (and its parents) and check that dsnb can write there, before any work.

    The learner's pitfall: a typo in --out would otherwise surface minutes later, when the first
    file is written, as a traceback.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {path} is a file, not a directory; give a directory (created if missing)")
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".dsnb-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        where = f" ({err.filename})" if err.filename and str(err.filename) != str(p) else ""
        raise UsageError(
            f"{flag} {path}: cannot write there: {(err.strerror or str(err)).lower()}{where}; "
            "give a directory you can write to (it is created if missing)"
        ) from None
    return p


def run_dir_of(path) -> Path:
    """An existing run directory (one that holds config.json), or a UsageError saying so."""
    p = Path(path)
    if not (p / "config.json").is_file():
        what = "does not exist" if not p.exists() else "is not a run directory (no config.json in it)"
        raise UsageError(f"{path} {what}; start a run with `dsnb train --run-dir {path}`")
    return p


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
            task=a.world,
            jobs=a.jobs,
        ).items()
        if v is not None
    }
    cfg = DemoConfig.quick(**kw) if a.quick else DemoConfig(**kw)
    writable_dir(cfg.out, "--out")
    run_demo(cfg)
    print(f"report: {cfg.out}/report.html  summary: {cfg.out}/summary.json")


def cmd_theory(a):
    from dsnb.theory.report import write_theory_report

    writable_dir(a.out, "--out")
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
        kw = {**read_recipe(a.recipe), **kw}
    preset = "smoke" if a.smoke else a.preset
    cfg = NanoConfig(**kw) if preset == "default" else getattr(NanoConfig, preset)(**kw)
    writable_dir(a.out, "--out")
    print(f"nano model written to {pretrain(cfg, a.out)}")


def read_recipe(path) -> dict:
    """The "recipe" of a shipped model's dsnb_nano.json (e.g. dsnb/data/nano4/dsnb_nano.json)."""
    try:
        return json.loads(Path(path).read_text())["recipe"]
    except OSError as err:
        raise UsageError(f"--recipe {path}: {(err.strerror or str(err)).lower()}") from None
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UsageError(
            f"--recipe {path} is not a dsnb_nano.json (a JSON file with a 'recipe' entry), "
            "e.g. dsnb/data/nano4/dsnb_nano.json"
        ) from None


def cmd_train(a):
    from dsnb.rl.loss import LossConfig
    from dsnb.rl.rundir import RunDir
    from dsnb.rl.trainer import PRESETS, TrainConfig, Trainer

    if a.preset is not None and a.preset not in PRESETS:
        raise SystemExit(f"unknown preset {a.preset!r}; choose from {PRESETS}")
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
    over = {k: v for k, v in dict(steps=a.steps, seed=a.seed, task=a.task).items() if v is not None}
    run_dir = a.run_dir or getattr(TrainConfig, a.preset or "nano")().run_dir
    if a.resume and a.preset is None and RunDir(run_dir, create=False).has_config():
        trainer = Trainer.resume(run_dir, **over, **({"loss": loss} if loss else {}))  # only what was given
    else:
        from dsnb.data import WORLD_MODELS

        nano_world = (a.preset or "nano") == "nano" and a.task in WORLD_MODELS
        preset = TrainConfig.nano(world=a.task) if nano_world else getattr(TrainConfig, a.preset or "nano")()
        cfg = TrainConfig.from_dict(
            {
                **asdict(preset),
                **over,
                "run_dir": run_dir,
                "loss": LossConfig(**{**asdict(preset.loss), **loss}),
            }
        )
        trainer = Trainer(cfg, resume=a.resume, overwrite=a.overwrite)
    trainer.train()
    print(f"run written to {run_dir} (step {trainer.step})")


def cmd_resume(a):
    from dsnb.rl.trainer import Trainer

    t = Trainer.resume(run_dir_of(a.run_dir))
    t.train()
    print(f"run {a.run_dir} at step {t.step}")


def cmd_study(a):
    if a.merge:
        from dsnb.study.run import merge_studies

        for d in a.merge:
            if not (Path(d) / "results.jsonl").is_file():
                raise UsageError(f"--merge {d}: no results.jsonl there (is it a study directory?)")
        writable_dir(a.out, "--out")

        rows = merge_studies(a.merge, a.out)
        print(f"{a.out}: {sum(r['kind'] == 'run' for r in rows)} cells")
    if a.report_only or a.merge:
        from dsnb.study.report import write_study_report

        print(f"report: {write_study_report(a.out)}")
        if a.markdown:
            from dsnb.study.frontier import frontier_summary, summary_markdown
            from dsnb.study.stats import load_results, results_table

            rows = load_results(Path(a.out) / "results.jsonl")
            print("\n" + results_table(rows) + "\n")
            if any(r.get("sweep") for r in rows):  # a v2 study: its frontier verdicts too
                print(summary_markdown(frontier_summary(rows)))
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
    writable_dir(a.out, "--out")
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
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    d = sub.add_parser(
        "demo",
        help="GRPO vs DS-GRPO vs entropy bonus on the nano world (CPU, minutes)",
        description="Train GRPO, DS-GRPO and an entropy bonus on the shipped nano model with the same "
        "seeds and budget, evaluate each against the base model, and write OUT/report.html, "
        "OUT/summary.json and a table. Rerunning skips finished runs and resumes interrupted ones.",
    )
    d.add_argument("--out", default=None, help="output directory (default: runs/demo)")
    d.add_argument(
        "--quick",
        action="store_true",
        help="a tiny budget (3 steps, 6 problems x 8 samples): seconds to minutes; exercises the code, "
        "says nothing about the methods (default: off)",
    )
    d.add_argument("--seeds", type=int, nargs="+", metavar="S", help="training seeds (default: 0 1 2)")
    d.add_argument("--steps", type=int, help="RL steps per run (default: 60; --quick: 3)")
    d.add_argument(
        "--methods", nargs="+", metavar="M", help="methods to train (default: grpo ds entropy_bonus)"
    )
    d.add_argument(
        "--eval-problems", type=int, metavar="P", help="held-out problems (default: 150; --quick: 6)"
    )
    d.add_argument("--eval-n", type=int, metavar="N", help="samples per problem (default: 64; --quick: 8)")
    d.add_argument(
        "--world",
        choices=["countdown4m", "countdown3"],
        help="countdown4m: 4 numbers, many solutions per problem; countdown3: the low-multiplicity "
        "contrast (default: countdown4m)",
    )
    d.add_argument(
        "--jobs",
        type=int,
        metavar="J",
        help="runs trained at once, one process and one torch thread each (default: one per CPU core; "
        "--quick: 1)",
    )
    d.set_defaults(fn=cmd_demo)
    t = sub.add_parser(
        "theory",
        help="numpy-only HTML report of the sharpening and smoothing plots (seconds)",
        description="The closed-form toys of notebooks 01-02 as one offline page, OUT/theory_report.html.",
    )
    t.add_argument("--out", default="runs/theory", help="output directory (default: runs/theory)")
    t.set_defaults(fn=cmd_theory)
    n = sub.add_parser(
        "nano",
        help="pretrain a nano model (minutes on a CPU)",
        description="Pretrain the tiny Llamas that dsnb ships (dsnb/data/nano, --preset wide for "
        "dsnb/data/nano4w), or any shipped one's recipe; seeded, so a rerun rebuilds the same model.",
    )
    n.add_argument("action", choices=["pretrain"], help="what to do (only: pretrain)")
    n.add_argument("--out", default="runs/nano_model", help="model directory (default: runs/nano_model)")
    n.add_argument("--steps", type=int, help="pretraining steps (default: 800)")
    n.add_argument("--seed", type=int, help="random seed (default: 0)")
    n.add_argument("--num-count", type=int, metavar="K", help="numbers per Countdown problem (default: 3)")
    n.add_argument(
        "--mistake-frac",
        type=float,
        metavar="F",
        help="fraction of deliberately wrong pretraining answers (default: 0.2)",
    )
    n.add_argument(
        "--recipe",
        metavar="JSON",
        help="a shipped model's dsnb_nano.json: rebuild that model, flags override (default: none)",
    )
    n.add_argument(
        "--preset",
        choices=["default", "wide", "multi", "smoke"],
        default="default",
        help="default: the 3-number model (dsnb/data/nano); wide: the flagship countdown4m model "
        "(dsnb/data/nano4w: 3x128, pretrained on every identity-free instance of 4 numbers 2..13 with "
        "targets <= 50, held-out ones excluded, no deliberate mistakes, drawn by TinyZero's "
        "random-expression weight, half the style skew (Zipf s = 0.5), 3200 steps); multi: "
        "countdown4m's first model (dsnb/data/nano4m: "
        "the world's own train split, 800 steps); docs/world_search.md says why (default: default)",
    )
    n.add_argument(
        "--smoke", action="store_true", help="a seconds-long smoke model, for tests (default: off)"
    )
    n.set_defaults(fn=cmd_nano)
    r = sub.add_parser(
        "train",
        help="one training run",
        description="One RL run of a preset, with any loss switch overridden; resumable with `dsnb resume`.",
    )
    r.add_argument("--preset", help="smoke, nano (CPU) or colab_t4 (GPU) (default: nano)")
    r.add_argument("--run-dir", metavar="DIR", help="where the run is written (default: runs/nano)")
    again = r.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="if DIR holds a run, continue it; flags may change only its length and live controls "
        "(default: off)",
    )
    again.add_argument(
        "--overwrite", action="store_true", help="if DIR holds a run, delete it and start over (default: off)"
    )
    r.add_argument(
        "--task",
        help="countdown4m, countdown3, countdown4, gsm8k (default: the preset's; nano: countdown4m, "
        "with each Countdown world's own nano model)",
    )
    r.add_argument("--steps", type=int, help="RL steps (default: the preset's; nano: 150)")
    r.add_argument("--seed", type=int, help="training seed (default: 0)")
    r.add_argument(
        "--gamma-p", type=float, help="DS strength on correct completions (default: the preset's; nano: 0)"
    )
    r.add_argument(
        "--gamma-n", type=float, help="DS strength on wrong completions (default: the preset's; nano: 0)"
    )
    r.add_argument("--entropy-coef", type=float, help="> 0 entropy bonus, < 0 penalty (default: 0)")
    r.add_argument("--beta", type=float, help="weight of the KL to the base model (default: 0)")
    r.add_argument(
        "--ds-logp", choices=["sum", "mean"], help="DS's sequence log-prob (default: the preset's; nano: sum)"
    )
    r.add_argument("--ds-where", choices=["advantage", "score"], help="where DS shapes (default: advantage)")
    r.set_defaults(fn=cmd_train)
    s = sub.add_parser(
        "resume",
        help="continue an interrupted run from its newest checkpoint",
        description="Continue a run of `dsnb train` from its newest checkpoint (same steps, same metrics).",
    )
    s.add_argument("run_dir", help="the run's directory (it holds config.json)")
    s.set_defaults(fn=cmd_resume)
    st = sub.add_parser(
        "study",
        help="the grid of settings x seeds, results.jsonl and report.html (hours)",
        description="Every setting of the grid x every seed, evaluated against the base model, with paired "
        "tests; finished cells are never recomputed.",
    )
    st.add_argument("--out", default="runs/study", help="study directory (default: runs/study)")
    st.add_argument("--prompts-per-step", type=int, metavar="B", help="prompts per step (default: 32)")
    st.add_argument(
        "--grid", choices=["default", "quick", "v2"], default="default", help="which grid (default: default)"
    )
    st.add_argument(
        "--task", default="countdown3", help="v2: the world's task, e.g. countdown4m (default: countdown3)"
    )
    st.add_argument("--model", default="nano", help="v2: the world's model, e.g. nano4m (default: nano)")
    st.add_argument(
        "--prefix", default="", help="v2: a prefix for the setting names, for several worlds (default: none)"
    )
    st.add_argument(
        "--precheck-steps", type=int, default=20, help="v2: steps of the stability pre-check (default: 20)"
    )
    st.add_argument(
        "--plan", action="store_true", help="estimate the grid's time from a short probe (default: off)"
    )
    st.add_argument(
        "--completion-len", type=float, help="--plan: expected completion tokens (default: measured)"
    )
    st.add_argument("--processes", type=int, default=1, help="--plan: parallel processes (default: 1)")
    st.add_argument("--seeds", type=int, nargs="+", metavar="S", help="training seeds (default: 0 1 2)")
    st.add_argument("--steps", type=int, help="RL steps per cell (default: 150)")
    st.add_argument("--eval-problems", type=int, metavar="P", help="held-out problems (default: 150)")
    st.add_argument("--eval-n", type=int, metavar="N", help="samples per problem (default: 64)")
    st.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these settings, names from --list (default: all)"
    )
    st.add_argument("--list", action="store_true", help="print the grid's settings and exit (default: off)")
    st.add_argument(
        "--report-only",
        action="store_true",
        help="redraw OUT/report.html from OUT/results.jsonl (default: off)",
    )
    st.add_argument(
        "--markdown",
        action="store_true",
        help="--report-only: also print the results table and the frontier verdicts as Markdown "
        "(default: off)",
    )
    st.add_argument(
        "--merge",
        nargs="+",
        metavar="DIR",
        help="fold the results of other study directories into OUT, then redraw the report (default: none)",
    )
    st.set_defaults(fn=cmd_study)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    from dsnb.rl.errors import RunDirError, TrainingHalted  # torch-free

    try:
        args.fn(args)
    except (ValueError, RunDirError) as err:  # bad input or an unusable run directory: one clear line
        print(f"dsnb: error: {err}", file=sys.stderr)
        return 2
    except TrainingHalted as err:  # the run stopped itself, after saving a checkpoint
        print(f"dsnb: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a file or directory dsnb cannot read or write
        what = f"{err.strerror or err}: {err.filename}" if err.filename else str(err)
        print(f"dsnb: error: {what}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the trainer saved what there was and said where
        print(
            "dsnb: interrupted; what was written is kept (`dsnb resume DIR` continues a run; "
            "rerunning `dsnb demo` or `dsnb study` skips finished work)",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
