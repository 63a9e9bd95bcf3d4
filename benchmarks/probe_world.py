"""Pretrain a candidate nano model for a Countdown world and measure it against the world bar.

The bar (issue "a nano world where sharpening is visible"): on >= 150 held-out problems x 64
samples (temperature 1, seed 1234) pass@1 in 0.20-0.50, >= half the problems with >= 3 solver
solutions and on those >= 2.5 distinct correct samples, and a skewed preference (the favourite
correct solution >= 50% of the correct samples on multi-solution problems). Prints one JSON row
and appends it to OUT/probe.jsonl. Numbers, no assertions; CPU seconds are counted on 1 thread.

    python benchmarks/probe_world.py A2 '{"scratchpad": false, "steps": 800}' --out runs/probe
    python benchmarks/probe_world.py shipped '{}' --model dsnb/data/nano4m   # evaluate only
"""

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("overrides", help="NanoConfig.multi() overrides as JSON")
    ap.add_argument("--out", default="runs/probe")
    ap.add_argument("--model", help="evaluate this model directory instead of pretraining one")
    ap.add_argument("--problems", type=int, default=150)
    ap.add_argument("--n", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(1)
    from dsnb.nano import NanoConfig, pretrain
    from dsnb.rl.evaluate import sample_and_grade
    from dsnb.rl.policy import Policy, PolicyConfig
    from dsnb.tasks.registry import get_task

    over = json.loads(a.overrides)
    cfg = NanoConfig.multi(**over)
    model = Path(a.model) if a.model else Path(a.out) / a.name
    cpu0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    if not a.model:
        pretrain(cfg, model, progress=False)
    cpu_pre = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu0
    task = get_task(cfg.world)
    t0 = time.time()
    res = sample_and_grade(
        Policy(PolicyConfig(model=str(model))), task, task.load("eval", a.problems), a.n, 1.0, 64, 1234
    )
    s = res.summary()
    m, d, top = np.array(res.multiplicity), np.array(res.distinct), np.array(res.top_share, dtype=float)
    multi = (m >= 2) & ~np.isnan(top)
    row = {
        "name": a.name,
        "over": over,
        "pretrain_cpu_s": round(cpu_pre, 1),
        "pass@1": s["pass@1"],
        "pass@8": s["pass@k"][7],
        f"pass@{a.n}": s["pass@k"][-1],
        "frac_ge3": float((m >= 3).mean()),
        "distinct_on_ge3": float(d[m >= 3].mean()),
        "top_share_multi": float(top[multi].mean()),
        "coverage": s["coverage"],
        "by_bucket": {
            k: {kk: round(v[kk], 3) for kk in ("pass@1", "distinct_correct", "top_share")}
            for k, v in s["by_multiplicity"].items()
        },
        "eval_wall_s": round(time.time() - t0, 1),
    }
    print(json.dumps(row))
    Path(a.out).mkdir(parents=True, exist_ok=True)
    with open(Path(a.out) / "probe.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
