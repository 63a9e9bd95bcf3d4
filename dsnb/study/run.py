"""``dsnb study``: when does DS-GRPO beat GRPO and the entropy heuristics? Measured, not claimed.

A declared grid of named settings x seeds. Every cell trains on the nano world with the same
budget, then is evaluated on the same held-out problems with the same sampling seed; the base
model (adapter off) is evaluated once per world. Everything lands in one tidy file:

    OUT/results.jsonl   one row per setting x seed ("kind": "run") + one per world ("kind": "base"):
                        setting, seed, task, every LossConfig field, pass@k (k = 1..n), pass@1/8/n,
                        distinct_correct, coverage, per-problem counts c / distinct / coverage
                        (for paired comparisons) and the training curve
    OUT/report.html     intervals over seeds, pass@k curves with the base model, paired
                        comparisons against GRPO and plain verdicts (``dsnb.study.report``)
    OUT/grid.json       the declared settings and the ones skipped (and why)
    OUT/runs/NAME_sSEED the run directories (resumable)

The second edition (:func:`run_study_v2`, ``dsnb study --grid v2``) adds, in one world: a stability
pre-check of every setting (OUT/precheck.json), a validation split every cell is also evaluated
on, the choice of each family's best setting on it (OUT/selection.json) and two more seeds for
those. Plan its time first: ``dsnb study --grid v2 --plan`` (``dsnb.study.plan``).

Resumable: a cell whose row is in results.jsonl is never recomputed; an interrupted cell resumes
from its newest checkpoint. Statistics live in ``dsnb.study.stats``. Used by ``dsnb study``, the
README's results table and notebook 05 (which redraws everything from results.jsonl).
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

from tqdm.auto import tqdm

from dsnb.study.cell import (
    BUDGET,
    budget_of,
    loss_config,
    loss_of,
    missing_model,
    model_fingerprint,
    open_trainer,
    run_cell,
    train_config,
)
from dsnb.study.grid import Setting, StudyConfig
from dsnb.study.stability import divergence, precheck_status
from dsnb.study.stats import load_results
from dsnb.tasks.registry import get_task


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
        have = budget_of(r)
        other = {k: (have[k], getattr(cfg, k)) for k in BUDGET if have[k] != getattr(cfg, k)}
        if other:
            raise ValueError(
                f"the results file holds cells made with other budget settings "
                f"{ {k: v[0] for k, v in other.items()} } (asked: "
                f"{ {k: v[1] for k, v in other.items()} }); use another --out, or the same settings"
            )
    now = {m: model_fingerprint(m) for m in {s.model for s in grid}}
    for r in rows:
        if (
            r.get("model") in now
            and r.get("model_sha")
            and now[r["model"]]
            and r["model_sha"] != now[r["model"]]
        ):
            raise ValueError(
                f"the results file holds {r['model']!r} results made with another model "
                f"(fingerprint {r['model_sha']}, now {now[r['model']]}): the model was "
                "re-pretrained since; use another --out"
            )
    by_name = {s.name: s for s in grid}
    for r in rows:
        s = by_name.get(r["setting"])
        if r["kind"] == "run" and s is not None:
            want = {**asdict(loss_config(s, cfg)), "task": s.task, "model": s.model, "train": s.train}
            have = {**loss_of(r), "task": r.get("task"), "model": r.get("model"), "train": r.get("train")}
            if have != want:
                raise ValueError(
                    f"setting {s.name!r} was defined differently when its results were "
                    f"recorded; give the new definition a new name"
                )


def validate_grid(grid: list[Setting], cfg: StudyConfig) -> None:
    """Everything that can be checked before any work: each setting's task, its LossConfig with
    the study's group size, and a validation split disjoint from the reported problems."""
    for s in grid:
        try:
            get_task(s.task)
            loss_config(s, cfg)
        except ValueError as err:
            raise ValueError(f"setting {s.name!r}: {err}") from err
    check_val_split(grid, cfg)


def check_val_split(grid: list[Setting], cfg: StudyConfig) -> None:
    """Refuse, before any work, a validation split that would share problems with the reported
    eval problems (eval_problems + val_problems more than a world's eval rows)."""
    if not cfg.val_problems:
        return
    for task_name in sorted({s.task for s in grid if not missing_model(s)}):
        task = get_task(task_name)
        evl = {json.dumps(p.columns, sort_keys=True) for p in task.load("eval", cfg.eval_problems)}
        val = {json.dumps(p.columns, sort_keys=True) for p in task.load("val", cfg.val_problems)}
        if evl & val:
            raise ValueError(
                f"{len(evl & val)} of the {cfg.val_problems} validation problems of {task_name} are also "
                f"among the {cfg.eval_problems} reported eval problems: use eval_problems + "
                "val_problems <= the eval rows of its problem file"
            )


def update_grid_info(out: Path, grid: list[Setting], skipped: dict, cfg: StudyConfig) -> None:
    """OUT/grid.json: every setting ever declared for this study, and why some were skipped."""
    path = out / "grid.json"
    info = json.loads(path.read_text()) if path.exists() else {"settings": {}, "skipped": {}}
    info["settings"].update({s.name: asdict(s) for s in grid})
    info["skipped"] = {
        **{k: v for k, v in info["skipped"].items() if k not in {s.name for s in grid}},
        **skipped,
    }
    info["config"] = asdict(cfg)
    path.write_text(json.dumps(info, indent=2))


def merge_studies(sources, out) -> list[dict]:
    """Fold the results of studies run elsewhere (another machine, a parallel process with
    ``--only``) into OUT: every (setting, seed) cell, every world's base row and every stability
    pre-check (OUT/precheck.json; OUT's own entry wins) once, refusing
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
        budget = {k: {budget_of(r)[k] for r in both} for k in BUDGET}
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
        append_rows(path, new)  # all of a source or nothing of it
        rows += new
        if their_info:
            info = info or {"settings": {}, "skipped": {}, "config": their_info.get("config")}
            info["settings"].update(their_info["settings"])
        checked = precheck_status(src)  # their stability pre-checks too: never redone after a merge
        if checked:
            mine_checked = precheck_status(out)
            (out / "precheck.json").write_text(json.dumps({**checked, **mine_checked}, indent=2))
    if info:
        done = {r["setting"] for r in rows}
        info["skipped"] = {k: v for k, v in info.get("skipped", {}).items() if k not in done}
        (out / "grid.json").write_text(json.dumps(info, indent=2))
    return rows


def _definition(row: dict) -> dict:
    return {**loss_of(row), **{k: row.get(k) for k in ("task", "model", "train")}}


def run_study(
    grid: list[Setting],
    out,
    seeds=(0, 1, 2),
    steps: int = 150,
    eval_problems: int = 150,
    eval_n: int = 64,
    *,
    only=None,
    progress: bool = True,
    callbacks=(),
    report: bool = True,
    **budget,
) -> list[dict]:
    """Run every (setting, seed) cell not yet in OUT/results.jsonl, then write the report.

    `budget` takes the other StudyConfig fields (prompts_per_step, group_size, eval_seed, ...).
    Settings whose model is missing (countdown4 without data/nano4) are skipped with a message.
    Returns all rows of the results file.
    """
    cfg = StudyConfig(seeds=list(seeds), steps=steps, eval_problems=eval_problems, eval_n=eval_n, **budget)
    out = Path(out)
    grid = select(grid, only)
    validate_grid(grid, cfg)
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
        from dsnb.study.report import write_study_report  # plotly: only when a report is drawn

        print(f"report: {write_study_report(out)}")
    return rows


def run_precheck(grid, out, cfg, steps: int = 20, seed: int = 0, progress: bool = True) -> dict:
    """Train every setting of `grid` for `steps` steps (seed `seed`, the study's batch) and apply
    :func:`divergence`; writes and returns OUT/precheck.json. Resumable: settings already checked
    with the same steps are skipped; the short runs live in OUT/precheck/runs/NAME_sSEED."""
    out = Path(out)
    path = out / "precheck.json"
    done = precheck_status(out)
    todo = [s for s in grid if done.get(s.name, {}).get("steps") != steps and not missing_model(s)]
    short = replace(cfg, steps=steps)
    for s in tqdm(todo, desc="pre-check", disable=not progress):
        tcfg = train_config(s, seed, short, out / "precheck")
        trainer = open_trainer(tcfg, [], progress=False)
        if trainer.step < tcfg.steps:
            trainer.train()
        if trainer.step < tcfg.steps:
            break  # stopped: rerun to resume
        metrics = trainer.run.read("metrics")
        why = divergence(metrics)
        done[s.name] = {
            "status": "diverged" if why else "ok",
            "why": why,
            "steps": steps,
            "seed": seed,
            "correct_last": metrics[-1].get("correct/mean"),
            "entropy_last": metrics[-1].get("entropy/token_mean"),
        }
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(done, indent=2))
    return done


def missing_cells(rows: list[dict], grid: list[Setting], seeds, skipped=()) -> list[str]:
    """The settings of `grid` that still lack a row at one of `seeds` (skipped ones aside)."""
    have = {(r["setting"], r["seed"]) for r in rows if r["kind"] == "run"}
    return [s.name for s in grid if s.name not in skipped and any((s.name, x) not in have for x in seeds)]


def run_study_v2(
    out,
    task: str = "countdown3",
    model: str = "nano",
    prefix: str = "",
    *,
    grid: list[Setting] | None = None,
    only=None,
    precheck_steps: int = 20,
    progress: bool = True,
    report: bool = True,
    **budget,
) -> list[dict]:
    """The second edition in one world, resumable at every stage:

    1. the stability pre-check: every setting of :func:`v2_grid` for `precheck_steps` steps
       (OUT/precheck.json; diverged settings are reported and kept, never dropped);
    2. every setting at seeds 0-2, each cell also evaluated on the validation split;
    3. the best setting of each family chosen on the validation split and fixed
       (OUT/selection.json, :func:`dsnb.study.select.fix_selection`);
    4. those settings (GRPO, GRPO + KL, DS, entropy bonus, the best rival) at seeds 3 and 4.

    `budget` overrides :data:`V2_BUDGET` (e.g. steps=3 for a smoke run); `grid` replaces the v2
    grid (tests: a few settings with ``sweep`` set). With `only` (parallel
    processes, one OUT each) it stops after step 2 of those settings: merge the OUTs
    (:func:`merge_studies`), then rerun without `only` for steps 3-4. Returns all rows.
    """
    from dsnb.study.grid import EXTRA_SEEDS, V2_BUDGET, v2_grid
    from dsnb.study.select import fix_selection, selection_lines
    from dsnb.study.stability import precheck_lines

    b = {**V2_BUDGET, **budget}
    seeds = b.pop("seeds")
    extra = b.pop("extra_seeds", EXTRA_SEEDS)
    grid = grid if grid is not None else v2_grid(task, model, prefix)
    out = Path(out)
    cfg = StudyConfig(seeds=list(seeds), **b)
    validate_grid(select(grid, only), cfg)
    if all(missing_model(s) for s in grid):
        raise ValueError(f"no setting's model is on disk ({missing_model(grid[0])}): nothing to run")
    if precheck_steps:
        status = run_precheck(select(grid, only), out, cfg, precheck_steps, seed=seeds[0], progress=progress)
        print("\n".join(["dsnb study: stability pre-check"] + precheck_lines(status)))
    rows = run_study(grid, out, seeds, only=only, progress=progress, report=False, **b)
    if only:
        print("dsnb study: these settings are done; merge the OUTs (--merge) and rerun without --only")
        return rows
    skipped = {s.name for s in grid if missing_model(s)}
    todo = missing_cells(rows, grid, seeds, skipped)
    if todo:
        print(
            f"dsnb study: {len(todo)} settings still lack seeds {list(seeds)}; "
            "rerun to finish them before the selection"
        )
        return rows
    selection = fix_selection(out, rows, seeds=seeds)
    print("\n".join(selection_lines(selection)))
    best = [n for w in selection.values() for n in w["five_seeds"] if n in {s.name for s in grid}]
    if best and extra:
        rows = run_study(grid, out, list(extra), only=best, progress=progress, report=report, **b)
    return rows
