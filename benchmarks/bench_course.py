"""How long does each part of the course take on this machine? (The numbers in docs/course.md.)

Runs notebooks 01, 02 and 05 top to bottom at their full (non-smoke) size and prints the seconds
of every section ("## ..." heading). For notebooks 03 and 04, whose training runs in the
background while the student watches, it runs the live-dashboard engine headless for a few
steps of the notebook's own preset and extrapolates to the notebook's number of steps.
No assertions: numbers.

    python benchmarks/bench_course.py                      # everything (minutes)
    python benchmarks/bench_course.py --notebooks 01 02    # just these notebooks
    python benchmarks/bench_course.py --notebooks --train-steps 3 --threads 1   # training only

On a machine shared with other jobs, wall time is noise: use --threads 1 and read the CPU time
(with 2 threads on a busy machine torch's threads spin-wait and inflate the CPU time too).
"""

import argparse
import json
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _seconds(cell) -> float:
    t = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in t or "shell.execute_reply" not in t:
        return 0.0
    start, end = (
        datetime.fromisoformat(t[k].replace("Z", "+00:00"))
        for k in ("iopub.execute_input", "shell.execute_reply")
    )
    return (end - start).total_seconds()


def time_notebook(path: Path, workdir: Path) -> list[tuple[str, float]]:
    """[(section heading, seconds)] of one full-size run of the notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "DSNB_SMOKE"}
    client = NotebookClient(
        nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute(env=env)
    sections, current = [], ("(top)", 0.0)
    for cell in nb.cells:
        headings = [line[3:] for line in cell.source.splitlines() if line.startswith("## ")]
        if cell.cell_type == "markdown" and headings:
            sections.append(current)
            current = (headings[-1], 0.0)
        elif cell.cell_type == "code":
            current = (current[0], current[1] + _seconds(cell))
    sections.append(current)
    return [s for s in sections if s[1] > 0 or s[0] != "(top)"]


def _clock():
    """(wall seconds, CPU seconds of this process, all threads). With one torch thread the CPU
    time is the work itself, which a shared machine does not inflate."""
    return time.time(), time.process_time()


def time_training(steps: int, workdir: Path) -> None:
    """Notebook 03's dashboard (GRPO + DS side by side) and notebook 04's CPU fallback."""
    from dsnb.dashboard.run import LiveConfig, LiveRun
    from dsnb.rl.loss import LossConfig
    from dsnb.rl.trainer import TrainConfig

    setups = {  # label: (config keywords, the notebook's steps, compare?, its eval_every)
        "03 (GRPO + DS, 2 runs)": (dict(), 150, True, 25),
        "04 CPU fallback (1 run)": (dict(loss=LossConfig(group_size=16, gamma_p=1.0)), 60, False, 20),
    }
    for label, (kw, full_steps, compare, eval_every) in setups.items():
        cfg = TrainConfig.nano(run_dir=str(workdir / label.split()[0]), steps=steps, **kw)
        w0, c0 = _clock()
        run = LiveRun(cfg, LiveConfig(compare=compare, eval_every=0, eval_problems=20, eval_n=16))
        w1, c1 = _clock()
        run.start()
        run.wait()
        w2, c2 = _clock()
        run._evaluate(base=True)  # what one mini-evaluation costs: the base model + every run
        w3, c3 = _clock()
        n_runs = len(run.trainers)
        per = {  # (wall, CPU) seconds
            "load": (w1 - w0, c1 - c0),
            "step": ((w2 - w1) / (steps * n_runs), (c2 - c1) / (steps * n_runs)),
            "eval": ((w3 - w2) / (1 + n_runs), (c3 - c2) / (1 + n_runs)),  # one policy, 20 x 16 samples
        }
        evals = 1 + n_runs * (full_steps // eval_every)  # base once; each run every eval_every steps
        total = [
            per["load"][i] + per["step"][i] * full_steps * n_runs + per["eval"][i] * evals for i in (0, 1)
        ]
        print(
            f"notebook {label}: per step per run {per['step'][0]:.1f} s wall / {per['step'][1]:.1f} s CPU; "
            f"per policy evaluated {per['eval'][0]:.1f} s wall / {per['eval'][1]:.1f} s CPU"
        )
        print(
            f"   {full_steps} steps x {n_runs} run(s) + {evals} evaluations: "
            f"{total[0] / 60:.1f} min wall here; "
            f"{total[1] / 60:.1f} CPU-minutes (with 1 thread: about that many minutes on an idle core)"
        )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--notebooks", nargs="*", default=["01", "02", "05"], help="which notebooks to run in full"
    )
    ap.add_argument("--train-steps", type=int, default=6, help="steps to time for 03/04 (0: skip)")
    ap.add_argument(
        "--threads", type=int, help="torch threads for the training estimate (1 on a busy machine)"
    )
    a = ap.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)  # one thread never spin-waits: its CPU time is its work

    print(f"torch threads: {torch.get_num_threads()}, CPUs: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}")
    workdir = Path(tempfile.mkdtemp())
    for prefix in a.notebooks:
        path = next((ROOT / "notebooks").glob(f"{prefix}_*.ipynb"))
        t0 = time.time()
        sections = time_notebook(path, workdir)
        print(f"\n{path.name}: {time.time() - t0:.0f} s in all (kernel start included)")
        for heading, seconds in sections:
            print(f"  {seconds:7.1f} s  {heading}")
    if a.train_steps:
        print()
        time_training(a.train_steps, workdir)
    print(json.dumps({"workdir": str(workdir)}))


if __name__ == "__main__":
    main()
