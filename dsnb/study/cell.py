"""One cell of the study (a setting x a seed): its TrainConfig, training or resuming, evaluation,
and the tidy row it leaves in results.jsonl. Used by ``dsnb.study.run``."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, fields
from pathlib import Path

from dsnb import data as shipped
from dsnb.rl.evaluate import evaluate
from dsnb.rl.loss import LossConfig
from dsnb.rl.policy import PolicyConfig
from dsnb.rl.rundir import RunDir
from dsnb.rl.trainer import TrainConfig, Trainer
from dsnb.study.grid import Setting, StudyConfig
from dsnb.study.stability import divergence, precheck_status
from dsnb.tasks.registry import eval_set_id

BUDGET = (
    "steps",
    "prompts_per_step",
    "group_size",
    "eval_problems",
    "eval_n",
    "eval_seed",
    "eval_temperature",
    "eval_max_new_tokens",
    "val_problems",
)
BUDGET_DEFAULTS = {"val_problems": 0}
"""Budget keys added after the first results were recorded: what a row without them ran with."""
CURVE_KEYS = ("correct/mean", "div/distinct_correct", "entropy/token_mean", "reward/frac_zero_std")


def local_model(model: str) -> tuple[Path | None, str | None]:
    """(the model's directory, None) when it is on disk, else (None, why not, with the fix)."""
    if model in shipped.MODEL_ENV:
        try:
            return shipped.model_dir(model), None
        except FileNotFoundError as err:
            return None, str(err)
    path = Path(model)
    if (path / "config.json").exists():
        return path, None
    return None, f"no model directory at {path}"


def missing_model(setting: Setting) -> str | None:
    """Why a setting's model is not available (None when it is)."""
    return local_model(setting.model)[1]


def model_fingerprint(model: str) -> str | None:
    """A short hash of a local model's config and weights (the first MiB of each weights file and
    its size: cheap for real models too), so results made with another model are refused.
    None for a hub id or a missing directory."""
    path = local_model(model)[0]
    if path is None:
        return None
    h = hashlib.sha256((path / "config.json").read_bytes())
    for f in sorted(path.iterdir()):
        if f.suffix in (".safetensors", ".bin", ".gguf"):
            with open(f, "rb") as fh:
                h.update(f.name.encode() + str(f.stat().st_size).encode() + fh.read(1 << 20))
    return h.hexdigest()[:16]


def loss_config(setting: Setting, cfg: StudyConfig) -> LossConfig:
    return LossConfig(group_size=cfg.group_size, **setting.loss)


def budget_of(row: dict) -> dict:
    """A row's budget, with the defaults of keys added since (a first-edition row has no val)."""
    return {k: row.get(k, BUDGET_DEFAULTS.get(k)) for k in BUDGET}


def loss_of(row: dict) -> dict:
    """A row's LossConfig fields, with the (neutral) defaults of fields added since it was recorded."""
    return {f.name: row.get(f.name, f.default) for f in fields(LossConfig)}


def train_config(setting: Setting, seed: int, cfg: StudyConfig, out: Path):
    """The cell's TrainConfig: the nano preset, the study's budget, the setting's overrides."""
    return TrainConfig.nano(
        run_dir=str(out / "runs" / f"{setting.name}_s{seed}"),
        task=setting.task,
        seed=seed,
        steps=cfg.steps,
        prompts_per_step=cfg.prompts_per_step,
        checkpoint_every=max(1, cfg.steps // 5),
        n_train_problems=min(2000, cfg.steps * cfg.prompts_per_step),
        loss=loss_config(setting, cfg),
        policy=PolicyConfig(model=setting.model),
        **setting.train,
    )


def open_trainer(tcfg, callbacks, progress):
    """A fresh trainer, or the interrupted run resumed (refusing a run made with other settings)."""
    run = Path(tcfg.run_dir)
    if not (run / "config.json").exists():
        return Trainer(tcfg, callbacks, progress)
    have, want = RunDir(run).read_config(), json.loads(json.dumps(tcfg.to_dict()))
    have = TrainConfig.from_dict(have).to_dict()  # an older run's config: today's defaults filled in
    have, want = json.loads(json.dumps(have)), {k: v for k, v in want.items() if k != "run_dir"}
    have.pop("run_dir", None)
    if have != want:
        keys = sorted(k for k in want if have.get(k) != want[k])
        raise ValueError(
            f"{run} holds a run with other settings ({', '.join(keys)}) than this study "
            f"asks for; remove that directory or use another --out"
        )
    return Trainer.resume(run, callbacks=callbacks, progress=progress)


def eval_fields(summary: dict, raw, n: int) -> dict:
    """What a row keeps of an evaluation: summaries and the per-problem values."""
    out = {"pass@k": summary["pass@k"], "pass@1": summary["pass@1"]}
    if n >= 8:
        out["pass@8"] = summary["pass@k"][7]
    out.update(
        {
            f"pass@{n}": summary[f"pass@{n}"],
            "distinct_correct": summary["distinct_correct"],
            "coverage": summary["coverage"],
            "answer_entropy": summary["answer_entropy"],
            "top_share": summary["top_share"],
            "c": list(raw.c),
            "distinct": list(raw.distinct),
            "coverage_per_problem": list(raw.coverage),
            "top_share_per_problem": list(raw.top_share),
            "multiplicity": list(raw.multiplicity),
        }
    )
    return out


def evaluate_cell(trainer, problems, cfg: StudyConfig, base: bool = False) -> dict:
    """The trainer's policy (and the base model, if asked) on `problems` with the study's
    evaluation settings (n, temperature, length, sampling seed): :func:`dsnb.rl.evaluate.evaluate`."""
    return evaluate(
        trainer.policy,
        problems,
        trainer.task,
        n=cfg.eval_n,
        temperature=cfg.eval_temperature,
        max_new_tokens=cfg.eval_max_new_tokens,
        seed=cfg.eval_seed,
        base=base,
    )


def validation_problems(trainer, cfg: StudyConfig, problems) -> list:
    """The cell's validation problems (the last eval rows), refusing any overlap with the reported ones."""
    if not cfg.val_problems:
        return []
    val = trainer.task.load("val", cfg.val_problems, 0, trainer.template)
    shared = {json.dumps(p.columns, sort_keys=True) for p in problems} & {
        json.dumps(p.columns, sort_keys=True) for p in val
    }
    if shared:
        raise ValueError(
            f"{len(shared)} of the {len(val)} validation problems are also among the {len(problems)} "
            f"reported eval problems of {trainer.task.name}: use eval_problems + val_problems <= the "
            "eval rows of its problem file"
        )
    return val


def run_cell(
    setting: Setting,
    seed: int,
    cfg: StudyConfig,
    out: Path,
    needs_base: bool,
    callbacks=(),
    progress: bool = False,
) -> list[dict]:
    """Train (or resume) one cell and evaluate it; returns its row (and the base row if asked).
    Returns [] when the run was stopped before its last step (rerun to resume)."""
    tcfg = train_config(setting, seed, cfg, out)
    trainer = open_trainer(tcfg, list(callbacks), progress)
    if trainer.step < tcfg.steps:
        trainer.train()
    if trainer.step < tcfg.steps:
        return []
    problems = trainer.task.load("eval", cfg.eval_problems, 0, trainer.template)
    val = validation_problems(trainer, cfg, problems)
    t0 = time.time()
    res = evaluate_cell(trainer, problems, cfg, base=needs_base)
    world = {
        "task": setting.task,
        "model": setting.model,
        "model_sha": model_fingerprint(setting.model),
        "template": trainer.template,
        "eval_set": eval_set_id(problems),
        "multiplicity": [len(p.solutions) for p in problems],
        **{k: getattr(cfg, k) for k in BUDGET},
    }
    if val:
        vres = evaluate_cell(trainer, val, cfg)
        val_row = {
            "eval_set": eval_set_id(val),
            **eval_fields(vres["policy"], vres["raw"]["policy"], cfg.eval_n),
        }
    metrics = trainer.run.read("metrics")
    pre = precheck_status(out).get(setting.name)
    row = {
        "kind": "run",
        "setting": setting.name,
        "seed": seed,
        "baseline": setting.baseline,
        "note": setting.note,
        **world,
        **asdict(tcfg.loss),
        "train": dict(setting.train),
        "sweep": setting.sweep,
        "diverged": divergence(metrics),
        "precheck": None if pre is None else {k: pre[k] for k in ("status", "why", "steps")},
        **eval_fields(res["policy"], res["raw"]["policy"], cfg.eval_n),
        **({"val": val_row} if val else {}),
        "curve": {k: [r.get(k) for r in metrics] for k in ("step",) + CURVE_KEYS},
        "train_seconds": sum(r.get("time/step_s", 0.0) for r in metrics),
        "eval_seconds": time.time() - t0,
    }
    rows = [row]
    if needs_base:
        rows.append(
            {
                "kind": "base",
                "setting": "base",
                "seed": None,
                **world,
                **eval_fields(res["base"], res["raw"]["base"], cfg.eval_n),
            }
        )
    return rows
