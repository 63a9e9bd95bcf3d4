"""``dsnb study``: when does DS-GRPO beat GRPO and the entropy heuristics? Measured, not claimed.

A declared grid of named settings x seeds. Every cell trains on the nano world with the same
budget, then is evaluated on the same held-out problems with the same sampling seed; the base
model (adapter off) is evaluated once per world. Everything lands in one tidy file:

    OUT/results.jsonl   one row per setting x seed ("kind": "run") + one per world ("kind": "base"):
                        setting, seed, task, every LossConfig field, pass@k (k = 1..n), pass@1/8/n,
                        distinct_correct, coverage, per-problem counts c / distinct / coverage
                        (for paired comparisons) and the training curve
    OUT/report.html     intervals over seeds, pass@k curves with the base model, paired
                        comparisons against GRPO and plain verdicts (``dsnb.study_report``)
    OUT/grid.json       the declared settings and the ones skipped (and why)
    OUT/runs/NAME_sSEED the run directories (resumable)

Resumable: a cell whose row is in results.jsonl is never recomputed; an interrupted cell resumes
from its newest checkpoint. Statistics live in ``dsnb.study_stats``. Used by ``dsnb study``, the
README's results table and notebook 05 (which redraws everything from results.jsonl).
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from dsnb.grpo import LossConfig
from dsnb.study_cell import BUDGET, loss_config, missing_model, model_fingerprint, run_cell
from dsnb.study_stats import load_results, results_table  # noqa: F401 (public API)


@dataclass(frozen=True)
class Setting:
    name: str
    """Unique name; also the run directory's prefix (OUT/runs/<name>_s<seed>)."""
    loss: dict = field(default_factory=dict)
    """LossConfig overrides (group_size is the study's budget, not the setting's)."""
    train: dict = field(default_factory=dict)
    """TrainConfig overrides (lr, temperature, ...), never the budget, the task or the seed."""
    task: str = "countdown3"
    """The world: "countdown3" (few solutions per instance) or "countdown4" (many)."""
    model: str = "nano"
    """"nano" (data/nano), "nano4" (data/nano4, 4-number Countdown) or a local model directory."""
    baseline: str | None = "grpo"
    """The setting this one is compared against (same world); None marks the reference itself."""
    note: str = ""
    """One line for the report: what this setting tests."""

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", self.name):
            raise ValueError(f"setting name {self.name!r}: use letters, digits, _ . - (it names a directory)")
        if "group_size" in self.loss:
            raise ValueError("group_size is part of the study's budget (the same for every setting); "
                             "set it on run_study, not in a setting")
        LossConfig(**{"group_size": 2, **self.loss})     # fails early, with LossConfig's message
        from dsnb.trainer import TrainConfig
        allowed = {f.name for f in fields(TrainConfig)} - {"run_dir", "task", "seed", "steps",
                                                           "prompts_per_step", "loss", "policy"}
        bad = set(self.train) - allowed
        if bad:
            raise ValueError(f"setting {self.name}: train overrides {sorted(bad)} are not allowed; the "
                             f"budget, task and seed are the study's. Allowed: {sorted(allowed)}")


def _cd3(name, note, baseline="grpo", train=None, **loss):
    return Setting(name, loss, train or {}, "countdown3", "nano", baseline, note)


def _cd4(name, note, baseline="cd4_grpo", **loss):
    return Setting(name, loss, {}, "countdown4", "nano4", baseline, note)


def default_grid() -> list[Setting]:
    """The declared grid. Nano completions are ~10 tokens: summed log-prob ~ −5..−15, mean
    ~ −0.5..−1.5, so "sum" gammas of 0.1..1 and "mean" gammas of 0.5..1 shape comparably."""
    return [
        _cd3("grpo", "the reference: plain GRPO", baseline=None),
        _cd3("grpo_nostd", "GRPO without std division: the control for score-level DS", normalize_std=False),
        _cd3("ds_asym", "DS, gamma_n = 0 (the nano probe's best; the demo's preset)", gamma_p=1.0, gamma_n=0.0),
        _cd3("ds_sym_sum_0.1", "DS as published (gamma_p = gamma_n), summed log-prob", gamma_p=0.1, gamma_n=0.1),
        _cd3("ds_sym_sum_1", "as published at ds_asym's scale: gamma_n = gamma_p vs 0", gamma_p=1.0, gamma_n=1.0),
        _cd3("ds_sym_mean_1", "as published, mean log-prob", gamma_p=1.0, gamma_n=1.0, ds_logp="mean"),
        _cd3("ds_asym_mean_1", "ds_asym with the mean log-prob: summed vs mean", gamma_p=1.0, ds_logp="mean"),
        _cd3("ds_score", "ds_asym shaped at the score level (centre, no std)", gamma_p=1.0,
             ds_where="score", normalize_std=False),
        _cd3("ds_asym_kl", "ds_asym plus a small KL to the base", gamma_p=1.0, beta=0.02),
        _cd3("grpo_kl", "GRPO plus the same KL: the control for ds_asym_kl", beta=0.02),
        _cd3("entropy_bonus_0.1", "entropy bonus (the demo's: the largest tried that stayed stable)", entropy_coef=0.1),
        _cd3("entropy_bonus_0.03", "a smaller entropy bonus (tuning: 0.3 diverged to garbage in the probe)",
             entropy_coef=0.03),
        _cd3("entropy_penalty_0.1", "entropy penalty", entropy_coef=-0.1),
        # 4-number Countdown: the high-multiplicity regime (needs data/nano4, skipped otherwise)
        _cd4("cd4_grpo", "the reference on countdown4", baseline=None),
        _cd4("cd4_ds_asym", "DS, gamma_n = 0", gamma_p=1.0),
        _cd4("cd4_ds_sym_mean_1", "DS as published, mean log-prob", gamma_p=1.0, gamma_n=1.0, ds_logp="mean"),
        _cd4("cd4_ds_asym_mean_1", "cd4_ds_asym with the mean log-prob: summed vs mean", gamma_p=1.0, ds_logp="mean"),
        _cd4("cd4_ds_score", "cd4_ds_asym shaped at the score level (centre, no std)", gamma_p=1.0,
             ds_where="score", normalize_std=False),
        _cd4("cd4_ds_asym_kl", "cd4_ds_asym plus a small KL to the base", gamma_p=1.0, beta=0.02),
        _cd4("cd4_grpo_kl", "GRPO plus the same KL: the control for cd4_ds_asym_kl", beta=0.02),
        _cd4("cd4_entropy_bonus_0.1", "entropy bonus (predicted to help here)", entropy_coef=0.1),
        _cd4("cd4_entropy_bonus_0.03", "a smaller entropy bonus (0.1 diverged here)", entropy_coef=0.03),
        _cd4("cd4_entropy_penalty_0.1", "entropy penalty (predicted to hurt here)", entropy_coef=-0.1),
    ]


def quick_grid() -> list[Setting]:
    """Seconds per cell with QUICK: exercises every code path (tests), says nothing about methods."""
    return [
        _cd3("grpo", "the reference", baseline=None),
        _cd3("ds_asym", "DS, gamma_n = 0", gamma_p=1.0),
        _cd3("entropy_bonus_0.3", "entropy bonus, lower lr", train={"lr": 5e-4}, entropy_coef=0.3),
        _cd4("cd4_grpo", "needs data/nano4", baseline=None),
    ]


GRIDS = {"default": default_grid, "quick": quick_grid}
QUICK = dict(steps=3, prompts_per_step=4, group_size=4, eval_problems=6, eval_n=8)


@dataclass
class StudyConfig:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    """Training seeds (LoRA init, prompt order, sampling): intervals need at least 3."""
    steps: int = 150
    """RL steps per cell (the same for every setting)."""
    prompts_per_step: int = 32
    """Prompts per step."""
    group_size: int = 16
    """G completions per prompt."""
    eval_problems: int = 150
    """Held-out problems (the first ones of the eval split, the same for every cell)."""
    eval_n: int = 64
    """Samples per problem: pass@k for k = 1..eval_n."""
    eval_seed: int = 1234
    """Sampling seed of the evaluation, the same for every cell and the base model."""
    eval_temperature: float = 1.0
    """Evaluation temperature (not a setting's training temperature)."""
    eval_max_new_tokens: int = 24
    """Evaluation completion cap."""

    def __post_init__(self):
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("give one or more distinct seeds (3 or more for intervals that mean something)")
        for name in ("steps", "prompts_per_step", "eval_problems", "eval_n", "eval_max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2: a group of one has no baseline")


# ----------------------------------------------------------------------------- the study
def append_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.flush()


def select(grid: list[Setting], only=None) -> list[Setting]:
    """The settings named in `only` (all when None), refusing unknown or duplicate names."""
    names = [s.name for s in grid]
    if len(set(names)) != len(names):
        raise ValueError("setting names in a grid must be unique")
    unknown = set(only or ()) - set(names)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; the grid has {names}")
    return [s for s in grid if only is None or s.name in only]


def check_compatible(rows: list[dict], grid: list[Setting], cfg: StudyConfig) -> None:
    """A results file is one study: refuse to add cells made with another budget or definition."""
    for r in rows:
        other = {k: (r[k], getattr(cfg, k)) for k in BUDGET if r.get(k) != getattr(cfg, k)}
        if other:
            raise ValueError(f"the results file holds cells made with other budget settings "
                             f"{ {k: v[0] for k, v in other.items()} } (asked: "
                             f"{ {k: v[1] for k, v in other.items()} }); use another --out, or the same settings")
    now = {m: model_fingerprint(m) for m in {s.model for s in grid}}
    for r in rows:
        if r.get("model") in now and r.get("model_sha") and now[r["model"]] and r["model_sha"] != now[r["model"]]:
            raise ValueError(f"the results file holds {r['model']!r} results made with another model "
                             f"(fingerprint {r['model_sha']}, now {now[r['model']]}): the model was "
                             "re-pretrained since; use another --out")
    by_name = {s.name: s for s in grid}
    for r in rows:
        s = by_name.get(r["setting"])
        if r["kind"] == "run" and s is not None:
            want = {**asdict(loss_config(s, cfg)), "task": s.task, "model": s.model, "train": s.train}
            if any(r.get(k) != v for k, v in want.items()):
                raise ValueError(f"setting {s.name!r} was defined differently when its results were "
                                 f"recorded; give the new definition a new name")


def update_grid_info(out: Path, grid: list[Setting], skipped: dict, cfg: StudyConfig) -> None:
    """OUT/grid.json: every setting ever declared for this study, and why some were skipped."""
    path = out / "grid.json"
    info = json.loads(path.read_text()) if path.exists() else {"settings": {}, "skipped": {}}
    info["settings"].update({s.name: asdict(s) for s in grid})
    info["skipped"] = {**{k: v for k, v in info["skipped"].items() if k not in {s.name for s in grid}},
                       **skipped}
    info["config"] = asdict(cfg)
    path.write_text(json.dumps(info, indent=2))


def merge_studies(sources, out) -> list[dict]:
    """Fold the results of studies run elsewhere (another machine, a parallel process with
    ``--only``) into OUT: every (setting, seed) cell and every world's base row once, refusing
    other budgets, settings defined differently, or results of another model. Returns OUT's rows."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.jsonl"
    rows = load_results(path) if path.exists() else []
    info = json.loads((out / "grid.json").read_text()) if (out / "grid.json").exists() else None
    for src in map(Path, sources):
        theirs = load_results(src)
        their_info = json.loads((src / "grid.json").read_text()) if (src / "grid.json").exists() else None
        both = rows + theirs
        budget = {k: {r.get(k) for r in both} for k in BUDGET}
        mixed = {k: sorted(map(str, v)) for k, v in budget.items() if len(v) > 1}
        if mixed:
            raise ValueError(f"{src} was run with another budget than {out}: {mixed}")
        shas: dict = {}
        for r in both:
            shas.setdefault(r["model"], set()).add(r.get("model_sha"))
        other = sorted(m for m, v in shas.items() if len(v) > 1)
        if other:
            raise ValueError(f"{src} holds {other} results made with another model than {out}")
        mine = {(r["setting"], r.get("seed"), r["task"], r["model"]): r for r in rows}
        new = []
        for r in theirs:
            key = (r["setting"], r.get("seed"), r["task"], r["model"])
            if key in mine:
                if r["kind"] == "run" and _definition(r) != _definition(mine[key]):
                    raise ValueError(f"setting {r['setting']!r} is defined differently in {src} and {out}")
                continue
            new.append(r)
            mine[key] = r
        append_rows(path, new)          # all of a source or nothing of it
        rows += new
        if their_info:
            info = info or {"settings": {}, "skipped": {}, "config": their_info.get("config")}
            info["settings"].update(their_info["settings"])
    if info:
        done = {r["setting"] for r in rows}
        info["skipped"] = {k: v for k, v in info.get("skipped", {}).items() if k not in done}
        (out / "grid.json").write_text(json.dumps(info, indent=2))
    return rows


def _definition(row: dict) -> dict:
    return {k: row.get(k) for k in [f.name for f in fields(LossConfig)] + ["task", "model", "train"]}


def run_study(grid: list[Setting], out, seeds=(0, 1, 2), steps: int = 150, eval_problems: int = 150,
              eval_n: int = 64, *, only=None, progress: bool = True, callbacks=(), report: bool = True,
              **budget) -> list[dict]:
    """Run every (setting, seed) cell not yet in OUT/results.jsonl, then write the report.

    `budget` takes the other StudyConfig fields (prompts_per_step, group_size, eval_seed, ...).
    Settings whose model is missing (countdown4 without data/nano4) are skipped with a message.
    Returns all rows of the results file.
    """
    from tqdm.auto import tqdm
    cfg = StudyConfig(seeds=list(seeds), steps=steps, eval_problems=eval_problems, eval_n=eval_n, **budget)
    out = Path(out)
    grid = select(grid, only)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.jsonl"
    rows = load_results(path) if path.exists() else []
    check_compatible(rows, grid, cfg)
    skipped = {s.name: why for s in grid if (why := missing_model(s))}
    for name, why in skipped.items():
        print(f"dsnb study: skipping {name}: {why}")
    update_grid_info(out, grid, skipped, cfg)
    done = {(r["setting"], r["seed"]) for r in rows if r["kind"] == "run"}
    bases = {(r["task"], r["model"]) for r in rows if r["kind"] == "base"}
    # seed-major: a study stopped early still has every setting at the first seeds
    cells = [(s, seed) for seed in cfg.seeds for s in grid if s.name not in skipped]
    bar = tqdm(cells, desc="study", disable=not progress)
    for s, seed in bar:
        if (s.name, seed) in done:
            continue
        bar.set_postfix_str(f"{s.name} seed {seed}")
        new = run_cell(s, seed, cfg, out, (s.task, s.model) not in bases, callbacks, progress)
        if not new:
            print(f"dsnb study: {s.name} seed {seed} was stopped; rerun the study to resume it")
            break
        append_rows(path, new)
        bases.add((s.task, s.model))
    bar.close()
    rows = load_results(path)
    if report and rows:
        from dsnb.study_report import write_study_report
        print(f"report: {write_study_report(out)}")
    return rows
