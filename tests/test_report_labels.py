"""Method labels: built from LossConfig fields, they name the variant, agree with LossConfig's
defaults and tell every setting of the study apart."""

from dataclasses import asdict

from dsnb.report.labels import DEFAULTS, method_label
from dsnb.rl.loss import LossConfig
from dsnb.study.demo import DEMO_METHODS
from dsnb.study.grid import default_grid
from dsnb.study.report import world_labels
from dsnb.study.stats import load_results, worlds


def test_the_label_defaults_are_lossconfigs():
    full = asdict(LossConfig())
    assert {k: full[k] for k in DEFAULTS} == DEFAULTS


def test_a_full_lossconfig_and_its_changed_fields_get_the_same_label():
    for setting in default_grid():
        full = asdict(LossConfig(**setting.loss))
        assert method_label(full) == method_label(setting.loss), setting.name


def test_the_demo_methods_are_named_by_their_variant():
    labels = {m: method_label(loss) for m, loss in DEMO_METHODS.items()}
    assert labels == {
        "grpo": "GRPO",
        "ds": "DS-GRPO (γp = 3, γn = 0, summed log-prob)",
        "entropy_bonus": "entropy bonus (0.1)",
    }


def test_every_setting_of_a_world_has_its_own_label():
    from dsnb.data import results_dir

    for key, world in worlds(load_results(results_dir() / "study")).items():
        labels = world_labels(world)
        assert len(set(labels.values())) == len(labels), key
        assert all("{" not in lab for lab in labels.values())  # no dict reprs
