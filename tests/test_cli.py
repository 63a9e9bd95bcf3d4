"""The command line: every flag says what it does and its default (the defaults quoted are the
config classes'), and every user error ends in one line on stderr and exit status 2, before any
work and without a traceback."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dsnb.cli import main, parser


def subcommands():
    sub = next(a for a in parser()._actions if a.dest == "cmd")
    return sub.choices


def flag_help(cmd: str) -> dict[str, str]:
    return {
        a.option_strings[0] if a.option_strings else a.dest: a.help or "" for a in subcommands()[cmd]._actions
    }


def default_of(cmd: str, flag: str) -> str:
    m = re.search(r"default: ([^;)]+)", flag_help(cmd)[flag])
    assert m, f"dsnb {cmd} {flag}: no default in its help"
    return m.group(1).strip()


def test_every_flag_has_help_that_states_its_default():
    for cmd, sp in subcommands().items():
        for action in sp._actions:
            if action.dest == "help":
                continue
            name = action.option_strings[0] if action.option_strings else action.dest
            assert action.help, f"dsnb {cmd} {name} has no help text"
            if action.option_strings:
                assert "default" in action.help, f"dsnb {cmd} {name}: the help does not state the default"


def test_the_defaults_quoted_in_the_help_are_the_configs():
    from dsnb.nano import NanoConfig
    from dsnb.rl.trainer import TrainConfig
    from dsnb.study.demo import DemoConfig
    from dsnb.study.grid import StudyConfig

    demo, quick = DemoConfig(), DemoConfig.quick()
    assert default_of("demo", "--out") == demo.out
    assert default_of("demo", "--seeds") == " ".join(map(str, demo.seeds))
    assert default_of("demo", "--methods") == " ".join(demo.methods)
    for flag, field in (("--steps", "steps"), ("--eval-problems", "eval_problems"), ("--eval-n", "eval_n")):
        assert default_of("demo", flag) == str(getattr(demo, field))
        assert f"--quick: {getattr(quick, field)}" in flag_help("demo")[flag]
    nano = NanoConfig()
    for flag, field in (("--steps", "steps"), ("--seed", "seed"), ("--num-count", "num_count")):
        assert default_of("nano", flag) == str(getattr(nano, field))
    assert float(default_of("nano", "--mistake-frac")) == nano.mistake_frac
    preset = TrainConfig.nano()
    assert default_of("train", "--preset") == "nano" and default_of("train", "--run-dir") == preset.run_dir
    assert f"nano: {preset.steps}" in flag_help("train")["--steps"]
    assert default_of("train", "--seed") == str(preset.seed) and preset.task in flag_help("train")["--task"]
    assert f"nano: {preset.loss.ds_logp}" in flag_help("train")["--ds-logp"]
    assert default_of("train", "--ds-where") == preset.loss.ds_where
    for flag, field in (("--gamma-p", "gamma_p"), ("--gamma-n", "gamma_n")):
        assert f"nano: {getattr(preset.loss, field):g}" in flag_help("train")[flag]
    assert float(default_of("train", "--beta")) == preset.loss.beta
    assert float(default_of("train", "--entropy-coef")) == preset.loss.entropy_coef
    study = StudyConfig()
    assert default_of("study", "--seeds") == " ".join(map(str, study.seeds))
    for flag, field in (
        ("--steps", "steps"),
        ("--prompts-per-step", "prompts_per_step"),
        ("--eval-problems", "eval_problems"),
        ("--eval-n", "eval_n"),
    ):
        assert default_of("study", flag) == str(getattr(study, field))


def one_line_error(capsys, argv, *needles, code=2):
    assert main(argv) == code, argv
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("dsnb: "), err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def test_bad_output_directories_are_one_line_before_any_work(capsys, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    one_line_error(
        capsys, ["demo", "--quick", "--out", str(a_file / "x")], "cannot write there", "not a directory"
    )
    one_line_error(capsys, ["theory", "--out", str(a_file)], "is a file, not a directory")
    one_line_error(capsys, ["demo", "--quick", "--out", "/proc/x"], "--out /proc/x", "cannot write there")
    one_line_error(capsys, ["train", "--run-dir", "/proc/x", "--steps", "1"], "/proc/x")
    one_line_error(capsys, ["study", "--out", str(a_file / "s"), "--grid", "quick"], "cannot write there")
    one_line_error(capsys, ["nano", "pretrain", "--smoke", "--out", str(a_file / "m")], "cannot write there")
    if Path("/etc/hostname").is_file():
        one_line_error(capsys, ["demo", "--quick", "--out", "/etc/hostname/x"], "/etc/hostname/x")
    if Path("/sys").is_dir() and sys.platform == "linux":  # sysfs refuses new directories, even to root
        one_line_error(capsys, ["theory", "--out", "/sys/dsnb_x"], "cannot write there")


def test_missing_runs_recipes_and_studies_are_one_line(capsys, tmp_path):
    one_line_error(capsys, ["resume", str(tmp_path / "nowhere")], "does not exist", "dsnb train --run-dir")
    one_line_error(capsys, ["resume", str(tmp_path)], "not a run directory")
    one_line_error(capsys, ["nano", "pretrain", "--recipe", str(tmp_path / "none.json")], "no such file")
    (tmp_path / "bad.json").write_text("not json")
    one_line_error(
        capsys, ["nano", "pretrain", "--recipe", str(tmp_path / "bad.json")], "is not a dsnb_nano.json"
    )
    one_line_error(
        capsys, ["study", "--report-only", "--out", str(tmp_path / "no_study")], "no study results"
    )
    one_line_error(
        capsys, ["study", "--merge", str(tmp_path), "--out", str(tmp_path / "m")], "no results.jsonl"
    )


def test_errors_deep_inside_a_command_are_one_line_too(capsys, monkeypatch):
    import dsnb.cli

    def denied(_args):
        raise PermissionError(13, "Permission denied", "/data/runs/x/metrics.jsonl")

    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(dsnb.cli, "cmd_theory", denied)
    one_line_error(capsys, ["theory"], "Permission denied: /data/runs/x/metrics.jsonl")
    monkeypatch.setattr(dsnb.cli, "cmd_theory", interrupted)
    one_line_error(capsys, ["theory"], "interrupted", "dsnb resume", code=130)


def test_help_answers_without_importing_torch():
    code = (
        "import sys, contextlib, io\n"
        "from dsnb.cli import main\n"
        "for cmd in ([], ['demo'], ['train'], ['study'], ['nano'], ['theory'], ['resume']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try: main(cmd + ['--help'])\n"
        "        except SystemExit: pass\n"
        "print('torch' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("argv", [["demo", "--steps", "x"], ["demo", "--bogus"], ["frobnicate"]])
def test_argparse_mistakes_exit_2_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and "usage: dsnb" in capsys.readouterr().err
