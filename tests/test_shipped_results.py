"""The numbers the README prints are the numbers dsnb shipped: the study table is generated from
dsnb/data/results/study, the demo line from dsnb/data/results/demo_summary.json, and both were made with
the nano models that ship now (fingerprints), so no hand-copied or stale figure survives."""

import json
from pathlib import Path

from dsnb.data import results_dir
from dsnb.study.cell import model_fingerprint
from dsnb.study.demo import DemoConfig
from dsnb.study.stats import load_results, results_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = results_dir()
README = (ROOT / "README.md").read_text()
V2_STUDY = "study_v2_countdown4m"  # the second-edition study of the flagship world


def test_readme_study_table_is_generated_from_the_shipped_results():
    rows = load_results(RESULTS / "study")
    assert results_table(rows).strip() in README


def test_shipped_study_results_were_made_with_the_shipped_models_and_three_seeds(monkeypatch):
    monkeypatch.delenv("DSNB_NANO", raising=False)
    monkeypatch.delenv("DSNB_NANO4", raising=False)
    rows = load_results(RESULTS / "study")
    for r in rows:
        assert r["model_sha"] == model_fingerprint(r["model"]), (r["setting"], r["seed"])
    seeds = {}
    for r in rows:
        if r["kind"] == "run":
            seeds.setdefault(r["setting"], set()).add(r["seed"])
    assert seeds and all(s == {0, 1, 2} for s in seeds.values()), seeds


def test_readme_demo_line_quotes_the_shipped_demo_summary(monkeypatch):
    for env in ("DSNB_NANO", "DSNB_NANO4", "DSNB_NANO4M", "DSNB_NANO4W"):
        monkeypatch.delenv(env, raising=False)
    s = json.loads((RESULTS / "demo_summary.json").read_text())
    assert s["config"]["task"] == DemoConfig().task  # the shipped summary is the default world's
    assert s["model_sha"] == model_fingerprint(s["config"]["model"])
    n = s["config"]["eval_n"]
    base = " / ".join(f"{s['base'][k]:.3f}" for k in ("pass@1", "pass@8", f"pass@{n}"))
    assert f"base pass@1 / pass@8 / pass@{n} = {base}" in README
    for name, m in s["methods"].items():
        assert f"{name} " + " / ".join(f"{m[k]:.3f}" for k in ("pass@1", "pass@8", f"pass@{n}")) in README


def test_the_shipped_demo_trains_the_settings_the_second_edition_chose_on_validation():
    """The demo's DS and entropy-bonus settings are the second-edition study's validation choices
    (its selection.json), as settings of that grid; where the demo ran with the study's model and
    budget its per-seed numbers must be the study's rows (the same cell computed twice)."""
    from dsnb.rl.loss import LossConfig
    from dsnb.study.demo import DEMO_METHODS
    from dsnb.study.grid import V2_BUDGET, v2_grid

    s = json.loads((RESULTS / "demo_summary.json").read_text())
    cfg = s["config"]
    rows = {(r["setting"], r["seed"]): r for r in load_results(RESULTS / V2_STUDY) if r["kind"] == "run"}
    ((key, sel),) = json.loads((RESULTS / V2_STUDY / "selection.json").read_text()).items()
    study_task, study_model = key.split("/")
    assert cfg["task"] == study_task
    grid = {g.name: g for g in v2_grid(study_task, study_model)}
    chosen = {fam: sel["families"][fam]["setting"] for fam in ("ds", "entropy_bonus")}

    def loss(kw):
        return LossConfig(group_size=cfg["group_size"], **kw)

    assert loss(DEMO_METHODS["ds"]) == loss(grid[chosen["ds"]].loss)
    assert loss(DEMO_METHODS["entropy_bonus"]) == loss(grid[chosen["entropy_bonus"]].loss)
    assert loss(DEMO_METHODS["grpo"]) == loss(grid["grpo"].loss)
    same_cells = cfg["model"] == study_model and all(
        cfg[k] == V2_BUDGET[k] for k in ("steps", "prompts_per_step", "group_size", "eval_n")
    )
    names = {"grpo": "grpo", **chosen}
    for name, m in s["methods"].items():
        for seed, run in zip(s["seeds"], m["per_seed"]):
            if same_cells:
                assert run["pass@k"] == rows[(names[name], seed)]["pass@k"], (name, seed)


def test_the_shipped_second_edition_holds_every_cell_and_the_readme_quotes_its_frontier_verdicts(monkeypatch):
    """Every setting of the v2 grid at seeds 0-2 (a diverged cell is kept), the five chosen on the
    validation split at seeds 3-4 too, made with the shipped model; the README's per-bucket verdict
    tables are generated from these rows."""
    from dsnb.study.frontier import frontier_summary, summary_markdown
    from dsnb.study.grid import v2_grid

    monkeypatch.delenv("DSNB_NANO4M", raising=False)
    rows = load_results(RESULTS / V2_STUDY)
    seeds = {}
    for r in rows:
        assert r["model_sha"] == model_fingerprint(r["model"]), (r["setting"], r["seed"])
        if r["kind"] == "run":
            seeds.setdefault(r["setting"], set()).add(r["seed"])
    sel = json.loads((RESULTS / V2_STUDY / "selection.json").read_text())["countdown4m/nano4m"]
    for s in v2_grid("countdown4m", "nano4m"):
        want = {0, 1, 2, 3, 4} if s.name in sel["five_seeds"] else {0, 1, 2}
        assert seeds.get(s.name) == want, s.name
    assert len(sel["five_seeds"]) == 5 and "grpo" in sel["five_seeds"]
    assert summary_markdown(frontier_summary(rows)).strip() in README
