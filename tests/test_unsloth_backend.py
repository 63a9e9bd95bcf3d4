"""The unsloth backend of dsnb's Policy, on unsloth's CPU fallback, in a subprocess (importing
unsloth patches transformers process-wide, so it must never happen inside the test process)."""

import importlib.util
import subprocess
import sys

import pytest

SCRIPT = """
import sys
from dsnb.rl.policy import Policy, PolicyConfig
p = Policy(PolicyConfig(model=sys.argv[1], backend="unsloth", lora_r=4, lora_alpha=8), seed=0)
assert p.backend == "unsloth" and type(p.model).__name__.startswith("Peft"), type(p.model)
roll = p.sample(["3 7 12=33:"], group_size=2, max_new_tokens=6)
lp = p.token_logp(roll, grad=True)
lp.sum().backward()
grads = [x for x in p.trainable_parameters() if x.grad is not None and x.grad.abs().sum() > 0]
ref = p.token_logp(roll, adapter=False)
assert ref.shape == lp.shape and len(grads) > 0
assert all("lora_" in n for n, x in p.model.named_parameters() if x.requires_grad)
print("UNSLOTH_OK", len(grads))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("unsloth") is None,
    reason="unsloth not installed (CI installs it --no-deps; its CPU fallback runs here)",
)
def test_unsloth_backend_samples_scores_and_trains_only_lora(tiny_model_dir):
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, tiny_model_dir], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "UNSLOTH_OK" in run.stdout
    assert "unsloth" not in sys.modules  # the test process itself stays unpatched
