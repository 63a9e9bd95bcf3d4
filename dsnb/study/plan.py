"""Plan the compute before running: ``dsnb study --grid v2 --plan`` prints the grid's estimated time,
cells x seconds per cell, from a probe measured on this machine, now.

The probe trains a GRPO cell of the grid's world for a few steps at the study's batch (B prompts x
G completions) and evaluates a few problems with the study's n samples: seconds per step and per
evaluation sample. On a shared machine the wall clock says more about the neighbours than about
the work, so the probe runs on ONE torch thread and counts the CPU seconds of the process: core
seconds, what the work costs on an idle core (the wall clock seen now is printed too). A study
then takes core-seconds / P hours in P single-thread processes (``OMP_NUM_THREADS=1``, ``--only``
per process, then ``--merge``). Everything else is arithmetic (:func:`plan`): cells x (steps x s/step +
(eval + val problems) x n x s/sample), plus the pre-check's short runs and the base model's
evaluation, scaled by the completion length when the new world's answers are longer than the
probe's (sampling cost grows about linearly with the tokens generated). Used by ``dsnb.cli``.
"""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from dsnb.study.grid import EXTRA_SEEDS, Setting, StudyConfig
from dsnb.study.select import FIVE_SEED_FAMILIES


@dataclass
class Probe:
    task: str
    """The world the probe ran in (the grid's own, or the shipped nano world when that is missing)."""
    model: str
    s_per_step: float
    """Core seconds (one thread's CPU time) per training step at the study's B x G, after a warm-up."""
    s_per_sample: float
    """Core seconds per evaluation sample (one completion of one problem)."""
    completion_len: float
    """Mean completion length (tokens) the probe saw."""
    note: str = ""
    wall_per_step: float | None = None
    """The wall-clock seconds per step seen during the probe (the machine's load included)."""
    wall_per_sample: float | None = None
    threads: int = 1
    """torch threads of the probe (one: CPU time is then core time, with no spin-waiting threads)."""


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(setting: Setting, cfg: StudyConfig, steps: int = 3, eval_problems: int = 8) -> Probe:
    """Time `steps` training steps and an evaluation of `eval_problems` problems x cfg.eval_n in
    `setting`'s world (a throw-away run directory). Needs its model on disk."""
    import torch

    from dsnb.rl.trainer import Trainer
    from dsnb.study.cell import evaluate_cell, train_config

    probe_cfg = StudyConfig(**{**asdict(cfg), "steps": steps + 1})
    before, threads = torch.get_num_threads(), 1
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(train_config(setting, 0, probe_cfg, Path(tmp)), progress=False)
        rows = [trainer.train_step()]  # warm-up: lazy initialisation, first allocations
        c0, t0 = _cpu(), time.time()
        rows += [trainer.train_step() for _ in range(steps)]
        cpu_step, wall_step = (_cpu() - c0) / steps, (time.time() - t0) / steps
        problems = trainer.task.load("eval", eval_problems, 0, trainer.template)
        c0, t0 = _cpu(), time.time()
        evaluate_cell(trainer, problems, cfg)
        k = eval_problems * cfg.eval_n
        cpu_sample, wall_sample = (_cpu() - c0) / k, (time.time() - t0) / k
    torch.set_num_threads(before)
    length = sum(r["completion/len_mean"] for r in rows) / len(rows)
    return Probe(
        setting.task,
        setting.model,
        cpu_step / threads,
        cpu_sample / threads,
        length,
        wall_per_step=wall_step,
        wall_per_sample=wall_sample,
        threads=threads,
    )


def probe_world(grid: list[Setting], cfg: StudyConfig, steps: int = 3, eval_problems: int = 8) -> Probe:
    """:func:`measure` on the grid's reference setting, or on the shipped nano world (countdown3)
    when the grid's model is not on disk yet (then say so: the plan is scaled, not measured)."""
    from dsnb.study.cell import missing_model

    ref = next((s for s in grid if s.baseline is None), grid[0])
    if missing_model(ref) is None:
        return measure(ref, cfg, steps, eval_problems)
    stand_in = Setting("probe", {}, {}, "countdown3", "nano", None)
    p = measure(stand_in, cfg, steps, eval_problems)
    p.note = f"{ref.model} is not on disk ({missing_model(ref)}): measured on countdown3/nano instead"
    return p


def plan(
    grid: list[Setting],
    cfg: StudyConfig,
    probe: Probe,
    extra_seeds=EXTRA_SEEDS,
    precheck_steps: int = 20,
    completion_len: float | None = None,
) -> dict:
    """The estimate, in seconds, from a probe (pure arithmetic).

    >>> g = [Setting("grpo", baseline=None), Setting("ds_1", {"gamma_p": 1.0}, sweep="ds")]
    >>> cfg = StudyConfig(seeds=[0, 1, 2], steps=100, eval_problems=150, val_problems=50, eval_n=64)
    >>> p = plan(g, cfg, Probe("countdown3", "nano", 1.0, 0.001, 10.0))
    >>> p["cells"], p["cell_s"], p["total_s"]   # 100 s train + 200 x 64 x 1 ms eval; +pre-check, base
    (10, 112.8, 1177.6)
    """
    scale = (completion_len / probe.completion_len) if completion_len else 1.0
    step_s, sample_s = probe.s_per_step * scale, probe.s_per_sample * scale
    worlds = {(s.task, s.model) for s in grid}
    # GRPO, the best of GRPO + KL, DS, entropy bonus, and the best rival, in every world
    five = min((len(FIVE_SEED_FAMILIES) + 1) * len(worlds), len(grid))
    cells = len(grid) * len(cfg.seeds) + five * len(extra_seeds)
    cell_s = cfg.steps * step_s + (cfg.eval_problems + cfg.val_problems) * cfg.eval_n * sample_s
    precheck_s = len(grid) * precheck_steps * step_s if precheck_steps else 0.0
    base_s = len(worlds) * cfg.eval_problems * cfg.eval_n * sample_s
    return {
        "probe": asdict(probe),
        "scale": scale,
        "settings": len(grid),
        "cells": cells,
        "cells_detail": f"{len(grid)} settings x {len(cfg.seeds)} seeds"
        f" + {five} best x {len(extra_seeds)} seeds",
        "cell_s": round(cell_s, 1),
        "precheck_s": round(precheck_s, 1),
        "base_s": round(base_s, 1),
        "total_s": round(cells * cell_s + precheck_s + base_s, 1),
    }


def plan_lines(p: dict, processes: int = 1) -> list[str]:
    """The plan in words: what was measured, what is assumed, the total (in one process and in
    `processes` parallel ones, when the cores allow)."""
    pr = p["probe"]
    h = p["total_s"] / 3600
    lines = [
        f"probe ({pr['task']}/{pr['model']}, one torch thread): {pr['s_per_step']:.2f} core-s per training "
        f"step, {1000 * pr['s_per_sample']:.2f} core-ms per evaluation sample, "
        f"completions of {pr['completion_len']:.1f} tokens",
    ]
    if pr.get("wall_per_step"):
        slow = pr["wall_per_step"] / max(pr["s_per_step"], 1e-9)
        lines.append(
            f"  the wall clock during the probe: {pr['wall_per_step']:.2f} s per step "
            f"({slow:.1f}x the core time: the machine's load now)"
        )
    if pr.get("note"):
        lines.append(f"  note: {pr['note']}")
    if p["scale"] != 1.0:
        lines.append(f"  scaled x {p['scale']:.2f} for the completion length asked for")
    lines += [
        f"cells: {p['cells']} ({p['cells_detail']}), {p['cell_s'] / 60:.1f} min each",
        f"pre-check: {p['precheck_s'] / 60:.1f} min; base model evaluation: {p['base_s'] / 60:.1f} min",
        f"estimated total: {h:.1f} core-hours = {h:.1f} h in one single-thread process on an idle core"
        + (
            f", {h / processes:.1f} h in {processes} parallel ones (OMP_NUM_THREADS=1, --only, then --merge)"
            if processes > 1
            else ""
        ),
        "  (an estimate: +-30%; entropy-bonus cells are a little slower; a loaded machine is slower by the"
        " factor above)",
    ]
    return lines
