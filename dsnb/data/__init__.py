"""The files dsnb ships inside the package (so a wheel or ``pip install git+...`` has them too).

    nano/, nano4/,         the pretrained nano models (Hugging Face directories + dsnb_nano.json):
    nano4m/, nano4w/       3-number, 4-number, and two for the flagship multiplicity world
                           countdown4m: nano4w (its model now, pretrained on a wider pool) and
                           nano4m (the first one, which the second-edition study ran on)
    problems/<task>.jsonl  Countdown problem files: train and eval rows with their solution sets
    gsm8k/                 the first 200 GSM8K test problems (MIT licence, gsm8k/LICENSE)
    results/               recorded results: the demo's summary, the study's results.jsonl

Code asks this module for paths instead of building them, so nothing depends on where the
package was installed. Environment overrides (tests point them at tiny models):
``DSNB_NANO`` for the 3-number model, ``DSNB_NANO4`` for the 4-number one, ``DSNB_NANO4W``
for the flagship one, ``DSNB_NANO4M`` for the first countdown4m one.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MODEL_ENV = {"nano": "DSNB_NANO", "nano4": "DSNB_NANO4", "nano4m": "DSNB_NANO4M", "nano4w": "DSNB_NANO4W"}
WORLD_MODELS = {"countdown4m": "nano4w", "countdown3": "nano", "countdown4": "nano4"}
"""Each nano world (a Countdown task) and the shipped model pretrained for it."""
FLAGSHIP = "countdown4m"
"""The nano world `dsnb demo`, notebooks 03-05 and the dashboard use unless told otherwise."""
PRETRAIN_HINT = {
    "nano": "dsnb nano pretrain --out {path}",
    "nano4": "dsnb nano pretrain --num-count 4 --mistake-frac 0.55 --out {path}",
    "nano4m": "dsnb nano pretrain --preset multi --out {path}",
    "nano4w": "dsnb nano pretrain --preset wide --out {path}",
}


def path(*parts: str) -> Path:
    """A path inside the shipped data, e.g. ``path("problems", "countdown3.jsonl")``.

    >>> path("gsm8k", "LICENSE").name
    'LICENSE'
    """
    return ROOT.joinpath(*parts)


def model_dir(name: str = "nano", must_exist: bool = True) -> Path:
    """Where a shipped nano model lives ("nano": 3-number Countdown, "nano4": 4-number,
    "nano4w": the flagship countdown4m world's, "nano4m": that world's first); ``$DSNB_NANO``
    etc. override it. Raises FileNotFoundError with the command that rebuilds it when the
    directory holds no model."""
    if name not in MODEL_ENV:
        raise ValueError(f"unknown shipped model {name!r}; choose one of {sorted(MODEL_ENV)}")
    env = os.environ.get(MODEL_ENV[name])
    where = Path(env) if env else ROOT / name
    if must_exist and not (where / "config.json").exists():
        hint = PRETRAIN_HINT[name].format(path=where)
        raise FileNotFoundError(
            f"no nano model at {where}. Run `{hint}` (minutes on a laptop CPU) "
            f"or set {MODEL_ENV[name]} to a directory holding one."
        )
    return where


def results_dir() -> Path:
    """The recorded results (``results/demo_summary.json``, ``results/study/``)."""
    return ROOT / "results"
