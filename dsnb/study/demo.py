"""``dsnb demo``: GRPO vs DS-GRPO vs an entropy bonus on the nano world, honestly compared.

Same seeds, same budget, same held-out problems and sampling seed for every method; the base
model (adapter disabled) is evaluated on the same problems. Writes OUT/summary.json,
OUT/report.html (self-contained) and prints a table. Each training run is resumable: rerunning
the demo skips finished runs and resumes interrupted ones.
"""

from __future__ import annotations

import html
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm.auto import tqdm

from dsnb.data import WORLD_MODELS
from dsnb.report.figures import passk_figure, training_curves
from dsnb.report.labels import BASE_LABEL, method_label
from dsnb.report.noise import seed_words
from dsnb.report.page import page
from dsnb.report.palette import family, styles
from dsnb.rl.trainer import TrainConfig, Trainer, load_metrics
from dsnb.study.cell import eval_fields, eval_set_id, evaluate_cell, model_fingerprint
from dsnb.study.cell import train_config as cell_train_config
from dsnb.study.grid import Setting, StudyConfig
from dsnb.study.report import bucket_html, setting_vs, verdict_table
from dsnb.study.stats import bootstrap_passk, by_bucket, compared_metrics, mean_ci
from dsnb.tasks.registry import get_task

# The demo's DS and entropy-bonus settings are the second-edition study's choices on its
# validation split (80 countdown4m problems disjoint from the 150 reported ones; the mean of
# pass@k over k = 1..64; dsnb/data/results/study_v2_countdown4m/selection.json): asymmetric DS
# (gamma_p = 3, gamma_n = 0, summed log-prob) and the entropy bonus 0.1 (0.3 collapsed in 2 of 3
# runs). The published symmetric settings are in the study. The entropy bonus is the
# token-entropy term (loss -= coef * mean entropy).
DEMO_METHODS = {
    "grpo": dict(),
    "ds": dict(gamma_p=3.0, gamma_n=0.0, ds_logp="sum"),
    "entropy_bonus": dict(entropy_coef=0.1),
}


@dataclass
class DemoConfig:
    out: str = "runs/demo"
    """Output directory (runs, summary.json, report.html)."""
    methods: list[str] = field(default_factory=lambda: list(DEMO_METHODS))
    """Which methods to train (keys of DEMO_METHODS)."""
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    """Training seeds (LoRA init, prompt order, sampling): 3 give the study's intervals over seeds
    (with 2, the interval is 12.7 standard errors wide and almost nothing clears it)."""
    steps: int = 60
    """RL steps per run. 60 is enough on countdown4m's model nano4w for GRPO's sharpening to clear
    the paired test at 3 seeds (pass@64 and distinct correct solutions down, pass@1 up) and keeps
    the demo under 6 minutes on 2 cores; the second-edition study ran 100 on the world's first
    model (nano4m)."""
    prompts_per_step: int = 16
    """Prompts per step."""
    group_size: int = 16
    """G completions per prompt."""
    eval_problems: int = 150
    """Held-out problems for the final evaluation."""
    eval_n: int = 64
    """Samples per held-out problem (pass@k for k = 1..eval_n)."""
    task: str = "countdown4m"
    """The nano world's task: "countdown4m" (the flagship: many solutions per problem) or
    "countdown3" (the low-multiplicity contrast: one solution for most problems)."""
    model: str | None = None
    """The nano model; None: the world's own (:data:`WORLD_MODELS`)."""
    jobs: int | None = None
    """Runs trained at once, each in its own process with one torch thread; None: one per CPU core,
    at most one per run, and 1 (in this process) for a budget under 10 steps, where starting a
    process would cost more than it saves. A nano model is too small for a second thread to pay:
    on 2 cores one thread per run, two runs at once, does ~1.7x the steps per second of one run
    with two threads (benchmarks/bench_demo.py)."""

    def __post_init__(self):
        if self.model is None:
            if self.task not in WORLD_MODELS:
                raise ValueError(f"task {self.task!r}: give model= too (the worlds: {sorted(WORLD_MODELS)})")
            self.model = WORLD_MODELS[self.task]
        unknown = set(self.methods) - set(DEMO_METHODS)
        if unknown:
            raise ValueError(f"unknown demo methods {sorted(unknown)}; choose from {list(DEMO_METHODS)}")
        if not self.seeds:
            raise ValueError("give at least one seed")
        if self.eval_n < 1 or self.eval_problems < 1:
            raise ValueError("eval_n and eval_problems must be >= 1")
        if self.jobs is not None and self.jobs < 1:
            raise ValueError(f"jobs={self.jobs}: use 1 or more (or None: one per CPU core)")

    def workers(self) -> int:
        """How many runs train at once (see ``jobs``)."""
        runs = len(self.methods) * len(self.seeds)
        if self.jobs is not None:
            return max(1, min(self.jobs, runs))
        return 1 if self.steps < 10 else max(1, min(os.cpu_count() or 1, runs))

    @classmethod
    def quick(cls, **kw) -> DemoConfig:
        """Seconds: exercises every code path (for tests), says nothing about the methods."""
        return cls(**{**dict(steps=3, prompts_per_step=4, group_size=4, eval_problems=6, eval_n=8), **kw})


def budget(cfg: DemoConfig) -> StudyConfig:
    """The demo's budget as the study states it (training and evaluation): a demo run is a study
    cell, trained by ``dsnb.study.cell.train_config`` and evaluated by ``evaluate_cell``."""
    return StudyConfig(
        seeds=cfg.seeds,
        steps=cfg.steps,
        prompts_per_step=cfg.prompts_per_step,
        group_size=cfg.group_size,
        eval_problems=cfg.eval_problems,
        eval_n=cfg.eval_n,
    )


def train_config(cfg: DemoConfig, method: str, seed: int) -> TrainConfig:
    """A demo run is a study cell (the nano preset, the budget, the method's loss), checkpointed
    every third of its steps; a budget under 10 steps trains on 64 problems."""
    setting = Setting(method, DEMO_METHODS[method], {}, cfg.task, cfg.model)
    tcfg = replace(
        cell_train_config(setting, seed, budget(cfg), Path(cfg.out)), checkpoint_every=max(1, cfg.steps // 3)
    )
    return replace(tcfg, n_train_problems=64) if cfg.steps < 10 else tcfg


def run_one(cfg: DemoConfig, method: str, seed: int, problems, base_needed: bool, progress: bool = True):
    """Train (or resume, or reuse) one run, then evaluate it (and the base model once) with the
    study's evaluation settings."""
    tcfg = train_config(cfg, method, seed)
    trainer = Trainer(tcfg, progress=progress, resume=True)  # continues an interrupted run
    if trainer.step < tcfg.steps:
        trainer.train()
    return evaluate_cell(trainer, problems, budget(cfg), base=base_needed)


def run_demo(cfg: DemoConfig) -> dict:
    """Train every method x seed, evaluate, write summary.json and report.html. Returns the summary."""
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    problems = get_task(cfg.task).load("eval", cfg.eval_problems, seed=0)
    cells = [(m, s) for s in cfg.seeds for m in cfg.methods]
    if cfg.workers() > 1:
        per_run, base = run_parallel(cfg, cells)
    else:
        per_run, base = {}, None
        for method, seed in cells:
            rows = cell_rows(cfg, method, seed, problems, base_needed=base is None)
            base = base or rows["base"]
            per_run[(method, seed)] = rows["policy"]
    summary = summarize(cfg, per_run, base)
    summary["model_sha"] = model_fingerprint(cfg.model)  # which nano model made these numbers
    summary["seconds"] = time.time() - t0
    curves = {m: [load_metrics(Path(cfg.out) / "runs" / f"{m}_s{s}") for s in cfg.seeds] for m in cfg.methods}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    write_demo_report(out / "report.html", summary, curves)
    print(table(summary))
    return summary


def cell_rows(cfg: DemoConfig, method, seed, problems, base_needed: bool, progress: bool = True):
    """One run trained and evaluated: {"policy": its eval row, "base": the base's row or None}."""
    res = run_one(cfg, method, seed, problems, base_needed, progress)
    base = eval_row(res["base"], res["raw"]["base"], cfg.eval_n, None, problems) if base_needed else None
    return {"policy": eval_row(res["policy"], res["raw"]["policy"], cfg.eval_n, seed, problems), "base": base}


def _worker(cfg: DemoConfig, method: str, seed: int, base_needed: bool) -> dict:
    """A worker process's job: one thread (a nano model gains nothing from a second), one run."""
    import torch

    torch.set_num_threads(1)
    problems = get_task(cfg.task).load("eval", cfg.eval_problems, seed=0)
    return cell_rows(cfg, method, seed, problems, base_needed, progress=False)


def run_parallel(cfg: DemoConfig, cells: list) -> tuple[dict, dict]:
    """Every run in :meth:`DemoConfig.workers` processes (spawned: safe in a notebook too), one
    progress bar over the runs. A failed run stops the others and re-raises; every run is
    resumable, so rerunning the demo continues where it stopped."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    per_run, base = {}, None
    with ProcessPoolExecutor(cfg.workers(), mp_context=get_context("spawn")) as pool:
        futures = {
            pool.submit(_worker, cfg, m, s, i == 0): (m, s) for i, (m, s) in enumerate(cells)
        }  # the first run also evaluates the base model
        try:
            bar = tqdm(as_completed(futures), total=len(cells), desc=f"demo: runs ({cfg.workers()} at once)")
            for fut in bar:
                rows = fut.result()
                per_run[futures[fut]] = rows["policy"]
                base = base or rows["base"]
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return per_run, base


def eval_row(summary: dict, raw, n: int, seed, problems) -> dict:
    """One evaluation as the study keeps it (its summary and the per-problem counts, so that the
    page can run the study's paired test), plus what the demo's table reads."""
    row = {**summary, **eval_fields(summary, raw, n), "seed": seed, "eval_n": n}
    row["eval_set"] = eval_set_id(problems)
    return row


def summarize(cfg: DemoConfig, per_run: dict, base: dict) -> dict:
    """Mean and 95% interval over seeds per method; the base model; the eval-set noise."""
    keys = compared_metrics(cfg.eval_n)
    methods = {}
    for m in cfg.methods:
        runs = [per_run[(m, s)] for s in cfg.seeds]
        stats = {k: mean_ci([r[k] for r in runs]) for k in keys}
        methods[m] = {
            **{k: v[0] for k, v in stats.items()},
            "ci95": {k: v[1] for k, v in stats.items()},
            "pass@k": [sum(col) / len(col) for col in zip(*[r["pass@k"] for r in runs])],
            "per_seed": runs,
            "settings": DEMO_METHODS[m],
            "label": method_label(DEMO_METHODS[m]),
        }
    return {
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "seeds": cfg.seeds,
        "base": base,
        "methods": methods,
        "eval_noise_95": {
            str(k): v
            for k, v in bootstrap_passk(
                cfg.eval_n, base["c"], sorted({1, min(8, cfg.eval_n), cfg.eval_n})
            ).items()
        },
    }


def columns(summary: dict) -> list[str]:
    """The table's metrics: pass@1, pass@8 (when 8 < n), pass@n, distinct correct, coverage."""
    return compared_metrics(summary["config"]["eval_n"])


def table(summary: dict) -> str:
    """A plain-text table of the summary (what the terminal shows), then the finding."""
    cols = columns(summary)
    width = 26 if len(summary["seeds"]) == 2 else 18
    lines = [
        f"{'method':<15}" + "".join(f"{c:>{width}}" for c in cols),
        f"{'base':<15}" + "".join(f"{summary['base'][c]:>{width}.3f}" for c in cols),
    ]
    for m, s in summary["methods"].items():
        lines.append(f"{m:<15}" + "".join(f"{spread(summary, s, c):>{width}}" for c in cols))
    lines.append(
        f"seeds: {summary['seeds']} (1 seed: the value; 2: mean (each seed); 3+: mean ± 95% interval). "
        f"Eval-set noise on base pass@1 (95% bootstrap over problems): "
        f"{fmt(summary['eval_noise_95'].get('1'))}"
    )
    lines.append("methods: " + "; ".join(f"{m} = {s['label']}" for m, s in summary["methods"].items()))
    lines += findings(summary)
    return "\n".join(lines)


def spread(summary: dict, s: dict, col: str) -> str:
    """A method's value: the mean alone (1 seed), with each seed's value (2 seeds: a t-interval
    from 2 values is 12.7 standard errors wide, useless), or ± the 95% interval (3+ seeds)."""
    n = len(summary["seeds"])
    if n == 1:
        return f"{s[col]:.3f}"
    if n == 2:
        return f"{s[col]:.3f} ({', '.join(f'{r[col]:.3f}' for r in s['per_seed'])})"
    return f"{s[col]:.3f} ± {s['ci95'][col]:.3f}"


# ----------------------------------------------------------------------------- the finding
def demo_world(summary: dict) -> dict | None:
    """The demo's results as a study world (``dsnb.study.stats.worlds``), so that the page
    states its finding with the study's paired test. None for a summary without per-problem
    counts (made before dsnb recorded them)."""
    ms = summary["methods"]
    if "c" not in summary["base"] or any("c" not in r for s in ms.values() for r in s["per_seed"]):
        return None
    ref = "grpo" if "grpo" in ms else None
    return {
        "base": {**summary["base"], "kind": "base", "seed": None},
        "settings": {
            m: [{**DEFAULT_LOSS, **s["settings"], **r} for r in s["per_seed"]] for m, s in ms.items()
        },
        "baseline": {m: (None if m == ref or ref is None else ref) for m in ms},
        "note": {},
        "n": summary["config"]["eval_n"],
    }


DEFAULT_LOSS = {"gamma_p": 0.0, "gamma_n": 0.0, "entropy_coef": 0.0, "beta": 0.0}


def labels_of(summary: dict) -> dict[str, str]:
    return {"base": BASE_LABEL, **{m: method_label(s["settings"]) for m, s in summary["methods"].items()}}


def findings(summary: dict) -> list[str]:
    """The page's conclusion, one sentence per comparison, with the study's noise rule (paired
    test on the same problems, the wider of the over-problems and over-seeds 95% intervals): DS
    against GRPO first (the take-home), then GRPO against the base model, then the others."""
    world = demo_world(summary)
    if world is None:
        return ["(this summary has no per-problem counts: rerun `dsnb demo` for the paired test)"]
    labels = labels_of(summary)
    first = lambda pair: pair[0] != "ds"  # noqa: E731 (DS's comparison leads)
    vs_ref = sorted(((m, r) for m, r in world["baseline"].items() if r is not None), key=first)
    vs_base = sorted(((m, "base") for m, r in world["baseline"].items() if r is None), key=first)
    pairs = vs_ref[:1] + vs_base + vs_ref[1:]
    return [setting_vs(world, m, r, labels) for m, r in pairs]


# ----------------------------------------------------------------------------- the page
def summary_table(summary: dict) -> str:
    """Methods by their full names (the variant spelled out), numbers on one line each."""
    cols = columns(summary)
    words = {"distinct_correct": "distinct correct"}
    head = "".join(f"<th>{words.get(c, c)}</th>" for c in cols)
    base = summary["base"]
    rows = [
        f"<tr><td>{BASE_LABEL}<br><small>base</small></td>"
        + "".join(f"<td class='num'>{base[c]:.3f}</td>" for c in cols)
        + "</tr>"
    ]
    two = len(summary["seeds"]) == 2
    for m, s in summary["methods"].items():
        cells = ""
        for c in cols:
            if two:
                each = ", ".join(f"{r[c]:.3f}" for r in s["per_seed"])
                cells += f"<td class='num'>{s[c]:.3f} <small>({each})</small></td>"
            else:
                cells += f"<td class='num'>{spread(summary, s, c)}</td>"
        label = html.escape(method_label(s["settings"]))
        rows.append(f"<tr><td>{label}<br><small>{html.escape(m)}</small></td>{cells}</tr>")
    return f"<table><tr><th>method</th>{head}</tr>{''.join(rows)}</table>"


def bucket_rows(summary: dict, metrics=("pass@1", "pass@8", "distinct_correct", "coverage")) -> list[dict]:
    """:func:`dsnb.study.stats.by_bucket` of a demo summary: each method against the base model
    per multiplicity bucket (1, 2-3, 4+ solutions)."""
    n = summary["config"]["eval_n"]
    metrics = [m if m != "pass@8" or n > 8 else f"pass@{n}" for m in metrics]
    runs = {m: s["per_seed"] for m, s in summary["methods"].items()}
    return by_bucket(summary["base"], runs, metrics)


def bucket_table(summary: dict) -> str:
    """The per-bucket table of the demo page (:func:`dsnb.study.report.bucket_html`)."""
    return bucket_html(bucket_rows(summary), list(summary["methods"]))


def write_demo_report(path, summary: dict, curves: dict[str, list[list[dict]]]) -> Path:
    """The demo page: the finding, pass@k vs base, the table, paired differences, training curves."""
    cfg = summary["config"]
    seeds = summary["seeds"]
    noise = summary["eval_noise_95"]
    labels = labels_of(summary)
    st = styles({"base": "base", **{m: family(s["settings"]) for m, s in summary["methods"].items()}})
    pk = {"base": summary["base"]["pass@k"], **{m: s["pass@k"] for m, s in summary["methods"].items()}}
    bands = {}
    for m, s in summary["methods"].items():
        if len(s["per_seed"]) > 1:
            cols = list(zip(*[r["pass@k"] for r in s["per_seed"]]))
            bands[m] = ([min(c) for c in cols], [max(c) for c in cols])
    found = findings(summary)
    world = demo_world(summary)
    n_seeds = seed_words(len(seeds))
    k8 = "8" if "8" in noise else str(cfg["eval_n"])
    blocks = [
        "<div class='finding'><b>Finding</b> (paired test on the same problems, " + n_seeds + "). "
        f"<b>{html.escape(found[0])}</b>"
        + "".join(f"<div>{html.escape(x)}</div>" for x in found[1:])
        + (
            f"<div><small>With {n_seeds} only a very large difference can clear the noise: "
            "<code>dsnb demo --seeds 0 1 2</code> or the study (3-5 seeds, "
            "dsnb/data/results/study_v2_countdown4m) tell more.</small></div>"
            if len(seeds) < 3
            else ""
        )
        + "</div>",
        f"<p>The nano world: a {cfg['task']} model pretrained by dsnb, LoRA-trained with each method for "
        f"{cfg['steps']} steps ({cfg['prompts_per_step']} prompts x G = {cfg['group_size']}), then evaluated "
        f"on {cfg['eval_problems']} held-out problems with n = {cfg['eval_n']} samples each. The base model "
        "is the same network with the adapter off.</p>",
        f"<p class='note'><b>Seeds and noise.</b> {len(seeds)} training seed(s): {seeds}. With 3 or more "
        "seeds the table shows the mean ± a 95% interval over seeds; with 2 it shows the mean and each "
        "seed's value in brackets; with 1 the value alone. A difference counts only when the paired 95% "
        "intervals over problems and over seeds both exclude zero (the study's rule); with 2 seeds the "
        "over-seeds interval is 12.7 standard errors wide, so almost nothing can be claimed: "
        "<code>dsnb study</code> runs a grid of settings with 3-5 seeds "
        "(dsnb/data/results/study_v2_countdown4m, made on the world's first model). The "
        f"evaluation set itself is noisy too: the base model's pass@1 has a 95% bootstrap interval of "
        f"{fmt(noise.get('1'))} and its pass@{k8} of {fmt(noise.get(k8))} over problems.</p>",
        "<h2>pass@k on held-out problems</h2><p>Sharpening shows as a trained curve above the base "
        "at k = 1 that meets or falls below it at large k (the crossover).</p>",
        passk_figure(
            pk,
            bands=bands,
            title=f"pass@k on {cfg['eval_problems']} held-out problems<br><sup>mean over {n_seeds}"
            + ("; band: range over the seeds" if bands else "")
            + "</sup>",
            labels=labels,
            styles=st,
            band_label=f"band: range over {n_seeds}",
        ),
        "<h2>Summary</h2>",
        summary_table(summary),
        "<h3>By multiplicity: how many solutions a problem has</h3><p>The same numbers on the "
        "problems with 1, 2-3 and 4+ distinct solutions (by the exact solver). Sharpening inside "
        "the correct set can only show where there is more than one solution. In brackets: the "
        "paired change from the base model on those problems (↑/↓ only when both 95% intervals, "
        "over problems and over seeds, exclude zero).</p>",
        bucket_table(summary),
    ]
    if world is not None:
        blocks += [
            "<h3>Paired differences</h3><p>Each method minus its reference on the same problems "
            "(± the wider 95% half-width; ↑/↓ only when both intervals exclude zero).</p>",
            verdict_table(world),
        ]
    blocks += [
        "<h2>During training</h2><p>Measured on each step's training prompts (G samples each).</p>",
        training_curves(curves, labels=labels, styles=st, title="Correctness and diversity while training"),
        training_curves(
            curves,
            keys=("entropy/token_mean", "reward/frac_zero_std"),
            labels=labels,
            styles=st,
            title="Token entropy and groups without a learning signal",
        ),
        f"<p><small>Produced by dsnb demo in {summary.get('seconds', 0):.0f} s.</small></p>",
    ]
    path = Path(path)
    path.write_text(page("dsnb demo: sharpening and differential smoothing in the nano world", blocks))
    return path


def fmt(interval) -> str:
    return "n/a" if not interval else f"[{interval[0]:.3f}, {interval[1]:.3f}]"
