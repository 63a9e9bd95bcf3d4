"""dsnb.tasks.data: the shipped Countdown splits are what the code says, and load everywhere."""
import json
import os

import pytest

from dsnb.tasks.countdown import Instance, score
from dsnb.tasks.data import (
    SPLITS, countdown_path, load_countdown, read_jsonl, shipped_instances, write_countdown_jsonl,
)
from dsnb.tasks.solver import solve


@pytest.fixture(scope="module")
def regenerated():
    return shipped_instances()


def test_shipped_splits_match_the_seeded_generator(regenerated):
    for name, insts in regenerated.items():
        assert load_countdown(name) == insts, name
        assert len(insts) == SPLITS[name]["n"]


def test_train_and_eval_are_disjoint():
    for k in ("3", "4"):
        train = {i.key for i in load_countdown("train" + k)}
        held = {i.key for i in load_countdown("eval" + k)}
        assert train and held and not train & held


def test_shipped_rows_have_prompts_and_true_solution_counts():
    for name in SPLITS:
        rows = read_jsonl(countdown_path(name))
        assert set(rows[0]) == {"nums", "target", "prompt", "solutions"}
        for row in rows[:25]:                 # a sample: the solver is tested elsewhere
            sols = solve(row["nums"], row["target"])
            assert row["solutions"] == len(sols) >= 1
            assert f"equals {row['target']}." in row["prompt"]
            assert score(f"<answer>{sols[0]}</answer>", row["nums"], row["target"]) == 1.0


def test_written_jsonl_loads_with_hf_datasets(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    insts = [Instance((3, 7, 12), 33), Instance((2, 3, 5, 7), 10)]
    path = write_countdown_jsonl(tmp_path / "cd.jsonl", insts, template="nano")
    ds = datasets.load_dataset("json", data_files=str(path), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 2
    assert ds[0]["nums"] == [3, 7, 12] and ds[0]["target"] == 33
    assert ds[0]["prompt"] == "3 7 12=33:"
    assert ds[1]["solutions"] == len(solve((2, 3, 5, 7), 10)) > 1


def test_chat_template_rows_are_json_message_lists(tmp_path):
    path = write_countdown_jsonl(tmp_path / "chat.jsonl", [Instance((3, 7, 12), 33)],
                                 template="chat", solutions=False)
    row = json.loads(path.read_text().splitlines()[0])
    assert [m["role"] for m in row["prompt"]] == ["system", "user"] and "solutions" not in row
    assert os.path.getsize(path) > 0


def test_load_countdown_explains_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="data/ folder"):
        load_countdown(tmp_path / "nope.jsonl")
