"""Installing dsnb the way a new user does: the README's commands, the package's metadata, and a
wheel that works on its own, outside the repository.

The wheel test (slow: a fresh venv with torch and the dependencies installed into it; about 2
minutes on an idle 2-core machine, 13 on a busy one) builds a wheel from a copy of the checkout,
installs it into a brand-new venv (not --system-site-packages: nothing of the development
environment, the repository's dsnb included, can be imported there), and from a directory
outside the repository runs `dsnb demo --quick` (one seed) and loads every shipped model. So the
installed wheel, not the clone, provides the nano models, problem files and results.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dsnb.data import MODEL_ENV

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
VENV = "python3 -m venv .venv && . .venv/bin/activate && "


def readme_commands() -> list[str]:
    """The one-line bash commands of the README's set-up section."""
    setup = README.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", setup, flags=re.S)]


def command_ending(suffix: str) -> str:
    [cmd] = [c for c in readme_commands() if c.endswith(suffix)]
    return cmd


def requirement_names(lines) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", x.strip(), maxsplit=1)[0].lower() for x in lines if x.strip()}


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python >= 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def constraint(name: str) -> str:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    [pin] = [x for x in lines if x.startswith(f"{name}==")]
    return pin.split("==")[1]


# ----------------------------------------------------------------------------- the README
def test_the_readme_commands_make_a_venv_and_ci_runs_the_test_command_verbatim():
    demo = command_ending("dsnb demo --out runs/demo")
    tests = command_ending("python -m pytest")
    notebooks = command_ending("jupyter lab notebooks/")
    for cmd in (demo, tests, notebooks):
        assert cmd.startswith(VENV), f"not inside a venv (PEP 668 systems refuse it): {cmd}"
        assert f"pip install torch=={constraint('torch')} && pip install -c constraints.txt -e " in cmd
    assert '".[test]"' in tests and '".[notebook]"' in notebooks
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines(), "CI must run the README's test command"
    cpu = [c for c in readme_commands() if "download.pytorch.org/whl/cpu" in c]
    assert cpu and cpu[0].startswith(VENV) and f"torch=={constraint('torch')} " in cpu[0]


def test_the_package_does_not_cap_torch_and_the_constraints_pin_it():
    meta = pyproject()["project"]
    [torch] = [d for d in meta["dependencies"] if d.startswith("torch")]
    assert "<" not in torch and "==" not in torch, torch
    assert constraint("torch").count(".") == 2  # an exact CI pin, without a +cpu local tag
    assert {"jupyterlab", "ipykernel"} <= requirement_names(meta["optional-dependencies"]["notebook"])


def test_binder_installs_the_package_dependencies_and_the_cpu_torch_ci_tests():
    meta = pyproject()["project"]
    lines = [
        x
        for x in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if not x.startswith(("#", "-"))
    ]
    wanted = requirement_names(meta["dependencies"] + meta["optional-dependencies"]["notebook"])
    assert wanted <= requirement_names(lines), wanted - requirement_names(lines)
    assert f"torch=={constraint('torch')}+cpu" in lines
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_every_notebook_installs_dsnb_on_colab_with_the_same_first_cell():
    firsts = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        firsts.append("".join(code[0]["source"]))
    assert len(firsts) == 5 and len(set(firsts)) == 1, "the five Colab cells differ"
    cell = firsts[0]
    assert 'if "google.colab" in sys.modules:' in cell and "enable_custom_widget_manager()" in cell
    assert '%pip install -q "dsnb @ git+https://github.com/dsnb-project/dsnb"' in cell
    assert "git clone" not in cell and "-e " not in cell  # the wheel carries the data: no clone


# ----------------------------------------------------------------------------- the wheel
def source_copy(dest: Path) -> Path:
    """What a fresh clone holds (tracked and new files, nothing ignored), copied to `dest`."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files a clone holds")
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools (the build backend)")
    src = source_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    [whl] = out.glob("dsnb-*.whl")
    return whl


@pytest.mark.slow
def test_the_built_wheel_declares_no_torch_cap_and_carries_every_shipped_file(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        [meta] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = z.read(meta).decode()
    requires = [
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    ]
    [torch] = [r for r in requires if re.match(r"torch\b", r)]
    assert "<" not in torch and "==" not in torch, f"the wheel caps torch: {torch}"
    tracked = subprocess.run(
        ["git", "ls-files", "dsnb/data"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked and set(tracked) <= names, sorted(set(tracked) - names)[:5]
    assert {"dsnb/data/nano/model.safetensors", "dsnb/data/nano4/model.safetensors"} <= names
    assert not any(n.startswith(("tests/", "notebooks/", "docs/")) for n in names)


CHECK = """
import json, sys
import dsnb, dsnb.data
from dsnb.rl.policy import Policy, PolicyConfig
from dsnb.tasks.registry import get_task

out = {"dsnb": dsnb.__file__, "data": str(dsnb.data.ROOT), "models": {}}
for name, task in (("nano", "countdown3"), ("nano4", "countdown4")):
    policy = Policy(PolicyConfig(model=name), seed=0)
    problem = get_task(task).load("eval", 1, seed=0)[0]
    texts = policy.sample([problem.prompt], 2, 24, 1.0).texts
    out["models"][name] = {"dir": str(dsnb.data.model_dir(name)), "samples": len(texts)}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_the_wheel_alone_runs_the_demo_and_loads_every_shipped_model_outside_the_repo(wheel, tmp_path):
    venv, work = tmp_path / "venv", tmp_path / "elsewhere"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    leak = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DSNB_SMOKE", *MODEL_ENV.values())
    env = {k: v for k, v in os.environ.items() if k not in leak}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    py = str(venv / "bin" / "python")

    def run(*cmd, timeout=900):
        res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"
        return res.stdout

    run(
        py,
        "-m",
        "pip",
        "install",
        "-q",
        f"torch=={(ROOT / 'constraints.txt').read_text().split('torch==')[1].split()[0]}",
    )
    run(py, "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), str(wheel))
    found = json.loads(run(py, "-c", CHECK).strip().splitlines()[-1])
    site = str(venv)
    assert found["dsnb"].startswith(site) and found["data"].startswith(site), found
    assert not any(str(ROOT) in str(v) for v in (found["dsnb"], found["data"]))
    for name, m in found["models"].items():
        assert m["dir"].startswith(site) and m["samples"] == 2, (name, m)
    # one seed of each method: every code path of the quick demo at half its cost
    out = run(str(venv / "bin" / "dsnb"), "demo", "--quick", "--seeds", "0", "--out", str(work / "demo"))
    assert "report:" in out and (work / "demo" / "report.html").stat().st_size > 100_000
    summary = json.loads((work / "demo" / "summary.json").read_text())
    assert set(summary["methods"]) == {"grpo", "ds", "entropy_bonus"} and summary["model_sha"]
