"""The nano model's recipe: the defaults rebuild the shipped model, and --recipe rebuilds any."""

import json
from dataclasses import asdict

import pytest

from dsnb import data as shipped
from dsnb.cli import main
from dsnb.nano import NanoConfig


def test_the_default_recipe_is_the_one_the_shipped_nano_model_was_made_with():
    """Recipe files older than a field leave it at its default: the defaults must be neutral."""
    three = json.loads(shipped.path("nano", "dsnb_nano.json").read_text())["recipe"]
    assert NanoConfig(**three) == NanoConfig()
    four = json.loads(shipped.path("nano4", "dsnb_nano.json").read_text())["recipe"]
    assert NanoConfig(**four) == NanoConfig(num_count=4, mistake_frac=0.55)  # what the nano4 hint says
    multi = json.loads(shipped.path("nano4m", "dsnb_nano.json").read_text())["recipe"]
    assert NanoConfig(**multi) == NanoConfig.multi()  # `dsnb nano pretrain --preset multi`
    wide = json.loads(shipped.path("nano4w", "dsnb_nano.json").read_text())["recipe"]
    assert wide == asdict(NanoConfig.wide())  # `dsnb nano pretrain --preset wide`


def test_the_wide_pool_holds_no_held_out_instance_and_no_identity_variant():
    """The flagship model's pool: every instance of the wider range, but never one that any world
    evaluates on (the held-out hash), and never a solution that is an identity variant."""
    from dsnb.nano import example_pool
    from dsnb.tasks.data import is_heldout
    from dsnb.tasks.registry import get_task
    from dsnb.tasks.solver import has_identity

    cfg = NanoConfig.wide(pool_hi=9, pool_max_target=30)
    pool = example_pool(cfg)
    keys = {
        (tuple(sorted(int(x) for x in p.split("=")[0].split())), int(p.split("=")[1][:-1]))
        for p, _, _ in pool
    }
    evl = {
        (tuple(sorted(p.columns["nums"])), p.columns["target"])
        for p in get_task("countdown4m").load("eval", None)
    }
    assert len(keys) == len(pool) > 1000 and not keys & evl and not any(is_heldout(*k) for k in keys)
    assert not any(has_identity(s) for _, sols, _ in pool for s, _ in sols)
    assert all(max(k[0]) <= 9 and k[1] <= 30 for k in keys) and any(max(k[0]) == 9 for k in keys)
    with pytest.raises(ValueError, match="pool_hi"):
        NanoConfig.wide(pool_hi=4)


def test_the_multi_recipe_pretrains_on_exactly_the_train_split_of_its_world():
    from dsnb.nano import example_pool
    from dsnb.tasks.registry import get_task

    def key(nums, target):
        return tuple(sorted(nums)), target

    pool = {
        key([int(x) for x in p.split("=")[0].split()], int(p.split("=")[1][:-1]))
        for p, _, _ in example_pool(NanoConfig.multi())
    }
    train = {key(p.columns["nums"], p.columns["target"]) for p in get_task("countdown4m").load("train", None)}
    evl = {key(p.columns["nums"], p.columns["target"]) for p in get_task("countdown4m").load("eval", None)}
    assert pool <= train and len(pool) >= 0.98 * len(train) and not pool & evl


@pytest.mark.parametrize(
    "scratchpad,wide", [(False, False), (True, False), (False, True)], ids=["multi", "scratchpad", "wide"]
)
def test_a_smoke_sized_multi_model_pretrains_and_writes_scratchpads(tmp_path, scratchpad, wide):
    """The countdown4m recipes at smoke size (nano4m's, a scratchpad candidate, and the flagship
    nano4w's wide pool, narrowed to 2..8 so it builds in seconds): completions that score 1.0, a
    loss that falls well below a uniform guess, a model that from_pretrained loads and samples from."""
    import math
    import random

    from dsnb.nano import build_tokenizer, draw_example, example_pool, pretrain
    from dsnb.rl.policy import Policy, PolicyConfig
    from dsnb.tasks.countdown import score

    small = dict(layers=1, width=32, heads=2, steps=30, batch_size=32, scratchpad=scratchpad)
    cfg = NanoConfig.wide(pool_hi=8, pool_max_target=20, **small) if wide else NanoConfig.multi(**small)
    prompt, completion = draw_example(example_pool(cfg), cfg, random.Random(1))
    nums, target = [int(x) for x in prompt.split("=")[0].split()], int(prompt.split("=")[1][:-1])
    assert ("|" in completion.split("<answer>")[0]) == scratchpad and score(completion, nums, target) == 1.0
    out = pretrain(cfg, tmp_path / "m", progress=False)
    meta = json.loads((out / "dsnb_nano.json").read_text())
    chance = math.log(len(build_tokenizer(scratchpad=scratchpad)))
    assert meta["recipe"] == asdict(cfg) and meta["final_loss"] < chance - 0.3
    roll = Policy(PolicyConfig(model=str(out))).sample([prompt], 4, 48)
    assert len(roll.texts) == 4


def test_pretrain_from_a_recipe_file_with_overrides(tmp_path, capsys):
    recipe = {**asdict(NanoConfig.smoke()), "steps": 2, "mistake_frac": 0.4}
    (tmp_path / "r.json").write_text(json.dumps({"recipe": recipe}))
    out = tmp_path / "m"
    assert (
        main(["nano", "pretrain", "--recipe", str(tmp_path / "r.json"), "--seed", "3", "--out", str(out)])
        == 0
    )
    made = json.loads((out / "dsnb_nano.json").read_text())["recipe"]
    assert made == {**recipe, "seed": 3}
    assert (out / "model.safetensors").exists() and "nano model written" in capsys.readouterr().out
    assert main(["nano", "pretrain", "--mistake-frac", "1.5", "--out", str(tmp_path / "bad")]) == 2
    assert "mistake_frac" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_drawing_with_precomputed_cumulative_weights_draws_the_same_examples():
    """pretrain sums the pool's draw weights once (it was most of a step on the wide pool); the
    draws must be the ones drawing with the weights themselves gives, or the shipped model changes."""
    import itertools
    import random

    from dsnb.nano import draw_example, example_pool

    cfg = NanoConfig.wide(pool_hi=8, pool_max_target=20)
    pool = example_pool(cfg)
    cum = list(itertools.accumulate(w for _, _, w in pool))
    a, b = random.Random(3), random.Random(3)
    ours = [draw_example(pool, cfg, a, cum) for _ in range(200)]
    plain = []
    for _ in range(200):
        prompt, sols, _ = b.choices(pool, weights=[w for _, _, w in pool])[0]
        expr = b.choices([s for s, _ in sols], weights=[w for _, w in sols])[0]
        b.random()  # the mistake draw (mistake_frac 0: never one)
        plain.append((prompt, f"<answer>{expr}</answer>"))
    assert ours == plain and len(set(ours)) > 50
