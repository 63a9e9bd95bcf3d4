"""dsnb.tasks.data: the one Countdown data path (the shipped problem files) loads everywhere."""

import pytest

from dsnb.tasks.countdown import score
from dsnb.tasks.data import countdown_rows, problems_path, read_jsonl
from dsnb.tasks.solver import canonical_solutions


def test_shipped_rows_carry_their_exact_solution_sets():
    for k in (3, 4):
        for row in countdown_rows("eval", 20, f"countdown{k}"):  # a sample: the solver is tested elsewhere
            assert set(row["solutions"]) == canonical_solutions(row["nums"], row["target"])
            first = row["solutions"][0]
            assert score(f"<answer>{first}</answer>", row["nums"], row["target"]) == 1.0


def test_problem_files_load_with_hf_datasets(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    ds = datasets.load_dataset(
        "json", data_files=str(problems_path("countdown3")), split="train", cache_dir=str(tmp_path / "cache")
    )
    rows = read_jsonl(problems_path("countdown3"))
    assert ds.num_rows == len(rows) and ds[0]["nums"] == rows[0]["nums"]
    assert set(ds.column_names) == {"split", "nums", "target", "solutions"}


def test_a_torn_jsonl_line_is_reported_with_its_file_and_line(tmp_path):
    path = tmp_path / "torn.jsonl"
    path.write_text('{"a": 1}\n{"b": \n')
    with pytest.raises(ValueError, match=r"torn.jsonl, line 2"):
        read_jsonl(path)


def test_asking_for_more_problems_than_a_split_holds_is_refused():
    with pytest.raises(ValueError, match="has"):
        countdown_rows("eval", 10**6, "countdown3")
    with pytest.raises(ValueError, match="split must be"):
        countdown_rows("test", 1, "countdown3")
