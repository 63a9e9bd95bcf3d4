"""The nano model's recipe: the defaults rebuild the shipped model, and --recipe rebuilds any."""

import json
from dataclasses import asdict

from dsnb import data as shipped
from dsnb.cli import main
from dsnb.nano import NanoConfig


def test_the_default_recipe_is_the_one_the_shipped_nano_model_was_made_with():
    three = json.loads(shipped.path("nano", "dsnb_nano.json").read_text())["recipe"]
    assert three == asdict(NanoConfig())
    four = json.loads(shipped.path("nano4", "dsnb_nano.json").read_text())["recipe"]
    assert four == asdict(NanoConfig(num_count=4, mistake_frac=0.55))  # what the nano4 hint says


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
