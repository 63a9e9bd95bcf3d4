"""Test-wide settings: never touch the network, keep torch to the machine's cores; shared fixtures."""

import os

for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DSNB_SMOKE", "1")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A freshly pretrained *tiny* nano model (seconds): real Llama + char tokenizer on disk."""
    from dsnb.nano import NanoConfig, pretrain

    return str(pretrain(NanoConfig.smoke(), tmp_path_factory.mktemp("tiny_nano"), progress=False))


@pytest.fixture()
def smoke_cfg(tiny_model_dir, tmp_path):
    """A seconds-long TrainConfig on the tiny model, writing into a fresh run directory."""
    from dsnb.rl.policy import PolicyConfig
    from dsnb.rl.trainer import TrainConfig

    return TrainConfig.smoke(
        run_dir=str(tmp_path / "run"), policy=PolicyConfig(model=tiny_model_dir, lora_r=4, lora_alpha=8)
    )
