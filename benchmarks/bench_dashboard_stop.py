"""How fast does the dashboard's Stop answer? Goal: "stopped" within 2 s of the click, at any moment.

Run: python benchmarks/bench_dashboard_stop.py [--trials 20] [--model nano] [--seed 0] [--single]
Notebook 03's settings (compare mode, the nano preset: 32 prompts x G = 16 per step, a
mini-evaluation of 20 problems x 16 samples), but an evaluation every 3 steps so that many Stops
land in one; --single trains one run (notebook 04's layout) instead of the comparison. Each
trial re-opens the same run directory (as re-running the cell does), waits a random time,
presses Stop and measures the seconds until the thread has ended and the state reads
"stopped". Prints every trial (what the thread was doing when Stop came), then median, 90th
percentile and max, split by phase, and the seconds per step (both runs) of the run itself.
Stop interrupts sampling and scoring at the next forward pass (dsnb.dashboard.stopping); what it
cannot interrupt is a backward pass, and in compare mode the second run's step once the first
run has updated (both runs must stop at the same step): those are the slow cases, up to about
one step. Compare the printed s/step with them.
"""

import argparse
import random
import statistics
import tempfile
import time

import torch

from dsnb.dashboard.run import LiveConfig, LiveRun
from dsnb.rl.policy import PolicyConfig
from dsnb.rl.trainer import TrainConfig


def one_trial(cfg, live, rng) -> dict:
    run = LiveRun(cfg, live)
    run.start()
    while run.step == 0 and run.alive:  # a fresh run: wait for the first step
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 6))
    doing = "evaluating" if "mini-evaluation" in run.activity else "training"
    if doing == "training" and len(run.trainers) > 1:  # which run's step is in progress
        first, second = (tr.step for tr in run.trainers.values())
        doing = "2nd run" if first > second else "1st run"
    t0 = time.perf_counter()
    run.stop()
    while run.alive:
        time.sleep(0.005)
    seconds = time.perf_counter() - t0
    assert run.state == "stopped", run.state
    steps = {n: tr.step for n, tr in run.trainers.items()}
    assert len(set(steps.values())) == 1, f"runs stopped at different steps: {steps}"
    return {"seconds": seconds, "doing": doing, "step": run.step, "s_per_step": run.seconds_per_step()}


def summary(xs) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
    return f"n={len(xs):3d}  median {statistics.median(xs):5.2f} s  p90 {p90:5.2f} s  max {xs[-1]:5.2f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--model", default="nano", help="nano (the shipped model) or a model directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--single", action="store_true", help="one run instead of GRPO beside DS-GRPO")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig.nano(run_dir=f"{tmp}/stop", steps=10_000, policy=PolicyConfig(model=args.model))
        live = LiveConfig(compare=not args.single, eval_every=3, eval_problems=20, eval_n=16)
        results = []
        for i in range(args.trials):
            r = one_trial(cfg, live, rng)
            results.append(r)
            print(f"trial {i:2d}: stop while {r['doing']:10s} at step {r['step']:3d} -> {r['seconds']:.2f} s")
    print("all        ", summary([r["seconds"] for r in results]))
    for doing in ("training", "1st run", "2nd run", "evaluating"):
        xs = [r["seconds"] for r in results if r["doing"] == doing]
        if xs:
            print(f"{doing:11s}", summary(xs))
    print(f"s/step (both runs), last trial: {results[-1]['s_per_step']:.2f}")


if __name__ == "__main__":
    main()
